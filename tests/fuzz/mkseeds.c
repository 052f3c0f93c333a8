/* Writes the fuzz targets' seed corpora (valid messages and files plus broken variants). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fixtures.h"
#include "laundromat/chain.h"
#include "laundromat/ckptfile.h"
#include "laundromat/elf.h"
#include "laundromat/guestctl.h"
#include "laundromat/hash.h"
#include "laundromat/abi.h"
#include "laundromat/hostchan.h"
#include "laundromat/keys.h"
#include "laundromat/migrate.h"
#include "laundromat/netaddr.h"
#include "laundromat/payload.h"
#include "laundromat/reqsig.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "laundromat/wire.h"

static const char *root;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mkseeds: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* root/target/name, with any old file of that name removed (the library never overwrites). */
static const char *seed_path(const char *target, const char *name)
{
    static char path[4096];
    if (snprintf(path, sizeof path, "%s/%s/%s", root, target, name) >= (int)sizeof path)
        die("path too long: %s/%s/%s", root, target, name);
    if (unlink(path) != 0 && errno != ENOENT)
        die("%s: cannot remove: %s", path, strerror(errno));
    return path;
}

static void put(const char *target, const char *name, const void *buf, size_t len)
{
    const char *path = seed_path(target, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) != 0)
        die("%s: %s", path, strerror(errno));
}

static void put_text(const char *target, const char *name, const char *text)
{
    put(target, name, text, strlen(text));
}

static void make_dir(const char *target)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", root, target ? "/" : "", target ? target : "");
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("%s: %s", path, strerror(errno));
}

static struct lm_keypair broker, stranger;
static uint8_t links[FZ_CHAIN_LEN + 1][LM_HASH_BYTES];

/* A token valid at FZ_NOW for host FZ_HOST, paid by the fixture chain; callers vary it. */
static void base_token(struct lm_token *t)
{
    memset(t, 0, sizeof *t);
    fz_fill(t->id, sizeof t->id, 0x54);
    t->key_id = broker.pub.key_id;
    t->issued_at = FZ_NOW - 60;
    t->expires_at = FZ_NOW + 3600;
    t->scope_kind = LM_SCOPE_HOST;
    t->payload_kind = LM_PAYLOAD_IMAGE;
    t->vcpus = 1;
    t->mem_mib = 16;
    strcpy(t->scope, FZ_HOST);
    fz_fill(t->commitment, sizeof t->commitment, 0x50);
    memcpy(t->anchor, links[0], LM_HASH_BYTES);
    t->chain_len = FZ_CHAIN_LEN;
    t->link_value_ms = 1000;
}

static void mint(const struct lm_token *t, const struct lm_keypair *kp, uint8_t out[LM_TOKEN_SIZE])
{
    if (lm_token_encode(t, out) != 0 || lm_token_sign(out, kp->sk) != 0)
        die("cannot mint a token");
}

static void token_seeds(uint8_t valid[LM_TOKEN_SIZE])
{
    const char *T = "fuzz_token";
    struct lm_token t;
    uint8_t b[LM_TOKEN_SIZE + 1];

    base_token(&t);
    mint(&t, &broker, valid);
    put(T, "valid-host-chain", valid, LM_TOKEN_SIZE);

    base_token(&t);
    t.scope_kind = LM_SCOPE_CLUSTER;
    memset(t.scope, 0, sizeof t.scope);
    strcpy(t.scope, FZ_CLUSTER);
    t.payload_kind = LM_PAYLOAD_CHECKPOINT;
    memset(t.anchor, 0, sizeof t.anchor);
    t.chain_len = 0;
    t.prepaid_units = 100;
    t.vcpus = 4;
    t.mem_mib = 2048;
    static const uint8_t ip[4] = {10, 0, 0, 5}, mac[6] = {0x02, 0, 0, 0, 0, 1};
    memcpy(t.ipv4, ip, 4);
    t.prefix = 24;
    memcpy(t.mac, mac, 6);
    mint(&t, &broker, b);
    put(T, "valid-cluster-prepaid", b, LM_TOKEN_SIZE);

    base_token(&t);
    t.issued_at = FZ_NOW - 7200;
    t.expires_at = FZ_NOW - 3600;
    mint(&t, &broker, b);
    put(T, "expired", b, LM_TOKEN_SIZE);

    base_token(&t);
    t.issued_at = FZ_NOW + 3600;
    t.expires_at = FZ_NOW + 7200;
    mint(&t, &broker, b);
    put(T, "not-yet-valid", b, LM_TOKEN_SIZE);

    base_token(&t);
    memset(t.scope, 0, sizeof t.scope);
    strcpy(t.scope, "host-b");
    mint(&t, &broker, b);
    put(T, "wrong-host", b, LM_TOKEN_SIZE);

    base_token(&t);
    t.key_id = stranger.pub.key_id;
    mint(&t, &stranger, b);
    put(T, "unknown-key", b, LM_TOKEN_SIZE);

    memcpy(b, valid, LM_TOKEN_SIZE);
    b[LM_TOK_OFF_SIG + 5] ^= 0x20;
    put(T, "bad-signature", b, LM_TOKEN_SIZE);

    memcpy(b, valid, LM_TOKEN_SIZE);
    b[LM_TOK_OFF_RESERVED3] = 1;
    put(T, "reserved-nonzero", b, LM_TOKEN_SIZE);

    memcpy(b, valid, LM_TOKEN_SIZE);
    b[LM_TOK_OFF_SCOPE + 31] = 'x';
    put(T, "scope-not-padded", b, LM_TOKEN_SIZE);

    memcpy(b, valid, LM_TOKEN_SIZE);
    b[LM_TOK_OFF_VERSION] = 2;
    put(T, "bad-version", b, LM_TOKEN_SIZE);

    put(T, "truncated", valid, LM_TOK_SIGNED_BYTES);
    put(T, "magic-only", valid, 6);
    memcpy(b, valid, LM_TOKEN_SIZE);
    b[LM_TOKEN_SIZE] = 0;
    put(T, "trailing", b, LM_TOKEN_SIZE + 1);
}

static void ping_seeds(const uint8_t token[LM_TOKEN_SIZE])
{
    const char *T = "fuzz_ping";
    uint8_t b[LM_WIRE_MAX];
    int n;

    struct lm_ping p;
    memset(&p, 0, sizeof p);
    p.nonce = 0x0123456789abcdefull;
    memcpy(p.token, token, LM_TOKEN_SIZE);
    n = lm_ping_encode(&p, b, sizeof b);
    put(T, "ping", b, (size_t)n);
    put(T, "ping-truncated", b, (size_t)n - 1);
    b[6] = 0x02;
    put(T, "ping-bad-flags", b, (size_t)n);

    p.has_payment = 1;
    p.pay_index = 1;
    memcpy(p.pay_link, links[1], LM_HASH_BYTES);
    n = lm_ping_encode(&p, b, sizeof b);
    put(T, "ping-paid", b, (size_t)n);
    put(T, "ping-paid-truncated", b, LM_PING_SIZE);

    struct lm_ping_reply r;
    memset(&r, 0, sizeof r);
    r.status = LM_OK;
    r.nonce = p.nonce;
    memcpy(r.token_id, token + LM_TOK_OFF_ID, LM_TOKEN_ID_BYTES);
    r.vm_id = 42;
    r.server_time = FZ_NOW;
    static const uint8_t ip[4] = {10, 0, 0, 2};
    memcpy(r.loader_ip, ip, 4);
    r.loader_port = 7778;
    r.credit_ms = 1000;
    n = lm_ping_reply_encode(&r, b, sizeof b);
    put(T, "reply-ok", b, (size_t)n);
    b[54] = 1;
    put(T, "reply-reserved-nonzero", b, (size_t)n);

    r.status = LM_EXPIRED;
    r.vm_id = 0;
    r.credit_ms = 0;
    n = lm_ping_reply_encode(&r, b, sizeof b);
    put(T, "reply-expired", b, (size_t)n);
    put(T, "reply-short", b, 8);
}

/* Appends one chain record (format in fixtures.h) to buf at *len. */
static void record(uint8_t *buf, size_t *len, uint8_t op, uint32_t k, const uint8_t *extra,
                   size_t extra_len)
{
    buf[(*len)++] = op;
    if (op & FZ_OP_WIDE)
        for (int i = 0; i < 4; i++)
            buf[(*len)++] = (uint8_t)(k >> (8 * i));
    else
        buf[(*len)++] = (uint8_t)k;
    if (extra_len) {
        memcpy(buf + *len, extra, extra_len);
        *len += extra_len;
    }
}

static void payment_seeds(const uint8_t token[LM_TOKEN_SIZE])
{
    const char *T = "fuzz_payment";
    uint8_t b[1024];
    size_t len;
    int n;

    struct lm_pay p;
    memset(&p, 0, sizeof p);
    memcpy(p.token_id, token + LM_TOK_OFF_ID, LM_TOKEN_ID_BYTES);
    p.index = 3;
    memcpy(p.link, links[3], LM_HASH_BYTES);
    n = lm_pay_encode(&p, b, sizeof b);
    put(T, "pay", b, (size_t)n);
    b[28] = 1;
    put(T, "pay-reserved-nonzero", b, (size_t)n);
    p.link[0] ^= 1;
    n = lm_pay_encode(&p, b, sizeof b);
    put(T, "pay-forged", b, (size_t)n);
    put(T, "pay-truncated", b, (size_t)n - 1);

    struct lm_pay_reply r;
    memset(&r, 0, sizeof r);
    r.status = LM_OK;
    memcpy(r.token_id, p.token_id, LM_TOKEN_ID_BYTES);
    r.accepted_index = 3;
    r.credit_ms = 3000;
    r.server_time = FZ_NOW;
    n = lm_pay_reply_encode(&r, b, sizeof b);
    put(T, "pay-reply", b, (size_t)n);
    r.status = LM_CHAIN_STALE;
    n = lm_pay_reply_encode(&r, b, sizeof b);
    put(T, "pay-reply-stale", b, (size_t)n);
    b[LM_PAY_REPLY_SIZE] = 0;
    put(T, "pay-reply-trailing", b, LM_PAY_REPLY_SIZE + 1);

    /* Chain records: pay the whole chain in steps the jump limit allows. */
    len = 0;
    for (uint32_t k = 4; k <= FZ_CHAIN_LEN; k += 4)
        record(b, &len, FZ_OP_GENUINE, k, NULL, 0);
    put(T, "chain-walk", b, len);

    /* Every answer lm_chain_accept has. */
    uint8_t flip = 77, other = 2;
    len = 0;
    record(b, &len, FZ_OP_GENUINE, 1, NULL, 0);                 /* accepted */
    record(b, &len, FZ_OP_GENUINE, 1, NULL, 0);                 /* duplicate */
    record(b, &len, FZ_OP_OTHER, 1, &other, 1);                 /* stale: another link at 1 */
    record(b, &len, FZ_OP_GENUINE, 0, NULL, 0);                 /* stale: older */
    record(b, &len, FZ_OP_GENUINE, 2 + FZ_CHAIN_JUMP, NULL, 0); /* jump: 17 past 1 */
    record(b, &len, FZ_OP_FLIPPED, 5, &flip, 1);                /* forged */
    record(b, &len, FZ_OP_RAW, 6, links[7], LM_HASH_BYTES);     /* forged: link 7 at 6 */
    record(b, &len, FZ_OP_RAW, 6, links[6], LM_HASH_BYTES);     /* accepted */
    record(b, &len, FZ_OP_GENUINE | FZ_OP_WIDE, 0xffffffffu, NULL, 0); /* beyond the end */
    record(b, &len, FZ_OP_GENUINE, FZ_CHAIN_LEN + 1, NULL, 0);         /* beyond the end */
    record(b, &len, FZ_OP_GENUINE | FZ_OP_RESTART, 16, NULL, 0);       /* restart: accepted */
    record(b, &len, FZ_OP_GENUINE | FZ_OP_WIDE, 32, NULL, 0);          /* accepted */
    put(T, "chain-answers", b, len);

    /* Cut in the middle of the first raw link: six records take 14 bytes, then op, index. */
    put(T, "chain-cut", b, 14 + 2 + 10);
}

/* Writes text to a fresh 0600 file, for the broken key and chain files. */
static void keyfile_variant(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void keyfile_variant(const char *name, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    put_text("fuzz_keyfile", name, text);
}

static void keyfile_seeds(void)
{
    const char *T = "fuzz_keyfile";
    struct lm_diag d;
    char seed[65], pk[65], anchor[65], cseed[65];

    if (lm_key_write_secret(seed_path(T, "secret.key"), &broker, &d) != 0 ||
        lm_key_write_public(seed_path(T, "public.key"), &broker.pub, &d) != 0)
        die("%s", d.msg);
    struct lm_chain_secret cs;
    fz_chain_seed(cs.seed);
    cs.length = FZ_CHAIN_LEN;
    memcpy(cs.anchor, links[0], LM_HASH_BYTES);
    if (lm_chainfile_write(seed_path(T, "chain"), &cs, &d) != 0)
        die("%s", d.msg);

    lm_hex_encode(broker.seed, 32, seed);
    lm_hex_encode(broker.pub.pk, 32, pk);
    lm_hex_encode(cs.anchor, 32, anchor);
    lm_hex_encode(cs.seed, 32, cseed);
    unsigned long long id = (unsigned long long)broker.pub.key_id;

    keyfile_variant("secret-crlf", "%s\r\n# comment\r\n\r\nseed %s\r\nkey-id %016llx\r\n",
                    LM_SECRET_KEY_TAG, seed, id);
    keyfile_variant("secret-wrong-id", "%s\nkey-id %016llx\nseed %s\n", LM_SECRET_KEY_TAG, id ^ 1,
                    seed);
    keyfile_variant("secret-with-public", "%s\nkey-id %016llx\nseed %s\npublic %s\n",
                    LM_SECRET_KEY_TAG, id, seed, pk);
    keyfile_variant("secret-short-seed", "%s\nkey-id %016llx\nseed %.62s\n", LM_SECRET_KEY_TAG, id,
                    seed);
    keyfile_variant("secret-twice", "%s\nkey-id %016llx\nseed %s\nseed %s\n", LM_SECRET_KEY_TAG, id,
                    seed, seed);
    keyfile_variant("public-no-id", "%s\npublic %s\n", LM_PUBLIC_KEY_TAG, pk);
    keyfile_variant("public-no-newline", "%s\nkey-id %016llx\npublic %s", LM_PUBLIC_KEY_TAG, id,
                    pk);
    keyfile_variant("public-truncated", "%s\nkey-id %016llx\npublic %.20s", LM_PUBLIC_KEY_TAG, id,
                    pk);
    keyfile_variant("wrong-tag", "laundromat-secret-key-v2\nkey-id %016llx\nseed %s\n", id, seed);
    keyfile_variant("comments-only", "# nothing here\n\n#\n");
    keyfile_variant("chain-bad-anchor", "%s\nlength %u\nanchor %s\nseed %s\n", LM_CHAIN_FILE_TAG,
                    FZ_CHAIN_LEN - 1, anchor, cseed);
    keyfile_variant("chain-long", "%s\nlength %u\nanchor %s\nseed %s\n", LM_CHAIN_FILE_TAG,
                    LM_MAX_CHAIN_LEN, anchor, cseed);
    keyfile_variant("chain-zero", "%s\nlength 0\nanchor %s\nseed %s\n", LM_CHAIN_FILE_TAG, anchor,
                    cseed);
    keyfile_variant("chain-signed-length", "%s\nlength -1\nanchor %s\nseed %s\n", LM_CHAIN_FILE_TAG,
                    anchor, cseed);
    keyfile_variant("chain-missing-seed", "%s\nlength 64\nanchor %s\n", LM_CHAIN_FILE_TAG, anchor);
    put(T, "nul-byte", LM_SECRET_KEY_TAG "\n\0seed", sizeof LM_SECRET_KEY_TAG + 5);
}

/* ELF images for fuzz_elf, written field by field in little-endian; window [1 MiB, 64 MiB). */
enum {
    ELF_LEN = 0x3000,
    ELF_TEXT_OFF = 0x1000,
    ELF_DATA_OFF = 0x2000,
    ELF_SEG = 0x1000,
    ELF_TEXT = 0x100000,
    ELF_DATA = 0x101000,
    ELF_ENTRY = 0x100010,
};

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Program header k of an image whose headers start at 64. */
static void elf_ph(uint8_t *b, unsigned k, uint32_t type, uint32_t flags, uint64_t off,
                   uint64_t addr, uint64_t filesz, uint64_t memsz)
{
    uint8_t *p = b + sizeof(Elf64_Ehdr) + k * sizeof(Elf64_Phdr);
    le(p + offsetof(Elf64_Phdr, p_type), type, 4);
    le(p + offsetof(Elf64_Phdr, p_flags), flags, 4);
    le(p + offsetof(Elf64_Phdr, p_offset), off, 8);
    le(p + offsetof(Elf64_Phdr, p_vaddr), addr, 8);
    le(p + offsetof(Elf64_Phdr, p_paddr), addr, 8);
    le(p + offsetof(Elf64_Phdr, p_filesz), filesz, 8);
    le(p + offsetof(Elf64_Phdr, p_memsz), memsz, 8);
    le(p + offsetof(Elf64_Phdr, p_align), ELF_SEG, 8);
}

static void elf_phnum(uint8_t *b, uint16_t n)
{
    le(b + offsetof(Elf64_Ehdr, e_phnum), n, 2);
}

/* The valid image: R+X text 4 KiB at 1 MiB, R+W data 4 KiB right after it. */
static void elf_base(uint8_t b[ELF_LEN])
{
    memset(b, 0, ELF_LEN);
    fz_fill(b + ELF_TEXT_OFF, ELF_SEG, 0x74);
    fz_fill(b + ELF_DATA_OFF, ELF_SEG, 0x64);
    memcpy(b, ELFMAG, SELFMAG);
    b[EI_CLASS] = ELFCLASS64;
    b[EI_DATA] = ELFDATA2LSB;
    b[EI_VERSION] = EV_CURRENT;
    le(b + offsetof(Elf64_Ehdr, e_type), ET_EXEC, 2);
    le(b + offsetof(Elf64_Ehdr, e_machine), EM_X86_64, 2);
    le(b + offsetof(Elf64_Ehdr, e_version), EV_CURRENT, 4);
    le(b + offsetof(Elf64_Ehdr, e_entry), ELF_ENTRY, 8);
    le(b + offsetof(Elf64_Ehdr, e_phoff), sizeof(Elf64_Ehdr), 8);
    le(b + offsetof(Elf64_Ehdr, e_ehsize), sizeof(Elf64_Ehdr), 2);
    le(b + offsetof(Elf64_Ehdr, e_phentsize), sizeof(Elf64_Phdr), 2);
    elf_phnum(b, 2);
    elf_ph(b, 0, PT_LOAD, PF_R | PF_X, ELF_TEXT_OFF, ELF_TEXT, ELF_SEG, ELF_SEG);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W, ELF_DATA_OFF, ELF_DATA, ELF_SEG, ELF_SEG);
}

static void elf_seeds(void)
{
    const char *T = "fuzz_elf";
    static uint8_t b[ELF_LEN];

    elf_base(b);
    put(T, "valid", b, ELF_LEN);
    put(T, "header-only", b, sizeof(Elf64_Ehdr));
    put(T, "header-cut", b, sizeof(Elf64_Ehdr) - 1);
    put(T, "phdrs-cut", b, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 20);
    put(T, "text-cut", b, ELF_TEXT_OFF + ELF_SEG / 2);
    put(T, "data-cut", b, ELF_LEN - 1);

    /* Extra headers: a note, a GNU stack, a bss-only load and an empty load. */
    elf_phnum(b, 6);
    elf_ph(b, 2, PT_NOTE, PF_R, ELF_TEXT_OFF, ELF_TEXT, 16, 16);
    elf_ph(b, 3, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0);
    elf_ph(b, 4, PT_LOAD, PF_R | PF_W, 0, 0x200000, 0, 0x100000);
    elf_ph(b, 5, PT_LOAD, PF_R, 0, 0, 0, 0);
    put(T, "valid-extra-headers", b, ELF_LEN);

    /* Sixteen loads, the most accepted. */
    elf_base(b);
    elf_phnum(b, LM_ELF_MAX_SEGMENTS);
    for (unsigned k = 2; k < LM_ELF_MAX_SEGMENTS; k++)
        elf_ph(b, k, PT_LOAD, PF_R, 0, 0x200000 + k * ELF_SEG, 0, ELF_SEG);
    put(T, "valid-16-loads", b, ELF_LEN);

    /* The data segment up against the top of the window, with a bss tail. */
    elf_base(b);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W, ELF_DATA_OFF, (64u << 20) - 4 * ELF_SEG, 16, 4 * ELF_SEG);
    put(T, "valid-at-max", b, ELF_LEN);

    /* One broken field each. */
    elf_base(b);
    b[EI_CLASS] = ELFCLASS32;
    put(T, "class32", b, ELF_LEN);
    elf_base(b);
    b[EI_DATA] = ELFDATA2MSB;
    put(T, "big-endian", b, ELF_LEN);
    elf_base(b);
    le(b + offsetof(Elf64_Ehdr, e_type), ET_DYN, 2);
    put(T, "et-dyn", b, ELF_LEN);
    elf_base(b);
    le(b + offsetof(Elf64_Ehdr, e_machine), EM_AARCH64, 2);
    put(T, "aarch64", b, ELF_LEN);
    elf_base(b);
    le(b + offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 55, 8);
    put(T, "phoff-wraps", b, ELF_LEN);
    elf_base(b);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W | PF_X, ELF_DATA_OFF, ELF_DATA, ELF_SEG, ELF_SEG);
    put(T, "wx", b, ELF_LEN);
    elf_base(b);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W, ELF_DATA_OFF, ELF_TEXT + 0x800, ELF_SEG, ELF_SEG);
    put(T, "overlap", b, ELF_LEN);
    elf_base(b);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W, ELF_DATA_OFF, ELF_DATA, ELF_SEG, 0 - (uint64_t)ELF_SEG);
    put(T, "memsz-wraps", b, ELF_LEN);
    elf_base(b);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W, ELF_DATA_OFF, ELF_DATA, ELF_SEG + 1, ELF_SEG);
    put(T, "filesz-over-memsz", b, ELF_LEN);
    elf_base(b);
    elf_ph(b, 1, PT_LOAD, PF_R | PF_W, ELF_DATA_OFF + 1, ELF_DATA, ELF_SEG, ELF_SEG);
    put(T, "bytes-past-eof", b, ELF_LEN);
    elf_base(b);
    le(b + sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_vaddr), 0xffffffff80100000ull, 8);
    put(T, "vaddr-not-paddr", b, ELF_LEN);
    elf_base(b);
    le(b + offsetof(Elf64_Ehdr, e_entry), ELF_DATA, 8);
    put(T, "entry-in-data", b, ELF_LEN);
    elf_base(b);
    elf_ph(b, 0, PT_LOAD, PF_R | PF_X, ELF_TEXT_OFF, 0xff000, ELF_SEG, ELF_SEG);
    put(T, "below-window", b, ELF_LEN);

    /* Garbled: every 23rd byte of the program headers flipped. */
    elf_base(b);
    for (size_t i = sizeof(Elf64_Ehdr) + 3; i < sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
         i += 23)
        b[i] ^= 0xa5;
    put(T, "garbled", b, ELF_LEN);
}

/* fuzz_reqsig: "key\0time\0nonce\0signature\0method\0target\0body", signed by the broker key. */
static void reqsig_one(const char *name, const char *method, const char *target, const char *body,
                       int tamper)
{
    struct lm_reqsig r;
    struct lm_reqsig_text tx;
    uint8_t nonce[LM_REQSIG_NONCE_BYTES];
    fz_fill(nonce, sizeof nonce, 0x4e);
    if (lm_reqsig_sign(&broker, method, target, FZ_NOW, nonce, body, strlen(body), &r, &tx,
                       NULL) != 0)
        die("cannot sign the %s seed", name);
    if (tamper == 1)
        tx.sig[0] = tx.sig[0] == '0' ? '1' : '0';
    if (tamper == 2)
        tx.time[0] = '0';
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s%c%s%c%s%c%s%c%s%c%s%c%s", tx.key, 0, tx.time, 0,
                     tx.nonce, 0, tx.sig, 0, method, 0, target, 0, body);
    if (n < 0 || (size_t)n >= sizeof buf)
        die("reqsig seed %s too long", name);
    put("fuzz_reqsig", name, buf, (size_t)n);
}

static void reqsig_seeds(void)
{
    reqsig_one("post", "POST", "/v1/tokens", "{\"host\":\"alpha\",\"prepaid_units\":10}", 0);
    reqsig_one("get-query", "GET", "/v1/hosts?cluster=blue", "", 0);
    reqsig_one("bad-signature", "POST", "/v1/deposits", "{\"amount\":1}", 1);
    reqsig_one("bad-time", "GET", "/v1/account", "", 2);
    put_text("fuzz_reqsig", "headers-only", "e16532bb7175ccc2");
}

/* One fuzz_admit input: the control bytes (fixtures.h, FZ_ADMIT_*), then the datagram. */
static void admit_put(const char *name, uint8_t op, uint8_t src, uint8_t step, uint8_t forge,
                      const uint8_t *dgram, size_t len)
{
    uint8_t b[FZ_ADMIT_HEAD + LM_WIRE_MAX + 1];
    if (len > LM_WIRE_MAX + 1)
        die("admit seed %s too long", name);
    b[0] = op;
    b[1] = src;
    b[2] = step;
    b[3] = forge;
    memcpy(b + FZ_ADMIT_HEAD, dgram, len);
    put("fuzz_admit", name, b, FZ_ADMIT_HEAD + len);
}

/* A ping carrying tok, with the first payment (link 1 of the fixture chain) when paid. */
static size_t admit_ping(const uint8_t tok[LM_TOKEN_SIZE], int paid, uint64_t nonce,
                         uint8_t out[LM_WIRE_MAX])
{
    struct lm_ping p;
    memset(&p, 0, sizeof p);
    p.nonce = nonce;
    memcpy(p.token, tok, LM_TOKEN_SIZE);
    if (paid) {
        p.has_payment = 1;
        p.pay_index = 1;
        memcpy(p.pay_link, links[1], LM_HASH_BYTES);
    }
    int n = lm_ping_encode(&p, out, LM_WIRE_MAX);
    if (n <= 0)
        die("cannot encode an admit seed's ping");
    return (size_t)n;
}

/* A token base_token() would give, with its own id (tag) so that seeds do not replay each
 * other, minted by kp and wrapped in a ping. */
static size_t admit_token(struct lm_token *t, uint8_t tag, const struct lm_keypair *kp, int paid,
                          uint8_t out[LM_WIRE_MAX])
{
    uint8_t tok[LM_TOKEN_SIZE];
    fz_fill(t->id, sizeof t->id, tag);
    mint(t, kp, tok);
    return admit_ping(tok, paid, 0x1000u + tag, out);
}

static void admit_seeds(void)
{
    const uint8_t R = FZ_ADMIT_REMEMBER, X = FZ_ADMIT_EXPIRE, T = FZ_ADMIT_TIGHT;
    const uint8_t VMS_FULL = FZ_LIM_VMS_FULL << FZ_ADMIT_LIM_SHIFT,
                  MEM_FULL = FZ_LIM_MEM_FULL << FZ_ADMIT_LIM_SHIFT,
                  LAST = FZ_LIM_LAST_SLOT << FZ_ADMIT_LIM_SHIFT;
    struct lm_token t;
    uint8_t b[LM_WIRE_MAX];
    size_t n;

    /* Admissions: host and cluster scope, with and without the first payment. */
    base_token(&t);
    n = admit_token(&t, 0x61, &broker, 0, b);
    admit_put("host", R, 1, 0, 0, b, n);
    admit_put("host-again", R, 1, 0, 0, b, n); /* the same datagram: the cached answer */
    uint8_t other[LM_WIRE_MAX];
    memcpy(other, b, n);
    other[8] ^= 1; /* another nonce: a replay */
    admit_put("host-replay", R, 1, 0, 0, other, n);
    admit_put("host-expire-day", R | X | (3 << FZ_ADMIT_CLOCK_SHIFT), 1, 0, 0, b, n);

    base_token(&t);
    n = admit_token(&t, 0x62, &broker, 1, b);
    admit_put("host-paid", R, 2, 0, 0, b, n);
    admit_put("host-paid-last-slot", R | LAST, 2, 9, 0, b, n);

    base_token(&t);
    t.scope_kind = LM_SCOPE_CLUSTER;
    memset(t.scope, 0, sizeof t.scope);
    strcpy(t.scope, FZ_CLUSTER);
    memset(t.anchor, 0, sizeof t.anchor);
    t.chain_len = 0;
    t.prepaid_units = 100;
    n = admit_token(&t, 0x63, &broker, 0, b);
    admit_put("cluster-prepaid", R, 3, 0, 0, b, n);

    base_token(&t);
    t.scope_kind = LM_SCOPE_CLUSTER;
    memset(t.scope, 0, sizeof t.scope);
    strcpy(t.scope, FZ_CLUSTER);
    t.prepaid_units = 4;
    n = admit_token(&t, 0x64, &broker, 1, b);
    admit_put("cluster-paid", R, 3, 0, 0, b, n);
    admit_put("cluster-paid-skew-edge", R | (6 << FZ_ADMIT_CLOCK_SHIFT), 3, 0, 0, b, n);

    /* The host's refusals. */
    base_token(&t);
    n = admit_token(&t, 0x65, &broker, 0, b);
    admit_put("vms-full", R | VMS_FULL, 4, 0, 0, b, n);
    admit_put("mem-full", R | MEM_FULL, 4, 0, 0, b, n);
    admit_put("expired", R | (5 << FZ_ADMIT_CLOCK_SHIFT), 4, 0, 0, b, n);
    admit_put("not-yet-valid", R | (7 << FZ_ADMIT_CLOCK_SHIFT), 4, 0, 0, b, n);
    admit_put("tight-rate", R | T, 4, 0, 0, b, n);
    admit_put("forged-entry", R | X, 4, 0, 0x80, b, n);
    admit_put("forged-same-slot", R, 4, 0, 0x01, b, n);

    base_token(&t);
    t.mem_mib = FZ_ADMIT_MAX_MEM * 2;
    n = admit_token(&t, 0x66, &broker, 0, b);
    admit_put("over-mem", R, 5, 0, 0, b, n);

    base_token(&t);
    t.vcpus = 2;
    n = admit_token(&t, 0x67, &broker, 0, b);
    admit_put("over-vcpus", R, 5, 0, 0, b, n);

    base_token(&t);
    t.payload_kind = LM_PAYLOAD_CHECKPOINT;
    n = admit_token(&t, 0x68, &broker, 0, b);
    admit_put("checkpoint", R, 5, 0, 0, b, n);

    base_token(&t);
    memset(t.scope, 0, sizeof t.scope);
    strcpy(t.scope, "host-b");
    n = admit_token(&t, 0x69, &broker, 0, b);
    admit_put("wrong-host", R, 6, 0, 0, b, n);

    base_token(&t);
    t.key_id = stranger.pub.key_id;
    n = admit_token(&t, 0x6a, &stranger, 0, b);
    admit_put("unknown-key", R, 6, 0, 0, b, n);

    /* Garbled: bad signature, cut, stretched, wrong magic, a bad flag, not a ping at all. */
    base_token(&t);
    n = admit_token(&t, 0x6b, &broker, 1, b);
    b[LM_PING_OFF_TOKEN + LM_TOK_OFF_SIG + 9] ^= 0x10;
    admit_put("bad-signature", R, 7, 0, 0, b, n);
    b[LM_PING_OFF_TOKEN + LM_TOK_OFF_SIG + 9] ^= 0x10;
    b[LM_PING_OFF_TOKEN + LM_TOK_OFF_MEM_MIB] ^= 0x01; /* a signed field changed */
    admit_put("tampered-mem", R, 7, 0, 0, b, n);
    b[LM_PING_OFF_TOKEN + LM_TOK_OFF_MEM_MIB] ^= 0x01;
    admit_put("paid-cut", R, 7, 0, 0, b, LM_PING_SIZE + 7);
    admit_put("token-cut", R, 7, 0, 0, b, LM_PING_SIZE - 1);
    b[n] = 0;
    admit_put("trailing", R, 7, 0, 0, b, n + 1);
    b[6] = 0x02;
    admit_put("bad-flags", R, 7, 0, 0, b, n);
    memcpy(b, LM_PAY_MAGIC, 4);
    admit_put("payment-magic", R, 7, 0, 0, b, n);
    admit_put("header-only", R, 7, 0, 0, b, 8);
    admit_put("empty", R, 7, 0, 0, b, 0);
}

/* The loader's payload header, and broken variants of it (exact error in the comment). */
static void payload_one(const char *name, uint16_t kind, uint64_t length, uint32_t cmdline_len)
{
    struct lm_payload_header h = {.kind = kind, .length = length, .cmdline_len = cmdline_len};
    uint8_t b[LM_PAYLOAD_HEADER_SIZE];
    lm_payload_header_encode(&h, b);
    put("fuzz_payload", name, b, sizeof b);
}

static void payload_seeds(void)
{
    const char *T = "fuzz_payload";
    uint8_t b[LM_PAYLOAD_HEADER_SIZE + 64];

    payload_one("image", LM_PAYLOAD_IMAGE, 1u << 20, 8);
    payload_one("checkpoint", LM_PAYLOAD_CHECKPOINT, 12345, 0);
    payload_one("image-max", LM_PAYLOAD_IMAGE, LM_PAYLOAD_MAX, LM_PAYLOAD_CMDLINE_MAX);
    payload_one("image-one-byte", LM_PAYLOAD_IMAGE, 1, 0);
    payload_one("empty-payload", LM_PAYLOAD_IMAGE, 0, 0);                            /* OVERSIZED */
    payload_one("oversized", LM_PAYLOAD_IMAGE, LM_PAYLOAD_MAX + 1ull, 0);            /* OVERSIZED */
    payload_one("huge-length", LM_PAYLOAD_IMAGE, UINT64_MAX, 0);                     /* OVERSIZED */
    payload_one("cmdline-long", LM_PAYLOAD_IMAGE, 4096, LM_PAYLOAD_CMDLINE_MAX + 1); /* OVERSIZED */
    payload_one("kind-zero", 0, 4096, 0);  /* BAD_PAYLOAD_KIND */
    payload_one("kind-three", 3, 4096, 0); /* BAD_PAYLOAD_KIND */

    struct lm_payload_header h = {.kind = LM_PAYLOAD_IMAGE, .length = 4096, .cmdline_len = 8};
    lm_payload_header_encode(&h, b);
    b[20] = 1;
    put(T, "reserved-nonzero", b, LM_PAYLOAD_HEADER_SIZE); /* RESERVED_NONZERO */
    lm_payload_header_encode(&h, b);
    b[4] = 2;
    put(T, "version-2", b, LM_PAYLOAD_HEADER_SIZE); /* BAD_VERSION */
    lm_payload_header_encode(&h, b);
    b[0] = 'X';
    put(T, "bad-magic", b, LM_PAYLOAD_HEADER_SIZE); /* BAD_MAGIC */
    lm_payload_header_encode(&h, b);
    put(T, "truncated", b, LM_PAYLOAD_HEADER_SIZE - 1); /* TRUNCATED */
    put(T, "magic-only", b, 4);                         /* TRUNCATED */
    /* What the loader reads off the wire: header, command line, the first payload bytes. */
    memcpy(b + LM_PAYLOAD_HEADER_SIZE, "app=http", 8);
    memcpy(b + LM_PAYLOAD_HEADER_SIZE + 8, ELFMAG, SELFMAG);
    put(T, "stream", b, LM_PAYLOAD_HEADER_SIZE + 8 + SELFMAG); /* TRAILING as one header */
}

/* fuzz_migrec: a RAM byte, then records (fixtures.h, FZ_MIG_*). */
struct migseed {
    uint8_t b[2 * LM_MIG_REC_MAX];
    size_t len;
};

static void mig_start(struct migseed *m, unsigned npages)
{
    m->b[0] = (uint8_t)(npages - 1);
    m->len = 1;
}

static void mig_raw(struct migseed *m, uint8_t op, const uint8_t *rec, size_t len)
{
    if (m->len + 3 + len > sizeof m->b || len > 0xffff)
        die("migrec seed too long");
    m->b[m->len++] = op;
    m->b[m->len++] = (uint8_t)len;
    m->b[m->len++] = (uint8_t)(len >> 8);
    memcpy(m->b + m->len, rec, len);
    m->len += len;
}

/* One record: header, then body_len bytes of body (PAGES with FZ_MIG_GROW: none needed). */
static void mig_rec(struct migseed *m, uint8_t op, uint8_t type, uint32_t count, uint64_t arg,
                    const void *body, size_t body_len)
{
    static uint8_t rec[LM_MIG_REC_MAX];
    lm_mig_rec_header(rec, type, count, arg);
    if (body_len)
        memcpy(rec + LM_MIG_REC_HDR, body, body_len);
    mig_raw(m, op, rec, LM_MIG_REC_HDR + body_len);
}

static void mig_context(struct migseed *m, uint64_t mem, uint64_t entry)
{
    struct lm_mig_context c = {.mem_size = mem,
                               .kernel_start = 0x1000,
                               .kernel_end = 0x4000,
                               .resume_entry = entry,
                               .clock_ns = 123456789,
                               .wall_ns = FZ_GC_NOW};
    uint8_t b[LM_MIG_CONTEXT_SIZE];
    lm_mig_context_encode(&c, b);
    mig_rec(m, 0, LM_MIG_CONTEXT, 0, 0, b, sizeof b);
}

static void mig_end(struct migseed *m, uint64_t data, uint64_t zero, uint64_t records)
{
    struct lm_mig_totals t = {data, zero, records};
    uint8_t b[LM_MIG_TOTALS_SIZE];
    lm_mig_totals_encode(&t, b);
    mig_rec(m, 0, LM_MIG_END, 0, 0, b, sizeof b);
}

static void mig_go(struct migseed *m, uint8_t op)
{
    struct lm_mig_go g = {1, 2, 3, 4};
    uint8_t b[LM_MIG_GO_SIZE];
    lm_mig_go_encode(&g, b);
    mig_rec(m, op, LM_MIG_GO, 0, 0, b, sizeof b);
}

/* Variations of the valid stream over 8 pages. */
enum {
    MS_VALID = 0,
    MS_REAL_PAGE = 1,   /* page 1 sent with its 4096 bytes in the input */
    MS_NO_CONTEXT = 2,  /* INCOMPLETE at END */
    MS_MISSING = 4,     /* page 5 never sent: INCOMPLETE */
    MS_BAD_TOTALS = 8,  /* INCOMPLETE */
    MS_AFTER_GO = 16,   /* a PAGES record after GO */
    MS_GO_UNTAGGED = 32 /* GO without the final tag */
};

static void mig_stream(const char *name, unsigned how)
{
    static struct migseed m;
    static uint8_t page[LM_MIG_PAGE];
    const uint8_t G = FZ_MIG_GROW;
    mig_start(&m, 8);
    mig_rec(&m, 0, LM_MIG_ROUND, 8, 0, NULL, 0);
    mig_rec(&m, 0, LM_MIG_ZERO, 1, 0, NULL, 0);
    if (how & MS_REAL_PAGE) {
        fz_fill(page, sizeof page, 0x50);
        mig_rec(&m, 0, LM_MIG_PAGES, 1, 1, page, sizeof page);
    } else {
        mig_rec(&m, G, LM_MIG_PAGES, 1, 1, NULL, 0);
    }
    mig_rec(&m, G, LM_MIG_PAGES, 3, 2, NULL, 0);
    if (!(how & MS_MISSING))
        mig_rec(&m, 0, LM_MIG_ZERO, 1, 5, NULL, 0);
    mig_rec(&m, 0, LM_MIG_ROUND, 2, 1, NULL, 0);
    mig_rec(&m, G, LM_MIG_PAGES, 2, 6, NULL, 0);
    if (!(how & MS_NO_CONTEXT))
        mig_context(&m, 8 * LM_MIG_PAGE, 0x1234);
    mig_rec(&m, G, LM_MIG_PAGES, 1, 3, NULL, 0);
    mig_end(&m, 7 + !!(how & MS_BAD_TOTALS), 2, 9);
    mig_go(&m, how & MS_GO_UNTAGGED ? 0 : FZ_MIG_FINAL);
    if (how & MS_AFTER_GO)
        mig_rec(&m, G, LM_MIG_PAGES, 1, 1, NULL, 0);
    put("fuzz_migrec", name, m.b, m.len);
}

static void migrec_seeds(void)
{
    const char *T = "fuzz_migrec";
    static struct migseed m;
    const uint8_t G = FZ_MIG_GROW;

    mig_stream("stream", MS_VALID);
    mig_stream("stream-real-page", MS_REAL_PAGE);
    mig_stream("no-context", MS_NO_CONTEXT);
    mig_stream("page-missing", MS_MISSING);
    mig_stream("bad-totals", MS_BAD_TOTALS);
    mig_stream("after-go", MS_AFTER_GO);
    mig_stream("go-untagged", MS_GO_UNTAGGED);

    /* All 16 pages: page 0 as zero, 15 in one record. */
    mig_start(&m, 16);
    mig_rec(&m, 0, LM_MIG_ZERO, 1, 0, NULL, 0);
    mig_rec(&m, G, LM_MIG_PAGES, 15, 1, NULL, 0);
    mig_context(&m, 16 * LM_MIG_PAGE, 0x1000);
    mig_end(&m, 15, 1, 3);
    mig_go(&m, FZ_MIG_FINAL);
    put(T, "sixteen-pages", m.b, m.len);

    /* The same with the 15 pages as ZPAGES: real zstd frames of them (the loader inflates). */
    static uint8_t pages[15 * LM_MIG_PAGE], z[15 * LM_MIG_PAGE];
    fz_fill(pages, sizeof pages, 0x5a);
    for (size_t i = 0; i < sizeof pages; i += 512)
        pages[i] = 0;
    size_t zn = ZSTD_compress(z, sizeof z, pages, sizeof pages, 1);
    if (ZSTD_isError(zn) || zn >= sizeof pages) {
        fprintf(stderr, "mkseeds: zstd did not shrink the seed's pages\n");
        exit(1);
    }
    mig_start(&m, 16);
    mig_rec(&m, 0, LM_MIG_ZERO, 1, 0, NULL, 0);
    mig_rec(&m, 0, LM_MIG_ZPAGES, 15, 1, z, zn);
    mig_context(&m, 16 * LM_MIG_PAGE, 0x1000);
    mig_end(&m, 15, 1, 3);
    mig_go(&m, FZ_MIG_FINAL);
    put(T, "sixteen-zpages", m.b, m.len);

    /* Refusals early on: page 0, out of range, round backwards, a context for other RAM. */
    mig_start(&m, 4);
    mig_rec(&m, G, LM_MIG_PAGES, 1, 0, NULL, 0);
    mig_rec(&m, 0, LM_MIG_ZERO, 2, 3, NULL, 0);
    mig_rec(&m, 0, LM_MIG_ROUND, 0, 5, NULL, 0);
    mig_rec(&m, 0, LM_MIG_ROUND, 0, 4, NULL, 0);
    mig_context(&m, 8 * LM_MIG_PAGE, 0x1234);
    mig_context(&m, 4 * LM_MIG_PAGE, 0x4000);
    mig_rec(&m, G, LM_MIG_PAGES, 17, 1, NULL, 0);
    put(T, "refusals", m.b, m.len);

    /* Records the loader sends, and a hello and a bare context for the side decoders. */
    mig_start(&m, 2);
    mig_end(&m, 0, 0, 0);
    mig_rec(&m, 0, LM_MIG_READY, 0, 0, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            LM_MIG_TOTALS_SIZE);
    mig_rec(&m, 0, LM_MIG_ERROR, LM_PAGE_RANGE, 0, "PAGE_RANGE page 9", 17);
    struct lm_mig_hello h;
    fz_fill(h.mig_pub, sizeof h.mig_pub, 0x4d);
    fz_fill(h.nonce, sizeof h.nonce, 0x4e);
    uint8_t hb[LM_MIG_HELLO_SIZE];
    lm_mig_hello_encode(&h, hb);
    mig_raw(&m, 0, hb, sizeof hb);
    struct lm_mig_context c = {2 * LM_MIG_PAGE, 0, 0x2000, 0x10, 1, 2, LM_MIG_PLATFORM_MONITOR};
    uint8_t cb[LM_MIG_CONTEXT_SIZE];
    lm_mig_context_encode(&c, cb);
    mig_raw(&m, 0, cb, sizeof cb);
    put(T, "loader-records-hello-context", m.b, m.len);
}

/* fuzz_ckpt: checkpoint files sealed for the fixtures' owner (fz_owner_seed), so that the
 * fuzzer starts past the key check and authentication. The valid one holds 16 pages: round 0,
 * page 1 with contents, page 0 and pages 2..15 as zero, the context, END. */
enum {
    CK_VALID = 0,
    CK_TRAILING = 1,     /* a sealed record after END: TRAILING */
    CK_NO_END = 2,       /* the file ends before END */
    CK_FINAL_PAGES = 4,  /* the final tag on PAGES */
    CK_END_UNTAGGED = 8, /* END without the final tag */
    CK_MISSING = 16,     /* page 15 never sent: INCOMPLETE at END */
    CK_MEM = 32,         /* a context for other RAM than the header's: MEM_MISMATCH */
    CK_STRANGER = 64,    /* sealed for another owner: CKPT_KEY */
};

struct ckseed {
    uint8_t b[LM_CKPT_HEADER_SIZE + 8 * (4 + LM_MIG_REC_HDR + LM_MIG_PAGE + LM_MIG_SS_ABYTES)];
    size_t len;
    struct lm_ckpt_writer w;
};

static void ck_rec(struct ckseed *c, bool final, uint8_t type, uint32_t count, uint64_t arg,
                   const void *body, size_t body_len)
{
    static uint8_t rec[LM_MIG_REC_HDR + LM_MIG_PAGE];
    if (body_len > LM_MIG_PAGE ||
        c->len + 4 + LM_MIG_REC_HDR + body_len + LM_MIG_SS_ABYTES > sizeof c->b)
        die("ckpt seed too long");
    lm_mig_rec_header(rec, type, count, arg);
    if (body_len)
        memcpy(rec + LM_MIG_REC_HDR, body, body_len);
    c->len += lm_ckpt_seal(&c->w, rec, LM_MIG_REC_HDR + body_len, final, c->b + c->len);
}

static void ck_file(const char *name, unsigned how)
{
    static struct ckseed c;
    static uint8_t page[LM_MIG_PAGE];
    const uint64_t npages = 16, mem = npages * LM_MIG_PAGE;
    static const uint8_t ip[4] = {10, 0, 0, 7};
    uint8_t seed[32];
    if (how & CK_STRANGER)
        fz_fill(seed, sizeof seed, 0x53);
    else
        fz_owner_seed(seed);
    if (lm_ckpt_writer_init(&c.w, seed, mem, FZ_NOW, ip, 24, c.b) != 0)
        die("cannot start the %s seed", name);
    c.len = LM_CKPT_HEADER_SIZE;
    fz_fill(page, sizeof page, 0x50);
    ck_rec(&c, false, LM_MIG_ROUND, (uint32_t)npages, 0, NULL, 0);
    ck_rec(&c, how & CK_FINAL_PAGES, LM_MIG_PAGES, 1, 1, page, sizeof page);
    ck_rec(&c, false, LM_MIG_ZERO, 1, 0, NULL, 0);
    uint32_t rest = (uint32_t)npages - 2 - !!(how & CK_MISSING);
    ck_rec(&c, false, LM_MIG_ZERO, rest, 2, NULL, 0);
    struct lm_mig_context ctx = {.mem_size = how & CK_MEM ? 2 * mem : mem,
                                 .kernel_start = 0x1000,
                                 .kernel_end = 0x4000,
                                 .resume_entry = 0x1234,
                                 .clock_ns = 123456789,
                                 .wall_ns = FZ_GC_NOW};
    uint8_t cb[LM_MIG_CONTEXT_SIZE];
    lm_mig_context_encode(&ctx, cb);
    ck_rec(&c, false, LM_MIG_CONTEXT, 0, 0, cb, sizeof cb);
    if (!(how & CK_NO_END)) {
        struct lm_mig_totals t = {1, 1 + rest, 5};
        uint8_t tb[LM_MIG_TOTALS_SIZE];
        lm_mig_totals_encode(&t, tb);
        ck_rec(&c, !(how & CK_END_UNTAGGED), LM_MIG_END, 0, 0, tb, sizeof tb);
        if (how & CK_TRAILING)
            ck_rec(&c, false, LM_MIG_ROUND, 0, 1, NULL, 0);
    }
    put("fuzz_ckpt", name, c.b, c.len);
}

static void ckpt_seeds(void)
{
    if (lm_crypto_init() != 0)
        die("cannot initialise libsodium");
    ck_file("valid", CK_VALID);
    ck_file("trailing", CK_TRAILING);
    ck_file("no-end", CK_NO_END);
    ck_file("final-on-pages", CK_FINAL_PAGES);
    ck_file("end-untagged", CK_END_UNTAGGED);
    ck_file("page-missing", CK_MISSING);
    ck_file("context-mem", CK_MEM);
    ck_file("stranger", CK_STRANGER);
}

/* fuzz_guestctl: commands signed by the fixtures' owner, replies sealed with its ctl key. */
static void gc_cmd(const char *name, const struct lm_keypair *kp, const uint8_t ctl[32],
                   uint16_t cmd, uint64_t time_ns, const uint8_t *body, size_t body_len, int flip)
{
    uint8_t nonce[LM_GC_NONCE_BYTES], out[LM_GC_CMD_MAX];
    fz_fill(nonce, sizeof nonce, (uint8_t)(cmd + time_ns % 251));
    size_t n = lm_gc_cmd_seal(cmd, time_ns, nonce, body, body_len, kp->sk, ctl, out);
    if (n == 0)
        die("cannot seal the %s seed", name);
    if (flip >= 0)
        out[flip] ^= 0x04;
    put("fuzz_guestctl", name, out, n);
}

static void gc_reply(const char *name, const uint8_t ctl[32], uint16_t cmd,
                     const uint8_t nonce[LM_GC_NONCE_BYTES], uint16_t status, const uint8_t *body,
                     size_t body_len)
{
    uint8_t out[LM_GC_REPLY_MAX];
    size_t n = lm_gc_reply_seal(cmd, nonce, status, body, body_len, ctl, out);
    if (n == 0)
        die("cannot seal the %s seed", name);
    put("fuzz_guestctl", name, out, n);
}

static void guestctl_seeds(void)
{
    const char *T = "fuzz_guestctl";
    struct lm_keypair own;
    uint8_t seed[32], ctl[32], other_ctl[32], nonce[LM_GC_NONCE_BYTES];
    fz_owner_seed(seed);
    if (lm_key_from_seed(seed, &own) != 0)
        die("cannot derive the owner key");
    lm_gc_ctl_key(seed, ctl);
    lm_gc_ctl_key(stranger.seed, other_ctl);

    struct lm_gc_migrate m;
    memset(&m, 0, sizeof m);
    static const uint8_t ip[4] = {10, 0, 0, 7};
    memcpy(m.ip, ip, 4);
    m.port = 7700;
    m.max_rounds = 30;
    fz_fill(m.loader_pub, 32, 0x6c);
    fz_fill(m.mig_secret, 32, 0x6d);
    fz_fill(m.pay_token, 16, 0x70);
    fz_fill(m.pay_seed, 32, 0x71);
    m.pay_len = 64;
    uint8_t mb[LM_GC_MIGRATE_SIZE], big[LM_GC_BODY_MAX];
    lm_gc_migrate_encode(&m, mb);
    put(T, "migrate-body", mb, sizeof mb);

    const uint64_t W = LM_GC_WINDOW_NS;
    gc_cmd("status", &own, ctl, LM_GC_STATUS, FZ_GC_NOW, NULL, 0, -1);
    gc_cmd("migrate", &own, ctl, LM_GC_MIGRATE, FZ_GC_NOW - 5, mb, sizeof mb, -1);
    gc_cmd("abort", &own, ctl, LM_GC_ABORT, FZ_GC_NOW + 5, NULL, 0, -1);
    gc_cmd("window-ahead", &own, ctl, LM_GC_STATUS, FZ_GC_NOW + W, NULL, 0, -1);
    gc_cmd("window-behind", &own, ctl, LM_GC_STATUS, FZ_GC_NOW - W, NULL, 0, -1);
    gc_cmd("expired", &own, ctl, LM_GC_STATUS, FZ_GC_NOW - W - 1, NULL, 0, -1);
    gc_cmd("future", &own, ctl, LM_GC_STATUS, FZ_GC_NOW + W + 1, NULL, 0, -1);
    gc_cmd("stranger", &stranger, ctl, LM_GC_STATUS, FZ_GC_NOW, NULL, 0, -1);
    gc_cmd("flipped-signature", &own, ctl, LM_GC_STATUS, FZ_GC_NOW, NULL, 0, 40);
    gc_cmd("flipped-body", &own, ctl, LM_GC_MIGRATE, FZ_GC_NOW, mb, sizeof mb, 60);
    gc_cmd("other-ctl-key", &own, other_ctl, LM_GC_MIGRATE, FZ_GC_NOW, mb, sizeof mb, -1);
    fz_fill(big, sizeof big, 0x62);
    gc_cmd("largest-body", &own, ctl, 7, FZ_GC_NOW, big, sizeof big, -1);
    m.max_rounds = 1001;
    lm_gc_migrate_encode(&m, mb);
    gc_cmd("migrate-bad-body", &own, ctl, LM_GC_MIGRATE, FZ_GC_NOW, mb, sizeof mb, -1);

    struct lm_gc_status st;
    memset(&st, 0, sizeof st);
    st.phase = LM_GC_PHASE_FAILED;
    st.round = 4;
    st.pages_sent = 1000;
    st.ram_pages = 4096;
    st.last.total_ns = 123456789;
    st.status = LM_MIG_TIMEOUT;
    strcpy(st.error, "loader silent\tfor 5 s\x7f");
    uint8_t sb[LM_GC_STATUS_SIZE];
    lm_gc_status_encode(&st, sb);
    put(T, "status-body", sb, sizeof sb);

    fz_reply_nonce(nonce);
    gc_reply("reply-status", ctl, FZ_GC_REPLY_CMD, nonce, 0, sb, sizeof sb);
    gc_reply("reply-busy-empty", ctl, FZ_GC_REPLY_CMD, nonce, LM_BUSY, NULL, 0);
    gc_reply("reply-other-command", ctl, LM_GC_ABORT, nonce, 0, NULL, 0);
    gc_reply("reply-other-key", other_ctl, FZ_GC_REPLY_CMD, nonce, 0, sb, sizeof sb);
    nonce[0] ^= 1;
    gc_reply("reply-other-nonce", ctl, FZ_GC_REPLY_CMD, nonce, 0, sb, sizeof sb);
}

/* fuzz_http: byte 0 the mode (fixtures.h, FZ_HTTP_*), then raw bytes or "METHOD TARGET\n" and
 * the body. */
static void http_put(const char *name, uint8_t mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void http_put(const char *name, uint8_t mode, const char *fmt, ...)
{
    char b[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b + 1, sizeof b - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof b - 1)
        die("http seed %s too long", name);
    b[0] = (char)mode;
    put("fuzz_http", name, b, (size_t)n + 1);
}

static void http_seeds(void)
{
    const uint8_t raw = FZ_HTTP_RAW, admin = FZ_HTTP_ADMIN, buyer = FZ_HTTP_BUYER_KEY,
                  op = FZ_HTTP_OPERATOR_KEY;
    const char *next = "GET /v1/nothing HTTP/1.1\r\nHost: b\r\n\r\n";
    char c[65], l1[65], l2[65], fill[80];
    uint8_t cb[32];
    fz_fill(cb, sizeof cb, 0x63);
    lm_hex_encode(cb, sizeof cb, c);
    lm_hex_encode(links[1], LM_HASH_BYTES, l1);
    lm_hex_encode(links[2], LM_HASH_BYTES, l2);
    /* Raw: framing, good and refused, with a pipelined request after it. */
    http_put("get", raw, "GET /v1/keys HTTP/1.1\r\nHost: b\r\n\r\n%s", next);
    http_put("http10", raw, "GET /v1/keys HTTP/1.0\r\n\r\n");
    http_put(
        "chunked", raw,
        "POST /v1/deposits HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n%s",
        next);
    http_put("length", raw,
             "POST /v1/deposits HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\n{}%s", next);
    http_put(
        "two-lengths", raw,
        "POST /v1/deposits HTTP/1.1\r\nHost: b\r\nContent-Length: 7\r\nContent-Length: 2\r\n\r\n{}%s",
        next);
    http_put(
        "length-and-chunked", raw,
        "POST /v1/deposits HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s",
        next);
    http_put("gzip", raw,
             "POST /v1/deposits HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: gzip\r\n\r\n{}%s", next);
    http_put(
        "space-before-colon", raw,
        "POST /v1/deposits HTTP/1.1\r\nHost: b\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n%s",
        next);
    http_put(
        "expect-continue", raw,
        "POST /v1/tokens HTTP/1.1\r\nHost: b\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
    http_put("too-large", raw,
             "POST /v1/tokens HTTP/1.1\r\nHost: b\r\nContent-Length: 99999999\r\n\r\n{}");
    http_put("ff-path", raw, "GET /v1/\xff HTTP/1.1\r\nHost: b\r\n\r\n");
    http_put("ff-method", raw, "G\xffT /v1/keys HTTP/1.1\r\nHost: b\r\n\r\n");
    http_put(
        "bad-auth", raw,
        "GET /v1/account HTTP/1.1\r\nHost: b\r\nX-LM-Key: 00\r\nX-LM-Time: 1\r\nX-LM-Nonce: 00\r\nX-LM-Signature: 00\r\n\r\n");
    /* Signed: every route, and fields cut inside a UTF-8 sequence. */
    http_put("audit", admin, "GET /v1/admin/audit\n");
    http_put("accounts", admin, "GET /v1/accounts\n");
    http_put("account", buyer, "GET /v1/account\n");
    http_put("hosts", op, "GET /v1/hosts?cluster=blue\n");
    http_put("keys", buyer, "GET /v1/keys\n");
    http_put("sweep", admin, "POST /v1/admin/sweep\n{}");
    http_put("account-create", admin,
             "POST /v1/accounts\n{\"name\":\"carol\",\"role\":\"buyer\",\"public_key\":\"%s\"}", c);
    http_put("deposit", admin,
             "POST /v1/deposits\n{\"account\":\"" FZ_HTTP_BUYER "\",\"amount\":5,\"note\":\"x\"}");
    http_put(
        "host", op,
        "POST /v1/hosts\n{\"name\":\"h2\",\"cluster\":\"blue\",\"address\":\"10.0.0.1\",\"port\":1,\"price_per_unit\":3,\"unit_ms\":10}");
    http_put(
        "buy", buyer,
        "POST /v1/tokens\n{\"host\":\"" FZ_HOST
        "\",\"commitment\":\"%s\",\"prepaid_units\":2,\"ip\":\"10.0.0.2/24\",\"mac\":\"02:00:00:00:00:01\"}",
        c);
    http_put("buy-chunked", buyer | FZ_HTTP_CHUNKED,
             "POST /v1/tokens\n{\"cluster\":\"blue\",\"commitment\":\"%s\",\"prepaid_units\":1}",
             c);
    http_put("token", buyer, "GET /v1/tokens/" FZ_HTTP_TOKEN "\n");
    http_put("redeem", op,
             "POST /v1/tokens/" FZ_HTTP_TOKEN "/redeem\n{\"index\":1,\"link\":\"%s\"}", l1);
    http_put("redeem-host", op,
             "POST /v1/tokens/" FZ_HTTP_TOKEN
             "/redeem\n{\"index\":2,\"link\":\"%s\",\"host\":\"" FZ_HOST "\"}",
             l2);
    /* The messages quote a field name at most 40 bytes long, a name 60, a hex value 80. */
    memset(fill, 'f', sizeof fill);
    http_put("unknown-field-cut", buyer, "POST /v1/tokens\n{\"%.39s\xc3\xa9\":1}", fill);
    http_put(
        "bad-name-cut", buyer,
        "POST /v1/tokens\n{\"host\":\"%.59s\xc3\xa9\",\"commitment\":\"%s\",\"prepaid_units\":1}",
        fill, c);
    http_put("bad-hex-cut", buyer,
             "POST /v1/tokens\n{\"host\":\"" FZ_HOST
             "\",\"commitment\":\"%.79s\xe2\x82\xac\",\"prepaid_units\":1}",
             fill);
    http_put("wrong-role", buyer,
             "POST /v1/deposits\n{\"account\":\"" FZ_HTTP_BUYER "\",\"amount\":5}");
    http_put("get-with-body", buyer, "GET /v1/account\n{}");
    /* Locate: names at purchase, location reports (recorded, stale, refused) and look-ups. */
    http_put("buy-named", buyer,
             "POST /v1/tokens\n{\"host\":\"" FZ_HOST
             "\",\"commitment\":\"%s\",\"prepaid_units\":1,\"name\":\"web-1\"}",
             c);
    http_put("buy-bad-name", buyer,
             "POST /v1/tokens\n{\"host\":\"" FZ_HOST
             "\",\"commitment\":\"%s\",\"prepaid_units\":1,\"name\":\"-Web_1\"}",
             c);
    http_put("location", op,
             "POST /v1/locations\n{\"token_id\":\"" FZ_HTTP_TOKEN2 "\",\"host\":\"" FZ_HOST
             "\",\"address\":\"10.0.0.8\"}");
    http_put("location-stale", op,
             "POST /v1/locations\n{\"token_id\":\"" FZ_HTTP_TOKEN "\",\"host\":\"" FZ_HOST
             "\",\"address\":\"10.0.0.9\"}");
    http_put("location-bad-address", op,
             "POST /v1/locations\n{\"token_id\":\"" FZ_HTTP_TOKEN2 "\",\"host\":\"" FZ_HOST
             "\",\"address\":\"10.0.0.256\"}");
    http_put("location-unknown-host", op,
             "POST /v1/locations\n{\"token_id\":\"" FZ_HTTP_TOKEN2
             "\",\"host\":\"h2\",\"address\":\"10.0.0.8\"}");
    http_put("location-chunked", op | FZ_HTTP_CHUNKED,
             "POST /v1/locations\n{\"token_id\":\"" FZ_HTTP_TOKEN2 "\",\"host\":\"" FZ_HOST
             "\",\"address\":\"10.0.0.8\",\"port\":1}");
    http_put("location-wrong-role", buyer,
             "POST /v1/locations\n{\"token_id\":\"" FZ_HTTP_TOKEN2 "\",\"host\":\"" FZ_HOST
             "\",\"address\":\"10.0.0.8\"}");
    http_put("locate", buyer, "GET /v1/locations/" FZ_HTTP_VM "\n");
    http_put("locate-admin", admin, "GET /v1/locations/" FZ_HTTP_VM "\n");
    http_put("locate-bad-name", buyer, "GET /v1/locations/%.70s\n", fill); /* 70 > 63 */
    http_put("locate-query", buyer, "GET /v1/locations/" FZ_HTTP_VM "?x=1\n");
}

/* fuzz_location: records, each its op byte (fixtures.h, FZ_LOC_*) and a report's body or a
 * GET's name, joined by FZ_LOC_SEP. */
struct loc_rec {
    uint8_t op;
    const char *text;
};

static void loc_put_n(const char *name, const struct loc_rec *r, size_t n)
{
    char b[4096];
    size_t len = 0, sep = strlen(FZ_LOC_SEP);
    for (size_t i = 0; i < n; i++) {
        size_t t = strlen(r[i].text);
        if (len + sep + 1 + t > sizeof b)
            die("location seed %s too long", name);
        if (i) {
            memcpy(b + len, FZ_LOC_SEP, sep);
            len += sep;
        }
        b[len++] = (char)r[i].op;
        memcpy(b + len, r[i].text, t);
        len += t;
    }
    put("fuzz_location", name, b, len);
}
#define loc_put(name, ...)                                                                         \
    loc_put_n(name, (const struct loc_rec[]){__VA_ARGS__},                                         \
              sizeof((const struct loc_rec[]){__VA_ARGS__}) / sizeof(struct loc_rec))

/* A report's body: token k (one hex digit), host and address. */
#define LOC_REPORT(k, host, address)                                                               \
    "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX k "\",\"host\":\"" host "\",\"address\":\"" address "\"}"

static void location_seeds(void)
{
    const uint8_t op = FZ_LOC_OP, op2 = FZ_LOC_OP2, buyer = FZ_LOC_BUYER, buyer2 = FZ_LOC_BUYER2,
                  admin = FZ_LOC_ADMIN, get = FZ_LOC_GET;
    /* Recorded: a new address, the current token again, a migration, a cluster token on
     * either operator's host, the other buyer's VM of the same name, a token without a name. */
    loc_put("moved-address", {op, LOC_REPORT("1", "host-a", "10.0.0.8")});
    loc_put("same", {op, LOC_REPORT("1", "host-a", "10.0.0.7")});
    loc_put("migrated", {op, LOC_REPORT("6", "host-b", "10.0.1.1")}, {buyer | get, "vm-1"});
    loc_put("cluster", {op, LOC_REPORT("2", "host-a", "10.0.2.1")});
    loc_put("cluster-op2", {op2, LOC_REPORT("2", "host-c", "10.0.2.2")}, {buyer | get, "vm-2"});
    loc_put("other-buyer", {op, LOC_REPORT("5", "host-a", "0.0.0.0")}, {buyer2 | get, "vm-1"});
    loc_put("unnamed", {op, LOC_REPORT("3", "host-b", "255.255.255.255")});
    loc_put("op2", {op2, LOC_REPORT("4", "host-c", "172.16.0.1")});
    /* Order: an old token after a newer one (token 7 is older than token 2), and a late
     * source after the destination. */
    loc_put("stale", {op, LOC_REPORT("0", "host-a", "10.0.0.9")});
    loc_put("older-issued", {op2, LOC_REPORT("2", "host-c", "10.0.2.2")},
            {op, LOC_REPORT("7", "host-d", "10.0.3.1")}, {buyer | get, "vm-2"});
    loc_put("newer-issued", {op, LOC_REPORT("7", "host-d", "10.0.3.1")},
            {op2, LOC_REPORT("2", "host-c", "10.0.2.2")}, {buyer | get, "vm-2"});
    loc_put("back-and-forth", {op, LOC_REPORT("6", "host-b", "10.0.1.1")},
            {op, LOC_REPORT("1", "host-a", "10.0.0.7")},
            {op, LOC_REPORT("6", "host-b", "10.0.1.2")}, {buyer | get, "vm-1"},
            {buyer2 | get, "vm-1"});
    /* Refused past the fields: unknown token and host, another's host, out of scope. */
    loc_put("unknown-token", {op, LOC_REPORT("9", "host-a", "10.0.0.8")});
    loc_put("unknown-host", {op, LOC_REPORT("1", "host-z", "10.0.0.8")});
    loc_put("not-your-host", {op, LOC_REPORT("4", "host-c", "10.0.0.8")});
    loc_put("op2-not-your-host", {op2, LOC_REPORT("1", "host-a", "10.0.0.8")});
    loc_put("host-scope", {op, LOC_REPORT("1", "host-b", "10.0.0.8")});
    loc_put("cluster-scope-none", {op, LOC_REPORT("2", "host-b", "10.0.0.8")});
    loc_put("cluster-scope-other", {op, LOC_REPORT("2", "host-d", "10.0.0.8")});
    loc_put("wrong-role", {buyer, LOC_REPORT("1", "host-a", "10.0.0.8")});
    loc_put("admin-report", {admin, LOC_REPORT("1", "host-a", "10.0.0.8")});
    /* Addresses that are not A.B.C.D, each 0 to 255 without leading zeros. */
    static const char *const bad_address[] = {
        "10.0.0.256", "010.0.0.1",  "10.0.0",    "10.0.0.1 ",      " 10.0.0.1",
        "1.2.3.4.5",  "0x0a.0.0.1", "",          "10.0.0.1/24",    "::1",
        "10.0.0.-1",  "10..0.1",    "1e1.0.0.1", "10.0.0.1\\u0000"};
    for (size_t i = 0; i < sizeof bad_address / sizeof *bad_address; i++) {
        char name[32], body[256];
        snprintf(name, sizeof name, "bad-address-%zu", i);
        snprintf(body, sizeof body,
                 "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX
                 "1\",\"host\":\"host-a\",\"address\":\"%s\"}",
                 bad_address[i]);
        loc_put(name, {op, body}, {buyer | get, "vm-1"});
    }
    /* Fields: missing, null, of the wrong type, unknown, twice, uppercase hex, not an object. */
    loc_put("missing-address",
            {op, "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX "1\",\"host\":\"host-a\"}"});
    loc_put("null-host", {op, "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX
                              "1\",\"host\":null,\"address\":\"10.0.0.8\"}"});
    loc_put("number-token", {op, "{\"token_id\":1,\"host\":\"host-a\",\"address\":\"10.0.0.8\"}"});
    loc_put("upper-token", {op, LOC_REPORT("1", "host-a", "10.0.0.8")},
            {op, "{\"token_id\":\"10CA7E0010CA7E0010CA7E0010CA7E01\",\"host\":\"host-a\","
                 "\"address\":\"10.0.0.9\"}"});
    loc_put("extra-field", {op, "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX
                                "1\",\"host\":\"host-a\",\"address\":\"10.0.0.8\",\"port\":1}"});
    loc_put("twice",
            {op, "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX
                 "1\",\"host\":\"host-a\",\"address\":\"10.0.0.8\",\"address\":\"10.0.0.9\"}"});
    loc_put("nul-host", {op, "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX
                             "1\",\"host\":\"host-a\\u0000x\",\"address\":\"10.0.0.8\"}"});
    loc_put("long-host", {op, "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX
                              "1\",\"host\":\"h23456789012345678901234567890123\",\"address\":"
                              "\"10.0.0.8\"}"});
    loc_put("array", {op, "[\"" FZ_LOC_TOKEN_PREFIX "1\",\"host-a\",\"10.0.0.8\"]"});
    loc_put("empty", {op, ""});
    /* Look-ups: own, another's, the admin's, an operator's, names and queries refused. */
    loc_put("get", {buyer | get, "vm-1"});
    loc_put("get-buyer2", {buyer2 | get, "vm-1"});
    loc_put("get-unplaced", {buyer | get, "vm-3"});
    loc_put("get-admin", {admin | get, "vm-1"});
    loc_put("get-operator", {op | get, "vm-1"});
    loc_put("get-bad-name", {buyer | get, "Vm_1"});
    loc_put("get-query", {buyer | get, "vm-1?x=1"});
    loc_put("get-empty-query", {buyer | get, "vm-1?"});
    loc_put("get-segments", {buyer | get, "vm-1/x"});
    loc_put("get-none", {buyer | get, ""});
}

/* fuzz_pressure: /proc/meminfo and /proc/loadavg as a kernel writes them, and near misses. */
static void pressure_seeds(void)
{
    make_dir("fuzz_pressure");
    put_text("fuzz_pressure", "meminfo", "MemTotal:        8052960 kB\nMemFree:          612340 kB\nMemAvailable:     831872 kB\nBuffers:          123456 kB\nCached:          2345678 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n");
    put_text("fuzz_pressure", "meminfo-last-line", "MemTotal: 1 kB\nMemAvailable: 5 kB");
    put_text("fuzz_pressure", "meminfo-twice", "MemAvailable: 5 kB\nMemAvailable: 6 kB\n");
    put_text("fuzz_pressure", "meminfo-no-unit", "MemAvailable: 1125899906842624\n");
    put_text("fuzz_pressure", "loadavg", "0.52 0.58 0.59 1/1234 5678\n");
    put_text("fuzz_pressure", "loadavg-busy", "9999999.99 812.00 4.00 300/4000 99999\n");
    put_text("fuzz_pressure", "loadavg-one-decimal", "0.5");
}

/* fuzz_netaddr: MACs and A.B.C.D/PREFIX as the library writes them, and near misses. */
static void netaddr_seeds(void)
{
    make_dir("fuzz_netaddr");
    char mac[LM_MAC_STR];
    put_text("fuzz_netaddr", "mac",
             lm_mac_format((const uint8_t *)"\x02\x4c\x4d\x00\x0a\xff", mac));
    put_text("fuzz_netaddr", "mac-prefix", "02:4c:4d");
    put_text("fuzz_netaddr", "mac-upper", "FE:DC:BA:98:76:54");
    put_text("fuzz_netaddr", "mac-short-group", "2:4c:4d:0:0:1");
    put_text("fuzz_netaddr", "ip", "10.0.0.1/24");
    put_text("fuzz_netaddr", "ip-edges", "255.255.255.255/32");
    put_text("fuzz_netaddr", "ip-zero", "0.0.0.0/0");
    put_text("fuzz_netaddr", "ip-part-300", "10.0.0.300/24");
    put_text("fuzz_netaddr", "ip-prefix-33", "10.0.0.1/33");
    put_text("fuzz_netaddr", "ip-three-parts", "1.2.3");
    put_text("fuzz_netaddr", "ip-trailing", "10.0.0.1/24x");
    put_text("fuzz_netaddr", "ip-leading-zero", "10.0.0.1/024");
}

/* fuzz_hostctl: each command as lmctl writes it, and near misses. */
static void hostctl_seeds(void)
{
    make_dir("fuzz_hostctl");
    put_text("fuzz_hostctl", "status", "status\n");
    put_text("fuzz_hostctl", "ls", "ls");
    put_text("fuzz_hostctl", "kill", "kill 12\n");
    put_text("fuzz_hostctl", "evict", "evict 3 30000\r\n");
    put_text("fuzz_hostctl", "evict-no-ms", "evict 3\n");
    put_text("fuzz_hostctl", "kill-max", "kill 18446744073709551615");
    put_text("fuzz_hostctl", "kill-over", "kill 18446744073709551616");
    put_text("fuzz_hostctl", "kill-leading-zero", "kill 012");
    put_text("fuzz_hostctl", "two-spaces", "kill  1");
    put_text("fuzz_hostctl", "unknown", "frob 1");
}

/* fuzz_hostchan: a guest's stream as the host reads it: one frame of each type, several back
 * to back, one cut short, and streams broken by magic, type and length. */
static void hostchan_seeds(void)
{
    make_dir("fuzz_hostchan");
    struct lm_hostchan_msg m[5] = {{.type = LM_HOSTCHAN_HELLO},
                                   {.type = LM_HOSTCHAN_EVENTS},
                                   {.type = LM_HOSTCHAN_NOTICE},
                                   {.type = LM_HOSTCHAN_EXEC},
                                   {.type = LM_HOSTCHAN_EXIT}};
    static const char *const names[5] = {"hello", "events", "notice", "exec", "exit"};
    fz_fill(m[0].u.key, LM_HOSTCHAN_KEY_BYTES, 0x48); /* 'H' */
    m[1].u.events.pending = 3;
    m[1].u.events.evict_ms = 30000;
    m[1].u.events.credit_ms = 0x123456789abcull;
    m[1].u.events.grace_ms = UINT64_MAX;
    m[2].u.notice = 1;
    m[4].u.status = -1;
    uint8_t s[5 * LM_HOSTCHAN_FRAME_MAX];
    size_t len = 0;
    for (size_t i = 0; i < 5; i++) {
        size_t n = lm_hostchan_encode(&m[i], s + len);
        if (n == 0)
            die("cannot encode hostchan type %u", m[i].type);
        put("fuzz_hostchan", names[i], s + len, n);
        len += n;
    }
    /* What a guest sends: NOTICE, EXEC, NOTICE, EXIT; then the same cut inside the EXIT. */
    uint8_t g[4 * LM_HOSTCHAN_FRAME_MAX];
    size_t glen = 0;
    glen += lm_hostchan_encode(&m[2], g + glen);
    glen += lm_hostchan_encode(&m[3], g + glen);
    glen += lm_hostchan_encode(&m[2], g + glen);
    glen += lm_hostchan_encode(&m[4], g + glen);
    put("fuzz_hostchan", "stream", g, glen);
    put("fuzz_hostchan", "stream-truncated", g, glen - 2);
    put("fuzz_hostchan", "all-types", s, len);
    put("fuzz_hostchan", "hello-truncated", s, LM_HOSTCHAN_FRAME_MAX - 1);
    uint8_t bad[LM_HOSTCHAN_FRAME_MAX];
    size_t e = lm_hostchan_encode(&m[1], bad);
    bad[0] = 0xa6;
    put("fuzz_hostchan", "bad-magic", bad, e);
    bad[0] = LM_HOSTCHAN_MAGIC;
    bad[1] = 3;
    put("fuzz_hostchan", "bad-type", bad, e);
    bad[1] = LM_HOSTCHAN_EVENTS;
    bad[2] = 23;
    put("fuzz_hostchan", "bad-length", bad, e);
}

/* fuzz_ring: the monitor's NIC rings: two TX records (a 60-byte frame, a 1514-byte one with a
 * GSO header) and two frames for the RX side; then the same with a wrap marker at the ring's
 * end, and a ring whose head runs past what its records hold. */
static void ring_put(const char *name, uint32_t tx_tail, const uint8_t *recs, uint16_t reclen,
                     uint32_t txlen)
{
    uint8_t s[64 + 4096];
    size_t n = 0;
    uint32_t hdr[5] = {0, 0, tx_tail, txlen};
    memcpy(s, hdr, 16);
    n = 16;
    memcpy(s + n, &reclen, 2);
    n += 2;
    memcpy(s + n, recs, reclen);
    n += reclen;
    for (uint16_t len = 72; len <= 200; len += 128) { /* 12-byte header + frame */
        memcpy(s + n, &len, 2);
        n += 2;
        memset(s + n, 0, 12);
        memset(s + n + 12, 0xab, len - 12u);
        n += len;
    }
    put("fuzz_ring", name, s, n);
}

static void ring_seeds(void)
{
    make_dir("fuzz_ring");
    uint8_t r[64 + 1600];
    memset(r, 0, sizeof r);
    struct lm_net_rec a = {.len = 60};
    memcpy(r, &a, sizeof a);
    memset(r + LM_NET_REC_HDR, 0x11, 60);
    struct lm_net_rec b = {.len = 1514,
                           .hdr = {.flags = LM_NET_F_NEEDS_CSUM, .gso_type = LM_NET_GSO_TCPV4,
                                   .hdr_len = 54, .gso_size = 730, .csum_start = 34,
                                   .csum_offset = 16}};
    memcpy(r + 128, &b, sizeof b);
    memset(r + 128 + LM_NET_REC_HDR, 0x22, 1514);
    uint32_t len = LM_NET_REC_STRIDE(60) + LM_NET_REC_STRIDE(1514);
    ring_put("two-records", 0, r, (uint16_t)sizeof r, len);
    ring_put("head-past-records", 0, r, (uint16_t)sizeof r, len + 4096);
    struct lm_net_rec w = {.len = LM_NET_REC_WRAP};
    uint8_t wr[64];
    memset(wr, 0, sizeof wr);
    memcpy(wr, &w, sizeof w);
    ring_put("wrap", LM_RING_MIN_BYTES - 64, wr, sizeof wr, 64);
    struct lm_net_rec big = {.len = 100};
    memcpy(wr, &big, sizeof big);
    ring_put("record-past-end", LM_RING_MIN_BYTES - 64, wr, sizeof wr, 64);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkseeds DIR\nWrites seed corpora into DIR/fuzz_<target>/.\n");
        return 2;
    }
    root = argv[1];
    make_dir(NULL);
    const char *targets[] = {"fuzz_token",   "fuzz_ping",     "fuzz_payment", "fuzz_keyfile",
                             "fuzz_elf",     "fuzz_reqsig",   "fuzz_admit",   "fuzz_payload",
                             "fuzz_migrec",  "fuzz_guestctl", "fuzz_http",    "fuzz_ckpt",
                             "fuzz_location"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        make_dir(targets[i]);

    uint8_t seed[32];
    fz_key_seed(seed);
    if (lm_key_from_seed(seed, &broker) != 0)
        die("cannot derive the broker key");
    fz_fill(seed, 32, 0x53);
    if (lm_key_from_seed(seed, &stranger) != 0)
        die("cannot derive the second key");
    fz_chain_seed(seed);
    for (uint32_t k = 0; k <= FZ_CHAIN_LEN; k++)
        if (lm_chain_link(seed, FZ_CHAIN_LEN, k, links[k]) != 0)
            die("cannot compute chain link %u", k);

    uint8_t token[LM_TOKEN_SIZE];
    token_seeds(token);
    ping_seeds(token);
    payment_seeds(token);
    keyfile_seeds();
    elf_seeds();
    reqsig_seeds();
    admit_seeds();
    payload_seeds();
    pressure_seeds();
    netaddr_seeds();
    hostctl_seeds();
    hostchan_seeds();
    ring_seeds();
    migrec_seeds();
    guestctl_seeds();
    http_seeds();
    ckpt_seeds();
    location_seeds();
    return 0;
}
