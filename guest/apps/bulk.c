/* app=sink and app=source: bulk TCP receive and send, for throughput measurements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "tcpout.h"

/* sink: reads and discards everything (like the discard service). */
static err_t sink_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p)
        return tcp_finish(pcb);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t sink_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    tcp_recv(pcb, sink_recv);
    return ERR_OK;
}

static int sink_init(void)
{
    unsigned long port = cmdline_ulong("port", 9);
    tcp_listen_on((uint16_t)port, sink_accept);
    printf("sink: listening on TCP port %lu\n", port);
    return 0;
}

/* source: sends a fixed pattern as fast as the peer takes it, until the peer closes. */
static uint8_t pattern[16384];

static err_t source_fill(struct tcp_pcb *pcb)
{
    while (tcp_sndbuf(pcb) >= sizeof pattern / 4) {
        u16_t n = tcp_sndbuf(pcb) < sizeof pattern ? tcp_sndbuf(pcb) : sizeof pattern;
        if (tcp_write(pcb, pattern, n, 0) != ERR_OK) /* static data: no copy */
            break;
    }
    tcp_output(pcb);
    return ERR_OK;
}

static err_t source_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)len;
    return source_fill(pcb);
}

static err_t source_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p)
        return tcp_finish(pcb);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t source_poll(void *arg, struct tcp_pcb *pcb)
{
    (void)arg;
    return source_fill(pcb); /* a write that failed for lack of segments is retried here */
}

static err_t source_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    tcp_recv(pcb, source_recv);
    tcp_sent(pcb, source_sent);
    tcp_poll(pcb, source_poll, 2);
    return source_fill(pcb);
}

static int source_init(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)('a' + i % 26);
    unsigned long port = cmdline_ulong("port", 19);
    tcp_listen_on((uint16_t)port, source_accept);
    printf("source: listening on TCP port %lu\n", port);
    return 0;
}

const struct app app_sink = {"sink", true, sink_init, NULL};
const struct app app_source = {"source", true, source_init, NULL};
