/*
 * The host channel (include/laundromat/hostchan.h) on COM2, which the host agent joins to a
 * unix socket: the loader's key arrives first, credit news later; notices, the hand-over and
 * the exit status go out. Without a COM2 (QEMU run by hand) there is no channel and nothing
 * here does anything.
 *
 * The UART stays in 16450 mode (no FIFO): switching the FIFO on clears what was received, and
 * the host writes its HELLO before the guest boots. Each byte is a status read and a data
 * read, and QEMU hands over the next one only after that read. The UART's receive interrupt
 * (IRQ 3, through the I/O APIC to VEC_CHAN) wakes an idle guest; a busy guest, which never
 * waits and so takes no interrupts, looks every CHAN_BUSY_LOOK_MS. The loader reads only its
 * HELLO: what follows is for the kernel it hands over to.
 */
#include <stdio.h>
#include <string.h>

#include "laundromat/hostchan.h"

#include "../../arch/x86_64/priv.h"
#include "pvh.h"

#define COM2 0x2f8
#define UART_IER 1
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7
#define LSR_DATA 0x01
#define LSR_THR_EMPTY 0x20
#define IRQ_COM2 3
#define IOAPIC_BASE 0xfec00000ul
#define CHAN_BUSY_LOOK_MS 50
#define CHAN_FRAME_WAIT_MS 50   /* the rest of a frame begun */
#define CHAN_HELLO_WAIT_MS 10000

volatile uint8_t pvh_chan_irq; /* irq.S: the UART's interrupt came */
static bool present, broken;
static uint8_t rx[LM_HOSTCHAN_FRAME_MAX];
static size_t rx_len;
static bool hello;
static struct platform_events pending;
static uint64_t last_look;

static uint64_t ms_ticks(uint64_t ms)
{
    uint64_t hz = boot_info && boot_info->clock.tsc_hz ? boot_info->clock.tsc_hz : 1000000000u;
    return hz / 1000 * ms;
}

/* ISA IRQ pin -> vector: fixed delivery, physical destination APIC 0, edge, active high.
 * Ring 0 at boot, on the boot tables' identity map of the low 4 GiB. */
static void ioapic_route(unsigned pin, unsigned vector)
{
    volatile uint32_t *sel = (volatile uint32_t *)IOAPIC_BASE;
    volatile uint32_t *win = (volatile uint32_t *)(IOAPIC_BASE + 0x10);
    *sel = 1;
    uint32_t ver = *win;
    if (ver == 0xffffffffu || ((ver >> 16) & 0xff) < pin)
        lm_panic("no I/O APIC at 0x%lx (version register 0x%x) for COM2's IRQ %u", IOAPIC_BASE,
                 ver, pin);
    *sel = 0x10 + 2 * pin + 1;
    *win = 0;
    *sel = 0x10 + 2 * pin;
    *win = vector;
}

static void take(const struct lm_hostchan_msg *m)
{
    switch (m->type) {
    case LM_HOSTCHAN_HELLO:
        if (!hello && boot_info->loader_base) /* the loader's; a kernel has no use for it */
            memcpy(boot_info->loader_key, m->u.key, sizeof boot_info->loader_key);
        hello = true;
        break;
    case LM_HOSTCHAN_EVENTS:
        pending.pending |= m->u.events.pending;
        if (m->u.events.pending & PLATFORM_EVENT_EVICT)
            pending.evict_ms = m->u.events.evict_ms;
        pending.credit_ms = m->u.events.credit_ms;
        pending.grace_ms = m->u.events.grace_ms;
        break;
    default: /* a guest's frame coming from the host */
        broken = true;
        printf("platform: the host channel sent a guest's frame (type %u): not reading it any "
               "more\n", m->type);
    }
}

/* Reads what the UART holds, frame by frame, until it is empty between frames (or, with
 * until_hello, a HELLO is in). A frame begun is waited for: the host writes whole ones. */
static void pump(bool until_hello)
{
    uint64_t give_up = 0;
    while (present && !broken && !(until_hello && hello)) {
        if (!(inb(COM2 + UART_LSR) & LSR_DATA)) {
            if (rx_len == 0)
                return;
            if (!give_up)
                give_up = rdtsc() + ms_ticks(CHAN_FRAME_WAIT_MS);
            else if (rdtsc() > give_up)
                return; /* the rest raises the interrupt when it comes */
            continue;
        }
        give_up = 0;
        rx[rx_len++] = inb(COM2);
        struct lm_hostchan_msg m;
        int n = lm_hostchan_parse(rx, rx_len, &m);
        if (n == 0)
            continue;
        if (n < 0) {
            broken = true;
            printf("platform: the host channel is out of step (a frame starting 0x%02x 0x%02x): "
                   "not reading it any more\n", rx[0], rx_len > 1 ? rx[1] : 0);
            rx_len = 0;
            return;
        }
        rx_len = 0;
        take(&m);
    }
}

void chan_init(void)
{
    outb(COM2 + UART_SCR, 0x5a);
    if (inb(COM2 + UART_SCR) != 0x5a)
        return; /* no COM2: no channel */
    outb(COM2 + UART_IER, 0);
    outb(COM2 + UART_LCR, 0x03);    /* 8 bits, no parity, 1 stop bit */
    outb(COM2 + UART_MCR, 0x0b);    /* DTR, RTS, OUT2 (the interrupt line) */
    ioapic_route(IRQ_COM2, VEC_CHAN);
    idt_set_irq(VEC_CHAN, pvh_chan_entry);
    outb(COM2 + UART_IER, 0x01);    /* interrupt on received data */
    present = true;
    if (boot_info->loader_base) {
        uint64_t until = rdtsc() + ms_ticks(CHAN_HELLO_WAIT_MS);
        while (!hello && !broken && rdtsc() < until)
            pump(true);
        if (!hello)
            printf("platform: COM2 is here but no HELLO came from the host within %u ms: no "
                   "loader key\n", CHAN_HELLO_WAIT_MS);
    } else {
        pump(false); /* what came while the loader ran; the interrupt line drops */
    }
}

/* On the new host after a migration: its loader set the UART up and took its interrupt; what
 * the old host's channel left half read or unread is void. IER off and on raises the line
 * again for what waits (the edge the loader took), and that is read now. */
void platform_resume(void)
{
    rx_len = 0;
    broken = false;
    pending = (struct platform_events){0};
    pvh_chan_irq = 0;
    if (!present)
        return;
    outb(COM2 + UART_IER, 0);
    outb(COM2 + UART_IER, 0x01);
    pump(false);
}

bool chan_events_ready(bool busy)
{
    if (!present || boot_info->loader_base)
        return false;
    if (pvh_chan_irq || (busy && rdtsc() - last_look > ms_ticks(CHAN_BUSY_LOOK_MS))) {
        pvh_chan_irq = 0;
        last_look = rdtsc();
        pump(false);
    }
    return pending.pending != 0;
}

void platform_events(struct platform_events *ev)
{
    *ev = pending;
    pending.pending = 0;
}

/* The libvirt backend boots no warm loaders: nothing is ever assigned here. */
bool platform_assignment(uint8_t commitment[32], uint8_t sender[4])
{
    (void)commitment;
    (void)sender;
    return false;
}

void chan_send(const struct lm_hostchan_msg *m)
{
    uint8_t f[LM_HOSTCHAN_FRAME_MAX];
    size_t n = present ? lm_hostchan_encode(m, f) : 0;
    for (size_t i = 0; i < n; i++) {
        /* Without a FIFO, a byte written before the last one left would replace it. */
        uint64_t until = rdtsc() + ms_ticks(CHAN_FRAME_WAIT_MS);
        while (!(inb(COM2 + UART_LSR) & LSR_THR_EMPTY))
            if (rdtsc() > until)
                return; /* the host stopped reading: the rest is lost to it */
        outb(COM2, f[i]);
    }
}

void platform_notice(uint32_t what)
{
    chan_send(&(struct lm_hostchan_msg){.type = LM_HOSTCHAN_NOTICE, .u.notice = what});
}
