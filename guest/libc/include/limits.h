/* <limits.h> for -nostdinc builds: gcc's own limits.h, told that no system libc sits below it. */
/*
 * Without _LIBC_LIMITS_H_, gcc's limits.h pulls in syslimits.h, which does
 * #include_next <limits.h> and fails under -nostdinc ("no include path in which to search").
 */
#ifndef _LIBC_LIMITS_H_
#define _LIBC_LIMITS_H_ 1
#endif
#include_next <limits.h>
