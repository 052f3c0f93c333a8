/* Guest kernel entry: bring up CPU tables, memory, clock, network, then the event loop. */
#include <stdio.h>
#include <string.h>

#include "kernel.h"

struct lm_boot_info *boot_info;
static struct lm_boot_info boot_copy; /* our own copy: the monitor's page is not ours to keep */
static bool have_net;
void (*kernel_resume_hook)(struct lm_boot_info *bi);

static const struct app *choose_app(void)
{
    const char *name = cmdline_get("app");
    if (!name)
        name = apps[0]->name;
    for (size_t i = 0; apps[i]; i++)
        if (strcmp(apps[i]->name, name) == 0)
            return apps[i];
    lm_panic("command line: unknown app=%s (%s)", name, app_names);
}

static uint64_t last_exit_ns; /* the last poll hypercall: the host fills RX only during one */

/* A busy workload never blocks in idle(): give the host an exit every millisecond anyway, or
 * the network (a migration, the owner's commands) would starve. */
static void let_host_in(void)
{
    uint64_t now = clock_ns();
    if (now - last_exit_ns < 1000000)
        return;
    last_exit_ns = now;
    if (platform_poll(0) & PLATFORM_READY_EVENT)
        events_fetch();
}

/* One turn of what runs beside the workload: the network, payments, a migration. */
static bool service(void)
{
    bool busy = false;
    if (have_net) {
        let_host_in();
        net_poll();
        payagent_poll();
        busy = mig_poll();
    }
    return busy;
}

/* An idle guest whose workload has no timers of its own (no poll function: a server that only
 * answers) sleeps this long when its network is quiet: each wake-up of an idle VM is an exit
 * and a pass through emulated ring 0 on PVM hosts, the whole cost of a thousand idle VMs. */
#define QUIET_SLEEP_MS 30000
static const struct app *running_app;

/* Blocks in the poll hypercall until the network, a timer or the host needs us. */
static void idle(void)
{
    uint32_t quiet_ms = running_app && !running_app->poll ? QUIET_SLEEP_MS : 1000;
    uint64_t timeout_ms = have_net ? net_timeout_ms(quiet_ms) : 1000, due = payagent_due_ms();
    if (due < timeout_ms)
        timeout_ms = due;
    if (have_net && mig_timeout_ms() < timeout_ms)
        timeout_ms = mig_timeout_ms();
    if (platform_poll(timeout_ms * 1000000ull) & PLATFORM_READY_EVENT)
        events_fetch();
    last_exit_ns = clock_ns();
}

/* Runs the network and the workload; blocks in the poll hypercall when there is nothing to do.
 * While a migration's final phase has the workload stopped, only the network and the
 * migration run. */
static __attribute__((noreturn)) void event_loop(const struct app *app)
{
    running_app = app;
    for (;;) {
        bool busy = service();
        if (app->poll && !mig_workload_stopped())
            busy |= app->poll();
        if (!busy)
            idle();
    }
}

/* A computation calls this now and then: the network and a migration get their turn, and
 * while a migration's final phase runs, the computation waits here. */
void kernel_yield(void)
{
    if (!have_net)
        return;
    static uint64_t last_ns;
    uint64_t now = clock_ns();
    if (now - last_ns < 1000000 && !mig_workload_stopped())
        return; /* at most one turn a millisecond: the computation's time is its own */
    last_ns = now;
    service(); /* with its exit to the host: without one the network would stay deaf */
    while (mig_workload_stopped())
        if (!service())
            idle();
}

/* Entered in ring 3 on a new host after a migration (arch resume path). */
void kresume(struct lm_boot_info *bi);
void kresume(struct lm_boot_info *bi)
{
    if (!kernel_resume_hook)
        platform_exit(1);
    kernel_resume_hook(bi); /* does not return: it resumes the snapshot */
    platform_exit(1);
}

/* Entered in ring 3 from _start (platform/kvm/entry.S), which already set up ring 0. */
void kmain(struct lm_boot_info *bi);
void kmain(struct lm_boot_info *bi)
{
    if (bi->magic != LM_BOOTINFO_MAGIC || bi->abi_version != LM_ABI_VERSION)
        platform_exit(1);
    memcpy(&boot_copy, bi, sizeof boot_copy);
    boot_info = &boot_copy;
    boot_copy.cmdline[LM_CMDLINE_MAX - 1] = '\0';

    mm_init(); /* descriptor tables were set up in ring 0 before we got here */
    if (paging_init() < 0)
        lm_panic("out of memory building page tables for %llu MiB",
                 (unsigned long long)(boot_info->mem_size >> 20));
    heap_init();
    clock_init();
    random_init();
    printf("laundromat guest: %llu MiB, %zu pages free, cmdline \"%s\"\n",
           (unsigned long long)(boot_info->mem_size >> 20), mm_free_pages(), boot_info->cmdline);

    if (cmdline_get("fault")) { /* test hook: touch an unmapped address */
        volatile uint64_t *bad = (volatile uint64_t *)(uintptr_t)cmdline_ulong("fault", 0);
        printf("touching 0x%llx\n", (unsigned long long)(uintptr_t)bad);
        (void)*bad;
    }

    const struct app *app = choose_app();
    bool net = have_net = net_init();
    if (app->server && !net) {
        printf("app=%s serves TCP: give lm-vmm a NIC (--bridge or --tap, and --ip)\n", app->name);
        platform_exit(1);
    }
    if (net) {
        payagent_init();
        mig_init();
    }
    int rc = app->init();
    if (rc != 0 || !app->server) /* a computation ends the VM with its status */
        platform_exit(rc);
    event_loop(app);
}
