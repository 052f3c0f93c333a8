/* The NIC: a tap device, and the TX/RX rings the guest keeps in its own memory. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "vmm.h"

/* Checks a ring the guest offers: inside RAM, aligned, a sane power-of-two slot count. */
static int check_ring(struct vm *vm, uint64_t gpa, const char *name, uint32_t *nslots)
{
    struct lm_ring_hdr *h = vm_gpa(vm, gpa, sizeof *h);
    if (!h || (gpa & 63)) {
        vm_abi_violation(vm, "net setup: %s ring at 0x%llx is %s", name, (unsigned long long)gpa,
                         h ? "not 64-byte aligned" : "outside guest RAM");
        return -1;
    }
    uint32_t n = __atomic_load_n(&h->nslots, __ATOMIC_RELAXED);
    if (n < 2 || n > LM_RING_MAX_SLOTS || (n & (n - 1))) {
        vm_abi_violation(vm, "net setup: %s ring has %u slots, need a power of two in [2, %d]",
                         name, n, LM_RING_MAX_SLOTS);
        return -1;
    }
    if (!vm_gpa(vm, gpa, LM_RING_BYTES(n))) {
        vm_abi_violation(vm, "net setup: %s ring [0x%llx, +%llu) runs past guest RAM", name,
                         (unsigned long long)gpa, (unsigned long long)LM_RING_BYTES(n));
        return -1;
    }
    *nslots = n;
    return 0;
}

int net_setup(struct vm *vm, uint64_t rx_gpa, uint64_t tx_gpa)
{
    struct vmm_net *n = &vm->net;
    if (n->tap_fd < 0) {
        vm_abi_violation(vm, "net setup: this VM has no NIC (boot info said so)");
        return -1;
    }
    uint32_t rxn, txn;
    if (check_ring(vm, rx_gpa, "RX", &rxn) < 0 || check_ring(vm, tx_gpa, "TX", &txn) < 0)
        return -1;
    if (rx_gpa < tx_gpa + LM_RING_BYTES(txn) && tx_gpa < rx_gpa + LM_RING_BYTES(rxn)) {
        vm_abi_violation(vm, "net setup: RX and TX rings overlap");
        return -1;
    }
    struct lm_ring_hdr *rx = vm_gpa(vm, rx_gpa, 64), *tx = vm_gpa(vm, tx_gpa, 64);
    n->rx_gpa = rx_gpa;
    n->tx_gpa = tx_gpa;
    n->rx_slots = rxn;
    n->tx_slots = txn;
    /* Take over the indices as they are: a guest re-binding after migration keeps its own. */
    n->rx_head = __atomic_load_n(&rx->head, __ATOMIC_ACQUIRE);
    n->tx_tail = __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE);
    n->ready = true;
    lm_info("NIC up: RX ring %u slots at 0x%llx, TX ring %u slots at 0x%llx", rxn,
            (unsigned long long)rx_gpa, txn, (unsigned long long)tx_gpa);
    return 0;
}

static struct lm_ring_slot *slot(struct vm *vm, uint64_t ring_gpa, uint32_t nslots, uint32_t i)
{
    return vm_gpa(vm, ring_gpa + 64 + (uint64_t)(i & (nslots - 1)) * LM_SLOT_SIZE, LM_SLOT_SIZE);
}

void net_tx(struct vm *vm, uint32_t *sent)
{
    struct vmm_net *n = &vm->net;
    struct lm_ring_hdr *h = vm_gpa(vm, n->tx_gpa, 64);
    uint32_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
    *sent = 0;
    if (head - n->tx_tail > n->tx_slots) {
        vm_abi_violation(vm, "TX ring: head %u is %u past tail %u, the ring has %u slots", head,
                         head - n->tx_tail, n->tx_tail, n->tx_slots);
        return;
    }
    while (n->tx_tail != head) {
        struct lm_ring_slot *s = slot(vm, n->tx_gpa, n->tx_slots, n->tx_tail);
        uint32_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
        if (len < 14 || len > LM_FRAME_MAX) {
            vm_abi_violation(vm, "TX ring: slot %u holds a %u-byte frame, need 14 to %d",
                             n->tx_tail, len, LM_FRAME_MAX);
            return;
        }
        /* A full tap queue drops the frame, as a wire would; TCP retransmits. */
        if (write(n->tap_fd, s->frame, len) < 0 && errno != EAGAIN && errno != ENOBUFS)
            lm_warn("tap write: %s", strerror(errno));
        n->tx_tail++;
        n->tx_frames++;
        (*sent)++;
    }
    __atomic_store_n(&h->tail, n->tx_tail, __ATOMIC_RELEASE);
}

void net_rx(struct vm *vm, uint32_t *added)
{
    struct vmm_net *n = &vm->net;
    struct lm_ring_hdr *h = vm_gpa(vm, n->rx_gpa, 64);
    uint32_t tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
    *added = 0;
    if (n->rx_head - tail > n->rx_slots) {
        vm_abi_violation(vm, "RX ring: tail %u is behind head %u by more than %u slots", tail,
                         n->rx_head, n->rx_slots);
        return;
    }
    while (n->rx_head - tail < n->rx_slots) {
        struct lm_ring_slot *s = slot(vm, n->rx_gpa, n->rx_slots, n->rx_head);
        ssize_t len = read(n->tap_fd, s->frame, sizeof s->frame);
        if (len < 0) {
            if (errno != EAGAIN && errno != EINTR)
                lm_warn("tap read: %s", strerror(errno));
            break;
        }
        if (len < 14 || len > LM_FRAME_MAX) { /* runt or jumbo: not for this NIC */
            n->rx_dropped++;
            continue;
        }
        __atomic_store_n(&s->len, (uint32_t)len, __ATOMIC_RELAXED);
        n->rx_head++;
        n->rx_frames++;
        (*added)++;
    }
    __atomic_store_n(&h->head, n->rx_head, __ATOMIC_RELEASE);
}

bool net_rx_pending(struct vm *vm)
{
    struct lm_ring_hdr *h = vm_gpa(vm, vm->net.rx_gpa, 64);
    return __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE) != vm->net.rx_head;
}
