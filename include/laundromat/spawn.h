/* Starting other programs, in one place (lib/spawn.c): in the background, or to their end. */
#ifndef LAUNDROMAT_SPAWN_H
#define LAUNDROMAT_SPAWN_H

#include <stdbool.h>

/*
 * Forks and execs path (as given: no PATH search) with argv and envp, the caller going on at
 * once: the child's pid, or -1 with errno when fork fails. The child's stdout and stderr
 * append to the file log (made 0640), fd3 and fd4 (or -1) become its fds 3 and 4, its signals
 * are unblocked at their default dispositions; it exits 126 when it cannot set that up and 127
 * when the exec fails. The caller reaps it (waitpid).
 */
int lm_spawn(const char *path, char *const argv[], char *const envp[], const char *log, int fd3,
             int fd4);

/* Runs file (looked up in PATH unless it has a '/') with argv and this process's environment,
 * and waits for it to end: its wait status (WIFEXITED, WEXITSTATUS), or -1 with errno when it
 * could not be started or waited for. quiet: its stderr goes to /dev/null. */
int lm_run(const char *file, char *const argv[], bool quiet);

#endif
