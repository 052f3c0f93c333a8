/*
 * app=loader: the second boot stage. Listens on one TCP port, takes one payload (header,
 * command line, bytes), checks it against the commitment the host copied from the boot token
 * and hands the VM over to it. Anything it cannot check is refused, reported to the sender
 * and the console, and the VM exits with a status naming the reason; the host then reclaims
 * it. Payload kinds dispatch through kinds[]: an ELF image today, a checkpoint stream with
 * self-migration.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/netaddr.h"
#include "laundromat/payload.h"
#include "loader.h"


static struct loader the_loader;

/* The image size a warm loader prepares for: our kernel padded to 1 MiB, and room to spare. */
#define WARM_STAGE_BYTES (4u << 20)

void loader_fail(struct loader *l, int status, const char *name, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("loader: refused (%s): %s\n", name, msg);
    if (l->pcb && l->checkpoint && checkpoint_refuse(l, name, msg))
        platform_exit(status);
    if (l->pcb) {
        char line[320];
        int n = snprintf(line, sizeof line, "ERR %s %s\n", name, msg);
        loader_answer(l, line, (size_t)n);
    }
    platform_exit(status);
}

/* Takes bytes in the order of the stream: header, command line, payload. A checkpoint is
 * not staged: it streams into RAM (checkpoint.c). */
static void take(struct loader *l, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (l->checkpoint) {
            checkpoint_take(l, p, n);
            return;
        }
        if (l->hdr_len < LM_PAYLOAD_HEADER_SIZE) {
            size_t k = LM_PAYLOAD_HEADER_SIZE - l->hdr_len < n ? LM_PAYLOAD_HEADER_SIZE - l->hdr_len
                                                                : n;
            memcpy(l->hdr + l->hdr_len, p, k);
            l->hdr_len += k;
            p += k;
            n -= k;
            if (l->hdr_len == LM_PAYLOAD_HEADER_SIZE)
                loader_header(l);
            continue;
        }
        if (l->cmd_len < l->h.cmdline_len) {
            size_t k = l->h.cmdline_len - l->cmd_len < n ? l->h.cmdline_len - l->cmd_len : n;
            memcpy(l->cmdline + l->cmd_len, p, k);
            l->cmd_len += k;
            p += k;
            n -= k;
            continue;
        }
        uint64_t k = l->h.length - l->got < n ? l->h.length - l->got : n;
        if (k == 0) {
            loader_fail(l, EXIT_BAD_HEADER, "TRAILING", "%zu bytes after the %llu-byte payload",
                        n, (unsigned long long)l->h.length);
        }
        memcpy(l->buf + l->got, p, k);
        uint64_t t0 = clock_ns();
        crypto_generichash_blake2b_update(&l->hash, p, k);
        l->hash_ns += clock_ns() - t0;
        l->got += k;
        p += k;
        n -= k;
    }
}

void loader_header(struct loader *l)
{
    struct lm_diag d;
    int rc = lm_payload_header_decode(l->hdr, LM_PAYLOAD_HEADER_SIZE, &l->h, &d);
    if (rc)
        loader_fail(l, rc == -LM_OVERSIZED ? EXIT_OVERSIZE : EXIT_BAD_HEADER,
                    lm_status_name(rc), "%s", d.msg);
    l->kind = lm_payload_kind_info(l->h.kind); /* the decode checked it is known */
    if (l->h.kind == LM_PAYLOAD_CHECKPOINT) {
        l->checkpoint = true;
        checkpoint_begin(l);
        return;
    }
    if (l->stage && l->h.length > WARM_STAGE_BYTES) { /* larger than a warm loader prepared */
        page_free(l->stage, WARM_STAGE_BYTES / PAGE_SIZE);
        l->stage = NULL;
    }
    l->buf = l->stage ? l->stage : page_alloc(PAGE_ROUND_UP(l->h.length) / PAGE_SIZE);
    if (!l->buf)
        loader_fail(l, EXIT_OVERSIZE, "OVERSIZED", "no room to stage %llu bytes",
                    (unsigned long long)l->h.length);
    l->first_ns = clock_ns();
    crypto_generichash_blake2b_init(&l->hash, NULL, 0, LM_HASH_BYTES);
    crypto_generichash_blake2b_update(&l->hash, (const uint8_t *)l->kind->domain,
                                      strlen(l->kind->domain));
    printf("loader: receiving a %s of %llu bytes\n", l->kind->name,
           (unsigned long long)l->h.length);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct loader *l = arg;
    (void)err;
    if (!p) {
        l->peer_fin = true; /* a half-close: we may still answer on this connection */
        if (l->answered)
            return ERR_OK;
        if (l->checkpoint) {
            checkpoint_lost(l, "the sender closed the connection");
            return ERR_OK;
        }
        if (l->hdr_len < LM_PAYLOAD_HEADER_SIZE)
            loader_fail(l, EXIT_TRUNCATED, "TRUNCATED", "connection closed after %zu header "
                        "bytes", l->hdr_len);
        if (l->cmd_len < l->h.cmdline_len || l->got < l->h.length)
            loader_fail(l, EXIT_TRUNCATED, "TRUNCATED", "connection closed after %llu of "
                        "%llu payload bytes", (unsigned long long)l->got,
                        (unsigned long long)l->h.length);
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next)
        take(l, q->payload, q->len);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    l->last_ns = clock_ns();
    if (!l->checkpoint && l->hdr_len == LM_PAYLOAD_HEADER_SIZE &&
        l->cmd_len == l->h.cmdline_len && l->got == l->h.length)
        image_finish(l); /* does not return */
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    struct loader *l = arg;
    l->pcb = NULL;
    if (l->checkpoint) {
        checkpoint_lost(l, "the connection broke"); /* returns when it holds a complete image */
        return;
    }
    loader_fail(l, EXIT_TRUNCATED, "TRUNCATED", "connection lost (lwIP error %d) after %llu "
                "payload bytes", err, (unsigned long long)l->got);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct loader *l = arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    if (l->pcb) { /* one payload per VM, one resolver at a time */
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    /* Only the buyer who pinged may send: anyone else could otherwise spoil the VM with a
     * bad payload. Others are reset, and the loader keeps waiting. */
    bool allowed = !l->senders || checkpoint_resolving(l);
    for (unsigned i = 0; i < l->senders; i++)
        allowed |= ip_addr_cmp(&pcb->remote_ip, &l->sender[i]);
    if (!allowed) {
        char from[IPADDR_STRLEN_MAX], want[IPADDR_STRLEN_MAX], want2[IPADDR_STRLEN_MAX];
        ipaddr_ntoa_r(&pcb->remote_ip, from, sizeof from); /* ipaddr_ntoa: one static buffer */
        ipaddr_ntoa_r(&l->sender[0], want, sizeof want);
        ipaddr_ntoa_r(&l->sender[l->senders - 1], want2, sizeof want2);
        printf("loader: reset a connection from %s: payloads come from %s%s%s\n", from, want,
               l->senders > 1 ? " or " : "", l->senders > 1 ? want2 : "");
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    l->pcb = pcb;
    l->last_ns = clock_ns();
    tcp_arg(pcb, l);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    tcp_nagle_disable(pcb);
    /* The listener stays: anyone else is reset above while this connection lasts, and a
     * loader paused after READY takes its resolver on it (closing and binding again would
     * fail while this connection's pcb still holds the port). */
    return ERR_OK;
}

/*
 * What a warm loader does while it waits, so that the buyer does not wait for it: every first
 * touch of a page costs a fault (~6 us on KVM-PVM, whose shadow page tables fill one fault at
 * a time), so it touches the staging room of an image of up to WARM_STAGE_BYTES and the RAM
 * such an image goes to. RAM stays all zero (LM_BOOT_RAM_ZERO holds), and the new kernel's
 * first 4 MiB (text, data, the bss it zeroes and uses first) are touched already.
 */
static void prepare_warm(struct loader *l)
{
    l->stage = page_alloc(WARM_STAGE_BYTES / PAGE_SIZE); /* zeroed: every page touched */
    uint64_t end = LM_KERNEL_MIN_GPA + WARM_STAGE_BYTES;
    if (end > boot_info->mem_size)
        end = boot_info->mem_size;
    for (uint64_t a = LM_KERNEL_MIN_GPA; a < end; a += PAGE_SIZE)
        *(volatile uint8_t *)(uintptr_t)a = 0;
}

static void listen_for_payload(struct loader *l)
{
    l->listener = tcp_listen_on(l->port, on_accept);
    tcp_arg(l->listener, l);
    l->last_ns = clock_ns();
    printf("loader: waiting on TCP port %u for a payload (commitment %02x%02x%02x%02x...)\n",
           l->port, boot_info->commitment[0], boot_info->commitment[1], boot_info->commitment[2],
           boot_info->commitment[3]);
}

/* A warm loader's assignment: the admitted token's commitment (boot info's, from now on:
 * the image's check and the hand-over read it there) and its buyer's address. */
static void take_assignment(struct loader *l)
{
    uint8_t sender[4];
    if (!platform_assignment(boot_info->commitment, sender))
        return;
    l->warm = false;
    IP4_ADDR(ip_2_ip4(&l->sender[0]), sender[0], sender[1], sender[2], sender[3]);
    l->senders = 1;
    char from[LM_IP4_STR];
    printf("loader: assigned a buyer at %s\n", lm_ip4_format(sender, from));
    listen_for_payload(l);
}

static int loader_init(void)
{
    struct loader *l = &the_loader;
    memset(l, 0, sizeof *l);
    unsigned long port = cmdline_ulong("port", LM_LOADER_PORT);
    l->wait_ns = cmdline_ulong("wait_s", 60) * 1000000000ull;
    l->idle_ns = cmdline_ulong("idle_s", 10) * 1000000000ull;
    const char *keys[2] = {"sender", "sender2"};
    for (int i = 0; i < 2; i++) {
        const char *sender = cmdline_get(keys[i]);
        if (sender && !ipaddr_aton(sender, &l->sender[l->senders++]))
            lm_panic("%s=%s: expected A.B.C.D", keys[i], sender);
    }
    const char *identity = cmdline_get("identity");
    l->new_identity = identity && !strcmp(identity, "new");
    l->port = (uint16_t)port;
    l->warm = cmdline_ulong("warm", 0) != 0;
    if (l->warm) { /* nothing to take until the host says whose payload it is */
        if (l->senders || !sodium_is_zero(boot_info->commitment, LM_HASH_BYTES))
            lm_panic("warm=1: a warm loader boots without sender= and commitment");
        prepare_warm(l);
        printf("loader: warm: waiting for the host to assign a buyer\n");
        return 0;
    }
    listen_for_payload(l);
    return 0;
}

/* Timeouts: no sender at all, or a sender gone silent. */
static bool loader_poll(void)
{
    struct loader *l = &the_loader;
    if (l->warm) {
        if (events_state()->assigned)
            take_assignment(l);
        return false;
    }
    uint64_t now = clock_ns();
    if (l->checkpoint && checkpoint_poll(l))
        return false;
    if (!l->pcb && now - l->last_ns > l->wait_ns)
        loader_fail(l, EXIT_TIMEOUT, "TIMEOUT", "no sender connected within %llu s",
                    (unsigned long long)(l->wait_ns / 1000000000ull));
    if (l->pcb && now - l->last_ns > l->idle_ns)
        loader_fail(l, EXIT_TIMEOUT, "TIMEOUT", "sender silent for %llu s after %llu payload "
                    "bytes", (unsigned long long)(l->idle_ns / 1000000000ull),
                    (unsigned long long)l->got);
    return false;
}

const struct app app_loader = {"loader", true, loader_init, loader_poll};
