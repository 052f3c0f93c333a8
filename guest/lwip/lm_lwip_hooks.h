/* Hook functions of our lwIP port, named by LWIP_HOOK_FILENAME in lwipopts.h. */
#ifndef LM_LWIP_HOOKS_H
#define LM_LWIP_HOOKS_H

#include "lwip/ip_addr.h"

/* RFC 6528 initial sequence number for a new connection (tcp_isn.c). */
u32_t lm_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                 u16_t remote_port);

#endif
