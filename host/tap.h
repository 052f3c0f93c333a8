/* Tap devices, shared by lm-vmm and Evil Man. */
#ifndef LM_HOST_TAP_H
#define LM_HOST_TAP_H

#include <stddef.h>

/*
 * Creates tap `name` (NULL: the kernel picks lmtapN), non-blocking, attaches it to `bridge`
 * (NULL: none) and brings it up. The name it got goes to actual. Returns the fd or -1 (logged).
 */
int tap_open(const char *name, const char *bridge, char *actual, size_t actual_len);

#endif
