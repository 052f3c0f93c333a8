/*
 * The loader's one-line answer to the sender, sent before the VM changes hands or ends.
 * What comes after the loader (a new kernel, or nothing) answers stray segments of this
 * connection with RST, and a RST makes the sender's system drop whatever it has not read.
 * So the answer waits: for the sender's FIN (a sender reads the answer, then closes), or, if
 * the sender had already half-closed, for our bytes to be acknowledged and a moment more.
 */
#include <stdio.h>
#include <string.h>

#include "loader.h"

/* At most, for a sender that neither reads nor closes: long enough for a retransmission of
 * the answer (nothing would resend it after the hand-over) on a busy host. */
#define ANSWER_WAIT_NS 10000000000ull
#define LINGER_NS 200000000ull       /* after the ACK, for a half-closed sender to read */

static bool pcb_gone;

static void on_answer_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    pcb_gone = true; /* lwIP has freed the pcb: touch it no more */
}

void loader_answer(struct loader *l, const char *line, size_t len)
{
    struct tcp_pcb *pcb = l->pcb;
    bool fin_before = l->peer_fin;
    l->answered = true;
    pcb_gone = false;
    tcp_err(pcb, on_answer_err);
    /* tcp_write can refuse for a moment (no segment or pbuf free): keep trying, or the
     * sender would wait in vain for the answer. */
    bool written = false;
    err_t werr = ERR_OK;
    uint64_t start = clock_ns(), acked = 0;
    while (clock_ns() - start < ANSWER_WAIT_NS) {
        if (!written && !pcb_gone) {
            werr = tcp_write(pcb, line, (u16_t)len, TCP_WRITE_FLAG_COPY);
            if (werr == ERR_OK) {
                written = true;
                tcp_output(pcb);
            }
        }
        net_poll();
        if (pcb_gone)
            break;
        bool done = written && !pcb->unsent && !pcb->unacked;
        if (done && !acked)
            acked = clock_ns();
        if (done && (fin_before ? clock_ns() - acked >= LINGER_NS : l->peer_fin))
            break;
        platform_poll(1000000ull);
    }
    l->pcb = NULL;
    if (written && !pcb_gone && !(fin_before ? acked : l->peer_fin))
        printf("loader: after %llu ms the sender has %s our answer and %s: handing over anyway\n",
               (unsigned long long)(ANSWER_WAIT_NS / 1000000), acked ? "acknowledged" :
               "not acknowledged", l->peer_fin ? "closed" : "not closed");
    if (!written)
        printf("loader: could not send the answer (lwIP error %d%s)\n", werr,
               pcb_gone ? ", connection gone" : "");
    if (pcb_gone)
        return;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_finish(pcb);
    for (int i = 0; i < 3; i++) /* our FIN on its way */
        net_poll();
}
