/*
 * Children of the agent (a VM's monitor, an lmctl call to the broker): fork and exec, the
 * agent going on at once. Not posix_spawn: glibc's suspends the caller until the child has
 * exec'd, and an exec that is slow (a binary on a network filesystem, a loaded machine) would
 * stall every VM's pings and payments meanwhile. The child gets its log as stdout and stderr,
 * the fds it is given at 3 and 4, no blocked signals, default dispositions.
 */
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "evilman.h"

int em_spawn(const char *path, char *const argv[], char *const envp[], const char *log,
             int fd3, int fd4)
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
    if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || (fd3 >= 0 && (a < 0 || dup2(a, 3) < 0)) ||
        (fd4 >= 0 && (b < 0 || dup2(b, 4) < 0)))
        _exit(126);
    execve(path, argv, envp);
    _exit(127);
}
