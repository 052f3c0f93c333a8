/* lmctl: the buyer's and operator's command line; dispatches to one file per command. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lmctl.h"

static void usage(FILE *f)
{
    fputs("usage: lmctl COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  keygen [--seed HEX] FILE     new Ed25519 key: FILE (secret, 0600) and FILE.pub\n"
          "  token mint --key FILE ...    sign a boot token offline with a broker key\n"
          "  token show [--key PUB] FILE  decode a token and verify it (--json for JSON)\n"
          "  chain new -n N FILE          new hash chain of N links, seed kept in FILE\n"
          "  chain show [--link K] FILE   a chain's length, anchor and link K\n"
          "host agent (UDP port 7777, loader TCP port 7700):\n"
          "  ping HOST TOKEN              magic ping: boot a VM for a token\n"
          "  inject ADDR IMAGE            send a kernel image to a new VM's loader\n"
          "  run HOST TOKEN IMAGE         ping and inject, timed\n"
          "  pay HOST TOKEN CHAIN         pay for a VM with links of its chain\n"
          "  host status|ls|kill VM       the local host agent's control socket (root)\n"
          "broker (--broker URL or LM_BROKER, --key FILE or LM_KEY):\n"
          "  account create|list          the admin creates and lists accounts\n"
          "  deposit                      the admin adds credit to an account\n"
          "  balance                      your account's balance, reservations, earnings\n"
          "  hosts [--json]               the broker's host directory with prices\n"
          "  host-register                an operator registers or updates a host\n"
          "  buy                          buy a boot token with your credit\n"
          "  redeem                       an operator is paid for a token's newest link\n"
          "  locate NAME                  where your VM NAME runs now (host, address)\n"
          "  report-location              a host tells the broker where a VM runs (Evil Man)\n"
          "  broker call METHOD PATH      sign and send any request (broker headers: for curl)\n"
          "\n"
          "A guest you own (owner= at injection):\n"
          "  owner-cmdline --owner FILE   what to add to a guest's command line so it obeys you\n"
          "  status VM                    its phase and its last migration's figures\n"
          "  migkey new|show FILE         a migration key pair (a checkpoint token commits to it)\n"
          "  migrate VM                   move it, running, into another host's loader VM\n"
          "  checkpoint VM -o FILE        record it, running, into a file only you can open\n"
          "  restore --to HOST FILE       start a checkpoint file on a host\n"
          "  autopilot NAME               keep a VM alive: pay, and move it when evicted or cheaper\n"
          "\n"
          "`lmctl COMMAND --help` describes each command's options.\n"
          "Exit status: 0 success, 1 failure (an invalid token, an I/O error), 2 usage.\n",
          f);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        lmctl_err("libsodium failed to initialise");
        return LMCTL_FAIL;
    }
    if (argc < 2) {
        usage(stderr);
        return LMCTL_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return LMCTL_OK;
    }
    if (!strcmp(cmd, "keygen"))
        return cmd_keygen(argc - 1, argv + 1);
    if (!strcmp(cmd, "token"))
        return cmd_token(argc - 1, argv + 1);
    if (!strcmp(cmd, "chain"))
        return cmd_chain(argc - 1, argv + 1);
    if (!strcmp(cmd, "ping"))
        return cmd_ping(argc - 1, argv + 1);
    if (!strcmp(cmd, "inject"))
        return cmd_inject(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "pay"))
        return cmd_pay(argc - 1, argv + 1);
    if (!strcmp(cmd, "host"))
        return cmd_host(argc - 1, argv + 1);
    if (!strcmp(cmd, "account"))
        return cmd_account(argc - 1, argv + 1);
    if (!strcmp(cmd, "deposit"))
        return cmd_deposit(argc - 1, argv + 1);
    if (!strcmp(cmd, "balance"))
        return cmd_balance(argc - 1, argv + 1);
    if (!strcmp(cmd, "hosts"))
        return cmd_hosts(argc - 1, argv + 1);
    if (!strcmp(cmd, "host-register"))
        return cmd_host_register(argc - 1, argv + 1);
    if (!strcmp(cmd, "buy"))
        return cmd_buy(argc - 1, argv + 1);
    if (!strcmp(cmd, "redeem"))
        return cmd_redeem(argc - 1, argv + 1);
    if (!strcmp(cmd, "locate"))
        return cmd_locate(argc - 1, argv + 1);
    if (!strcmp(cmd, "report-location"))
        return cmd_report_location(argc - 1, argv + 1);
    if (!strcmp(cmd, "broker"))
        return cmd_broker(argc - 1, argv + 1);
    if (!strcmp(cmd, "status"))
        return cmd_status(argc - 1, argv + 1);
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "checkpoint"))
        return cmd_checkpoint(argc - 1, argv + 1);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(argc - 1, argv + 1);
    if (!strcmp(cmd, "autopilot"))
        return cmd_autopilot(argc - 1, argv + 1);
    if (!strcmp(cmd, "migkey"))
        return cmd_migkey(argc - 1, argv + 1);
    if (!strcmp(cmd, "owner-cmdline"))
        return cmd_owner_cmdline(argc - 1, argv + 1);
    lmctl_err("unknown command \"%s\"; `lmctl --help` lists the commands", cmd);
    return LMCTL_USAGE;
}
