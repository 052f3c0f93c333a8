/* Guest kernel entry: bring up CPU tables, memory, clock, network, then the event loop. */
#include <stdio.h>
#include <string.h>

#include "kernel.h"

struct lm_boot_info *boot_info;
static struct lm_boot_info boot_copy; /* our own copy: the monitor's page is not ours to keep */

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

/* Runs the network and the workload; blocks in the poll hypercall when there is nothing to do. */
static __attribute__((noreturn)) void event_loop(const struct app *app, bool net)
{
    for (;;) {
        bool busy = false;
        if (net) {
            net_poll();
            payagent_poll();
        }
        if (app->poll)
            busy = app->poll();
        if (busy)
            continue;
        uint64_t timeout_ms = net ? net_timeout_ms() : 1000, due = payagent_due_ms();
        if (due < timeout_ms)
            timeout_ms = due;
        if (platform_poll(timeout_ms * 1000000ull) & LM_POLL_EVENT)
            events_fetch();
    }
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
    bool net = net_init();
    if (app->server && !net) {
        printf("app=%s serves TCP: give lm-vmm a NIC (--bridge or --tap, and --ip)\n", app->name);
        platform_exit(1);
    }
    if (net)
        payagent_init();
    int rc = app->init();
    if (rc != 0 || !app->server) /* a computation ends the VM with its status */
        platform_exit(rc);
    event_loop(app, net);
}
