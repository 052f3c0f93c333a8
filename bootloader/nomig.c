/* The loader never migrates: the kernel core's migration hooks are inert here. */
#include "../guest/kernel/kernel.h"

void mig_init(void)
{
}

bool mig_poll(void)
{
    return false;
}

bool mig_workload_stopped(void)
{
    return false;
}

uint64_t mig_timeout_ms(void)
{
    return 1000;
}

/* isr14 diverts to the copy-on-write upcall only while a migration's final phase runs. */
void arch_cow_fault(uint64_t addr);
void arch_cow_fault(uint64_t addr)
{
    lm_panic("copy-on-write fault at 0x%llx in the loader", (unsigned long long)addr);
}
