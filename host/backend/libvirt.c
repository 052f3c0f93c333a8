/*
 * The libvirt backend: each VM a transient libvirt domain (q35, the loader for standard
 * virtual hardware booted by PVH, virtio-net on the VM's tap, the console to the VM's log,
 * QEMU's isa-debug-exit), through libvirt's C API. The default connection is libvirt's
 * embedded QEMU driver (qemu:///embed?root=DIR: no daemon), which wants an event loop thread;
 * all that thread does for the agent is write a byte into a VM's pipe when its domain stops.
 * Domains start on a thread of their own each (virDomainCreateXML waits for QEMU), which says
 * in the same pipe how it went. The agent's thread does the rest: each VM's COM2 is the host
 * channel (laundromat/hostchan.h) on a unix socket the agent listens on and QEMU connects to,
 * over which the guest hears its loader key and credit news, and says its notices, its
 * hand-over (booted) and its exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "../evilman.h"
#include "backend.h"
#include "laundromat/boot.h"
#include "laundromat/hostchan.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/util.h"

struct be_vm {
    char name[48];
    virDomainPtr dom;     /* the worker's, under lock until it reports */
    virConnectPtr conn;   /* the worker's reference */
    char *xml;            /* the worker's */
    char err[400];        /* the worker: why the domain did not start */
    bool destroy_wanted;  /* under lock: destroy once it is created */
    int pipe[2];          /* the event thread writes the stop detail, the worker PIPE_* */
    int lsn, chan, ep;    /* the channel's listening socket, then QEMU's connection; epoll */
    int timer;            /* armed when the domain should be gone: its state is then asked */
    char chan_path[sizeof(struct sockaddr_un)], log[256], tap[IFNAMSIZ];
    uint8_t key[LM_HOSTCHAN_KEY_BYTES]; /* for the HELLO, wiped once sent */
    struct lm_hostchan_msg news;        /* credit news before QEMU connected */
    uint8_t rx[512];
    size_t rx_len;
    bool chan_broken;     /* the guest broke the frames: its bytes are read and dropped */
    bool news_lost;       /* said once */
    unsigned burst;       /* events in a row: the agent gets its loop back now and then */
    int stop_detail;      /* -1 until the domain stopped */
    bool created, create_failed, exit_seen, booted, ended;
    int exit_status;
    struct be_vm *next;
};
/* The worker's word in the pipe, beside libvirt's stop details (small numbers). */
#define PIPE_CREATED 0xf0
#define PIPE_CREATE_FAILED 0xf1

static char uri[512], root[256], firmware[256];
static virConnectPtr conn;
static int conn_cb = -1; /* the lifecycle callback's id on conn */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct be_vm *vms; /* under lock: the event thread finds a VM by its domain's name */
static unsigned long long serial;

void backend_libvirt_setup(const char *connect_uri, const char *embed_root, const char *fw)
{
    snprintf(uri, sizeof uri, "%s", connect_uri);
    snprintf(root, sizeof root, "%s", embed_root);
    snprintf(firmware, sizeof firmware, "%s", fw);
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
        if (conn_cb >= 0)
            virConnectDomainEventDeregisterAny(conn, conn_cb);
        conn_cb = -1;
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
    if ((conn_cb = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                    VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                                    NULL, NULL)) < 0) {
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
    if (b->conn)
        virConnectClose(b->conn);
    free(b->xml);
    if (b->tap[0])
        tap_remove(b->tap);
    if (b->lsn >= 0) {
        close(b->lsn);
        unlink(b->chan_path);
    }
    int fds[] = {b->pipe[0], b->pipe[1], b->chan, b->ep, b->timer};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    sodium_memzero(b->key, sizeof b->key);
    free(b);
}

/* The channel's socket, beside the VM's log (state_dir/vm-N.chan): QEMU connects to it as it
 * starts (COM2 of the domain below). */
static int chan_listen(struct be_vm *b, struct lm_diag *d)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(b->log);
    if (n > 4 && !strcmp(b->log + n - 4, ".log"))
        n -= 4;
    if (n + 6 > sizeof a.sun_path)
        return -lm_fail(d, LM_INTERNAL, "libvirt: the VM's channel socket %.*s.chan would be "
                        "longer than a unix socket path may be (%zu bytes): shorten state_dir",
                        (int)n, b->log, sizeof a.sun_path - 1);
    snprintf(a.sun_path, sizeof a.sun_path, "%.*s.chan", (int)n, b->log);
    snprintf(b->chan_path, sizeof b->chan_path, "%s", a.sun_path);
    unlink(a.sun_path); /* a VM of an earlier run of the agent */
    b->lsn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct epoll_event e = {.events = EPOLLIN};
    if (b->lsn < 0 || bind(b->lsn, (struct sockaddr *)&a, sizeof a) < 0 || listen(b->lsn, 1) < 0 ||
        epoll_ctl(b->ep, EPOLL_CTL_ADD, b->lsn, &e) < 0) {
        int err = errno;
        if (b->lsn >= 0) {
            close(b->lsn);
            unlink(a.sun_path);
        }
        b->lsn = -1;
        return -lm_fail(d, LM_INTERNAL, "libvirt: cannot listen on %s: %s", a.sun_path,
                        strerror(err));
    }
    return 0;
}

/* libvirt's reason on one line, for the agent's log and the VM's, the errors first: QEMU's own
 * lines follow libvirt's "closed the monitor:", each after a timestamp (left out here), and its
 * warnings (a CPU feature this host lacks, say) come before the error that is the reason. */
static void one_line_reason(char *dst, size_t size, const char *msg)
{
    size_t n = 0;
    dst[0] = '\0';
    for (int warnings = 0; warnings < 2; warnings++)
        for (const char *l = msg; *l; l += *l == '\n') {
            size_t len = strcspn(l, "\n");
            const char *t = l;
            if (len > 28 && l[4] == '-' && l[10] == 'T' && l[26] == 'Z' && l[27] == ' ')
                t += 28; /* 2026-11-30T02:40:08.268323Z and a space */
            size_t tlen = len - (size_t)(t - l);
            if ((memmem(t, tlen, ": warning: ", 11) != NULL) == warnings && n + 1 < size)
                n += (size_t)snprintf(dst + n, size - n, "%s%.*s", n ? " / " : "", (int)tlen, t);
            l += len;
        }
    if (n >= size)
        dst[size - 1] = '\0';
}

/* Starts the domain off the agent's thread (QEMU takes from 0.4 s to seconds to come up):
 * says how it went in the VM's pipe, and destroys it at once if the agent no longer wants it. */
static void *create_worker(void *arg)
{
    struct be_vm *b = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    virDomainPtr dom = virDomainCreateXML(b->conn, b->xml, 0);
    unsigned char word = PIPE_CREATED;
    pthread_mutex_lock(&lock);
    if (!dom) {
        one_line_reason(b->err, sizeof b->err, virGetLastErrorMessage());
        word = PIPE_CREATE_FAILED;
    }
    b->dom = dom;
    bool unwanted = b->destroy_wanted;
    pthread_mutex_unlock(&lock);
    if (dom && unwanted && virDomainDestroy(dom) < 0)
        lm_debug("libvirt: destroying %s: %s", b->name, virGetLastErrorMessage());
    if (write(b->pipe[1], &word, 1) != 1) /* the last touch of b here */
        lm_err("libvirt: cannot report domain %s's start: %s", b->name, strerror(errno));
    return NULL;
}

static struct be_vm *lv_create(const struct vm_spec *s, struct lm_diag *d)
{
    struct be_vm *b = connect_once(d) < 0 ? NULL : calloc(1, sizeof *b);
    if (!b) {
        close(s->tap_fd);
        if (conn)
            lm_fail(d, LM_INTERNAL, "out of memory");
        return NULL;
    }
    b->pipe[0] = b->pipe[1] = b->lsn = b->chan = b->ep = b->timer = b->stop_detail = -1;
    snprintf(b->name, sizeof b->name, "lm-%d-%llu", (int)getpid(), ++serial);
    snprintf(b->log, sizeof b->log, "%s", s->log_path);
    struct epoll_event e = {.events = EPOLLIN};
    int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (logfd >= 0)
        close(logfd);
    if (logfd < 0 || pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
        (b->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (b->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        epoll_ctl(b->ep, EPOLL_CTL_ADD, b->pipe[0], &e) < 0 ||
        epoll_ctl(b->ep, EPOLL_CTL_ADD, b->timer, &e) < 0) {
        lm_fail(d, LM_INTERNAL, "libvirt: cannot set up VM %s's events: %s", b->name,
                strerror(errno));
        close(s->tap_fd);
        lv_release(b);
        return NULL;
    }
    if (chan_listen(b, d) < 0) {
        close(s->tap_fd);
        lv_release(b);
        return NULL;
    }
    if (s->loader_key)
        memcpy(b->key, s->loader_key, sizeof b->key);
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
    char ip[LM_IP4_PREFIX_STR], gw[LM_IP4_STR];
    char chan[sizeof b->chan_path * 6], fw[sizeof firmware * 6], bios[sizeof fw + 64] = "";
    lm_mac_format(s->mac, mac);
    lm_hex_encode(s->commitment, 32, commit);
    snprintf(cmdline, sizeof cmdline, "%s mem=%llu commitment=%s ip=%s gw=%s", s->cmdline,
             (unsigned long long)s->mem_mib, commit, lm_ip4_prefix_format(s->ip, s->prefix, ip),
             lm_ip4_format(s->gateway, gw));
    xml_text(cmd_xml, sizeof cmd_xml, cmdline);
    xml_text(kernel, sizeof kernel, s->kernel);
    xml_text(log, sizeof log, s->log_path);
    xml_text(chan, sizeof chan, b->chan_path);
    xml_text(fw, sizeof fw, firmware);
    if (fw[0])
        snprintf(bios, sizeof bios, "<loader type='rom' readonly='yes'>%s</loader>", fw);
    /* The NIC sits on the root bus (slot 2): the default firmware, qboot, assigns no BARs and
     * the guest assigns them only there, where no bridge window needs setting. */
    /* A loader's RAM reaches past its block at LM_LOADER_GPA (pages never touched cost the
     * host nothing); the guest gets mem_mib of it (mem= on the command line). */
    unsigned long long ram_mib = s->loader ? ((LM_LOADER_GPA + LM_LOADER_SIZE) >> 20) + 16
                                           : (unsigned long long)s->mem_mib;
    if (asprintf(&b->xml,
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "  <name>%s</name>\n  <memory unit='MiB'>%llu</memory>\n  <vcpu>%u</vcpu>\n"
        "  <os><type arch='x86_64' machine='q35'>hvm</type>%s<kernel>%s</kernel>"
        "<cmdline>%s</cmdline></os>\n"
        "  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model>"
        "<feature policy='require' name='x2apic'/><feature policy='require' name='tsc-deadline'/>"
        "</cpu>\n"
        "  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
        "<on_crash>destroy</on_crash>\n"
        "  <devices>\n"
        "    <serial type='file'><source path='%s' append='on'/><target port='0'/></serial>\n"
        "    <serial type='unix'><source mode='connect' path='%s'/><target port='1'/></serial>\n"
        "    <interface type='ethernet'><target dev='%s' managed='no'/><mac address='%s'/>"
        "<model type='virtio'/><address type='pci' domain='0' bus='0' slot='2' function='0'/>"
        "</interface>\n"
        "    <memballoon model='none'/>\n  </devices>\n"
        "  <qemu:commandline><qemu:arg value='-device'/>"
        "<qemu:arg value='isa-debug-exit,iobase=0xf4,iosize=4'/></qemu:commandline>\n"
        "</domain>\n",
        b->name, ram_mib, s->vcpus ? s->vcpus : 1, bios, kernel, cmd_xml, log, chan, s->tap_name,
        mac) < 0) {
        b->xml = NULL;
        lm_fail(d, LM_INTERNAL, "out of memory");
        lv_release(b); /* removes the tap */
        return NULL;
    }
    b->conn = conn;
    virConnectRef(conn);
    pthread_mutex_lock(&lock); /* listed first: it may stop before CreateXML returns */
    b->next = vms;
    vms = b;
    pthread_mutex_unlock(&lock);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &at, create_worker, b);
    pthread_attr_destroy(&at);
    if (err) {
        lm_fail(d, LM_INTERNAL, "libvirt: cannot start a thread to create domain %s: %s",
                b->name, strerror(err));
        lv_release(b);
        return NULL;
    }
    return b;
}

/* One frame to the guest, whole or not at all: a unix stream socket takes a message this
 * small in one piece or refuses it (EAGAIN). */
static bool chan_write(struct be_vm *b, const struct lm_hostchan_msg *m)
{
    uint8_t f[LM_HOSTCHAN_FRAME_MAX];
    size_t n = lm_hostchan_encode(m, f);
    if (send(b->chan, f, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n)
        return true;
    if (!b->news_lost)
        lm_warn("libvirt: %s: its channel takes no more (%s): the guest does not read its "
                "COM2; news for it waits", b->name, strerror(errno));
    b->news_lost = true;
    return false;
}

/* News for the guest: sent, or kept (merged) until QEMU has connected. */
static void news(struct be_vm *b, uint32_t events, uint32_t evict_ms, uint64_t credit_ms,
                 uint64_t grace_ms)
{
    struct lm_hostchan_msg *m = &b->news;
    m->type = LM_HOSTCHAN_EVENTS;
    m->u.events.pending |= events;
    if (events & LM_EVENT_EVICT)
        m->u.events.evict_ms = evict_ms;
    else {
        m->u.events.credit_ms = credit_ms;
        m->u.events.grace_ms = grace_ms;
    }
    if (b->chan < 0 || !chan_write(b, m))
        return; /* kept, merged with what comes next */
    m->u.events.pending = 0; /* the credit figures stay: each frame carries the latest */
}

static void lv_credit(struct be_vm *b, uint32_t events, uint64_t credit_ms, uint64_t grace_ms)
{
    news(b, events, 0, credit_ms, grace_ms);
}

static void lv_evict(struct be_vm *b, uint64_t within_ms)
{
    news(b, LM_EVENT_EVICT, within_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)within_ms, 0, 0);
}

static int lv_event_fd(const struct be_vm *b)
{
    return b->ep;
}

static void chan_close(struct be_vm *b)
{
    epoll_ctl(b->ep, EPOLL_CTL_DEL, b->chan, NULL);
    close(b->chan);
    b->chan = -1;
}

/* QEMU connected: the HELLO with the loader's key, then what news waited. */
static void chan_accept(struct be_vm *b)
{
    int fd = accept4(b->lsn, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
        return;
    if (fd < 0) { /* EMFILE and the like: readable for good; the VM runs without a channel */
        lm_err("libvirt: %s: cannot accept QEMU's channel connection: %s", b->name,
               strerror(errno));
        epoll_ctl(b->ep, EPOLL_CTL_DEL, b->lsn, NULL);
        close(b->lsn);
        b->lsn = -1;
        unlink(b->chan_path);
        return;
    }
    epoll_ctl(b->ep, EPOLL_CTL_DEL, b->lsn, NULL);
    close(b->lsn);
    b->lsn = -1;
    unlink(b->chan_path);
    struct epoll_event e = {.events = EPOLLIN};
    b->chan = fd;
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
        lm_err("libvirt: %s: cannot watch its channel: %s", b->name, strerror(errno));
        chan_close(b);
        return;
    }
    struct lm_hostchan_msg hello = {.type = LM_HOSTCHAN_HELLO};
    memcpy(hello.u.key, b->key, sizeof b->key);
    chan_write(b, &hello);
    sodium_memzero(hello.u.key, sizeof hello.u.key);
    sodium_memzero(b->key, sizeof b->key);
    if (b->news.type)
        news(b, 0, 0, b->news.u.events.credit_ms, b->news.u.events.grace_ms);
}

/* The guest's next frame on its channel: true with ev filled for an event; EXIT is kept for
 * the end. A guest that breaks the frames is read no more, but its bytes are drained (QEMU's
 * end closes the channel, which the end waits for): the guest is not trusted. */
static bool chan_read(struct be_vm *b, struct be_event *ev)
{
    while (b->chan >= 0) {
        struct lm_hostchan_msg m;
        int n = b->chan_broken ? 0 : lm_hostchan_parse(b->rx, b->rx_len, &m);
        if (n == 0) {
            if (b->chan_broken)
                b->rx_len = 0;
            ssize_t got = read(b->chan, b->rx + b->rx_len, sizeof b->rx - b->rx_len);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                return false;
            if (got <= 0) {
                chan_close(b); /* QEMU is gone */
                return false;
            }
            b->rx_len += (size_t)got;
            continue;
        }
        if (n < 0 || m.type < LM_HOSTCHAN_NOTICE) {
            lm_warn("libvirt: %s: its guest's channel broke its frames (starting 0x%02x 0x%02x): "
                    "no longer read", b->name, b->rx[0], b->rx_len > 1 ? b->rx[1] : 0);
            b->chan_broken = true;
            continue;
        }
        memmove(b->rx, b->rx + n, b->rx_len - (size_t)n);
        b->rx_len -= (size_t)n;
        if (m.type == LM_HOSTCHAN_EXIT) {
            b->exit_seen = true;
            b->exit_status = m.u.status;
        } else if (m.type == LM_HOSTCHAN_EXEC && !b->booted) {
            b->booted = true;
            *ev = (struct be_event){.kind = BE_BOOTED};
            return true;
        } else if (m.type == LM_HOSTCHAN_NOTICE) {
            *ev = (struct be_event){.kind = BE_NOTICE, .notice = m.u.notice};
            return true;
        }
    }
    return false;
}

/* In `s` seconds, unless the stop is heard of first, ask libvirt whether the domain runs. */
static void ask_later(struct be_vm *b, int s)
{
    struct itimerspec t = {.it_value = {.tv_sec = s}};
    timerfd_settime(b->timer, 0, &t, NULL);
}

/* The stop event did not come in time (libvirt's event thread, or the connection, lost): a
 * transient domain that is no longer active has stopped. */
static void ask_now(struct be_vm *b)
{
    uint64_t n;
    if (read(b->timer, &n, sizeof n) != sizeof n || b->stop_detail >= 0 || !b->dom)
        return;
    if (virDomainIsActive(b->dom) == 1) {
        ask_later(b, 10);
        return;
    }
    lm_warn("libvirt: %s stopped without libvirt's stop event: taking it as ended", b->name);
    b->stop_detail = VIR_DOMAIN_EVENT_STOPPED_FAILED;
}

/* A domain that never started: its log says why (the agent quotes the log's last error). */
static void log_start_failure(struct be_vm *b)
{
    lm_err("libvirt: domain %s did not start: %s", b->name, b->err);
    FILE *f = fopen(b->log, "a");
    if (f) {
        fprintf(f, "evilman: error: libvirt: domain %s did not start: %s\n", b->name, b->err);
        fclose(f);
    }
}

static bool next_event(struct be_vm *b, struct be_event *ev)
{
    unsigned char word;
    while (read(b->pipe[0], &word, 1) == 1) {
        if (word == PIPE_CREATED)
            b->created = true;
        else if (word == PIPE_CREATE_FAILED)
            b->create_failed = true;
        else
            b->stop_detail = word;
    }
    if (b->lsn >= 0)
        chan_accept(b);
    bool chan_was = b->chan >= 0;
    if (chan_read(b, ev))
        return true;
    if (b->ended)
        return false;
    if (chan_was && b->chan < 0 && b->stop_detail < 0)
        ask_later(b, 10); /* QEMU is gone: its stop event should follow at once */
    ask_now(b);
    if (b->create_failed) {
        log_start_failure(b);
        b->ended = true;
        *ev = (struct be_event){.kind = BE_ENDED,
                                .status = b->destroy_wanted ? SIGKILL : 1 << 8};
        return true;
    }
    if (!b->created || b->stop_detail < 0)
        return false;
    if (b->chan >= 0) /* what the guest said last is still to come: QEMU's end closes it */
        return false;
    b->ended = true;
    /* Destroyed: SIGKILL, as lm-vmm's end would read. Otherwise the guest's own exit status
     * when it said one, else exit 1: QEMU failed, or the guest reset or triple-faulted (with
     * on_reboot destroy that stops as a shutdown; this guest never powers off by ACPI). The
     * console says why. */
    int status = b->stop_detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED ? SIGKILL
                 : b->exit_seen ? (b->exit_status & 0xff) << 8
                                : 1 << 8;
    *ev = (struct be_event){.kind = BE_ENDED, .status = status};
    return true;
}

/* At most a burst of events in a row: a guest talking fast must not keep the agent from its
 * other work (the level-triggered descriptor brings it back). */
static bool lv_next_event(struct be_vm *b, struct be_event *ev)
{
    if (++b->burst > 64 || !next_event(b, ev)) {
        b->burst = 0;
        return false;
    }
    return true;
}

/* virDomainDestroy waits for QEMU to go (SIGTERM, then SIGKILL after seconds): off the
 * agent's thread, on the domain's own reference. */
static void *destroy_worker(void *arg)
{
    virDomainPtr dom = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (virDomainDestroy(dom) < 0)
        lm_debug("libvirt: destroying %s: %s", virDomainGetName(dom), virGetLastErrorMessage());
    virDomainFree(dom);
    return NULL;
}

static void lv_destroy(struct be_vm *b)
{
    pthread_mutex_lock(&lock);
    virDomainPtr dom = b->dom;
    if (!dom)
        b->destroy_wanted = true; /* still starting: its worker destroys it */
    pthread_mutex_unlock(&lock);
    if (!dom || b->ended || b->stop_detail >= 0)
        return;
    ask_later(b, 30);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    virDomainRef(dom);
    if (pthread_create(&t, &at, destroy_worker, dom) != 0) {
        virDomainFree(dom);
        if (virDomainDestroy(dom) < 0) /* here, then */
            lm_debug("libvirt: destroying %s: %s", b->name, virGetLastErrorMessage());
    }
    pthread_attr_destroy(&at);
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
