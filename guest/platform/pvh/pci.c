/* PCI configuration space (the 0xcf8/0xcfc mechanism), device search, BARs. */
#include "pvh.h"

static uint32_t addr(struct pci_dev d, unsigned off)
{
    return 0x80000000u | (uint32_t)d.bus << 16 | (uint32_t)d.dev << 11 | (uint32_t)d.fn << 8 |
           (off & 0xfc);
}

uint32_t pci_read32(struct pci_dev d, unsigned off)
{
    outl(PORT_PCI_ADDR, addr(d, off));
    return inl(PORT_PCI_DATA);
}

void pci_write32(struct pci_dev d, unsigned off, uint32_t v)
{
    outl(PORT_PCI_ADDR, addr(d, off));
    outl(PORT_PCI_DATA, v);
}

uint8_t pci_read8(struct pci_dev d, unsigned off)
{
    return (uint8_t)(pci_read32(d, off) >> (8 * (off & 3)));
}

uint16_t pci_read16(struct pci_dev d, unsigned off)
{
    return (uint16_t)(pci_read32(d, off) >> (8 * (off & 2)));
}

void pci_write16(struct pci_dev d, unsigned off, uint16_t v)
{
    unsigned sh = 8 * (off & 2);
    uint32_t w = pci_read32(d, off);
    pci_write32(d, off, (w & ~(0xffffu << sh)) | (uint32_t)v << sh);
}

/* Depth first from `bus` through PCI-to-PCI bridges (libvirt puts devices behind root ports). */
static bool scan(uint8_t bus, bool (*match)(struct pci_dev, uint32_t id), struct pci_dev *out,
                 int depth)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        for (uint8_t fn = 0; fn < 8; fn++) {
            struct pci_dev d = {bus, dev, fn};
            uint32_t id = pci_read32(d, 0);
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0)
                    break; /* no device here */
                continue;
            }
            if (match(d, id)) {
                *out = d;
                return true;
            }
            uint8_t hdr = pci_read8(d, 0x0e);
            if ((hdr & 0x7f) == 1 && depth < 8) { /* a bridge: its secondary bus */
                uint8_t sec = pci_read8(d, 0x19);
                if (sec > bus && scan(sec, match, out, depth + 1))
                    return true;
            }
            if (fn == 0 && !(hdr & 0x80))
                break; /* single-function */
        }
    }
    return false;
}

bool pci_find(bool (*match)(struct pci_dev, uint32_t id), struct pci_dev *out)
{
    return scan(0, match, out, 0);
}

/* The memory BAR `bar`'s address (64-bit BARs span two), or 0 when it is not memory. */
uint64_t pci_bar(struct pci_dev d, unsigned bar)
{
    if (bar > 5)
        return 0;
    uint32_t lo = pci_read32(d, 0x10 + 4 * bar);
    if (lo & 1)
        return 0; /* I/O space */
    uint64_t a = lo & ~0xfu;
    if (((lo >> 1) & 3) == 2 && bar < 5)
        a |= (uint64_t)pci_read32(d, 0x10 + 4 * (bar + 1)) << 32;
    return a;
}

/* Memory BARs the firmware left at 0 (qboot, the firmware we boot through, assigns none; SeaBIOS
 * assigns all) get addresses in q35's PCI hole above the MMCONFIG window, each aligned to its
 * size; decoding is off meanwhile. Only for a device on bus 0, whose addresses the host bridge
 * forwards: behind a bridge its windows would need setting too. */
#define PCI_HOLE_START 0xc0000000ull
#define PCI_HOLE_END 0xfec00000ull

bool pci_assign_bars(struct pci_dev d)
{
    uint64_t next = PCI_HOLE_START;
    uint16_t cmd = pci_read16(d, 0x04);
    bool assigned = false;
    for (unsigned bar = 0; bar < 6; bar++) {
        unsigned off = 0x10 + 4 * bar;
        uint32_t lo = pci_read32(d, off);
        if (lo & 1)
            continue; /* I/O space */
        bool wide = ((lo >> 1) & 3) == 2 && bar < 5;
        uint32_t hi = wide ? pci_read32(d, off + 4) : 0;
        if ((lo & ~0xfu) || hi) { /* the firmware's address */
            bar += wide;
            continue;
        }
        if (!assigned) {
            if (d.bus != 0)
                return false;
            pci_write16(d, 0x04, (uint16_t)(cmd & ~0x3u)); /* decoding off while sizing */
            assigned = true;
        }
        pci_write32(d, off, 0xffffffffu);
        uint32_t mask = pci_read32(d, off) & ~0xfu;
        if (wide) {
            pci_write32(d, off + 4, 0xffffffffu);
            (void)pci_read32(d, off + 4); /* below 4 GiB: the upper half stays 0 */
            pci_write32(d, off + 4, 0);
        }
        if (mask == 0) { /* not implemented */
            pci_write32(d, off, lo);
            bar += wide;
            continue;
        }
        uint64_t size = (uint64_t)(~mask) + 1;
        uint64_t at = (next + size - 1) & ~(size - 1);
        if (at + size > PCI_HOLE_END)
            return false;
        pci_write32(d, off, (uint32_t)at | (lo & 0xfu));
        next = at + size;
        bar += wide;
    }
    if (assigned)
        pci_write16(d, 0x04, cmd);
    return true;
}

/* The first capability with this ID at or after `from` in the list (0: its start), or 0. */
unsigned pci_cap(struct pci_dev d, uint8_t cap_id, unsigned from)
{
    if (!(pci_read16(d, 0x06) & (1u << 4)))
        return 0; /* no capability list */
    unsigned p = from ? pci_read8(d, from + 1) : pci_read8(d, 0x34);
    for (int guard = 0; p >= 0x40 && guard < 48; guard++) {
        p &= 0xfc;
        if (pci_read8(d, p) == cap_id)
            return p;
        p = pci_read8(d, p + 1);
    }
    return 0;
}
