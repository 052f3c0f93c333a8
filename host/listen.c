/*
 * The agent's UDP socket, set up to stay responsive under a flood: the kernel itself drops
 * every datagram that is neither a ping nor a payment (a socket filter on the first four
 * bytes, so garbage never takes room in the queue nor a wake-up of the agent), and the queue
 * is deep enough to ride out the agent's slow moments (a VM's start) at line rate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evilman.h"
#include "laundromat/log.h"
#include "laundromat/wire.h"

struct em_udp em_udp = {.fd = -1};

/* A flood at 300k datagrams/s fills this in ~50 ms of the agent not reading (a datagram costs
 * ~768 bytes of queue); the default (rmem_default, often 208 KiB) would last ~1 ms. */
#define UDP_QUEUE_BYTES (32 << 20)

static uint32_t magic_be(const char m[4])
{
    return (uint32_t)(uint8_t)m[0] << 24 | (uint32_t)(uint8_t)m[1] << 16 |
           (uint32_t)(uint8_t)m[2] << 8 | (uint8_t)m[3];
}

/* Classic BPF over the datagram as a UDP socket's filter sees it (offset 0: the UDP header): a
 * datagram whose payload does not start with a ping's or a payment's magic, or is shorter than
 * one, is dropped before it is queued. Returning 0 drops; ~0u keeps it whole. */
static int attach_filter(int fd)
{
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8), /* the payload's first 4 bytes, big-endian */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, magic_be(LM_PING_MAGIC), 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, magic_be(LM_PAY_MAGIC), 1, 0),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
    };
    struct sock_fprog fp = {.len = sizeof prog / sizeof prog[0], .filter = prog};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp);
}

int udp_open(const struct sockaddr_in *at)
{
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &at->sin_addr, a, sizeof a);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        lm_err("cannot open a UDP socket: %s", strerror(errno));
        return -1;
    }
    /* FORCE goes past net.core.rmem_max (CAP_NET_ADMIN, which the agent has for its taps);
     * without it, as much as rmem_max allows. */
    int want = UDP_QUEUE_BYTES, got = 0;
    socklen_t gl = sizeof got;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
    if (attach_filter(fd) < 0) {
        lm_err("cannot attach the socket filter to UDP %s:%u: %s", a, ntohs(at->sin_port),
               strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)at, sizeof *at) < 0) {
        lm_err("cannot listen on UDP %s:%u: %s", a, ntohs(at->sin_port), strerror(errno));
        close(fd);
        return -1;
    }
    if (got / 2 < want) /* the kernel reports twice what it was given */
        lm_warn("UDP %s:%u: a receive queue of %d KiB, not %d (no CAP_NET_ADMIN, and "
                "net.core.rmem_max is lower): a flood fills it sooner", a, ntohs(at->sin_port),
                got / 2048, want / 1024);
    em_udp.fd = fd;
    return fd;
}

uint64_t udp_kernel_drops(void)
{
    uint32_t mi[SK_MEMINFO_VARS] = {0};
    socklen_t l = sizeof mi;
    if (em_udp.fd < 0 || getsockopt(em_udp.fd, SOL_SOCKET, SO_MEMINFO, mi, &l) < 0 ||
        l <= SK_MEMINFO_DROPS * sizeof mi[0])
        return 0;
    return mi[SK_MEMINFO_DROPS];
}
