/* lwIP configuration of the Laundromat guest: NO_SYS raw API, IPv4 TCP/UDP/ICMP over Ethernet. */
#ifndef LM_LWIPOPTS_H
#define LM_LWIPOPTS_H

/*
 * Only what differs from lwIP's opt.h defaults is set here (plus a few defaults restated because
 * the kernel relies on them), each with the reason. Sizing target: throughput, and about 100
 * concurrent TCP connections, in a VM of 16 MiB or more. The static pools below cost about
 * 5 MiB of .bss; see the budget at MEM_SIZE.
 *
 * Every file that includes lwIP headers must see this same file: the pool sizes and window
 * types change struct layouts, so nothing here may be overridden per translation unit.
 */

/* ---- Threading: none ---- */

/* The guest kernel is one thread running a poll loop: no OS layer, no threads, no mailboxes. */
#define NO_SYS 1
/*
 * No locking around pool and heap operations. This makes it a rule for the kernel: call lwIP
 * (pbuf_free included) only from the main loop, never from an interrupt or exception handler.
 * (The default, 1, would need a sys_arch_protect() from the kernel.)
 */
#define SYS_LIGHTWEIGHT_PROT 0
/* The sequential APIs need threads; the kernel uses the raw (callback) API. */
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
/* lwIP's timers, driven by the kernel calling sys_check_timeouts() with sys_now() in ms. */
#define LWIP_TIMERS 1
/* Room for a few sys_timeout() users of the kernel's own besides lwIP's internal ones. */
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)

/* ---- Memory ---- */

/* lwIP's own heap (below), not the kernel's malloc: bounded, and no reentrancy questions. */
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
/* 64-bit pointers and u64 fields inside pool elements: the default 1 would misalign them. */
#define MEM_ALIGNMENT 8
/*
 * The heap holds PBUF_RAM buffers: TCP send data copied by tcp_write(), and UDP/ICMP/ARP
 * output. 4 MiB is sixteen connections with full 256 KiB send buffers; beyond that, tcp_write()
 * returns ERR_MEM and the application retries from its sent or poll callback.
 * Budget: heap 4 MiB + PBUF_POOL 512 x 1.5 KiB (0.8 MiB) + 4096 TCP segments (0.2 MiB)
 * + 256 TCP PCBs (0.06 MiB) ~= 5 MiB.
 */
#define MEM_SIZE (4 * 1024 * 1024)
/*
 * Receive buffers, one full frame each (PBUF_POOL_BUFSIZE defaults to MSS + headers): about
 * two full 256 KiB receive windows of MTU frames. Coalesced frames (up to 64 KiB, from a NIC
 * that hands them over) come from the heap instead (PBUF_RAM), four of them a window.
 */
#define PBUF_POOL_SIZE 512
/* PBUF_REF/ROM headers, for tcp_write() without TCP_WRITE_FLAG_COPY and for UDP sends. */
#define MEMP_NUM_PBUF 512

/* ---- Protocols ---- */

/* IPv4 only: the monitor hands the guest a static IPv4 address (struct lm_boot_net, boot.h). */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ETH_PAD_SIZE 0
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_ICMP 1
#define LWIP_UDP 1
#define LWIP_TCP 1
/* Static address from the boot info: no DHCP, AutoIP, IGMP or DNS. */
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define LWIP_RAW 0

/* ---- TCP ---- */

/* Ethernet with a 1500-byte MTU (PLATFORM_MTU_FRAME): 1500 - 20 (IP) - 20 (TCP). */
#define TCP_MSS 1460
/*
 * 256 KiB windows so one connection can fill a fast path with real round-trip times; the
 * 16-bit window field needs window scaling for that. Scale 3 is the smallest shift that
 * carries 256 KiB (0xffff << 3 = 512 KiB; 0xffff << 2 falls 4 bytes short).
 */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024)
#define TCP_SND_BUF (256 * 1024)
/* TCP_SND_QUEUELEN keeps its default, 4 * TCP_SND_BUF / TCP_MSS = 719 segments. */
/*
 * Only the sockets API reads TCP_SNDLOWAT, but init.c checks that it stays 4 MSS below 64 KiB;
 * the default (half of TCP_SND_BUF) would not.
 */
#define TCP_SNDLOWAT (16 * TCP_MSS)
/*
 * Segments are shared by all connections' send queues and out-of-order queues. init.c wants
 * at least TCP_SND_QUEUELEN; 4096 lets several connections have full send queues at once.
 */
#define MEMP_NUM_TCP_SEG 4096
/*
 * ~100 concurrent connections plus those in TIME_WAIT (lwIP recycles the oldest TIME_WAIT PCB
 * when the pool runs out, but headroom avoids doing so under normal churn).
 */
#define MEMP_NUM_TCP_PCB 256
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_UDP_PCB 8
/* Keep out-of-order segments: one lost segment then costs one retransmission, not a window. */
#define TCP_QUEUE_OOSEQ 1
/* ...but no single connection may hold more than a quarter of the receive pool that way. */
#define TCP_OOSEQ_MAX_PBUFS (PBUF_POOL_SIZE / 4)
/* Lets the kernel detect dead peers on long-lived connections (pcb->keep_idle etc.). */
#define LWIP_TCP_KEEPALIVE 1
#define SO_REUSE 0
/*
 * lwIP's own ISN is a global counter stepped by the timer tick, guessable by anyone who sees
 * one connection. lm_tcp_isn() (tcp_isn.c) implements RFC 6528 with a key from lm_random().
 */
#define LWIP_HOOK_FILENAME "lm_lwip_hooks.h"
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port)                            \
    lm_tcp_isn(local_ip, local_port, remote_ip, remote_port)

/* ---- Checksums: per netif (netif.c): where the NIC offloads them, lwIP neither fills nor
 * checks TCP/UDP sums, and netif.c checks received frames the host did not vouch for. Those
 * checks see whole packets only: fragments are dropped (IP_REASSEMBLY 0), as a reassembled
 * datagram would reach TCP/UDP unchecked. ---- */
#define IP_REASSEMBLY 0

#define LWIP_CHECKSUM_CTRL_PER_NETIF 1 /* netif.c: the NIC's offloads decide */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
/* Algorithm 3 sums 32 bits at a time: the fastest of lwIP's portable C versions on x86-64. */
#define LWIP_CHKSUM_ALGORITHM 3

/* ---- Interfaces and diagnostics ---- */

/* The kernel learns its address from the boot info and never changes it: no callbacks. */
#define LWIP_NETIF_STATUS_CALLBACK 0
/* Counters cost a memory write per packet and nothing reads them. */
#define LWIP_STATS 0

#endif
