/* Bulk TCP throughput tool for the benchmarks: a sink/source server and a send/recv client. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static char buf[CHUNK];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: tcpbench server sink|source PORT\n"
                    "       tcpbench client send|recv HOST PORT BYTES\n"
                    "The client prints MB/s (10^6 bytes per second) on stdout.\n");
    return 2;
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v == 0 || v > 65535) {
        fprintf(stderr, "tcpbench: bad port '%s' (1 to 65535)\n", s);
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

/* Reads and discards until the peer closes. */
static void serve_sink(int fd)
{
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
}

/* Writes the pattern until the peer goes away (EPIPE or ECONNRESET). */
static void serve_source(int fd)
{
    for (;;) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0 && errno != EINTR)
            break;
    }
}

static int server(const char *mode, const char *port_s)
{
    int source = strcmp(mode, "source") == 0;
    if (!source && strcmp(mode, "sink") != 0)
        return usage();
    uint16_t port;
    if (parse_port(port_s, &port) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* connection children are reaped by the kernel */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 16) < 0) {
        fprintf(stderr, "tcpbench: listen on TCP port %u: %s\n", port, strerror(errno));
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "tcpbench: accept on port %u: %s\n", port, strerror(errno));
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* a stopped server takes its connections along */
            close(ls);
            if (source)
                serve_source(fd);
            else
                serve_sink(fd);
            _exit(0);
        }
        close(fd);
    }
}

static int dial(const char *host, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "tcpbench: '%s' is not an IPv4 address\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "tcpbench: connect to %s:%u: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int client(const char *mode, const char *host, const char *port_s, const char *bytes_s)
{
    int send_mode = strcmp(mode, "send") == 0;
    if (!send_mode && strcmp(mode, "recv") != 0)
        return usage();
    uint16_t port;
    if (parse_port(port_s, &port) < 0)
        return 2;
    char *end;
    unsigned long long total = strtoull(bytes_s, &end, 10);
    if (*end || total == 0) {
        fprintf(stderr, "tcpbench: bad byte count '%s'\n", bytes_s);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    int fd = dial(host, port);
    if (fd < 0)
        return 1;
    unsigned long long done = 0;
    double t0 = now_s();
    while (done < total) {
        size_t want = total - done < sizeof buf ? (size_t)(total - done) : sizeof buf;
        ssize_t n = send_mode ? write(fd, buf, want) : read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "tcpbench: %s %s:%u after %llu of %llu bytes: %s\n", mode, host, port,
                    done, total, n < 0 ? strerror(errno) : "peer closed");
            close(fd);
            return 1;
        }
        done += (unsigned long long)n;
    }
    if (send_mode) {
        /* Count the time until the server has read everything and closed its side. */
        shutdown(fd, SHUT_WR);
        while (read(fd, buf, sizeof buf) > 0)
            ;
    }
    double dt = now_s() - t0;
    close(fd);
    printf("%.1f\n", (double)total / dt / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "server") == 0)
        return server(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "client") == 0)
        return client(argv[2], argv[3], argv[4], argv[5]);
    return usage();
}
