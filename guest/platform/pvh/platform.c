/* The PVH platform's services: serial console, exit status, idle waits, wall clock. */
#include "laundromat/hostchan.h"
#include "laundromat/migrate.h"

#include "../../arch/x86_64/priv.h"
#include "pvh.h"

const uint32_t platform_mig_id = LM_MIG_PLATFORM_PVH;

/* Ring 3 drives the devices itself: COM1, the host channel's COM2, the debug-exit port, PCI
 * configuration. */
const uint16_t platform_io_ports[][2] = {
    {PORT_COM1, PORT_COM1 + 7},
    {PORT_COM2, PORT_COM2 + 7},
    {PORT_DEBUG_EXIT, PORT_DEBUG_EXIT + 3},
    {PORT_PCI_ADDR, PORT_PCI_DATA + 3},
    {0, 0},
};

void lm_console_write(const char *s, unsigned long n)
{
    /* QEMU's 16550 takes a byte whenever it is written: no need to poll the line status. */
    for (unsigned long i = 0; i < n; i++)
        outb(PORT_COM1, (uint8_t)s[i]);
}

/* QEMU's isa-debug-exit (-device isa-debug-exit,iobase=0xf4,iosize=4) ends QEMU with status
 * 2 * status + 1. Without that device the VM halts for good. */
void platform_exit(int status)
{
    chan_send(&(struct lm_hostchan_msg){.type = LM_HOSTCHAN_EXIT, .u.status = status});
    outl(PORT_DEBUG_EXIT, (uint32_t)status);
    static const char msg[] = "platform: no isa-debug-exit device at 0xf4: halting\n";
    lm_console_write(msg, sizeof msg - 1);
    for (;;)
        priv_call(PRIV_HALT, 0);
}

uint32_t platform_poll(uint64_t timeout_ns)
{
    size_t len;
    struct platform_net_hdr h;
    if (timeout_ns == 0)
        return (platform_net_rx_peek(&len, &h) ? PLATFORM_READY_NET : 0) |
               (chan_events_ready(true) ? PLATFORM_READY_EVENT : 0);
    /* Interrupts on before the last look: a frame after it raises one, and the halt below
     * returns at once when one came (PRIV_HALT checks with interrupts off). */
    arch_irq_pending = 0;
    nic_wait(true);
    if (!platform_net_rx_peek(&len, &h) && !chan_events_ready(false)) {
        /* Sleep until the deadline or a device interrupt, whichever comes first. */
        uint64_t ticks = (uint64_t)(((unsigned __int128)timeout_ns * boot_info->clock.tsc_hz) /
                                    1000000000u);
        priv_call(PRIV_HALT, rdtsc() + (ticks ? ticks : 1));
    }
    nic_wait(false);
    return (platform_net_rx_peek(&len, &h) ? PLATFORM_READY_NET : 0) |
           (chan_events_ready(false) ? PLATFORM_READY_EVENT : 0);
}

uint64_t platform_wall_ns(void)
{
    return pvh_wall_ns();
}

/* The loader's hand-over. What the VM is (its address, its TSC rate) is the platform's to
 * say, as lm-vmm says it on our monitor; the NIC stops writing into the loader's buffers; the
 * kernel starts at its ELF entry on the boot-time tables (all RAM executable: the loader's own
 * map its image non-executable), which live in the loader's block, untouched by the kernel. */
void platform_exec(uint64_t entry)
{
    struct lm_boot_info *bi = (struct lm_boot_info *)(uintptr_t)LM_BOOTINFO_GPA;
    bi->net = boot_info->net;
    bi->clock.tsc_hz = boot_info->clock.tsc_hz;
    nic_reset();
    chan_send(&(struct lm_hostchan_msg){.type = LM_HOSTCHAN_EXEC});
    priv_exec(entry, (uint64_t)(uintptr_t)pvh_pml4, LM_BOOTINFO_GPA);
}
