/*
 * The NIC under PVH: virtio-net, modern (virtio 1.x) over PCI. One receive split virtqueue of
 * fixed 2 KiB buffers, one transmit virtqueue whose descriptors point into a 512 KiB arena
 * used as a ring (a frame of up to 64 KiB is one descriptor), the offloads the device offers
 * of checksums both ways and TCP segmentation out (as on our monitor's rings), MSI-X for
 * receive, and receive interrupts only while the guest waits (platform_poll): a running guest
 * takes frames as it polls, without an interrupt per frame.
 */
#include <stdio.h>
#include <string.h>

#include "../../arch/x86_64/priv.h"
#include "pvh.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_MODERN 0x1041
#define VIRTIO_NET_TRANSITIONAL 0x1000 /* with subsystem device 1 */

/* virtio_pci_cap.cfg_type */
#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_DEVICE 4

/* struct virtio_pci_common_cfg */
#define C_DFSEL 0x00
#define C_DF 0x04
#define C_GFSEL 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_STATUS 0x14
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QMSIX 0x1a
#define C_QENABLE 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_FAILED 128

#define F_CSUM (1ull << 0)       /* the device finishes checksums we leave partial */
#define F_GUEST_CSUM (1ull << 1) /* it tells us which received checksums need no check */
#define F_NET_MAC (1ull << 5)
#define F_HOST_TSO4 (1ull << 11) /* it cuts TCPv4 frames of up to 64 KiB */
#define F_VERSION_1 (1ull << 32)
#define NO_VECTOR 0xffff

#define QSIZE 256
#define BUF_SIZE 2048
#define HDR_LEN 12 /* struct virtio_net_hdr with num_buffers: VERSION_1 always has it */

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
#define DESC_F_WRITE 2
struct avail {
    uint16_t flags, idx;
    uint16_t ring[QSIZE];
};
#define AVAIL_F_NO_INTERRUPT 1
struct used {
    uint16_t flags, idx;
    struct {
        uint32_t id, len;
    } ring[QSIZE];
};
#define USED_F_NO_NOTIFY 1

struct vq {
    struct desc *desc;
    struct avail *avail;
    struct used *used;
    uint8_t *bufs; /* size buffers of BUF_SIZE: descriptor i always points at buffer i */
    uint16_t index, size, last_used, avail_idx;
    volatile uint16_t *notify;
    bool unnotified; /* buffers made available since the last notify */
};

static volatile uint8_t *common, *devcfg, *notify_base;
static uint32_t notify_mul, notify_len;
static struct vq rxq, txq;
/* The transmit arena (txq.bufs, TX_ARENA bytes): records of header + frame, 64-byte aligned, in
 * submission order; a record's space comes back when it and every one before it are done. */
#define TX_ARENA ((uint32_t)QSIZE * BUF_SIZE)
static uint32_t arena_head, arena_tail, tx_end[QSIZE];
static uint16_t tx_next, tx_oldest;
static bool tx_done[QSIZE];
static uint64_t features;
static bool up;

static uint8_t r8(unsigned off) { return *(volatile uint8_t *)(common + off); }
static uint16_t r16(unsigned off) { return *(volatile uint16_t *)(common + off); }
static uint32_t r32(unsigned off) { return *(volatile uint32_t *)(common + off); }
static void w8(unsigned off, uint8_t v) { *(volatile uint8_t *)(common + off) = v; }
static void w16(unsigned off, uint16_t v) { *(volatile uint16_t *)(common + off) = v; }
static void w32(unsigned off, uint32_t v) { *(volatile uint32_t *)(common + off) = v; }
static void w64(unsigned off, uint64_t v)
{
    w32(off, (uint32_t)v);
    w32(off + 4, (uint32_t)(v >> 32));
}

static bool is_virtio_net(struct pci_dev d, uint32_t id)
{
    if ((id & 0xffff) != VIRTIO_VENDOR)
        return false;
    uint16_t dev = (uint16_t)(id >> 16);
    return dev == VIRTIO_NET_MODERN || (dev == VIRTIO_NET_TRANSITIONAL && pci_read16(d, 0x2e) == 1);
}

static void fail(const char *why)
{
    if (common)
        w8(C_STATUS, S_FAILED);
    lm_panic("virtio-net: %s", why);
}

/* Maps the region a capability names, at least `need` bytes of it; its address and length. */
static volatile uint8_t *cap_region(struct pci_dev d, unsigned cap, uint32_t need, uint32_t *lenp)
{
    unsigned bar = pci_read8(d, cap + 4);
    uint32_t off = pci_read32(d, cap + 8), len = pci_read32(d, cap + 12);
    if (len < need)
        fail("a capability's region is shorter than its structure");
    if (lenp)
        *lenp = len;
    uint64_t base = pci_bar(d, bar);
    if (base == 0)
        fail("a capability names a BAR that is unassigned or not memory");
    if (paging_map_io(base + off, len) < 0)
        fail("a capability's region overlaps RAM or is not addressable");
    return (volatile uint8_t *)(uintptr_t)(base + off);
}

/* MSI-X table entry 0 -> our LAPIC, vector VEC_NIC; MSI-X on. */
static void msix_init(struct pci_dev d)
{
    unsigned cap = pci_cap(d, PCI_CAP_MSIX, 0);
    if (!cap)
        fail("no MSI-X capability (QEMU's virtio-net-pci has one unless vectors=0)");
    uint32_t table = pci_read32(d, cap + 4);
    uint64_t base = pci_bar(d, table & 7);
    if (base == 0 || paging_map_io(base + (table & ~7u), 16) < 0)
        fail("the MSI-X table's BAR is unassigned or overlaps RAM");
    volatile uint32_t *e = (volatile uint32_t *)(uintptr_t)(base + (table & ~7u));
    uint32_t apic = (uint32_t)priv_call(PRIV_RDMSR, MSR_X2APIC_ID);
    e[0] = 0xfee00000u | (apic & 0xff) << 12;
    e[1] = 0;
    e[2] = VEC_NIC; /* fixed delivery, edge */
    e[3] = 0;       /* unmasked */
    uint16_t ctrl = pci_read16(d, cap + 2);
    pci_write16(d, cap + 2, (uint16_t)((ctrl | 0x8000u) & ~0x4000u)); /* enable, unmask all */
}

/* A queue's memory, once: a move to another host reuses it. */
static void vq_alloc(struct vq *q)
{
    q->desc = page_alloc(1);
    q->avail = page_alloc(1);
    q->used = page_alloc(2);
    q->bufs = page_alloc((size_t)QSIZE * BUF_SIZE / PAGE_SIZE);
    if (!q->desc || !q->avail || !q->used || !q->bufs)
        lm_panic("virtio-net: out of memory for the queues");
}

/* The queue, empty, given to the device (after a reset). */
static void vq_init(struct vq *q, uint16_t index, uint16_t vector)
{
    w16(C_QSEL, index);
    uint16_t max = r16(C_QSIZE);
    if (max == 0)
        fail("the device has no such queue");
    q->index = index;
    q->size = QSIZE;
    while (q->size > max)
        q->size >>= 1;
    w16(C_QSIZE, q->size);
    memset(q->avail, 0, PAGE_SIZE);
    memset(q->used, 0, 2 * PAGE_SIZE);
    q->last_used = q->avail_idx = 0;
    q->unnotified = false;
    for (uint16_t i = 0; i < q->size; i++)
        q->desc[i] = (struct desc){(uint64_t)(uintptr_t)(q->bufs + (size_t)i * BUF_SIZE),
                                   BUF_SIZE, 0, 0};
    w64(C_QDESC, (uint64_t)(uintptr_t)q->desc);
    w64(C_QDRIVER, (uint64_t)(uintptr_t)q->avail);
    w64(C_QDEVICE, (uint64_t)(uintptr_t)q->used);
    w16(C_QMSIX, vector);
    if (r16(C_QMSIX) != vector)
        fail("the device refused the queue's MSI-X vector");
    uint64_t at = (uint64_t)r16(C_QNOFF) * notify_mul; /* inside the mapped notify region */
    if (at + 2 > notify_len)
        fail("a queue's notify address lies outside the notify region");
    q->notify = (volatile uint16_t *)(notify_base + at);
    w16(C_QENABLE, 1);
}

static void vq_publish(struct vq *q, uint16_t id)
{
    q->avail->ring[q->avail_idx & (q->size - 1)] = id;
    q->avail_idx++;
    __atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
    q->unnotified = true;
}

static void vq_notify(struct vq *q)
{
    if (!q->unnotified)
        return;
    q->unnotified = false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* avail->idx before the device's flags */
    if (!(__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) & USED_F_NO_NOTIFY))
        *q->notify = q->index;
}

/* The device and its regions, mapped; MSI-X on. False: the VM has no virtio-net. On another
 * host after a move this runs again: the same machine type puts the device in the same place
 * as a rule, but nothing here counts on it. */
static bool find_device(struct pci_dev *d)
{
    if (!pci_find(is_virtio_net, d))
        return false;
    common = devcfg = notify_base = NULL;
    if (!pci_assign_bars(*d))
        lm_panic("virtio-net at %02x:%02x.%u: its BARs are unassigned and it sits behind a "
                 "bridge, whose windows this kernel does not set: put it on bus 0 (libvirt: "
                 "<address type='pci' bus='0x00'/>) or boot through a firmware that assigns "
                 "them (SeaBIOS)", d->bus, d->dev, d->fn);
    pci_write16(*d, 0x04, pci_read16(*d, 0x04) | 0x6); /* memory space, bus master */
    for (unsigned cap = pci_cap(*d, PCI_CAP_VENDOR, 0); cap; cap = pci_cap(*d, PCI_CAP_VENDOR, cap)) {
        uint8_t type = pci_read8(*d, cap + 3);
        if (type == CFG_COMMON && !common)
            common = cap_region(*d, cap, C_QDEVICE + 8, NULL);
        else if (type == CFG_DEVICE && !devcfg)
            devcfg = cap_region(*d, cap, 6, NULL); /* the MAC */
        else if (type == CFG_NOTIFY && !notify_base) {
            notify_base = cap_region(*d, cap, 2, &notify_len);
            notify_mul = pci_read32(*d, cap + 16);
        }
    }
    if (!common || !devcfg || !notify_base)
        lm_panic("virtio-net at %02x:%02x.%u: not a modern (virtio 1.x) device (QEMU: "
                 "disable-modern=off)", d->bus, d->dev, d->fn);
    msix_init(*d);
    return true;
}

/* Reset, features, both queues empty, every receive buffer given, the MAC. */
static void bring_up(struct pci_dev d, uint8_t mac[6])
{
    up = false;
    arena_head = arena_tail = 0;
    tx_next = tx_oldest = 0;
    memset(tx_done, 0, sizeof tx_done);
    w8(C_STATUS, 0); /* reset */
    while (r8(C_STATUS) != 0)
        ;
    w8(C_STATUS, S_ACK);
    w8(C_STATUS, S_ACK | S_DRIVER);
    w32(C_DFSEL, 0);
    uint64_t have = r32(C_DF);
    w32(C_DFSEL, 1);
    have |= (uint64_t)r32(C_DF) << 32;
    if (!(have & F_VERSION_1))
        fail("the device does not offer VIRTIO_F_VERSION_1");
    uint64_t want = F_VERSION_1 | (have & (F_NET_MAC | F_CSUM | F_GUEST_CSUM));
    if ((have & F_HOST_TSO4) && (have & F_CSUM))
        want |= F_HOST_TSO4;
    w32(C_GFSEL, 0);
    w32(C_GF, (uint32_t)want);
    w32(C_GFSEL, 1);
    w32(C_GF, (uint32_t)(want >> 32));
    w8(C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(r8(C_STATUS) & S_FEATURES_OK))
        fail("the device refused our features");
    features = want;
    w16(C_MSIX, NO_VECTOR); /* no configuration-change interrupts */
    vq_init(&rxq, 0, 0);
    vq_init(&txq, 1, NO_VECTOR);
    txq.avail->flags = AVAIL_F_NO_INTERRUPT;
    rxq.avail->flags = AVAIL_F_NO_INTERRUPT; /* until the guest waits */
    for (uint16_t i = 0; i < rxq.size; i++) {
        rxq.desc[i].flags = DESC_F_WRITE;
        vq_publish(&rxq, i);
    }
    w8(C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    vq_notify(&rxq);

    if (have & F_NET_MAC)
        for (int i = 0; i < 6; i++)
            mac[i] = *(volatile uint8_t *)(devcfg + i);
    else /* a locally administered address of our own */
        for (int i = 0; i < 6; i++)
            mac[i] = i == 0 ? 0x02 : (uint8_t)lm_random();
    printf("net: virtio-net at %02x:%02x.%u, %u receive buffers, %u transmit descriptors, "
           "offloads:%s%s%s\n", d.bus, d.dev, d.fn, rxq.size, txq.size,
           features & F_CSUM ? " checksum" : "", features & F_HOST_TSO4 ? " TSO" : "",
           features & F_GUEST_CSUM ? " checked-on-receive" : "");
    up = true;
}

bool platform_net_init(uint8_t mac[6])
{
    struct pci_dev d;
    if (!find_device(&d)) {
        printf("net: no virtio-net device (QEMU: -device virtio-net-pci,netdev=...)\n");
        return false;
    }
    vq_alloc(&rxq);
    vq_alloc(&txq);
    bring_up(d, mac);
    return true;
}

/* On another host: its device, from a reset, on the same queue memory. What sat in the queues
 * belonged to the old host: TCP retransmits it. */
void platform_net_rebind(uint8_t mac[6])
{
    struct pci_dev d;
    if (!find_device(&d))
        lm_panic("virtio-net: the new host gave this VM no virtio-net device");
    bring_up(d, mac);
}

/* Frames the device has sent: their arena space back, in submission order. */
static void tx_reclaim(void)
{
    uint16_t idx = __atomic_load_n(&txq.used->idx, __ATOMIC_ACQUIRE);
    for (; txq.last_used != idx; txq.last_used++) {
        uint32_t id = txq.used->ring[txq.last_used & (txq.size - 1)].id;
        if (id < txq.size)
            tx_done[id] = true;
    }
    while (tx_oldest != tx_next && tx_done[tx_oldest & (txq.size - 1)]) {
        tx_done[tx_oldest & (txq.size - 1)] = false;
        arena_tail = tx_end[tx_oldest & (txq.size - 1)];
        tx_oldest++;
    }
}

unsigned platform_net_offloads(void)
{
    return (features & F_CSUM ? PLATFORM_NET_CSUM : 0) |
           (features & F_HOST_TSO4 ? PLATFORM_NET_TSO : 0);
}

/* A descriptor and room for a len-byte frame at the arena's head (after a skip to its start
 * when the end is too near). */
static bool tx_room(size_t len)
{
    uint32_t need = (uint32_t)(HDR_LEN + len + 63) & ~63u, used = arena_head - arena_tail;
    uint32_t end = TX_ARENA - (arena_head & (TX_ARENA - 1));
    if ((uint16_t)(tx_next - tx_oldest) >= txq.size)
        return false;
    if (end < need) {
        if (used + end + need > TX_ARENA)
            return false;
        arena_head += end; /* given back with the record that follows */
        used += end;
    }
    return used + need <= TX_ARENA;
}

uint8_t *platform_net_tx_buf(size_t len)
{
    if (len > (features & F_HOST_TSO4 ? PLATFORM_FRAME_MAX : PLATFORM_MTU_FRAME))
        return NULL;
    tx_reclaim();
    if (!tx_room(len)) {
        platform_net_kick();
        tx_reclaim();
        if (!tx_room(len))
            return NULL;
    }
    return txq.bufs + (arena_head & (TX_ARENA - 1)) + HDR_LEN;
}

void platform_net_tx_commit(size_t len, const struct platform_net_hdr *h)
{
    uint16_t id = tx_next & (txq.size - 1);
    uint8_t *rec = txq.bufs + (arena_head & (TX_ARENA - 1));
    if (h && (features & F_CSUM))
        memcpy(rec, h, HDR_LEN);
    else
        memset(rec, 0, HDR_LEN); /* no checksum or GSO asked */
    txq.desc[id] = (struct desc){(uint64_t)(uintptr_t)rec, (uint32_t)(HDR_LEN + len), 0, 0};
    arena_head += (uint32_t)(HDR_LEN + len + 63) & ~63u;
    tx_end[id] = arena_head;
    tx_done[id] = false;
    tx_next++;
    vq_publish(&txq, id);
}

void platform_net_kick(void)
{
    if (!up)
        return;
    vq_notify(&txq);
    vq_notify(&rxq);
}

const uint8_t *platform_net_rx_peek(size_t *len, struct platform_net_hdr *h)
{
    if (!up)
        return NULL;
    for (;;) {
        if (rxq.last_used == __atomic_load_n(&rxq.used->idx, __ATOMIC_ACQUIRE))
            return NULL;
        uint16_t slot = rxq.last_used & (rxq.size - 1);
        uint32_t id = rxq.used->ring[slot].id, n = rxq.used->ring[slot].len;
        if (id < rxq.size && n >= HDR_LEN + 14 && n <= HDR_LEN + PLATFORM_MTU_FRAME) {
            *len = n - HDR_LEN;
            memcpy(h, rxq.bufs + (size_t)id * BUF_SIZE, sizeof *h);
            return rxq.bufs + (size_t)id * BUF_SIZE + HDR_LEN;
        }
        platform_net_rx_next(); /* a runt or an oversized frame: give the buffer back */
    }
}

void platform_net_rx_next(void)
{
    uint32_t id = rxq.used->ring[rxq.last_used & (rxq.size - 1)].id;
    rxq.last_used++;
    if (id < rxq.size)
        vq_publish(&rxq, (uint16_t)id);
}

void nic_reset(void)
{
    if (!up)
        return;
    w8(C_STATUS, 0);
    while (r8(C_STATUS) != 0)
        ;
    up = false;
}

void nic_wait(bool begin)
{
    if (!up)
        return;
    /* Waiting: receive interrupts on, and the device told of every buffer given back. */
    __atomic_store_n(&rxq.avail->flags, begin ? 0 : AVAIL_F_NO_INTERRUPT, __ATOMIC_SEQ_CST);
    if (begin)
        platform_net_kick();
}
