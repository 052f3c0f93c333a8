/*
 * Overlays: a cluster is a bridge and a subnet behind a router; `overlay = VNI REMOTE SUBNET`
 * joins this host's bridge to another cluster's at layer 2 through a VXLAN device (lmvxVNI,
 * UDP 4789 to REMOTE over the underlay), so that a guest migrating between them keeps its
 * address, its MAC and its open connections. The devices are made with iproute2's `ip` (no
 * shell: an argv each) when the agent starts, and removed when it stops. The underlay must
 * carry the guests' frames plus VXLAN's 50 bytes.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "evilman.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/spawn.h"

/* Runs `ip ARGS...`; 0 when it exits 0, else -1 (what ip said went to our stderr, unless
 * quiet). */
static int ip(char *const argv[], bool quiet)
{
    int status = lm_run("ip", argv, quiet);
    if (status < 0) {
        lm_err("overlay: cannot run ip (iproute2): is it installed?");
        return -1;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void dev_name(const struct em_overlay *o, char out[16])
{
    snprintf(out, 16, "lmvx%u", o->vni);
}

int overlay_up(const struct em_config *c)
{
    for (unsigned i = 0; i < c->noverlays; i++) {
        const struct em_overlay *o = &c->overlays[i];
        char dev[16], vni[12], remote[LM_IP4_STR], subnet[LM_IP4_PREFIX_STR];
        dev_name(o, dev);
        snprintf(vni, sizeof vni, "%u", o->vni);
        lm_ip4_format(o->remote, remote);
        char *del[] = {"ip", "link", "del", dev, NULL}; /* one a crashed agent left behind */
        char *add[] = {"ip", "link", "add", dev, "mtu", "1500", "type", "vxlan", "id", vni, "remote", remote, "dstport", "4789", NULL};
        char *master[] = {"ip", "link", "set", dev, "master", (char *)c->bridge, NULL};
        char *up[] = {"ip", "link", "set", dev, "up", NULL};
        ip(del, true);
        if (ip(add, false) || ip(master, false) || ip(up, false)) {
            lm_err("overlay %u: cannot make %s (a VXLAN to %s) and join it to bridge %s: see ip's message above", o->vni, dev, remote, c->bridge);
            return -1;
        }
        lm_info("overlay %u: %s joins bridge %s to the cluster of %s (guests of %s keep their addresses here)", o->vni, dev, c->bridge, remote, lm_ip4_prefix_format(o->subnet, o->prefix, subnet));
    }
    return 0;
}

void overlay_down(const struct em_config *c)
{
    for (unsigned i = 0; i < c->noverlays; i++) {
        char dev[16];
        dev_name(&c->overlays[i], dev);
        char *del[] = {"ip", "link", "del", dev, NULL};
        ip(del, true);
    }
}

bool overlay_has(const struct em_config *c, const uint8_t ip4[4])
{
    for (unsigned i = 0; i < c->noverlays; i++)
        if (lm_ip4_is_host(ip4, c->overlays[i].subnet, c->overlays[i].prefix))
            return true;
    return false;
}
