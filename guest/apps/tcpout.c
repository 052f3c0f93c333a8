/* Output queue and listener helpers for the TCP workloads. */
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "tcpout.h"

int outq_append(struct outq *q, const void *data, size_t n)
{
    if (q->len + n > q->limit)
        return -1;
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        uint8_t *b = realloc(q->buf, cap);
        if (!b)
            return -1;
        q->buf = b;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, data, n);
    q->len += n;
    return 0;
}

size_t outq_flush(struct tcp_pcb *pcb, struct outq *q)
{
    size_t done = 0;
    while (done < q->len) {
        size_t room = tcp_sndbuf(pcb);
        if (room == 0)
            break;
        size_t n = q->len - done < room ? q->len - done : room;
        if (n > 0xffff)
            n = 0xffff;
        if (tcp_write(pcb, q->buf + done, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break; /* out of segments: the sent callback flushes again */
        done += n;
    }
    if (done) {
        memmove(q->buf, q->buf + done, q->len - done);
        q->len -= done;
        tcp_output(pcb);
    }
    return done;
}

void outq_free(struct outq *q)
{
    free(q->buf);
    memset(q, 0, sizeof *q);
}

err_t tcp_finish(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
    if (tcp_close(pcb) == ERR_OK)
        return ERR_OK;
    tcp_abort(pcb);
    return ERR_ABRT;
}

struct tcp_pcb *tcp_listen_on(uint16_t port, tcp_accept_fn accept)
{
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb || tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK)
        lm_panic("cannot bind TCP port %u", port);
    struct tcp_pcb *l = tcp_listen_with_backlog(pcb, 128);
    if (!l)
        lm_panic("cannot listen on TCP port %u", port);
    tcp_accept(l, accept);
    return l;
}
