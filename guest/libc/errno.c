/* The guest's errno: one, because the guest kernel runs a single thread. */
#include <errno.h>

int errno;
