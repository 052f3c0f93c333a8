/* Unit tests of lib/spawn.c: what a child gets (argv, envp, log, fds 3 and 4, default signals)
 * and the statuses of children that exit, die, or cannot be run. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "laundromat/spawn.h"
#include "testlib.h"

static char dir[64], logpath[96];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/lm-test-spawn-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(logpath, sizeof logpath, "%s/child.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(logpath);
    rmdir(dir);
    return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

static int reap(int pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* sh -c SCRIPT with envp, output to the log, fds 3 and 4 as given; its wait status. */
static int sh(const char *script, char *const envp[], int fd3, int fd4)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    int pid = lm_spawn("/bin/sh", argv, envp, logpath, fd3, fd4);
    assert_true(pid > 0);
    return reap(pid);
}

static void test_spawn_log_env_and_fds(void **state)
{
    (void)state;
    unlink(logpath);
    /* The write ends at 4 (for the child's 3) and 3 (for its 4): moved in the wrong order, one
     * would land on the other. */
    int a[2], b[2];
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    int ar = fcntl(a[0], F_DUPFD_CLOEXEC, 20), aw = fcntl(a[1], F_DUPFD_CLOEXEC, 20);
    int br = fcntl(b[0], F_DUPFD_CLOEXEC, 20), bw = fcntl(b[1], F_DUPFD_CLOEXEC, 20);
    assert_true(ar >= 20 && aw >= 20 && br >= 20 && bw >= 20);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    assert_int_equal(dup3(aw, 4, O_CLOEXEC), 4);
    assert_int_equal(dup3(bw, 3, O_CLOEXEC), 3);
    close(aw);
    close(bw);
    a[0] = ar;
    a[1] = 4;
    b[0] = br;
    b[1] = 3;
    char *envp[] = {"LM_X=42", NULL};
    int st = sh("echo \"out $LM_X $0\"; echo err >&2; echo three >&3; echo four >&4; exit 7", envp,
                a[1], b[1]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    close(a[1]);
    close(b[1]);
    char buf[256];
    slurp(logpath, buf, sizeof buf);
    assert_string_equal(buf, "out 42 sh\nerr\n");
    ssize_t n = read(a[0], buf, sizeof buf - 1);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "three\n", 6);
    n = read(b[0], buf, sizeof buf - 1);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "four\n", 5);
    close(a[0]);
    close(b[0]);

    /* The log is appended to, not replaced. */
    st = sh("echo again", envp, -1, -1);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    slurp(logpath, buf, sizeof buf);
    assert_string_equal(buf, "out 42 sh\nerr\nagain\n");
}

static void test_spawn_signals_reset(void **state)
{
    (void)state;
    /* The parent ignores SIGTERM and blocks SIGUSR1; the child must have neither. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigset_t usr1, was;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    assert_int_equal(sigaction(SIGTERM, &ign, &old), 0);
    assert_int_equal(sigprocmask(SIG_BLOCK, &usr1, &was), 0);
    char *envp[] = {NULL};
    int term = sh("kill -TERM $$; exit 0", envp, -1, -1);
    int usr = sh("kill -USR1 $$; exit 0", envp, -1, -1);
    sigprocmask(SIG_SETMASK, &was, NULL);
    sigaction(SIGTERM, &old, NULL);
    assert_true(WIFSIGNALED(term));
    assert_int_equal(WTERMSIG(term), SIGTERM);
    assert_true(WIFSIGNALED(usr));
    assert_int_equal(WTERMSIG(usr), SIGUSR1);
}

static void test_spawn_failures(void **state)
{
    (void)state;
    char *argv[] = {"x", NULL}, *envp[] = {NULL};
    /* No such program: 127. No PATH search either: "sh" is not /bin/sh. */
    int st = reap(lm_spawn("/nonexistent/lm-no-such-program", argv, envp, logpath, -1, -1));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 127);
    char *sh_argv[] = {"sh", "-c", "exit 0", NULL};
    if (access("./sh", X_OK) != 0) {
        st = reap(lm_spawn("sh", sh_argv, envp, logpath, -1, -1));
        assert_int_equal(WEXITSTATUS(st), 127);
    }
    /* A log that cannot be opened, or an fd that is not open: 126, before the exec. */
    char nolog[128];
    snprintf(nolog, sizeof nolog, "%s/no/such/dir.log", dir);
    st = reap(lm_spawn("/bin/sh", sh_argv, envp, nolog, -1, -1));
    assert_int_equal(WEXITSTATUS(st), 126);
    st = reap(lm_spawn("/bin/sh", sh_argv, envp, logpath, 1000, -1));
    assert_int_equal(WEXITSTATUS(st), 126);
}

static void test_run(void **state)
{
    (void)state;
    /* Looked up in PATH; the wait status as it is. */
    char *t[] = {"true", NULL}, *f[] = {"false", NULL};
    int st = lm_run("true", t, false);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    st = lm_run("false", f, false);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    char *s[] = {"sh", "-c", "exit 42", NULL}, *k[] = {"sh", "-c", "kill -KILL $$", NULL};
    st = lm_run("/bin/sh", s, false);
    assert_int_equal(WEXITSTATUS(st), 42);
    st = lm_run("sh", k, false);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    /* A program that does not exist: -1 and why, not a child's status. */
    char *n[] = {"lm-no-such-program", NULL};
    errno = 0;
    assert_int_equal(lm_run("lm-no-such-program", n, false), -1);
    assert_int_equal(errno, ENOENT);
}

/* What a child run by lm_run writes to stderr, quiet or not. */
static void run_capturing_stderr(bool quiet, char *buf, size_t cap)
{
    char *e[] = {"sh", "-c", "echo to-stderr >&2", NULL};
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    int st = lm_run("sh", e, quiet);
    dup2(saved, 2);
    close(saved);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    slurp(logpath, buf, cap);
}

static void test_run_quiet(void **state)
{
    (void)state;
    char buf[64];
    run_capturing_stderr(false, buf, sizeof buf);
    assert_string_equal(buf, "to-stderr\n");
    run_capturing_stderr(true, buf, sizeof buf);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_log_env_and_fds),
        cmocka_unit_test(test_spawn_signals_reset),
        cmocka_unit_test(test_spawn_failures),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_run_quiet),
    };
    return cmocka_run_group_tests_name("spawn", tests, setup, teardown);
}
