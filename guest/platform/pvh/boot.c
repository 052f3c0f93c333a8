/*
 * PVH boot: the boot info our monitor would have written, filled from what standard virtual
 * hardware offers. RAM from the start info's memory map, the command line from the start info,
 * the address from the command line (ip=A.B.C.D/P gw=A.B.C.D), the TSC rate and the wall
 * clock from kvmclock, the LAPIC in x2APIC mode with its TSC-deadline timer for idle waits.
 * Runs in ring 0 from entry.S, before kmain.
 *
 * The in-VM loader, built for this platform, is linked at LM_LOADER_GPA as on our monitor:
 * QEMU's RAM must reach past LM_LOADER_GPA + LM_LOADER_SIZE, the loader's block, and the
 * command line says how much RAM below it the guest gets (mem=MiB) and what the boot token
 * commits to (commitment=64 hex digits): on our monitor, lm-vmm says both in the boot info.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/util.h"
#include "lwip/ip4_addr.h"

#include "../../arch/x86_64/priv.h"
#include "pvh.h"

static struct lm_boot_info bi;

/* kvmclock's two structures (KVM's pvclock ABI), written by the host while enabled. */
static struct __attribute__((packed, aligned(64))) {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad[2];
} pvti;
static struct __attribute__((aligned(16))) {
    uint32_t version, sec, nsec;
} pvwall;

static bool have_kvmclock(void)
{
    uint32_t r[4];
    cpuid(0x40000000, r);
    if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x0000004d) /* "KVMKVMKVM\0\0\0" */
        return false;
    cpuid(0x40000001, r);
    return r[0] & (1u << 3); /* KVM_FEATURE_CLOCKSOURCE2: the MSRs above */
}

/*
 * The TSC rate and the wall clock now. kvmclock is switched on only for this read and off
 * again at once: a clock page the host keeps writing would be memory a migration must track.
 */
static void kvmclock_read(uint64_t *tsc_hz, uint64_t *wall_ns)
{
    priv_call2(PRIV_WRMSR, MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&pvti | 1);
    priv_call2(PRIV_WRMSR, MSR_KVM_WALL_CLOCK_NEW, (uint64_t)(uintptr_t)&pvwall);
    volatile uint32_t *tv = &pvti.version, *wv = &pvwall.version;
    uint32_t v, mul;
    uint64_t ts, st, tsc;
    int8_t shift;
    do {
        v = *tv;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        ts = pvti.tsc_timestamp;
        st = pvti.system_time;
        mul = pvti.tsc_to_system_mul;
        shift = pvti.tsc_shift;
        tsc = rdtsc();
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((v & 1) || v != *tv);
    uint64_t sec, nsec;
    do {
        v = *wv;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        sec = pvwall.sec;
        nsec = pvwall.nsec;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((v & 1) || v != *wv);
    priv_call2(PRIV_WRMSR, MSR_KVM_SYSTEM_TIME_NEW, 0);
    if (mul == 0)
        lm_panic("kvmclock gives no TSC rate");
    uint64_t d = tsc - ts;
    d = shift < 0 ? d >> -shift : d << shift;
    uint64_t now = st + (uint64_t)(((unsigned __int128)d * mul) >> 32); /* ns since VM start */
    uint64_t hz = (uint64_t)((1000000000ull << 32) / mul);
    *tsc_hz = shift < 0 ? hz << -shift : hz >> shift;
    *wall_ns = sec * 1000000000ull + nsec + now; /* the wall clock at VM start, plus that */
}

uint64_t pvh_wall_ns(void)
{
    uint64_t hz, wall;
    kvmclock_read(&hz, &wall);
    return wall;
}

/* x2APIC on, its timer in TSC-deadline mode: idle waits halt until a deadline or a device.
 * The legacy 8259 PICs are masked: the firmware left the PIT's IRQ 0 on vector 8, where it
 * would look like a double fault. */
static void lapic_init(void)
{
    outb(PORT_PIC1_DATA, 0xff);
    outb(PORT_PIC2_DATA, 0xff);
    uint32_t r[4];
    cpuid(1, r);
    if (!(r[2] & (1u << 21)) || !(r[2] & (1u << 24)))
        lm_panic("this CPU model has no %s: run QEMU with -cpu qemu64,+x2apic,+tsc-deadline "
                 "(libvirt: <feature policy='require' name='tsc-deadline'/> and 'x2apic')",
                 r[2] & (1u << 21) ? "TSC-deadline timer" : "x2APIC");
    uint64_t base = (uint64_t)priv_call(PRIV_RDMSR, MSR_APIC_BASE);
    priv_call2(PRIV_WRMSR, MSR_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
    idt_set_irq(VEC_TIMER, pvh_irq_entry);
    idt_set_irq(VEC_NIC, pvh_irq_entry);
    idt_set_irq(VEC_SPURIOUS, pvh_spurious_entry);
    priv_call2(PRIV_WRMSR, MSR_X2APIC_TPR, 0);
    priv_call2(PRIV_WRMSR, MSR_X2APIC_SVR, 0x100 | VEC_SPURIOUS);
    priv_call2(PRIV_WRMSR, MSR_X2APIC_LVT_TIMER, VEC_TIMER | LVT_TSC_DEADLINE);
}

/* The end of the memory map's RAM range holding the image (a kernel's RAM is from 0 up, as
 * on our monitor; it never touches what lies below its image but its page tables). */
static uint64_t ram_top(const struct hvm_start_info *si)
{
    if (si->version < 1 || si->memmap_paddr == 0 || si->memmap_entries == 0 ||
        si->memmap_entries > 1024)
        lm_panic("the PVH start info (version %u) has no memory map of 1 to 1024 entries (%u)",
                 si->version, si->memmap_entries);
    const struct hvm_memmap_entry *e =
        (const struct hvm_memmap_entry *)(uintptr_t)si->memmap_paddr;
    uint64_t k = (uint64_t)(uintptr_t)_kernel_start;
    for (uint32_t i = 0; i < si->memmap_entries; i++)
        if (e[i].type == HVM_MEMMAP_RAM && e[i].addr <= k && k - e[i].addr < e[i].size)
            return (e[i].addr + e[i].size) & ~(PAGE_SIZE - 1);
    lm_panic("the PVH memory map has no RAM at the kernel's 0x%llx", (unsigned long long)k);
}

/* ip=A.B.C.D/PREFIX and gw=A.B.C.D on the command line: the guest's address. */
static void net_from_cmdline(void)
{
    const char *v = cmdline_get("ip");
    if (!v)
        return;
    char ip[32];
    const char *slash = strchr(v, '/');
    size_t n = slash ? (size_t)(slash - v) : 0;
    char *end;
    unsigned long prefix = slash ? strtoul(slash + 1, &end, 10) : 0;
    ip4_addr_t a;
    if (!slash || n >= sizeof ip || *end || end == slash + 1 || prefix < 1 || prefix > 32)
        lm_panic("command line: ip=%s: expected A.B.C.D/PREFIX", v);
    memcpy(ip, v, n);
    ip[n] = '\0';
    if (!ip4addr_aton(ip, &a))
        lm_panic("command line: ip=%s: expected A.B.C.D/PREFIX", v);
    memcpy(bi.net.ip, &a.addr, 4);
    bi.net.prefix = (uint8_t)prefix;
    bi.net.mtu = 1500;
    if ((v = cmdline_get("gw")) != NULL) {
        if (!ip4addr_aton(v, &a))
            lm_panic("command line: gw=%s: expected A.B.C.D", v);
        memcpy(bi.net.gateway, &a.addr, 4);
    }
}

static void clock_and_timer(struct lm_boot_info *b)
{
    if (!have_kvmclock())
        lm_panic("no kvmclock: this platform runs under KVM (QEMU -accel kvm)");
    kvmclock_read(&b->clock.tsc_hz, &b->clock.wall_ns);
    lapic_init();
    chan_init();
}

/* The loader: its block at LM_LOADER_GPA, the guest's RAM below it. */
static void loader_layout(void)
{
    if (bi.mem_size < LM_LOADER_GPA + LM_LOADER_SIZE)
        lm_panic("the loader needs RAM up to 0x%llx (QEMU -m %llu or more), this VM has 0x%llx",
                 (unsigned long long)(LM_LOADER_GPA + LM_LOADER_SIZE),
                 (unsigned long long)((LM_LOADER_GPA + LM_LOADER_SIZE) >> 20) + 16,
                 (unsigned long long)bi.mem_size);
    bi.loader_base = LM_LOADER_GPA;
    bi.loader_size = LM_LOADER_SIZE;
}

/* The loader's word from its host, on the command line: the guest's RAM, the commitment. */
static void loader_params(void)
{
    unsigned long mib = cmdline_ulong("mem", 0);
    if (mib < 2 || mib > (LM_LOADER_GPA >> 20))
        lm_panic("command line: mem=%lu: the loader needs the guest's RAM in MiB, 2 to %llu",
                 mib, (unsigned long long)(LM_LOADER_GPA >> 20));
    bi.mem_size = (uint64_t)mib << 20;
    const char *c = cmdline_get("commitment");
    if (!c || strlen(c) != 64 || lm_hex_decode(c, bi.commitment, 32) < 0)
        lm_panic("command line: the loader needs commitment=<64 hex digits> (the boot token's "
                 "payload commitment)");
}

struct lm_boot_info *pvh_boot(const struct hvm_start_info *si)
{
    boot_info = &bi; /* cmdline_get reads it; kmain takes its own copy */
    if (si->magic != HVM_START_MAGIC)
        lm_panic("PVH entry without a start info (magic 0x%x)", si->magic);
    bi.magic = LM_BOOTINFO_MAGIC;
    bi.abi_version = LM_ABI_VERSION;
    bi.mem_size = ram_top(si);
    if ((uint64_t)(uintptr_t)_kernel_start == LM_LOADER_GPA)
        loader_layout();
    bi.kernel_start = (uint64_t)(uintptr_t)_kernel_start;
    bi.kernel_end = (uint64_t)(uintptr_t)_kernel_end;
    if (si->cmdline_paddr) {
        const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
        size_t n = strnlen(c, LM_CMDLINE_MAX - 1);
        memcpy(bi.cmdline, c, n);
        bi.cmdline[n] = '\0';
    }
    net_from_cmdline();
    if (bi.loader_base)
        loader_params();
    clock_and_timer(&bi);
    return &bi;
}

struct lm_boot_info *pvh_boot_loaded(struct lm_boot_info *b)
{
    boot_info = b;
    if (b->magic != LM_BOOTINFO_MAGIC || b->abi_version != LM_ABI_VERSION)
        lm_panic("entered at _start without a boot info (magic 0x%x, ABI %u)", b->magic,
                 b->abi_version);
    clock_and_timer(b);
    return b;
}
