/* Internal header of the in-VM loader: the loader's state and what its files share. */
#ifndef LM_LOADER_H
#define LM_LOADER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../guest/apps/tcpout.h"
#include "../guest/kernel/kernel.h"
#include "laundromat/hash.h"
#include "laundromat/payload.h"
#include "sodium/crypto_generichash_blake2b.h"

/* Exit statuses: the reason a loader VM ended (docs/ABI.md, docs/EVILMAN.md). */
enum {
    EXIT_BAD_HEADER = 10,
    EXIT_OVERSIZE = 11,
    EXIT_DIGEST = 12,
    EXIT_BAD_IMAGE = 13,
    EXIT_TIMEOUT = 14,
    EXIT_TRUNCATED = 15,
    EXIT_UNSUPPORTED = 16,
    EXIT_CHECKPOINT = 17, /* a checkpoint stream failed its checks */
};

struct checkpoint;

struct loader {
    struct tcp_pcb *listener, *pcb;
    bool peer_fin; /* the sender closed its side (after reading our answer, if it waits) */
    bool answered;
    unsigned senders;
    ip_addr_t sender[2]; /* sender=, sender2=: the only addresses allowed to send */
    bool new_identity;   /* identity=new: the resumed guest takes this VM's address and MAC */
    bool warm;           /* warm=1: booted ahead of demand; listens once assigned a buyer */
    uint8_t *stage;      /* a warm loader's staging room, its pages touched while it waited */
    uint64_t wait_ns, idle_ns, last_ns;
    uint64_t first_ns, hash_ns; /* the payload header's arrival; time spent hashing the payload */
    uint16_t port;
    uint8_t hdr[LM_PAYLOAD_HEADER_SIZE];
    size_t hdr_len;
    struct lm_payload_header h;
    const struct lm_payload_kind_info *kind;
    bool checkpoint;        /* the payload streams into RAM: checkpoint.c has it */
    struct checkpoint *cp;
    char cmdline[LM_PAYLOAD_CMDLINE_MAX + 1];
    size_t cmd_len;
    uint8_t *buf; /* the staged payload, in the loader's own block */
    uint64_t got;
    crypto_generichash_blake2b_state hash; /* of LM_DOMAIN_IMAGE || payload */
};

/* loader.c */
void loader_header(struct loader *l);
__attribute__((noreturn, format(printf, 4, 5))) void
loader_fail(struct loader *l, int status, const char *name, const char *fmt, ...);
/* answer.c: sends one line to the sender, closes, lets the network drain. */
void loader_answer(struct loader *l, const char *line, size_t len);
/* image.c: the image kind: digest, ELF checks, placement, hand-over. */
__attribute__((noreturn)) void image_finish(struct loader *l);
/* checkpoint.c: a migrating guest's stream: handshake, records into RAM, commit, resume. */
void checkpoint_begin(struct loader *l);
void checkpoint_take(struct loader *l, const uint8_t *p, size_t n);
bool checkpoint_refuse(struct loader *l, const char *name, const char *msg); /* sealed ERROR */
bool checkpoint_poll(struct loader *l); /* true: holds the loader (paused after READY) */
void checkpoint_lost(struct loader *l, const char *why); /* the sender is gone */
/* Paused after READY, the sender gone: a resolver holding the migration key may connect
 * (from anywhere) and send GO over a fresh handshake; anything else it sends is dropped with
 * its connection and the loader keeps waiting, the image intact. */
bool checkpoint_resolving(const struct loader *l);

extern const struct app app_loader;

#endif
