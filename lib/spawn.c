/*
 * Children: lm_spawn forks and execs, the caller going on at once (Evil Man's VM monitors and
 * lmctl calls to the broker). Not posix_spawn there: glibc's suspends the caller until the
 * child has exec'd, and an exec that is slow (a binary on a network filesystem, a loaded
 * machine) would stall every VM's pings and payments meanwhile. lm_run, which waits for its
 * child anyway, uses posix_spawnp, which also says when the program cannot be run at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "laundromat/spawn.h"

extern char **environ;

int lm_spawn(const char *path, char *const argv[], char *const envp[], const char *log, int fd3,
             int fd4)
{
    int pid = fork();
    if (pid != 0)
        return pid; /* the child's pid, or -1 with errno */
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Copies above the small numbers first, so that neither lands on the other's place. */
    int a = fd3 >= 0 ? fcntl(fd3, F_DUPFD, 10) : -1, b = fd4 >= 0 ? fcntl(fd4, F_DUPFD, 10) : -1;
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
        (fd3 >= 0 && (a < 0 || dup2(a, 3) < 0)) || (fd4 >= 0 && (b < 0 || dup2(b, 4) < 0)))
        _exit(126);
    execve(path, argv, envp);
    _exit(127);
}

int lm_run(const char *file, char *const argv[], bool quiet)
{
    int pid, status, rc;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, file, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}
