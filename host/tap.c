/* Tap devices: create one and attach it to a bridge (used by lm-vmm and Evil Man). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "tap.h"

int tap_open(const char *name, const char *bridge, char *actual, size_t actual_len)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        lm_err("cannot open /dev/net/tun: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
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
    if (bridge) {
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
