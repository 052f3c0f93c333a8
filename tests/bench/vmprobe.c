/* Benchmark probe: spawns a VM process and times its start-up, HTTP readiness or idle cost. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 100
#define RING 16         /* connection attempts kept open at once while polling */
#define TICK_S 0.0005   /* a new connection attempt every 0.5 ms */
#define DEADLINE_S 10.0 /* give up on a VM that does not answer by then */
#define OUT_MAX 65536   /* child output kept for matching and error messages */

/* The VM process being measured, so that a signal to us does not leave it running, and the
 * file its output goes to, shown when it fails. */
static volatile pid_t g_child = -1;
static int g_log = -1;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Takes the VM down with us, then dies of the same signal, so that the shell running us sees
 * an interrupted child and stops too. */
static void on_signal(int sig)
{
    pid_t c = g_child;
    if (c > 0) {
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
    }
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

static int usage(void)
{
    fprintf(
        stderr,
        "usage: vmprobe exit RUNS STATUS TEXT -- CMD [ARG]...\n"
        "         run CMD RUNS times; each must print TEXT and exit with STATUS;\n"
        "         prints first_ms= (spawn to TEXT seen) and exit_ms= (spawn to exit) medians\n"
        "       vmprobe http RUNS IP PORT -- CMD [ARG]...\n"
        "         spawn CMD, connect to IP:PORT every 0.5 ms until GET / returns 200, stop it;\n"
        "         prints connect_ms= and http_ms= medians\n"
        "       vmprobe idle WAIT_S SAMPLE_S [--want TEXT] [--http IP PORT] -- CMD [ARG]...\n"
        "         spawn CMD, wait WAIT_S, sample its CPU time over SAMPLE_S, then check it\n"
        "         printed TEXT / answers HTTP; prints cpu_pct= (utime+stime), run_pct=\n"
        "         (schedstat, all threads) and rss_kib=\n"
        "       vmprobe waitport IP PORT TIMEOUT_MS\n"
        "         exit 0 once a TCP connect to IP:PORT succeeds\n");
    return 2;
}

/* Failure with a message naming what failed; the child, if any, is killed and reaped. */
static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vmprobe: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    pid_t c = g_child;
    if (c > 0) {
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
    }
    if (g_log >= 0) {
        static char out[OUT_MAX];
        ssize_t n = pread(g_log, out, sizeof out - 1, 0);
        if (n > 0)
            fprintf(stderr, "vmprobe: its output:\n%.*s", (int)n, out);
    }
    exit(1);
}

/* Starts argv with stdin from /dev/null and stdout+stderr on out_fd; it dies with us. */
static pid_t spawn(char **argv, int out_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "vmprobe: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    g_child = pid;
    return pid;
}

/* Stops the child politely, then firmly, and reaps it. */
static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (double t = now_s() + 2.0; now_s() < t;) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            g_child = -1;
            return;
        }
        sleep_s(0.001);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    g_child = -1;
}

/* Copies what the child wrote to the unlinked log file into buf (NUL-terminated). */
static void read_log(int fd, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

static int log_file(void)
{
    FILE *f = tmpfile();
    if (!f)
        die("tmpfile: %s", strerror(errno));
    int fd = fcntl(fileno(f), F_DUPFD_CLOEXEC, 3);
    fclose(f);
    if (fd < 0)
        die("dup log file: %s", strerror(errno));
    g_log = fd;
    return fd;
}

static void parse_addr(const char *ip, const char *port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1 || *end || p == 0 || p > 65535)
        die("bad address %s port %s", ip, port);
    sa->sin_port = htons((uint16_t)p);
}

static void describe_exit(int st, char *out, size_t cap)
{
    if (WIFEXITED(st))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, cap, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(out, cap, "wait status 0x%x", st);
}

/*
 * Opens a new non-blocking connection attempt every TICK_S, keeping the last RING open, until
 * one completes; returns its descriptor (blocking again) or -1 at the deadline. A child that
 * exits meanwhile is a failure.
 */
static int poll_connect(const struct sockaddr_in *sa, pid_t child, double deadline)
{
    int fds[RING];
    for (int i = 0; i < RING; i++)
        fds[i] = -1;
    int next = 0, got = -1;
    double tick = now_s();
    while (got < 0 && now_s() < deadline) {
        int st;
        if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
            char why[64];
            g_child = -1;
            describe_exit(st, why, sizeof why);
            die("the VM %s before answering on TCP port %u", why, ntohs(sa->sin_port));
        }
        if (fds[next] >= 0)
            close(fds[next]);
        fds[next] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[next] >= 0 && connect(fds[next], (const struct sockaddr *)sa, sizeof *sa) == 0) {
            got = fds[next];
            fds[next] = -1;
            break;
        }
        if (fds[next] >= 0 && errno != EINPROGRESS) {
            close(fds[next]);
            fds[next] = -1;
        }
        next = (next + 1) % RING;
        tick += TICK_S;
        if (tick < now_s() - 10 * TICK_S) /* fell behind (descheduled): no burst to catch up */
            tick = now_s() + TICK_S;
        for (double left; got < 0 && (left = tick - now_s()) > 0;) {
            struct pollfd p[RING];
            int slot[RING], n = 0;
            for (int i = 0; i < RING; i++)
                if (fds[i] >= 0) {
                    p[n] = (struct pollfd){.fd = fds[i], .events = POLLOUT};
                    slot[n++] = i;
                }
            struct timespec ts = {0, (long)(left * 1e9)};
            if (ppoll(p, (nfds_t)n, &ts, NULL) <= 0)
                continue;
            for (int j = 0; j < n && got < 0; j++) {
                if (!p[j].revents)
                    continue;
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(p[j].fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0) {
                    got = p[j].fd;
                    fds[slot[j]] = -1;
                } else {
                    close(p[j].fd);
                    fds[slot[j]] = -1;
                }
            }
        }
    }
    for (int i = 0; i < RING; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (got >= 0)
        fcntl(got, F_SETFL, fcntl(got, F_GETFL) & ~O_NONBLOCK);
    return got;
}

/* Sends GET / on a connected socket; 1 on a 200 status line, 0 on another status (copied to
 * status), -1 if the connection failed before a status line. */
static int http_get(int fd, double deadline, char *status, size_t cap)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        return -1;
    char buf[512];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        double left = deadline - now_s();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        char *eol = strstr(buf, "\r\n");
        if (eol) {
            *eol = '\0';
            snprintf(status, cap, "%.*s", (int)(cap - 1), buf);
            return strncmp(buf, "HTTP/1.1 200 ", 13) == 0 || strncmp(buf, "HTTP/1.0 200 ", 13) == 0;
        }
    }
    return -1;
}

/* Polls until GET / answers 200; sets the times from t0 to connect and to the status line. */
static void wait_http(const struct sockaddr_in *sa, pid_t child, double t0, double *t_conn,
                      double *t_200)
{
    double deadline = t0 + DEADLINE_S;
    char status[256] = "";
    for (;;) {
        int fd = poll_connect(sa, child, deadline);
        if (fd < 0)
            die("no TCP connect to port %u within %.0f s", ntohs(sa->sin_port), DEADLINE_S);
        *t_conn = now_s() - t0;
        int r = http_get(fd, deadline, status, sizeof status);
        close(fd);
        if (r == 1) {
            *t_200 = now_s() - t0;
            return;
        }
        if (r == 0)
            die("GET / answered '%s', not 200", status);
        if (now_s() >= deadline)
            die("no HTTP answer on port %u within %.0f s", ntohs(sa->sin_port), DEADLINE_S);
    }
}

static int parse_runs(const char *s)
{
    int n = atoi(s);
    if (n < 1 || n > MAX_RUNS)
        die("runs must be 1 to %d, not '%s'", MAX_RUNS, s);
    return n;
}

/* vmprobe exit RUNS STATUS TEXT -- CMD... */
static int cmd_exit(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[3], "--") != 0)
        return usage();
    int runs = parse_runs(argv[0]), want = atoi(argv[1]);
    const char *text = argv[2];
    char **cmd = argv + 4;
    static double first[MAX_RUNS], done[MAX_RUNS];
    static char out[OUT_MAX];
    for (int r = -1; r < runs; r++) { /* run -1 warms the caches and is not counted */
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
            die("pipe: %s", strerror(errno));
        double t0 = now_s(), t_first = -1;
        pid_t pid = spawn(cmd, pfd[1]);
        close(pfd[1]);
        size_t len = 0;
        for (;;) {
            ssize_t n = read(pfd[0], out + len, sizeof out - 1 - len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            len += (size_t)n;
            out[len] = '\0';
            if (t_first < 0 && strstr(out, text))
                t_first = now_s() - t0;
            if (len == sizeof out - 1)
                len = 0; /* runaway output: keep reading, stop keeping */
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        double t_exit = now_s() - t0;
        g_child = -1;
        close(pfd[0]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != want || t_first < 0) {
            char why[64];
            describe_exit(st, why, sizeof why);
            die("%s %s (want status %d and output '%s'); its output:\n%s", cmd[0], why, want, text,
                out);
        }
        if (r >= 0) {
            first[r] = t_first * 1e3;
            done[r] = t_exit * 1e3;
        }
    }
    printf("runs=%d first_ms=%.2f exit_ms=%.2f\n", runs, median(first, runs), median(done, runs));
    return 0;
}

/* vmprobe http RUNS IP PORT -- CMD... */
static int cmd_http(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[3], "--") != 0)
        return usage();
    int runs = parse_runs(argv[0]);
    struct sockaddr_in sa;
    parse_addr(argv[1], argv[2], &sa);
    char **cmd = argv + 4;
    static double conn[MAX_RUNS], ok[MAX_RUNS];
    for (int r = -1; r < runs; r++) {
        int log = log_file();
        double t0 = now_s(), tc, t200;
        pid_t pid = spawn(cmd, log);
        wait_http(&sa, pid, t0, &tc, &t200);
        stop_child(pid);
        close(log);
        g_log = -1;
        if (r >= 0) {
            conn[r] = tc * 1e3;
            ok[r] = t200 * 1e3;
        }
    }
    printf("runs=%d connect_ms=%.2f http_ms=%.2f\n", runs, median(conn, runs), median(ok, runs));
    return 0;
}

/* utime + stime of a process (all its threads) in seconds, and its VmRSS in KiB. */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        die("read %s: %s", path, n < 0 ? strerror(errno) : "empty");
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long utime, stime;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                     &stime) != 2)
        die("cannot parse %s", path);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Time on CPU of all the process's threads, in seconds, from the scheduler's nanosecond
 * accounting (/proc/PID/task/TID/schedstat): finer than utime+stime's clock ticks. */
static double run_seconds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        die("open %s: %s", path, strerror(errno));
    unsigned long long sum = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char f[64 + sizeof e->d_name];
        unsigned long long ns;
        snprintf(f, sizeof f, "/proc/%d/task/%.24s/schedstat", (int)pid, e->d_name);
        FILE *fp = fopen(f, "r");
        if (!fp)
            continue; /* the thread has just exited */
        if (fscanf(fp, "%llu", &ns) == 1)
            sum += ns;
        fclose(fp);
    }
    closedir(d);
    return (double)sum / 1e9;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f)
        die("open %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    if (kib < 0)
        die("no VmRSS in %s", path);
    return kib;
}

/* vmprobe idle WAIT_S SAMPLE_S [--want TEXT] [--http IP PORT] -- CMD... */
static int cmd_idle(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    double wait_s = atof(argv[0]), sample_s = atof(argv[1]);
    const char *want = NULL;
    struct sockaddr_in sa;
    int http = 0, i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--want") == 0 && i + 1 < argc) {
            want = argv[++i];
        } else if (strcmp(argv[i], "--http") == 0 && i + 2 < argc) {
            parse_addr(argv[i + 1], argv[i + 2], &sa);
            http = 1;
            i += 2;
        } else {
            return usage();
        }
    }
    if (i + 1 >= argc || wait_s < 0 || sample_s <= 0)
        return usage();
    char **cmd = argv + i + 1;
    int log = log_file();
    pid_t pid = spawn(cmd, log);
    sleep_s(wait_s);
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
        char why[64];
        g_child = -1;
        describe_exit(st, why, sizeof why);
        die("%s %s during the idle wait", cmd[0], why);
    }
    double c0 = cpu_seconds(pid), r0 = run_seconds(pid), t0 = now_s();
    sleep_s(sample_s);
    double c1 = cpu_seconds(pid), r1 = run_seconds(pid), t1 = now_s();
    long rss = rss_kib(pid);
    /* Checked after sampling, so that the checks do not count as the VM's idle work. */
    if (http) {
        double tc, t200;
        wait_http(&sa, pid, now_s(), &tc, &t200);
    }
    static char out[OUT_MAX];
    read_log(log, out, sizeof out);
    if (want && !strstr(out, want))
        die("%s did not print '%s'; its output:\n%s", cmd[0], want, out);
    stop_child(pid);
    close(log);
    g_log = -1;
    printf("cpu_pct=%.2f run_pct=%.4f rss_kib=%ld sample_s=%.2f\n", 100.0 * (c1 - c0) / (t1 - t0),
           100.0 * (r1 - r0) / (t1 - t0), rss, t1 - t0);
    return 0;
}

/* vmprobe waitport IP PORT TIMEOUT_MS */
static int cmd_waitport(int argc, char **argv)
{
    if (argc != 3)
        return usage();
    struct sockaddr_in sa;
    parse_addr(argv[0], argv[1], &sa);
    int fd = poll_connect(&sa, -1, now_s() + atof(argv[2]) / 1e3);
    if (fd < 0)
        die("no TCP connect to %s:%s within %s ms", argv[0], argv[1], argv[2]);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "exit") == 0)
        return cmd_exit(argc - 2, argv + 2);
    if (strcmp(argv[1], "http") == 0)
        return cmd_http(argc - 2, argv + 2);
    if (strcmp(argv[1], "idle") == 0)
        return cmd_idle(argc - 2, argv + 2);
    if (strcmp(argv[1], "waitport") == 0)
        return cmd_waitport(argc - 2, argv + 2);
    return usage();
}
