/* The guest side of the hypercall ABI: one OUT per call, argument block by physical address. */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include <stdint.h>

#include "laundromat/abi.h"

/* Argument blocks must live below 4 GiB: the port carries 32 bits. Our stack and data do. */
static inline void hypercall(enum lm_hypercall call, void *args)
{
    __asm__ volatile("outl %0, %1"
                     :
                     : "a"((uint32_t)(uintptr_t)args), "Nd"((uint16_t)(LM_HC_PORT_BASE + call))
                     : "memory");
}

#endif
