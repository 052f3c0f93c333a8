/*
 * The control socket: a UNIX stream socket only root may use (mode 0600 and SO_PEERCRED).
 * One command per connection, one JSON answer (include/laundromat/hostctl.h).
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/backend.h"
#include "evilman.h"
#include "laundromat/clock.h"
#include "laundromat/hostctl.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"

static uint64_t started_ns;

int control_open(const struct em_config *c)
{
    started_ns = lm_now_ns();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", c->control);
    unlink(c->control);
    mode_t old = umask(0077);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (rc < 0 || chmod(c->control, 0600) < 0 || listen(fd, 16) < 0) {
        lm_err("control socket %s: %s (does its directory exist?)", c->control, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void add_vm(struct vm *v, void *arg)
{
    char id[33] = "-", ip[LM_IP4_STR];
    if (v->state != VM_WARM) /* a warm loader has no token yet */
        lm_token_id_hex(v->token.id, id);
    lm_ip4_format(v->ip, ip);
    uint64_t now = lm_now_ns();
    json_array_append_new(
        arg, json_pack("{s:I s:s s:s s:I s:s s:s s:I s:I s:I s:I s:i}", "id", (json_int_t)v->id,
                       "state", vm_state_name(v->state), "token", id, "mem_mib",
                       (json_int_t)v->token.mem_mib, "ip", ip, "tap", v->tap, "credit_ms",
                       (json_int_t)v->credit_ms, "earned_units", (json_int_t)v->earned_units,
                       "paid_index", (json_int_t)v->chain.last_index, "age_ms",
                       (json_int_t)((now - v->started_ns) / 1000000), "pid",
                       (json_int_t)(v->be ? em_backend->pid(v->be) : -1)));
}

static json_t *command(const struct em_config *c, const char *line, size_t len)
{
    struct lm_hostctl_cmd cmd;
    struct lm_diag d;
    if (lm_hostctl_parse(line, len, &cmd, &d) != 0)
        return json_pack("{s:s}", "error", d.msg);
    if (cmd.op == LM_HOSTCTL_STATUS) {
        struct mallinfo2 mi = mallinfo2(); /* all arenas: what the agent holds, caches included */
        return json_pack("{s:s s:s s:I s:I s:I s:I s:I s:I s:I s:I s:I s:I}", "host", c->host_name, "cluster",
                         c->cluster, "vms", (json_int_t)vm_count(), "max_vms",
                         (json_int_t)c->max_vms, "mem_mib", (json_int_t)vm_mem_in_use(),
                         "total_mem_mib", (json_int_t)c->total_mem_mib, "addresses_in_use",
                         (json_int_t)pool_in_use(), "uptime_s",
                         (json_int_t)((lm_now_ns() - started_ns) / 1000000000ull), "heap_bytes",
                         (json_int_t)(mi.uordblks + mi.hblkhd), "udp_received",
                         (json_int_t)em_udp.received, "udp_shed", (json_int_t)em_udp.shed,
                         "udp_dropped",
                         (json_int_t)udp_kernel_drops());
    }
    if (cmd.op == LM_HOSTCTL_LS) {
        json_t *a = json_array();
        vm_foreach(add_vm, a);
        return json_pack("{s:o}", "vms", a);
    }
    struct vm *v = vm_find_id(cmd.vm);
    if (!v)
        return json_pack("{s:s}", "error", "no such VM");
    if (cmd.op == LM_HOSTCTL_KILL) {
        vm_destroy(v, "killed by the operator");
        return json_pack("{s:I s:s}", "killed", (json_int_t)cmd.vm, "state",
                         vm_state_name(v->state));
    }
    if (evict_vm(v, cmd.within_ms, NULL, &d) != 0)
        return json_pack("{s:s}", "error", d.msg);
    return json_pack("{s:I s:I s:s}", "evicted", (json_int_t)cmd.vm, "within_ms",
                     (json_int_t)cmd.within_ms, "state", vm_state_name(v->state));
}

void control_handle(const struct em_config *c, int listen_fd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    char line[LM_HOSTCTL_LINE_MAX];
    struct timeval tv = {1, 0}; /* a client that says nothing must not stall the agent */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
        lm_warn("control: refused a client with uid %d", (int)cred.uid);
    } else {
        ssize_t n = recv(fd, line, sizeof line, 0);
        if (n > 0) {
            json_t *answer = command(c, line, (size_t)n);
            char *text = json_dumps(answer, JSON_COMPACT);
            if (text) {
                send(fd, text, strlen(text), MSG_NOSIGNAL);
                send(fd, "\n", 1, MSG_NOSIGNAL);
            }
            free(text);
            json_decref(answer);
        }
    }
    close(fd);
}
