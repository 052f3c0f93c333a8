/* lm-vmm: runs one guest ELF kernel in a KVM VM; the exit code is the guest's exit status. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/util.h"
#include "vmm.h"

static const char usage[] =
    "usage: lm-vmm [OPTIONS] KERNEL.elf\n"
    "Runs a 64-bit ELF guest kernel in a KVM VM. The exit code is the guest's exit status\n"
    "(0-123), or 124 guest crashed, 125 guest broke the ABI, 126 monitor error.\n"
    "  -m, --mem MIB        guest memory in MiB (default 64, 2 to 8192)\n"
    "  -c, --cmdline STR    guest command line (at most 1023 bytes)\n"
    "      --tap NAME       create tap device NAME for the NIC (default lmtapN)\n"
    "      --bridge NAME    attach the tap to bridge NAME\n"
    "      --tap-fd N       use the open tap descriptor N handed over by the parent\n"
    "      --ip A.B.C.D/P   guest IPv4 address and prefix (needed with a NIC)\n"
    "      --gw A.B.C.D     guest default gateway\n"
    "      --mac MAC        NIC MAC (default random, locally administered)\n"
    "      --commitment HEX payload commitment passed in boot info (64 hex digits)\n"
    "      --loader         KERNEL is the in-VM loader: give it a block of its own above RAM\n"
    "      --loader-key HEX the loader's X25519 secret for a checkpoint stream (64 hex digits);\n"
    "                       Evil Man passes it in $LM_LOADER_KEY instead (argv is public)\n"
    "                       (RAM at most 1792 MiB); it may hand over with LM_HC_EXEC\n"
    "      --ctl-fd N       control socket from the host agent (credit events in, notices out)\n"
    "      --no-sandbox     do not enter the seccomp sandbox (debugging only)\n"
    "  -v, --verbose        debug logging\n"
    "  -q, --quiet          errors only\n"
    "  -h, --help           this text\n";

static struct vm the_vm;

static void on_signal(int sig)
{
    (void)sig;
    vm_request_stop(&the_vm);
}

static int fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "lm-vmm: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(lm-vmm --help lists the options)\n");
    return LM_EXIT_MONITOR;
}

int main(int argc, char **argv)
{
    enum { O_TAP = 256, O_BRIDGE, O_TAPFD, O_IP, O_GW, O_MAC, O_COMMIT, O_NOSANDBOX, O_LOADER,
           O_CTLFD, O_LOADERKEY };
    static const struct option opts[] = {
        {"mem", required_argument, NULL, 'm'},      {"cmdline", required_argument, NULL, 'c'},
        {"tap", required_argument, NULL, O_TAP},    {"bridge", required_argument, NULL, O_BRIDGE},
        {"tap-fd", required_argument, NULL, O_TAPFD}, {"ip", required_argument, NULL, O_IP},
        {"gw", required_argument, NULL, O_GW},      {"mac", required_argument, NULL, O_MAC},
        {"commitment", required_argument, NULL, O_COMMIT},
        {"no-sandbox", no_argument, NULL, O_NOSANDBOX}, {"verbose", no_argument, NULL, 'v'},
        {"loader", no_argument, NULL, O_LOADER},    {"ctl-fd", required_argument, NULL, O_CTLFD},
        {"loader-key", required_argument, NULL, O_LOADERKEY},
        {"quiet", no_argument, NULL, 'q'},          {"help", no_argument, NULL, 'h'},
        {0}};
    unsigned long mem_mib = 64;
    const char *cmdline = "", *tap = NULL, *bridge = NULL;
    int tap_fd = -1, ctl_fd = -1, sandbox = 1, loader = 0, c;
    enum lm_log_level level = LM_LOG_INFO;
    struct lm_boot_net net;
    uint8_t commitment[32] = {0}, loader_key[32] = {0};
    memset(&net, 0, sizeof net);
    int have_mac = 0, want_net = 0;
    char *end;
    while ((c = getopt_long(argc, argv, "m:c:vqh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            mem_mib = strtoul(optarg, &end, 10);
            if (*end || mem_mib < 2 || mem_mib > 8192)
                return fail_usage("--mem %s: expected MiB from 2 to 8192", optarg);
            break;
        case 'c':
            if (strlen(optarg) >= LM_CMDLINE_MAX)
                return fail_usage("--cmdline is longer than 1023 bytes%s", "");
            cmdline = optarg;
            break;
        case O_TAP: tap = optarg; want_net = 1; break;
        case O_BRIDGE: bridge = optarg; want_net = 1; break;
        case O_TAPFD:
            tap_fd = (int)strtol(optarg, &end, 10);
            if (*end || tap_fd < 0)
                return fail_usage("--tap-fd %s: expected a descriptor number", optarg);
            want_net = 1;
            break;
        case O_IP:
            if (lm_ip4_prefix_parse(optarg, 1, 32, net.ip, &net.prefix) < 0)
                return fail_usage("--ip %s: expected A.B.C.D/PREFIX", optarg);
            break;
        case O_GW:
            if (inet_pton(AF_INET, optarg, net.gateway) != 1)
                return fail_usage("--gw %s: expected A.B.C.D", optarg);
            break;
        case O_MAC:
            if (lm_mac_parse(optarg, net.mac, 6) < 0 || (net.mac[0] & 1))
                return fail_usage("--mac %s: expected a unicast XX:XX:XX:XX:XX:XX", optarg);
            have_mac = 1;
            break;
        case O_COMMIT:
            if (lm_hex_decode(optarg, commitment, 32) < 0)
                return fail_usage("--commitment %s: expected 64 hex digits", optarg);
            break;
        case O_NOSANDBOX: sandbox = 0; break;
        case O_LOADER: loader = 1; break;
        case O_LOADERKEY:
            if (lm_hex_decode(optarg, loader_key, 32) < 0)
                return fail_usage("--loader-key %s: expected 64 hex digits", optarg);
            break;
        case O_CTLFD:
            ctl_fd = (int)strtol(optarg, &end, 10);
            if (*end || ctl_fd < 0)
                return fail_usage("--ctl-fd %s: expected a descriptor number", optarg);
            break;
        case 'v': level = LM_LOG_DEBUG; break;
        case 'q': level = LM_LOG_ERROR; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return LM_EXIT_MONITOR;
        }
    }
    const char *env_key = getenv("LM_LOADER_KEY");
    if (env_key) {
        if (lm_hex_decode(env_key, loader_key, 32) < 0)
            return fail_usage("$LM_LOADER_KEY: expected 64 hex digits%s", "");
        unsetenv("LM_LOADER_KEY");
    }
    if (optind != argc - 1)
        return fail_usage("expected one KERNEL argument%s", "");
    if (want_net && net.prefix == 0)
        return fail_usage("a NIC (--tap, --bridge, --tap-fd) needs --ip A.B.C.D/PREFIX%s", "");
    if (!want_net && net.prefix)
        return fail_usage("--ip needs a NIC: give --bridge NAME, --tap NAME or --tap-fd N%s", "");
    if (loader && ((uint64_t)mem_mib << 20) > LM_LOADER_GPA)
        return fail_usage("--loader: RAM must end below the loader block at 1792 MiB (--mem "
                          "<= 1792)%s", "");
    lm_log_init("lm-vmm", level);

    struct vm *vm = &the_vm;
    vm->net.tap_fd = -1;
    vm->ctl_fd = ctl_fd;
    if (vm_create(vm, (uint64_t)mem_mib << 20, loader ? LM_LOADER_SIZE : 0) < 0)
        return LM_EXIT_MONITOR;
    struct lm_elf_image img;
    if (vm_load_elf(vm, argv[optind], &img) < 0)
        return LM_EXIT_MONITOR;

    if (want_net) {
        char name[32];
        if (tap_fd >= 0) {
            vm->net.tap_fd = tap_fd;
            snprintf(name, sizeof name, "fd %d", tap_fd);
        } else if ((vm->net.tap_fd = tap_open(tap, bridge, name, sizeof name)) < 0) {
            return LM_EXIT_MONITOR;
        }
        if (net_tap_offload(vm->net.tap_fd) < 0)
            return LM_EXIT_MONITOR;
        if (!have_mac) {
            if (getrandom(net.mac, 6, 0) != 6)
                return LM_EXIT_MONITOR;
            net.mac[0] = (uint8_t)((net.mac[0] & 0xfe) | 0x02); /* unicast, local */
        }
        net.mtu = 1500;
        memcpy(vm->net.mac, net.mac, 6);
        char mac[LM_MAC_STR], ip[LM_IP4_PREFIX_STR];
        lm_info("NIC on tap %s%s%s, MAC %s, IP %s", name, bridge ? " bridge " : "",
                bridge ? bridge : "", lm_mac_format(net.mac, mac),
                lm_ip4_prefix_format(net.ip, net.prefix, ip));
    }

    vm->boot_net = net;
    vm_write_bootinfo(vm, &img, cmdline, commitment);
    /* A loader without a commitment is a warm one: the agent assigns it a buyer later. */
    vm->warm = loader && ctl_fd >= 0 && sodium_is_zero(commitment, sizeof commitment);
    if (loader) { /* the key a checkpoint stream is sealed to (a loader alone gets one) */
        struct lm_boot_info *bi = vm_gpa(vm, LM_BOOTINFO_GPA, sizeof *bi);
        memcpy(bi->loader_key, loader_key, sizeof loader_key);
    }

    if (vm_init_vcpu(vm) < 0 || vm_reset_vcpu(vm, img.entry) < 0)
        return LM_EXIT_MONITOR;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    lm_debug("entering guest at 0x%llx with %lu MiB, TSC %llu Hz",
             (unsigned long long)img.entry, mem_mib, (unsigned long long)vm->tsc_hz);
    if (sandbox && sandbox_enter(vm) < 0)
        return LM_EXIT_MONITOR;
    int code = vm_run(vm);
    if (vm->net.tap_fd >= 0)
        lm_info("NIC: %llu frames sent (%llu refused by the tap), %llu received (%llu dropped), "
                "%llu kicks, %llu polls", (unsigned long long)vm->net.tx_frames,
                (unsigned long long)vm->net.tx_errors, (unsigned long long)vm->net.rx_frames,
                (unsigned long long)vm->net.rx_dropped, (unsigned long long)vm->net.kicks,
                (unsigned long long)vm->net.polls);
    return code;
}
