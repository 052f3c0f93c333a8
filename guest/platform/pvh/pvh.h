/* Internal header of the PVH platform: standard virtual hardware under QEMU/KVM. */
#ifndef GUEST_PVH_H
#define GUEST_PVH_H

#include <stdint.h>

#include "../../kernel/kernel.h"

/* hvm_start_info (Xen's public arch-x86/hvm/start_info.h), what the PVH entry gets in EBX. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
    uint64_t memmap_paddr; /* version 1 and later */
    uint32_t memmap_entries, reserved;
};
struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};
#define HVM_MEMMAP_RAM 1

/* Ports: COM1 for the console, QEMU's isa-debug-exit for the exit status, PCI config. */
#define PORT_COM1 0x3f8
#define PORT_COM2 0x2f8 /* the host channel (chan.c) */
#define PORT_DEBUG_EXIT 0xf4
#define PORT_PCI_ADDR 0xcf8
#define PORT_PCI_DATA 0xcfc
#define PORT_PIC1_DATA 0x21 /* the 8259s' mask registers (ring 0 only, at boot) */
#define PORT_PIC2_DATA 0xa1

/* Interrupt vectors: the LAPIC timer, the NIC, the host channel, spurious. */
#define VEC_TIMER 0x20
#define VEC_NIC 0x21
#define VEC_CHAN 0x22
#define VEC_SPURIOUS 0xff

/* x2APIC registers (MSRs). */
#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
#define MSR_X2APIC_ID 0x802
#define MSR_X2APIC_TPR 0x808
#define MSR_X2APIC_EOI 0x80b
#define MSR_X2APIC_SVR 0x80f
#define MSR_X2APIC_LVT_TIMER 0x832
#define LVT_TSC_DEADLINE (2u << 17)

/* kvmclock (KVM's paravirtual clock): the TSC rate and the wall clock, read at boot. */
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* pci.c: configuration space through ports 0xcf8/0xcfc, from ring 3. */
struct pci_dev {
    uint8_t bus, dev, fn;
};
uint32_t pci_read32(struct pci_dev d, unsigned off);
void pci_write32(struct pci_dev d, unsigned off, uint32_t v);
uint8_t pci_read8(struct pci_dev d, unsigned off);
uint16_t pci_read16(struct pci_dev d, unsigned off);
void pci_write16(struct pci_dev d, unsigned off, uint16_t v);
bool pci_find(bool (*match)(struct pci_dev d, uint32_t id), struct pci_dev *out);
uint64_t pci_bar(struct pci_dev d, unsigned bar);
bool pci_assign_bars(struct pci_dev d);
unsigned pci_cap(struct pci_dev d, uint8_t cap_id, unsigned from);
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

/* virtio_net.c: around an idle wait, receive interrupts on (and the device told of every
 * buffer given back), then off again. */
void nic_wait(bool begin);
void nic_reset(void); /* the device stops: no more writes into our buffers */

/* boot.c */
struct lm_boot_info *pvh_boot(const struct hvm_start_info *si);
struct lm_boot_info *pvh_boot_loaded(struct lm_boot_info *bi); /* entered from our loader */
extern uint64_t pvh_pml4[512]; /* entry.S: 0-4 GiB by 2 MiB pages, all executable */
uint64_t pvh_wall_ns(void); /* kvmclock's wall clock, now */

/* irq.S: the interrupt entries (set arch_irq_pending, EOI; the channel's also pvh_chan_irq). */
void pvh_irq_entry(void);
void pvh_chan_entry(void);
void pvh_spurious_entry(void);

/* chan.c: the host channel on COM2 (laundromat/hostchan.h), if the VM has a COM2. */
struct lm_hostchan_msg;
void chan_init(void); /* ring 0 at boot, after the clock; a loader waits for its HELLO here */
bool chan_events_ready(bool busy); /* credit news waits (busy: no interrupts, look anyway) */
void chan_send(const struct lm_hostchan_msg *m);

#endif
