/* app=echo: a TCP echo service; input is acknowledged only as fast as it is echoed. */
#include <stdio.h>
#include <stdlib.h>

#include "../kernel/kernel.h"
#include "tcpout.h"

struct echo_conn {
    struct outq out;
    int closing;
};

static err_t echo_close(struct tcp_pcb *pcb, struct echo_conn *c)
{
    outq_free(&c->out);
    free(c);
    return tcp_finish(pcb);
}

/* Returns ERR_ABRT when the connection had to be aborted: callbacks must pass that on. */
static err_t echo_flush(struct tcp_pcb *pcb, struct echo_conn *c)
{
    size_t n = outq_flush(pcb, &c->out);
    while (n) { /* reopen the window by what we passed on */
        u16_t k = n > 0xffff ? 0xffff : (u16_t)n;
        tcp_recved(pcb, k);
        n -= k;
    }
    if (c->closing && c->out.len == 0)
        return echo_close(pcb, c);
    return ERR_OK;
}

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct echo_conn *c = arg;
    (void)err;
    if (!p) {
        c->closing = 1;
        return echo_flush(pcb, c);
    }
    for (struct pbuf *q = p; q; q = q->next)
        if (outq_append(&c->out, q->payload, q->len) < 0) {
            pbuf_free(p);
            outq_free(&c->out);
            free(c);
            tcp_arg(pcb, NULL);
            tcp_abort(pcb);
            return ERR_ABRT;
        }
    pbuf_free(p);
    return echo_flush(pcb, c);
}

static err_t echo_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)len;
    return echo_flush(pcb, arg);
}

static void echo_err(void *arg, err_t err)
{
    struct echo_conn *c = arg;
    (void)err;
    if (c) {
        outq_free(&c->out);
        free(c);
    }
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    struct echo_conn *c = calloc(1, sizeof *c);
    if (!c)
        return ERR_MEM;
    /* The queue never holds more than the receive window, which is all a peer can send
     * before we acknowledge. */
    c->out.limit = TCP_WND + 65536;
    tcp_arg(pcb, c);
    tcp_recv(pcb, echo_recv);
    tcp_sent(pcb, echo_sent);
    tcp_err(pcb, echo_err);
    tcp_nagle_disable(pcb);
    return ERR_OK;
}

static int echo_init(void)
{
    unsigned long port = cmdline_ulong("port", 7);
    tcp_listen_on((uint16_t)port, echo_accept);
    printf("echo: listening on TCP port %lu\n", port);
    return 0;
}

const struct app app_echo = {"echo", true, echo_init, NULL};
