/* libFuzzer target: the monitor's NIC rings (host/vmm/net_tap.c) as a hostile guest fills them.
 * The input gives both rings' headers (sizes, indices), the TX ring's records and datagrams the
 * "tap" (a socket pair) hands to the RX side. Guest memory is exactly the two rings, so that any
 * access past them is caught by ASan; a ring the monitor accepted must be drained or refused,
 * and every RX record it wrote must lie inside its ring. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RING LM_RING_MIN_BYTES
#define RX_GPA 0ull
#define TX_GPA (64ull + RING)

static bool violated;

/* The monitor's own reports end the VM; here they only mark the input as refused. */
void vm_abi_violation(struct vm *vm, const char *fmt, ...)
{
    (void)fmt;
    violated = true;
    vm->exited = true;
}

static uint32_t take32(const uint8_t **p, size_t *n)
{
    uint32_t v = 0;
    if (*n >= 4) {
        memcpy(&v, *p, 4);
        *p += 4;
        *n -= 4;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *mem;
    static int sp[2] = {-1, -1};
    const uint64_t mem_size = 2 * (64ull + RING);
    if (!mem) {
        lm_log_init("fuzz_ring", LM_LOG_ERROR);
        mem = malloc(mem_size);
        if (!mem || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sp) < 0)
            abort();
    }
    memset(mem, 0, mem_size);
    struct vm vm = {.mem = mem, .mem_size = mem_size, .ctl_fd = -1};
    vm.net.tap_fd = sp[0];
    violated = false;

    struct lm_ring_hdr *rx = (struct lm_ring_hdr *)(mem + RX_GPA);
    struct lm_ring_hdr *tx = (struct lm_ring_hdr *)(mem + TX_GPA);
    const uint8_t *p = data;
    size_t n = size;
    uint32_t mode = take32(&p, &n);
    rx->size = mode & 1 ? take32(&p, &n) : RING;
    tx->size = mode & 2 ? take32(&p, &n) : RING;
    rx->head = rx->tail = take32(&p, &n) & ~(mode & 4 ? 0u : 63u);
    tx->tail = take32(&p, &n) & ~(mode & 8 ? 0u : 63u);
    tx->head = tx->tail + (take32(&p, &n) & (2 * RING - 1));
    /* The TX records from the ring's tail on: [u16 length][bytes]; then datagrams for the RX
     * side, each [u16 length][bytes], at most 16. */
    uint16_t body = 0;
    if (n >= 2) {
        memcpy(&body, p, 2);
        p += 2;
        n -= 2;
    }
    uint32_t at = tx->tail & (RING - 1);
    if (body > n)
        body = (uint16_t)n;
    if (body > RING - at)
        body = (uint16_t)(RING - at);
    memcpy((uint8_t *)(tx + 1) + at, p, body);
    p += body;
    n -= body;
    for (int i = 0; i < 16 && n >= 2; i++) {
        uint16_t len;
        memcpy(&len, p, 2);
        p += 2;
        n -= 2;
        if (len > n)
            len = (uint16_t)n;
        if (send(sp[1], p, len, 0) < 0)
            break;
        p += len;
        n -= len;
    }

    if (net_setup(&vm, RX_GPA, TX_GPA) == 0) {
        uint32_t head = tx->head, sent, added;
        net_tx(&vm, &sent);
        if (!violated && vm.net.tx_tail != head)
            abort(); /* accepted, yet not drained */
        rx->tail = rx->head - (mode >> 8 & 0xffff); /* a guest may lie about what it read */
        violated = false;
        uint32_t t = vm.net.rx_head; /* where the host's records begin */
        net_rx(&vm, &added);
        if (!violated) {
            /* Each record the host wrote lies inside the ring, and they end at its head. */
            uint32_t end = vm.net.rx_head;
            for (uint32_t i = 0; t != end && i < 4096; i++) {
                uint32_t off = t & (RING - 1);
                struct lm_net_rec *r = (struct lm_net_rec *)((uint8_t *)(rx + 1) + off);
                uint32_t step = r->len == LM_NET_REC_WRAP ? RING - off : LM_NET_REC_STRIDE(r->len);
                if (r->len != LM_NET_REC_WRAP && off + LM_NET_REC_HDR + r->len > RING)
                    abort();
                if (step > end - t)
                    abort();
                t += step;
            }
            if (t != end)
                abort();
        }
    }
    static char drain[LM_FRAME_MAX + 64];
    while (recv(sp[0], drain, sizeof drain, 0) > 0)
        ;
    while (recv(sp[1], drain, sizeof drain, 0) > 0) /* what net_tx sent */
        ;
    return 0;
}
