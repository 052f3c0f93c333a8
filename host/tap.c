/* Tap devices: create one and attach it to a bridge (used by lm-vmm and Evil Man). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "tap.h"

/* A bridge whose MAC nobody set takes its lowest port's, so with only taps on it (a host
 * without a NIC on the bridge, a test's namespace) its address changes as VMs come and go, and
 * guests and neighbours that cached it send to an address it no longer answers (seen: a loader's
 * answer never acknowledged). Setting it to what it is now makes it the bridge's own for good;
 * on a bridge whose MAC was set, this changes nothing. */
static void pin_bridge_mac(int s, const char *bridge)
{
    struct ifreq hw;
    memset(&hw, 0, sizeof hw);
    snprintf(hw.ifr_name, IFNAMSIZ, "%s", bridge);
    if (ioctl(s, SIOCGIFHWADDR, &hw) < 0)
        return; /* no such bridge: attaching to it says so */
    if (ioctl(s, SIOCSIFHWADDR, &hw) < 0)
        lm_warn("bridge %s: cannot keep its MAC as it is: %s (it may change as taps come and "
                "go: set one with ip link set %s address ...)", bridge, strerror(errno), bridge);
}

int tap_open(const char *name, const char *bridge, char *actual, size_t actual_len)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        lm_err("cannot open /dev/net/tun: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR; /* lm-vmm's offloads; QEMU re-opens */
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name ? name : "lmtap%d");
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        lm_err("cannot create tap %s: %s", ifr.ifr_name, strerror(errno));
        close(fd);
        return -1;
    }
    snprintf(actual, actual_len, "%s", ifr.ifr_name);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        lm_err("socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    int rc = 0;
    /* The host side's MAC starts with 0xfe, as libvirt's taps do, so that it is never the
     * lowest on a bridge (see pin_bridge_mac). The guest's MAC is its own, in its frames. */
    struct ifreq hw;
    memset(&hw, 0, sizeof hw);
    snprintf(hw.ifr_name, IFNAMSIZ, "%s", actual);
    hw.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    unsigned char mac[6] = {0xfe};
    if (getrandom(mac + 1, 5, 0) != 5)
        memcpy(mac + 1, "\x4c\x4d\x00\x00\x01", 5);
    memcpy(hw.ifr_hwaddr.sa_data, mac, 6);
    if (ioctl(s, SIOCSIFHWADDR, &hw) < 0)
        lm_warn("tap %s: cannot set its MAC to fe:...: %s (its bridge's MAC may change with it)", actual, strerror(errno));
    if (bridge) {
        pin_bridge_mac(s, bridge);
        struct ifreq br;
        memset(&br, 0, sizeof br);
        snprintf(br.ifr_name, IFNAMSIZ, "%s", bridge);
        br.ifr_ifindex = (int)if_nametoindex(actual);
        if (br.ifr_ifindex == 0 || ioctl(s, SIOCBRADDIF, &br) < 0) {
            lm_err("cannot attach tap %s to bridge %s: %s; does the bridge exist?", actual, bridge,
                   strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0) {
        struct ifreq up;
        memset(&up, 0, sizeof up);
        snprintf(up.ifr_name, IFNAMSIZ, "%s", actual);
        if (ioctl(s, SIOCGIFFLAGS, &up) < 0 ||
            (up.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &up) < 0)) {
            lm_err("cannot bring tap %s up: %s", actual, strerror(errno));
            rc = -1;
        }
    }
    close(s);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}
