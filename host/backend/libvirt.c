/*
 * The libvirt backend: each VM a transient libvirt domain (q35, the loader for standard
 * virtual hardware booted by PVH, virtio-net on the VM's tap, the console to the VM's log,
 * QEMU's isa-debug-exit), through libvirt's C API. The default connection is libvirt's
 * embedded QEMU driver (qemu:///embed?root=DIR: no daemon), which wants an event loop thread:
 * the one thread here besides the agent's, and all it does for the agent is write a byte into
 * a VM's pipe when its domain stops. A VM's events: booted (the loader's hand-over line on its
 * console: the platform has no other word to the host yet), ended (the domain stopped).
 * Credit news does not reach the guest: the platform has no channel for it yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../evilman.h"
#include "backend.h"
#include "laundromat/abi.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/util.h"

struct be_vm {
    char name[48];
    virDomainPtr dom;
    int pipe[2];  /* the event thread writes the stop detail into pipe[1] */
    int ino, ep;  /* inotify on the console file; epoll over pipe[0] and ino */
    char log[256], tap[IFNAMSIZ];
    off_t seen;   /* console bytes scanned for the hand-over */
    char line[256];
    size_t line_len;
    bool booted, ended;
    struct be_vm *next;
};

static char uri[512], root[256];
static virConnectPtr conn;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct be_vm *vms; /* under lock: the event thread finds a VM by its domain's name */
static unsigned long long serial;

void backend_libvirt_setup(const char *connect_uri, const char *embed_root)
{
    snprintf(uri, sizeof uri, "%s", connect_uri);
    snprintf(root, sizeof root, "%s", embed_root);
}

static void *event_loop(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the agent's (its signalfd) */
    while (virEventRunDefaultImpl() == 0)
        ;
    lm_err("libvirt: its event loop stopped: %s", virGetLastErrorMessage());
    return NULL;
}

static int on_lifecycle(virConnectPtr c, virDomainPtr dom, int event, int detail, void *opaque)
{
    (void)c;
    (void)opaque;
    if (event != VIR_DOMAIN_EVENT_STOPPED)
        return 0;
    const char *name = virDomainGetName(dom);
    pthread_mutex_lock(&lock);
    for (struct be_vm *b = vms; b && name; b = b->next)
        if (!strcmp(b->name, name)) {
            unsigned char d = (unsigned char)detail;
            if (write(b->pipe[1], &d, 1) != 1)
                lm_err("libvirt: cannot report domain %s's stop: %s", name, strerror(errno));
        }
    pthread_mutex_unlock(&lock);
    return 0;
}

static void quiet_errors(void *data, virErrorPtr e)
{
    (void)data;
    (void)e; /* each call's caller says what failed, with virGetLastErrorMessage() */
}

/* The embedded driver's root: its qemu.conf (QEMU as root, no virtlogd, no security driver:
 * the agent runs as root and confines nothing more than lm-vmm does yet). */
static int embed_root_setup(struct lm_diag *d)
{
    char dir[300], conf[320];
    snprintf(dir, sizeof dir, "%s/etc", root);
    if ((mkdir(root, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
        return -lm_fail(d, LM_INTERNAL, "libvirt: cannot make %s: %s", dir, strerror(errno));
    snprintf(conf, sizeof conf, "%s/qemu.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -lm_fail(d, LM_INTERNAL, "libvirt: cannot write %s: %s", conf, strerror(errno));
    fputs("# Written by Evil Man for libvirt's embedded QEMU driver.\n"
          "user = \"root\"\ngroup = \"root\"\nstdio_handler = \"file\"\n"
          "security_driver = \"none\"\n", f);
    return fclose(f) == 0 ? 0 : -lm_fail(d, LM_INTERNAL, "libvirt: cannot write %s", conf);
}

/* The connection, opened at the first VM and again after it is lost. */
static int connect_once(struct lm_diag *d)
{
    static bool loop_up;
    if (conn && virConnectIsAlive(conn) == 1)
        return 0;
    if (conn) {
        lm_warn("libvirt: the connection to %s is gone: opening it again", uri);
        virConnectClose(conn);
        conn = NULL;
    }
    if (!loop_up) {
        virSetErrorFunc(NULL, quiet_errors);
        if (virEventRegisterDefaultImpl() < 0)
            return -lm_fail(d, LM_INTERNAL, "libvirt: no event loop: %s",
                            virGetLastErrorMessage());
        pthread_t t;
        if (pthread_create(&t, NULL, event_loop, NULL) != 0)
            return -lm_fail(d, LM_INTERNAL, "libvirt: cannot start its event thread");
        pthread_detach(t);
        loop_up = true;
    }
    if (!strncmp(uri, "qemu:///embed", 13) && embed_root_setup(d) < 0)
        return -LM_INTERNAL;
    conn = virConnectOpen(uri);
    if (!conn || virConnectIsAlive(conn) != 1) {
        lm_fail(d, LM_INTERNAL, "libvirt: cannot connect to %s: %s (libvirt_uri names it; the "
                "embedded driver needs the package libvirt-daemon-driver-qemu)", uri,
                conn ? "the connection is not alive" : virGetLastErrorMessage());
        if (conn)
            virConnectClose(conn);
        conn = NULL;
        return -LM_INTERNAL;
    }
    if (virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL,
                                         NULL) < 0) {
        lm_fail(d, LM_INTERNAL, "libvirt: cannot watch domains on %s: %s", uri,
                virGetLastErrorMessage());
        virConnectClose(conn);
        conn = NULL;
        return -LM_INTERNAL;
    }
    lm_info("libvirt: connected to %s", uri);
    return 0;
}

/* XML text: the five characters that would end an attribute or an element escaped. */
static void xml_text(char *out, size_t len, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < len; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                      : *s == '\'' ? "&apos;" : *s == '"' ? "&quot;" : NULL;
        if (e) {
            memcpy(out + n, e, strlen(e));
            n += strlen(e);
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

/* The tap outlives our descriptor (QEMU opens it by name), or not (persist 0: gone once its
 * last descriptor closes). */
static int tap_persist(int fd, int on)
{
    return ioctl(fd, TUNSETPERSIST, on);
}

static void tap_remove(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || tap_persist(fd, 0) < 0)
        lm_warn("libvirt: cannot remove tap %s: %s", name, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void unlist(struct be_vm *b)
{
    pthread_mutex_lock(&lock);
    for (struct be_vm **p = &vms; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            break;
        }
    pthread_mutex_unlock(&lock);
}

static void lv_release(struct be_vm *b)
{
    unlist(b);
    if (b->dom)
        virDomainFree(b->dom);
    if (b->tap[0])
        tap_remove(b->tap);
    for (int i = 0; i < 2; i++)
        if (b->pipe[i] >= 0)
            close(b->pipe[i]);
    if (b->ino >= 0)
        close(b->ino);
    if (b->ep >= 0)
        close(b->ep);
    free(b);
}

static struct be_vm *lv_create(const struct vm_spec *s, struct lm_diag *d)
{
    if (s->loader_key) {
        close(s->tap_fd);
        lm_fail(d, LM_INTERNAL, "the libvirt backend takes no checkpoints yet (its loader has "
                "no channel for the key)");
        return NULL;
    }
    struct be_vm *b = connect_once(d) < 0 ? NULL : calloc(1, sizeof *b);
    if (!b) {
        close(s->tap_fd);
        if (conn)
            lm_fail(d, LM_INTERNAL, "out of memory");
        return NULL;
    }
    b->pipe[0] = b->pipe[1] = b->ino = b->ep = -1;
    snprintf(b->name, sizeof b->name, "lm-%d-%llu", (int)getpid(), ++serial);
    snprintf(b->log, sizeof b->log, "%s", s->log_path);
    struct epoll_event e = {.events = EPOLLIN};
    int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (logfd >= 0)
        close(logfd);
    if (logfd < 0 || pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
        (b->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
        inotify_add_watch(b->ino, s->log_path, IN_MODIFY) < 0 ||
        (b->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(b->ep, EPOLL_CTL_ADD, b->pipe[0], &e) < 0 ||
        epoll_ctl(b->ep, EPOLL_CTL_ADD, b->ino, &e) < 0) {
        lm_fail(d, LM_INTERNAL, "libvirt: cannot set up VM %s's events: %s", b->name,
                strerror(errno));
        close(s->tap_fd);
        lv_release(b);
        return NULL;
    }
    /* QEMU opens the tap by name, which it cannot while another descriptor holds it: the tap
     * outlives ours (persistent) until release removes it. */
    snprintf(b->tap, sizeof b->tap, "%s", s->tap_name);
    if (tap_persist(s->tap_fd, 1) < 0) {
        lm_fail(d, LM_INTERNAL, "libvirt: tap %s: %s", s->tap_name, strerror(errno));
        close(s->tap_fd);
        b->tap[0] = '\0';
        lv_release(b);
        return NULL;
    }
    close(s->tap_fd);
    char mac[LM_MAC_STR], commit[65], cmdline[1024], cmd_xml[1400], kernel[600], log[600];
    lm_mac_format(s->mac, mac);
    lm_hex_encode(s->commitment, 32, commit);
    snprintf(cmdline, sizeof cmdline, "%s mem=%llu commitment=%s ip=%u.%u.%u.%u/%u gw=%u.%u.%u.%u",
             s->cmdline, (unsigned long long)s->mem_mib, commit, s->ip[0], s->ip[1], s->ip[2],
             s->ip[3], s->prefix, s->gateway[0], s->gateway[1], s->gateway[2], s->gateway[3]);
    xml_text(cmd_xml, sizeof cmd_xml, cmdline);
    xml_text(kernel, sizeof kernel, s->kernel);
    xml_text(log, sizeof log, s->log_path);
    /* A loader's RAM reaches past its block at LM_LOADER_GPA (pages never touched cost the
     * host nothing); the guest gets mem_mib of it (mem= on the command line). */
    unsigned long long ram_mib = s->loader ? ((LM_LOADER_GPA + LM_LOADER_SIZE) >> 20) + 16
                                           : (unsigned long long)s->mem_mib;
    char *xml = NULL;
    if (asprintf(&xml,
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "  <name>%s</name>\n  <memory unit='MiB'>%llu</memory>\n  <vcpu>%u</vcpu>\n"
        "  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>%s</kernel>"
        "<cmdline>%s</cmdline></os>\n"
        "  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model>"
        "<feature policy='require' name='x2apic'/><feature policy='require' name='tsc-deadline'/>"
        "</cpu>\n"
        "  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
        "<on_crash>destroy</on_crash>\n"
        "  <devices>\n"
        "    <serial type='file'><source path='%s' append='on'/><target port='0'/></serial>\n"
        "    <interface type='ethernet'><target dev='%s' managed='no'/><mac address='%s'/>"
        "<model type='virtio'/></interface>\n"
        "    <memballoon model='none'/>\n  </devices>\n"
        "  <qemu:commandline><qemu:arg value='-device'/>"
        "<qemu:arg value='isa-debug-exit,iobase=0xf4,iosize=4'/></qemu:commandline>\n"
        "</domain>\n",
        b->name, ram_mib, s->vcpus ? s->vcpus : 1, kernel, cmd_xml, log, s->tap_name, mac) < 0) {
        lm_fail(d, LM_INTERNAL, "out of memory");
        lv_release(b); /* removes the tap */
        return NULL;
    }
    pthread_mutex_lock(&lock); /* listed first: it may stop before CreateXML returns */
    b->next = vms;
    vms = b;
    pthread_mutex_unlock(&lock);
    b->dom = virDomainCreateXML(conn, xml, 0);
    free(xml);
    if (!b->dom) {
        lm_fail(d, LM_INTERNAL, "libvirt: domain %s did not start: %s", b->name,
                virGetLastErrorMessage());
        lv_release(b); /* removes the tap */
        return NULL;
    }
    return b;
}

static void lv_credit(struct be_vm *b, uint32_t events, uint64_t credit_ms, uint64_t grace_ms)
{
    (void)b, (void)events, (void)credit_ms, (void)grace_ms; /* no channel to the guest yet */
}

static void lv_evict(struct be_vm *b, uint64_t within_ms)
{
    (void)b, (void)within_ms;
}

static int lv_event_fd(const struct be_vm *b)
{
    return b->ep;
}

/* The loader's last words before its hand-over, on the console. */
static bool scan_console(struct be_vm *b)
{
    char buf[4096];
    int fd = open(b->log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n;
    bool found = false;
    while (!found && (n = pread(fd, buf, sizeof buf, b->seen)) > 0) {
        for (ssize_t i = 0; i < n && !found; i++) {
            b->seen++;
            if (buf[i] != '\n') {
                if (b->line_len < sizeof b->line - 1)
                    b->line[b->line_len++] = buf[i];
                continue;
            }
            b->line[b->line_len] = '\0';
            b->line_len = 0;
            found = (!strncmp(b->line, "loader: image ok", 16) && strstr(b->line, "handing over")) ||
                    !strncmp(b->line, "loader: GO: resuming", 20);
        }
    }
    close(fd);
    return found;
}

static bool lv_next_event(struct be_vm *b, struct be_event *ev)
{
    char drain[4096];
    while (read(b->ino, drain, sizeof drain) > 0)
        ;
    if (!b->booted && scan_console(b)) {
        b->booted = true; /* what the guest prints from now on is not ours to read */
        epoll_ctl(b->ep, EPOLL_CTL_DEL, b->ino, NULL);
        *ev = (struct be_event){.kind = BE_BOOTED};
        return true;
    }
    unsigned char detail;
    if (b->ended || read(b->pipe[0], &detail, 1) != 1)
        return false;
    b->ended = true;
    if (!b->booted)
        epoll_ctl(b->ep, EPOLL_CTL_DEL, b->ino, NULL);
    /* Shut down by the guest: exit 0; destroyed: SIGKILL, as lm-vmm's end would read; else
     * (QEMU exited non-zero, as isa-debug-exit makes it, or failed): exit 1, the console says
     * why. */
    int status = detail == VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN    ? 0
                 : detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED ? SIGKILL
                                                                 : 1 << 8;
    *ev = (struct be_event){.kind = BE_ENDED, .status = status};
    return true;
}

static void lv_destroy(struct be_vm *b)
{
    if (!b->ended && virDomainDestroy(b->dom) < 0)
        lm_debug("libvirt: destroying %s: %s", b->name, virGetLastErrorMessage());
}

static long lv_pid(const struct be_vm *b)
{
    (void)b;
    return -1;
}

const struct backend backend_libvirt = {
    .name = "libvirt", .create = lv_create, .credit = lv_credit, .evict = lv_evict,
    .event_fd = lv_event_fd, .next_event = lv_next_event, .destroy = lv_destroy,
    .release = lv_release, .pid = lv_pid,
};
