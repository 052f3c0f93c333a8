/*
 * Forced into every zstd file of the guest build (-include) in place of zstd's common/cpu.h:
 * the guest runs no CPUID (under KVM-PVM it would trap to the host, and the guest has no
 * vector state anyway), so zstd sees a CPU without BMI1/BMI2 and takes its portable paths.
 * Defining cpu.h's include guard makes zstd's own copy a no-op.
 */
#ifndef GUEST_ZSTD_NOCPUID_H
#define GUEST_ZSTD_NOCPUID_H
#define ZSTD_COMMON_CPU_H

#include <stdint.h>

typedef struct {
    uint32_t f1c, f1d, f7b, f7c;
} ZSTD_cpuid_t;

static inline ZSTD_cpuid_t ZSTD_cpuid(void)
{
    ZSTD_cpuid_t c = {0, 0, 0, 0};
    return c;
}
static inline int ZSTD_cpuid_bmi1(ZSTD_cpuid_t c)
{
    return (int)(c.f7b >> 3 & 1);
}
static inline int ZSTD_cpuid_bmi2(ZSTD_cpuid_t c)
{
    return (int)(c.f7b >> 8 & 1);
}

#endif
