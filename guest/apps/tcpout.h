/* A per-connection output queue over lwIP's raw TCP API, shared by the TCP workloads. */
#ifndef GUEST_TCPOUT_H
#define GUEST_TCPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/tcp.h"

struct outq {
    uint8_t *buf;
    size_t len, cap; /* bytes queued, buffer size */
    size_t limit;    /* most bytes it may hold */
};

/* Appends n bytes; -1 when that would pass the limit or memory runs out. */
int outq_append(struct outq *q, const void *data, size_t n);
/* Hands TCP as much as its send buffer takes; returns the bytes handed over. */
size_t outq_flush(struct tcp_pcb *pcb, struct outq *q);
void outq_free(struct outq *q);

/* Closes a connection we are done with, or aborts it (returning ERR_ABRT) if lwIP cannot
 * close it now. */
err_t tcp_finish(struct tcp_pcb *pcb);

/* Listens on port with accept callback; panics with a message when the port is taken. */
struct tcp_pcb *tcp_listen_on(uint16_t port, tcp_accept_fn accept);

#endif
