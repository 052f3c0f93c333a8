/* ssize_t for the guest (the one POSIX type lwIP's headers want besides the C11 ones). */
#ifndef KC_SYS_TYPES_H
#define KC_SYS_TYPES_H

#include <limits.h>
#include <stddef.h>

typedef long ssize_t;
typedef unsigned int mode_t; /* lib/lm.h (shared with the host) names it */
#define SSIZE_MAX LONG_MAX

#endif
