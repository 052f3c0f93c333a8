/* The NIC: a tap device, and the TX/RX rings the guest keeps in its own memory. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "vmm.h"

/* The tap as this NIC needs it: IFF_VNET_HDR (tap_open sets it; a descriptor handed over must
 * have it), the 12-byte header, and the offloads a guest may use (checksum, TCP segmentation);
 * with them the host's kernel also hands over coalesced segments (GRO) and partial checksums. */
int net_tap_offload(int fd)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
        lm_err("the NIC's descriptor is not a tap: %s", strerror(errno));
        return -1;
    }
    if (!(ifr.ifr_flags & IFF_VNET_HDR)) {
        lm_err("tap %s was opened without IFF_VNET_HDR: lm-vmm needs its offload header (open "
               "it with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, as evilman does)", ifr.ifr_name);
        return -1;
    }
    int sz = (int)sizeof(struct lm_net_hdr);
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) < 0) {
        lm_err("tap %s: cannot set its offloads: %s", ifr.ifr_name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Checks a ring the guest offers: inside RAM, aligned, a power-of-two size in bounds. Returns
 * the host's pointer to its header, or NULL. */
static struct lm_ring_hdr *check_ring(struct vm *vm, uint64_t gpa, const char *name,
                                      uint32_t *size)
{
    struct lm_ring_hdr *h = vm_gpa(vm, gpa, sizeof *h);
    if (!h || (gpa & 63)) {
        vm_abi_violation(vm, "net setup: %s ring at 0x%llx is %s", name, (unsigned long long)gpa,
                         h ? "not 64-byte aligned" : "outside guest RAM");
        return NULL;
    }
    uint32_t n = __atomic_load_n(&h->size, __ATOMIC_RELAXED);
    if (n < LM_RING_MIN_BYTES || n > LM_RING_MAX_BYTES || (n & (n - 1))) {
        vm_abi_violation(vm, "net setup: %s ring of %u bytes, need a power of two in [%u, %u]",
                         name, n, LM_RING_MIN_BYTES, LM_RING_MAX_BYTES);
        return NULL;
    }
    if (!vm_gpa(vm, gpa, LM_RING_BYTES(n))) {
        vm_abi_violation(vm, "net setup: %s ring [0x%llx, +%llu) runs past guest RAM", name,
                         (unsigned long long)gpa, (unsigned long long)LM_RING_BYTES(n));
        return NULL;
    }
    *size = n;
    return h;
}

int net_setup(struct vm *vm, uint64_t rx_gpa, uint64_t tx_gpa)
{
    struct vmm_net *n = &vm->net;
    if (n->tap_fd < 0) {
        vm_abi_violation(vm, "net setup: this VM has no NIC (boot info said so)");
        return -1;
    }
    uint32_t rxn, txn;
    struct lm_ring_hdr *rx = check_ring(vm, rx_gpa, "RX", &rxn);
    struct lm_ring_hdr *tx = rx ? check_ring(vm, tx_gpa, "TX", &txn) : NULL;
    if (!tx)
        return -1;
    if (rx_gpa < tx_gpa + LM_RING_BYTES(txn) && tx_gpa < rx_gpa + LM_RING_BYTES(rxn)) {
        vm_abi_violation(vm, "net setup: RX and TX rings overlap");
        return -1;
    }
    n->rx = rx;
    n->tx = tx;
    n->rx_size = rxn;
    n->tx_size = txn;
    /* Take over the indices as they are: a guest re-binding after migration keeps its own. */
    n->rx_head = __atomic_load_n(&rx->head, __ATOMIC_ACQUIRE);
    n->tx_tail = __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE);
    if ((n->rx_head | n->tx_tail) & 63) {
        vm_abi_violation(vm, "net setup: ring indices %u, %u are not record-aligned", n->rx_head,
                         n->tx_tail);
        return -1;
    }
    n->ready = true;
    lm_info("NIC up: RX ring %u KiB at 0x%llx, TX ring %u KiB at 0x%llx", rxn >> 10,
            (unsigned long long)rx_gpa, txn >> 10, (unsigned long long)tx_gpa);
    return 0;
}

static struct lm_net_rec *rec_at(struct lm_ring_hdr *h, uint32_t size, uint32_t i)
{
    return (struct lm_net_rec *)((uint8_t *)(h + 1) + (i & (size - 1)));
}

/* Every record the guest committed goes to the tap; each length and offset checked once. */
void net_tx(struct vm *vm, uint32_t *sent)
{
    struct vmm_net *n = &vm->net;
    uint32_t head = __atomic_load_n(&n->tx->head, __ATOMIC_ACQUIRE);
    *sent = 0;
    if (head - n->tx_tail > n->tx_size || (head & 63)) {
        vm_abi_violation(vm, "TX ring: head %u against tail %u in a ring of %u bytes", head,
                         n->tx_tail, n->tx_size);
        return;
    }
    while (n->tx_tail != head) {
        uint32_t off = n->tx_tail & (n->tx_size - 1), room = n->tx_size - off;
        struct lm_net_rec *r = rec_at(n->tx, n->tx_size, n->tx_tail);
        uint32_t len = __atomic_load_n((uint32_t *)(void *)r, __ATOMIC_RELAXED); /* 64-aligned */
        uint32_t step = len == LM_NET_REC_WRAP ? room : LM_NET_REC_STRIDE(len);
        if (len != LM_NET_REC_WRAP &&
            (len < 14 || len > LM_FRAME_MAX || LM_NET_REC_HDR + len > room)) {
            vm_abi_violation(vm, "TX ring: a %u-byte frame at offset %u (14 to %d bytes, within "
                             "the ring's %u)", len, off, LM_FRAME_MAX, n->tx_size);
            return;
        }
        if (step > head - n->tx_tail) {
            vm_abi_violation(vm, "TX ring: the record at offset %u runs past head %u", off, head);
            return;
        }
        /* The header and frame go as they are: the kernel checks the offload header (a bad
         * one is refused, EINVAL). A full tap queue drops the frame, as a wire would. */
        if (len != LM_NET_REC_WRAP) {
            if (write(n->tap_fd, (uint8_t *)r + offsetof(struct lm_net_rec, hdr),
                      sizeof r->hdr + len) < 0 && errno != EAGAIN &&
                errno != ENOBUFS && n->tx_errors++ == 0)
                lm_warn("tap write: %s (the guest's frame or its offload header; said once)",
                        strerror(errno));
            n->tx_frames++;
            (*sent)++;
        }
        n->tx_tail += step;
    }
    __atomic_store_n(&n->tx->tail, n->tx_tail, __ATOMIC_RELEASE);
}

/* Fills the RX ring from the tap while a largest frame fits (before the end, or after a wrap). */
void net_rx(struct vm *vm, uint32_t *added)
{
    struct vmm_net *n = &vm->net;
    uint32_t tail = __atomic_load_n(&n->rx->tail, __ATOMIC_ACQUIRE);
    const uint32_t need = LM_NET_REC_STRIDE(LM_FRAME_MAX);
    *added = 0;
    if (n->rx_head - tail > n->rx_size) {
        vm_abi_violation(vm, "RX ring: tail %u is behind head %u by more than %u bytes", tail,
                         n->rx_head, n->rx_size);
        return;
    }
    for (;;) {
        uint32_t used = n->rx_head - tail, room = n->rx_size - (n->rx_head & (n->rx_size - 1));
        if (room < need) {
            if (used + room + need > n->rx_size)
                break;
            rec_at(n->rx, n->rx_size, n->rx_head)->len = LM_NET_REC_WRAP;
            n->rx_head += room;
            continue;
        }
        if (used + need > n->rx_size)
            break;
        struct lm_net_rec *r = rec_at(n->rx, n->rx_size, n->rx_head);
        ssize_t got = read(n->tap_fd, (uint8_t *)r + offsetof(struct lm_net_rec, hdr),
                           sizeof r->hdr + LM_FRAME_MAX);
        if (got < 0) {
            if (errno != EAGAIN && errno != EINTR)
                lm_warn("tap read: %s", strerror(errno));
            break;
        }
        size_t len = got > (ssize_t)sizeof r->hdr ? (size_t)got - sizeof r->hdr : 0;
        if (len < 14) { /* a runt: not for this NIC */
            n->rx_dropped++;
            continue;
        }
        r->len = (uint32_t)len;
        r->reserved = 0;
        n->rx_head += LM_NET_REC_STRIDE(len);
        n->rx_frames++;
        (*added)++;
    }
    __atomic_store_n(&n->rx->head, n->rx_head, __ATOMIC_RELEASE);
}

bool net_rx_pending(struct vm *vm)
{
    return __atomic_load_n(&vm->net.rx->tail, __ATOMIC_ACQUIRE) != vm->net.rx_head;
}
