/* The built-in KVM backend: one lm-vmm process per VM, spawned with its tap and control fds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../evilman.h"
#include "backend.h"
#include "laundromat/netaddr.h"
#include "laundromat/spawn.h"
#include "laundromat/util.h"

extern char **environ;
static char vmm_path[256] = "lm-vmm";

void backend_kvm_set_vmm(const char *path)
{
    snprintf(vmm_path, sizeof vmm_path, "%s", path);
}

/* The monitor gets the tap as fd 3 and the control socket as fd 4. */
static int kvm_create(const struct vm_spec *s, struct vm_handle *h, struct lm_diag *d)
{
    char mem[16], ip[32], gw[20], mac[LM_MAC_STR], commit[65];
    snprintf(mem, sizeof mem, "%llu", (unsigned long long)s->mem_mib);
    snprintf(ip, sizeof ip, "%u.%u.%u.%u/%u", s->ip[0], s->ip[1], s->ip[2], s->ip[3], s->prefix);
    snprintf(gw, sizeof gw, "%u.%u.%u.%u", s->gateway[0], s->gateway[1], s->gateway[2],
             s->gateway[3]);
    lm_mac_format(s->mac, mac);
    lm_hex_encode(s->commitment, 32, commit);
    char *argv[] = {vmm_path, "-q", "--mem", mem, "--tap-fd", "3", "--ip", ip, "--gw", gw,
                    "--mac", mac, "--commitment", commit, "--ctl-fd", "4", "-c",
                    (char *)s->cmdline, s->loader ? "--loader" : (char *)s->kernel,
                    s->loader ? (char *)s->kernel : NULL, NULL};
    if (access(vmm_path, X_OK) != 0)
        return lm_fail(d, LM_INTERNAL, "cannot start %s: %s (the vmm setting names the monitor)", vmm_path, strerror(errno));
    /* A loader's secret key goes in the environment (private to the process), not argv. */
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp), keyvar[16 + 65];
    if (!envp)
        return lm_fail(d, LM_INTERNAL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "LM_LOADER_KEY=", 14) != 0)
            envp[k++] = environ[i];
    if (s->loader_key) {
        memcpy(keyvar, "LM_LOADER_KEY=", 14);
        lm_hex_encode(s->loader_key, 32, keyvar + 14);
        envp[k++] = keyvar;
    }
    h->pid = lm_spawn(vmm_path, argv, envp, s->log_path, s->tap_fd, s->ctl_fd);
    int err = errno;
    sodium_memzero(keyvar, sizeof keyvar);
    free(envp);
    if (h->pid < 0)
        return lm_fail(d, LM_INTERNAL, "cannot start %s: %s", vmm_path, strerror(err));
    return 0;
}

static int kvm_signal(struct vm_handle *h, int sig)
{
    return kill(h->pid, sig);
}

static int kvm_destroy(struct vm_handle *h)
{
    return kill(h->pid, SIGKILL);
}

static int kvm_wait(struct vm_handle *h, int *status)
{
    int rc = waitpid(h->pid, status, WNOHANG);
    return rc == h->pid ? 1 : rc == 0 ? 0 : -1;
}

const struct backend backend_kvm = {"kvm", kvm_create, kvm_signal, kvm_destroy, kvm_wait};
