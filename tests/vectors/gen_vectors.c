/*
 * GENERATOR of the .txt files in tests/vectors/, kept for reference and for adding vectors.
 * Built by nothing: the committed .txt files are the reference, and tests/unit/test_vectors.c
 * checks the library against them. Regenerating changes the reference; do it only for a
 * deliberate protocol change, and review the diff. By hand, from the top of the tree:
 *   make build/lib/liblaundromat.a
 *   cc -std=c11 -Wall -Wextra -D_GNU_SOURCE -Iinclude tests/vectors/gen_vectors.c \
 *      build/lib/liblaundromat.a -lsodium -lzstd -o /tmp/gen_vectors && /tmp/gen_vectors /tmp/vec
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "laundromat/chain.h"
#include "laundromat/guestctl.h"
#include "laundromat/hash.h"
#include "laundromat/keys.h"
#include "laundromat/migrate.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "laundromat/wire.h"

static const char *outdir;

static void die(const char *what)
{
    fprintf(stderr, "gen_vectors: %s\n", what);
    exit(1);
}

static FILE *open_out(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    return f;
}

static const char common_header[] =
    "# Format (docs/PROTOCOL.md, \"Test vectors\"): records separated by blank lines; each\n"
    "# line is \"name = value\"; lines starting with '#' are comments. A value is one of\n"
    "#   hex    lowercase hex digits, two per byte, in byte order (empty for no bytes)\n"
    "#   u64x   an integer as 16 hex digits, most significant first (a key id)\n"
    "#   dec    a decimal integer\n"
    "#   str    a \"double-quoted\" string; \\\\, \\\" and \\n are the only escapes\n"
    "# This file is the reference: tests/unit/test_vectors.c and tests/vectors/check_vectors.py\n"
    "# check the code against it. Do not regenerate it to make a test pass.\n";

static void hexf(FILE *f, const char *name, const uint8_t *p, size_t n)
{
    fprintf(f, "%s =", name);
    if (n)
        fputc(' ', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('\n', f);
}

static void decf(FILE *f, const char *name, unsigned long long v)
{
    fprintf(f, "%s = %llu\n", name, v);
}

static void u64xf(FILE *f, const char *name, uint64_t v)
{
    fprintf(f, "%s = %016llx\n", name, (unsigned long long)v);
}

static void strf(FILE *f, const char *name, const char *s)
{
    fprintf(f, "%s = \"", name);
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputs("\"\n", f);
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die(path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* ---- hash.txt ---- */

static void gen_hash(void)
{
    FILE *f = open_out("hash.txt");
    fputs("# Laundromat test vectors: domain-separated hashes, hash = BLAKE2b-256(domain || data)\n"
          "# (32-byte digest, no key), domain given without a terminating NUL.\n",
          f);
    fputs(common_header, f);
    fputs("# Fields: vector (str), domain (str), data (hex), hash (hex, 32 bytes).\n"
          "# Inputs: empty; \"abc\"; the 32 bytes 00..1f; 1000 bytes with byte i = i mod 251.\n",
          f);
    static const char *const domains[] = {LM_DOMAIN_CHAIN, LM_DOMAIN_KEYID, LM_DOMAIN_IMAGE};
    static const char *const dnames[] = {"chain", "keyid", "image"};
    uint8_t b32[32], b1000[1000], h[LM_HASH_BYTES];
    for (int i = 0; i < 32; i++)
        b32[i] = (uint8_t)i;
    for (int i = 0; i < 1000; i++)
        b1000[i] = (uint8_t)(i % 251);
    struct {
        const char *name;
        const uint8_t *p;
        size_t n;
    } in[] = {{"empty", (const uint8_t *)"", 0},
              {"abc", (const uint8_t *)"abc", 3},
              {"00..1f", b32, 32},
              {"1000 bytes i mod 251", b1000, 1000}};
    for (int d = 0; d < 3; d++)
        for (int i = 0; i < 4; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s: %s", dnames[d], in[i].name);
            if (lm_hash(domains[d], in[i].p, in[i].n, h) != 0)
                die("lm_hash");
            fputc('\n', f);
            strf(f, "vector", name);
            strf(f, "domain", domains[d]);
            hexf(f, "data", in[i].p, in[i].n);
            hexf(f, "hash", h, sizeof h);
        }
    fclose(f);
}

/* ---- keys ---- */

static void key_seed(int which, uint8_t seed[32])
{
    static const uint8_t rfc8032_1[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
                                          0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
                                          0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
                                          0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
    switch (which) {
    case 0:
        for (int i = 0; i < 32; i++)
            seed[i] = (uint8_t)i;
        break;
    case 1:
        memcpy(seed, rfc8032_1, 32);
        break;
    default:
        memset(seed, 0xff, 32);
        break;
    }
}

static void gen_keys(const char *tmpdir)
{
    FILE *f = open_out("keys.txt");
    fputs("# Laundromat test vectors: Ed25519 key pairs from 32-byte seeds (RFC 8032 key\n"
          "# generation, libsodium crypto_sign_seed_keypair) and their key ids.\n",
          f);
    fputs(common_header, f);
    fputs("# Fields: vector (str), seed (hex, 32), public (hex, 32),\n"
          "#   key_id_hash (hex, 32) = BLAKE2b-256(\"laundromat/keyid/v1\" || public),\n"
          "#   key_id (u64x) = the first 8 bytes of key_id_hash read little-endian,\n"
          "#   secret_file, public_file (str, optional): the exact bytes lm_key_write_secret and\n"
          "#   lm_key_write_public write for this key.\n",
          f);
    static const char *const names[] = {"seed 00..1f", "RFC 8032 test 1 seed", "seed ff..ff"};
    for (int k = 0; k < 3; k++) {
        uint8_t seed[32], h[LM_HASH_BYTES];
        struct lm_keypair kp;
        key_seed(k, seed);
        if (lm_key_from_seed(seed, &kp) != 0 || lm_hash(LM_DOMAIN_KEYID, kp.pub.pk, 32, h) != 0)
            die("key");
        fputc('\n', f);
        strf(f, "vector", names[k]);
        hexf(f, "seed", seed, 32);
        hexf(f, "public", kp.pub.pk, 32);
        hexf(f, "key_id_hash", h, 32);
        u64xf(f, "key_id", kp.pub.key_id);
        if (k == 0) {
            char sp[4096], pp[4096], text[4096];
            snprintf(sp, sizeof sp, "%s/secret", tmpdir);
            snprintf(pp, sizeof pp, "%s/public", tmpdir);
            if (lm_key_write_secret(sp, &kp, NULL) || lm_key_write_public(pp, &kp.pub, NULL))
                die("key files");
            slurp(sp, text, sizeof text);
            strf(f, "secret_file", text);
            slurp(pp, text, sizeof text);
            strf(f, "public_file", text);
            unlink(sp);
            unlink(pp);
        }
    }
    fclose(f);
}

/* ---- chain.txt ---- */

#define CHAIN_N 10
static const uint8_t chain_seed[32] = "chain-vector-seed-0123456789abcd";

static void gen_chain(const char *tmpdir)
{
    FILE *f = open_out("chain.txt");
    fputs("# Laundromat test vectors: a hash chain. step(x) = BLAKE2b-256(\"laundromat/chain/v1\" "
          "|| x);\n"
          "# link k of a chain of length n is step^(n-k)(seed); link n = seed; link 0 = anchor.\n",
          f);
    fputs(common_header, f);
    fputs("# Fields: vector (str), seed (hex, 32), length (dec, n), link_0 .. link_<n> (hex, 32),\n"
          "#   chain_file (str): the exact bytes lm_chainfile_write writes for this chain.\n",
          f);
    fputc('\n', f);
    strf(f, "vector", "chain of 10 links");
    hexf(f, "seed", chain_seed, 32);
    decf(f, "length", CHAIN_N);
    struct lm_chain_secret cs;
    memcpy(cs.seed, chain_seed, 32);
    cs.length = CHAIN_N;
    for (uint32_t k = 0; k <= CHAIN_N; k++) {
        uint8_t l[LM_HASH_BYTES];
        char name[16];
        if (lm_chain_link(chain_seed, CHAIN_N, k, l) != 0)
            die("chain");
        if (k == 0)
            memcpy(cs.anchor, l, 32);
        snprintf(name, sizeof name, "link_%u", k);
        hexf(f, name, l, 32);
    }
    char path[4096], text[4096];
    snprintf(path, sizeof path, "%s/chain", tmpdir);
    if (lm_chainfile_write(path, &cs, NULL) != 0)
        die("chain file");
    slurp(path, text, sizeof text);
    unlink(path);
    strf(f, "chain_file", text);
    fclose(f);
}

/* ---- token.txt ---- */

static uint8_t tok_bytes[4][LM_TOKEN_SIZE];

static void gen_token(void)
{
    FILE *f = open_out("token.txt");
    fputs("# Laundromat test vectors: boot tokens (248 bytes, layout in docs/PROTOCOL.md), each\n"
          "# signed with lm_token_sign (Ed25519, deterministic) by the key from key_seed.\n",
          f);
    fputs(common_header, f);
    fputs("# Fields: vector (str), key_seed (hex, 32; the signing key, see keys.txt),\n"
          "#   key_id (u64x), id (hex, 16), issued, expires (dec, Unix seconds),\n"
          "#   scope_kind (dec: 1 host, 2 cluster), scope (str), payload_kind (dec: 1 image,\n"
          "#   2 checkpoint), vcpus, mem_mib (dec), commitment, anchor (hex, 32),\n"
          "#   chain_len, link_value_ms, prepaid_units (dec), mac (hex, 6), prefix (dec),\n"
          "#   ipv4 (hex, 4, network order), value_ms (dec, lm_token_value_ms),\n"
          "#   image (hex, optional: commitment = BLAKE2b-256(\"laundromat/image/v1\" || image)),\n"
          "#   signature (hex, 64; bytes 184..247), token (hex, 248: the whole encoding).\n",
          f);

    static const uint8_t image1[] = "\x7f"
                                    "ELF laundromat vector image 1";
    static const uint8_t image2[] = "\x7f"
                                    "ELF laundromat vector image 2, with a network identity";
    struct spec {
        const char *name, *comment;
        int key;
        struct lm_token t;
        const uint8_t *image;
        size_t image_len;
    } s[4];
    memset(s, 0, sizeof s);

    /* 1: host scope, image, paid by the 10-link chain of chain.txt, host assigns the network. */
    s[0].name = "host image, chain of chain.txt";
    s[0].comment = "# 2026-11-22T00:00:00Z to 01:00:00Z; no network identity (the host assigns)\n";
    s[0].key = 0;
    struct lm_token *t = &s[0].t;
    for (int i = 0; i < 16; i++)
        t->id[i] = (uint8_t)(0x10 + i);
    t->issued_at = 1795305600;
    t->expires_at = 1795305600 + 3600;
    t->scope_kind = LM_SCOPE_HOST;
    strcpy(t->scope, "evilman-01");
    t->payload_kind = LM_PAYLOAD_IMAGE;
    t->vcpus = 1;
    t->mem_mib = 64;
    s[0].image = image1;
    s[0].image_len = sizeof image1 - 1;
    lm_chain_link(chain_seed, CHAIN_N, 0, t->anchor);
    t->chain_len = CHAIN_N;
    t->link_value_ms = 1000;
    t->prepaid_units = 0;

    /* 2: host scope, image, network identity, prepaid plus a chain. */
    s[1].name = "host image, network identity, prepaid and chain";
    s[1].comment =
        "# 10.20.30.40/24, MAC 02:4c:4d:00:00:2a; chain anchor of a chain not listed here\n";
    s[1].key = 1;
    t = &s[1].t;
    for (int i = 0; i < 16; i++)
        t->id[i] = (uint8_t)(0xf0 - 7 * i);
    t->issued_at = 1795309200;
    t->expires_at = 1795309200 + 86400;
    t->scope_kind = LM_SCOPE_HOST;
    strcpy(t->scope, "node-7.example.org");
    t->payload_kind = LM_PAYLOAD_IMAGE;
    t->vcpus = 2;
    t->mem_mib = 512;
    s[1].image = image2;
    s[1].image_len = sizeof image2 - 1;
    for (int i = 0; i < 32; i++)
        t->anchor[i] = (uint8_t)(0x31 * i + 7);
    t->chain_len = 1000;
    t->link_value_ms = 500;
    t->prepaid_units = 60;
    memcpy(t->mac, "\x02\x4c\x4d\x00\x00\x2a", 6);
    t->prefix = 24;
    memcpy(t->ipv4, "\x0a\x14\x1e\x28", 4);

    /* 3: cluster scope, checkpoint, prepaid only. */
    s[2].name = "cluster checkpoint, prepaid only";
    s[2].comment = "# no chain (anchor all zero); commitment is the key of a checkpoint stream\n";
    s[2].key = 0;
    t = &s[2].t;
    for (int i = 0; i < 16; i++)
        t->id[i] = (uint8_t)(0x5a ^ (i * 0x11));
    t->issued_at = 1795305600;
    t->expires_at = 1795305600 + 7 * 86400;
    t->scope_kind = LM_SCOPE_CLUSTER;
    strcpy(t->scope, "eu-west-lab");
    t->payload_kind = LM_PAYLOAD_CHECKPOINT;
    t->vcpus = 4;
    t->mem_mib = 2048;
    for (int i = 0; i < 32; i++)
        t->commitment[i] = (uint8_t)(0xc0 + i);
    t->link_value_ms = 250;
    t->prepaid_units = 3600;

    /* 4: every field at its protocol maximum. */
    s[3].name = "host checkpoint, every field at its maximum";
    s[3].comment =
        "# 32-byte scope (no NUL), 256 vCPUs, 1 TiB, 400-day life, 2^24 links and prepaid\n"
        "# units, link value 2^32-1 ms, 192.0.2.1/32, MAC 02:00:5e:10:00:01\n";
    s[3].key = 2;
    t = &s[3].t;
    memset(t->id, 0xff, 16);
    t->issued_at = 1795305600;
    t->expires_at = 1795305600 + LM_MAX_LIFETIME_S;
    t->scope_kind = LM_SCOPE_HOST;
    strcpy(t->scope, "abcdefghijklmnopqrstuvwxyz-01234");
    t->payload_kind = LM_PAYLOAD_CHECKPOINT;
    t->vcpus = LM_MAX_VCPUS;
    t->mem_mib = LM_MAX_MEM_MIB;
    memset(t->commitment, 0xff, 32);
    memset(t->anchor, 0xee, 32);
    t->chain_len = LM_MAX_CHAIN_LEN;
    t->link_value_ms = UINT32_MAX;
    t->prepaid_units = LM_MAX_PREPAID;
    memcpy(t->mac, "\x02\x00\x5e\x10\x00\x01", 6);
    t->prefix = 32;
    memcpy(t->ipv4, "\xc0\x00\x02\x01", 4);

    for (int r = 0; r < 4; r++) {
        uint8_t seed[32];
        struct lm_keypair kp;
        struct lm_token d;
        t = &s[r].t;
        key_seed(s[r].key, seed);
        if (lm_key_from_seed(seed, &kp) != 0)
            die("key");
        t->key_id = kp.pub.key_id;
        if (s[r].image && lm_hash(LM_DOMAIN_IMAGE, s[r].image, s[r].image_len, t->commitment))
            die("image");
        uint8_t *b = tok_bytes[r];
        if (lm_token_encode(t, b) || lm_token_sign(b, kp.sk) || lm_token_decode(b, 248, &d, NULL))
            die("token");
        fputc('\n', f);
        fputs(s[r].comment, f);
        strf(f, "vector", s[r].name);
        hexf(f, "key_seed", seed, 32);
        u64xf(f, "key_id", t->key_id);
        hexf(f, "id", t->id, 16);
        decf(f, "issued", t->issued_at);
        decf(f, "expires", t->expires_at);
        decf(f, "scope_kind", t->scope_kind);
        strf(f, "scope", t->scope);
        decf(f, "payload_kind", t->payload_kind);
        decf(f, "vcpus", t->vcpus);
        decf(f, "mem_mib", t->mem_mib);
        if (s[r].image)
            hexf(f, "image", s[r].image, s[r].image_len);
        hexf(f, "commitment", t->commitment, 32);
        hexf(f, "anchor", t->anchor, 32);
        decf(f, "chain_len", t->chain_len);
        decf(f, "link_value_ms", t->link_value_ms);
        decf(f, "prepaid_units", t->prepaid_units);
        hexf(f, "mac", t->mac, 6);
        decf(f, "prefix", t->prefix);
        hexf(f, "ipv4", t->ipv4, 4);
        decf(f, "value_ms", lm_token_value_ms(t));
        hexf(f, "signature", b + LM_TOK_OFF_SIG, 64);
        hexf(f, "token", b, LM_TOKEN_SIZE);
    }
    fclose(f);
}

/* ---- wire.txt ---- */

/* The fields of a ping reply as wire.txt names them (the vouch, when present, follows). */
static void ping_reply_fields(FILE *f, const struct lm_ping_reply *pr)
{
    strf(f, "type", "ping_reply");
    decf(f, "status", pr->status);
    strf(f, "status_name", lm_status_name(pr->status));
    decf(f, "nonce", pr->nonce);
    hexf(f, "token_id", pr->token_id, 16);
    decf(f, "vm_id", pr->vm_id);
    decf(f, "server_time", pr->server_time);
    hexf(f, "loader_ip", pr->loader_ip, 4);
    decf(f, "loader_port", pr->loader_port);
    decf(f, "credit_ms", pr->credit_ms);
}

static void gen_wire(void)
{
    FILE *f = open_out("wire.txt");
    fputs("# Laundromat test vectors: UDP messages (layouts in docs/PROTOCOL.md, \"Wire "
          "messages\").\n",
          f);
    fputs(common_header, f);
    fputs("# Fields: vector (str), type (str: ping, ping_reply, pay, pay_reply), the message's\n"
          "# fields as named in include/laundromat/wire.h, and message (hex): its exact bytes.\n"
          "#   ping:       nonce (dec), token (hex, 248), has_payment (dec 0/1),\n"
          "#               pay_index (dec), pay_link (hex, 32) (both only with has_payment = 1)\n"
          "#   ping_reply: status (dec), status_name (str), nonce (dec), token_id (hex, 16),\n"
          "#               vm_id, server_time (dec), loader_ip (hex, 4), loader_port, credit_ms "
          "(dec);\n"
          "#               vouched (160 bytes): loader_pub (hex, 32), key_seed (hex, 32: the\n"
          "#               operator's key) and vouch_sig (hex, 64)\n"
          "#   pay:        token_id (hex, 16), index (dec), link (hex, 32)\n"
          "#   pay_reply:  status (dec), status_name (str), token_id (hex, 16),\n"
          "#               accepted_index, credit_ms, server_time (dec)\n"
          "# Tokens and links are those of token.txt (first token) and chain.txt.\n",
          f);
    uint8_t buf[LM_WIRE_MAX], l1[32], l3[32];
    struct lm_token t;
    if (lm_token_decode(tok_bytes[0], LM_TOKEN_SIZE, &t, NULL) != 0)
        die("token");
    lm_chain_link(chain_seed, CHAIN_N, 1, l1);
    lm_chain_link(chain_seed, CHAIN_N, 3, l3);

    struct lm_ping p;
    memset(&p, 0, sizeof p);
    p.nonce = 0x0123456789abcdefull;
    memcpy(p.token, tok_bytes[0], LM_TOKEN_SIZE);
    int n = lm_ping_encode(&p, buf, sizeof buf);
    fputs("\n# magic ping without payment (264 bytes)\n", f);
    strf(f, "vector", "ping");
    strf(f, "type", "ping");
    decf(f, "nonce", p.nonce);
    hexf(f, "token", p.token, LM_TOKEN_SIZE);
    decf(f, "has_payment", 0);
    hexf(f, "message", buf, (size_t)n);

    p.nonce = 0xfedcba9876543210ull;
    p.has_payment = 1;
    p.pay_index = 1;
    memcpy(p.pay_link, l1, 32);
    n = lm_ping_encode(&p, buf, sizeof buf);
    fputs("\n# magic ping with a first payment: link 1 of chain.txt (300 bytes)\n", f);
    strf(f, "vector", "ping with payment");
    strf(f, "type", "ping");
    decf(f, "nonce", p.nonce);
    hexf(f, "token", p.token, LM_TOKEN_SIZE);
    decf(f, "has_payment", 1);
    decf(f, "pay_index", p.pay_index);
    hexf(f, "pay_link", p.pay_link, 32);
    hexf(f, "message", buf, (size_t)n);

    struct lm_ping_reply pr;
    memset(&pr, 0, sizeof pr);
    pr.status = LM_OK;
    pr.nonce = 0xfedcba9876543210ull;
    memcpy(pr.token_id, t.id, 16);
    pr.vm_id = 42;
    pr.server_time = 1795305607;
    memcpy(pr.loader_ip, "\x0a\x00\x00\x05", 4);
    pr.loader_port = 7778;
    pr.credit_ms = 1000;
    n = lm_ping_reply_encode(&pr, buf, sizeof buf);
    fputs("\n# ping reply: admitted, loader at 10.0.0.5:7778, one link credited (64 bytes)\n", f);
    strf(f, "vector", "ping reply ok");
    ping_reply_fields(f, &pr);
    hexf(f, "message", buf, (size_t)n);

    /* The same reply for a checkpoint token: the loader's key, vouched for by the operator. */
    uint8_t vseed[32];
    struct lm_keypair vkp;
    key_seed(1, vseed);
    if (lm_key_from_seed(vseed, &vkp) != 0)
        die("vouch key");
    for (int i = 0; i < 32; i++)
        pr.loader_pub[i] = (uint8_t)(0xa0 + i);
    lm_vouch_sign(&pr, vkp.sk);
    n = lm_ping_reply_encode(&pr, buf, sizeof buf);
    fputs("\n# ping reply for a checkpoint token: the loader's X25519 key and the operator's\n"
          "# Ed25519 signature over lm_vouch_message() (160 bytes; key_seed: keys.txt key 1)\n", f);
    strf(f, "vector", "ping reply vouched");
    ping_reply_fields(f, &pr);
    hexf(f, "loader_pub", pr.loader_pub, 32);
    hexf(f, "key_seed", vseed, 32);
    hexf(f, "vouch_sig", pr.vouch_sig, 64);
    hexf(f, "message", buf, (size_t)n);

    memset(&pr, 0, sizeof pr);
    pr.status = LM_EXPIRED;
    pr.nonce = 0x0123456789abcdefull;
    memcpy(pr.token_id, t.id, 16);
    pr.server_time = 1795309200;
    n = lm_ping_reply_encode(&pr, buf, sizeof buf);
    fputs("\n# ping reply: refused, the token expired (server_time shows the host's clock)\n", f);
    strf(f, "vector", "ping reply expired");
    ping_reply_fields(f, &pr);
    hexf(f, "message", buf, (size_t)n);

    struct lm_pay py;
    memcpy(py.token_id, t.id, 16);
    py.index = 3;
    memcpy(py.link, l3, 32);
    n = lm_pay_encode(&py, buf, sizeof buf);
    fputs("\n# payment: link 3 of chain.txt (64 bytes)\n", f);
    strf(f, "vector", "payment");
    strf(f, "type", "pay");
    hexf(f, "token_id", py.token_id, 16);
    decf(f, "index", py.index);
    hexf(f, "link", py.link, 32);
    hexf(f, "message", buf, (size_t)n);

    struct lm_pay_reply pyr;
    memset(&pyr, 0, sizeof pyr);
    pyr.status = LM_OK;
    memcpy(pyr.token_id, t.id, 16);
    pyr.accepted_index = 3;
    pyr.credit_ms = 2500;
    pyr.server_time = 1795305609;
    n = lm_pay_reply_encode(&pyr, buf, sizeof buf);
    fputs("\n# payment reply: link 3 accepted (48 bytes)\n", f);
    strf(f, "vector", "payment reply ok");
    strf(f, "type", "pay_reply");
    decf(f, "status", pyr.status);
    strf(f, "status_name", lm_status_name(pyr.status));
    hexf(f, "token_id", pyr.token_id, 16);
    decf(f, "accepted_index", pyr.accepted_index);
    decf(f, "credit_ms", pyr.credit_ms);
    decf(f, "server_time", pyr.server_time);
    hexf(f, "message", buf, (size_t)n);

    pyr.status = LM_CHAIN_FORGED;
    pyr.credit_ms = 1900;
    pyr.server_time = 1795305610;
    n = lm_pay_reply_encode(&pyr, buf, sizeof buf);
    fputs("\n# payment reply: a forged link 4 refused; link 3 is still the newest accepted\n", f);
    strf(f, "vector", "payment reply forged");
    strf(f, "type", "pay_reply");
    decf(f, "status", pyr.status);
    strf(f, "status_name", lm_status_name(pyr.status));
    hexf(f, "token_id", pyr.token_id, 16);
    decf(f, "accepted_index", pyr.accepted_index);
    decf(f, "credit_ms", pyr.credit_ms);
    decf(f, "server_time", pyr.server_time);
    hexf(f, "message", buf, (size_t)n);
    fclose(f);
}

/* ---- migrate.txt ---- */

static uint8_t mig_m[32], mig_M[32], mig_l[32], mig_L[32];

static void mig_record(FILE *f, const char *comment, const char *name, uint8_t type, uint32_t count,
                       uint64_t arg, const uint8_t *body, size_t body_len)
{
    static uint8_t rec[LM_MIG_REC_MAX];
    lm_mig_rec_header(rec, type, count, arg);
    memcpy(rec + LM_MIG_REC_HDR, body, body_len);
    struct lm_mig_rec r;
    if (lm_mig_rec_parse(rec, LM_MIG_REC_HDR + body_len, &r, NULL) != 0)
        die("migration record");
    fputc('\n', f);
    fputs(comment, f);
    strf(f, "vector", name);
    strf(f, "type", "record");
    decf(f, "rec_type", type);
    decf(f, "count", count);
    decf(f, "arg", arg);
    hexf(f, "body", body, body_len);
    if (type == LM_MIG_END || type == LM_MIG_READY) {
        struct lm_mig_totals t;
        lm_mig_totals_decode(body, &t);
        decf(f, "data_pages", t.data_pages);
        decf(f, "zero_pages", t.zero_pages);
        decf(f, "records", t.records);
    }
    if (type == LM_MIG_GO) {
        struct lm_mig_go g;
        lm_mig_go_decode(body, &g);
        decf(f, "fw_in", g.fw_in);
        decf(f, "fw_out", g.fw_out);
        decf(f, "cow_faults", g.cow_faults);
        decf(f, "cow_ticks", g.cow_ticks);
    }
    hexf(f, "message", rec, LM_MIG_REC_HDR + body_len);
}

static void gen_migrate(void)
{
    FILE *f = open_out("migrate.txt");
    fputs(
        "# Laundromat test vectors: the self-migration stream (docs/PROTOCOL.md, \"Self-migration\n"
        "# stream\"; include/laundromat/migrate.h).\n",
        f);
    fputs(common_header, f);
    fputs(
        "# Fields by type (str):\n"
        "#   keys:    mig_secret, mig_pub, loader_secret, loader_pub (hex, 32: X25519 secrets m, "
        "l\n"
        "#            and public keys M, L), nonce (hex, 32), shared (hex, 32) = X25519(m, L),\n"
        "#            key_gl, key_lg (hex, 32): BLAKE2b-512(key = shared, "
        "\"laundromat/migrate/v1\"\n"
        "#            || M || L || nonce) split in two, guest -> loader first\n"
        "#   hello:   mig_pub, nonce (hex, 32), message (hex, 72)\n"
        "#   context: mem_size, kernel_start, kernel_end, resume_entry, clock_ns, wall_ns (dec),\n"
        "#            message (hex, 72)\n"
        "#   record:  rec_type, count, arg (dec), body (hex), message (hex: 16-byte header, "
        "body);\n"
        "#            END and READY also data_pages, zero_pages, records (dec); GO also fw_in,\n"
        "#            fw_out, cow_faults, cow_ticks (dec)\n"
        "#   stream:  key (hex, 32: key_gl above), header (hex, 24: the secretstream header, "
        "random\n"
        "#            when the stream was made), then per frame k: frame_k (hex: u32 "
        "little-endian\n"
        "#            ciphertext length, then the secretstream message), plain_k (hex: a record),\n"
        "#            tag_k (dec: 0 message, 3 final)\n",
        f);

    uint8_t nonce[LM_MIG_NONCE_BYTES], shared[32], gl[32], lg[32], gl2[32], lg2[32];
    for (int i = 0; i < 32; i++) {
        mig_m[i] = (uint8_t)(0x10 + i);
        mig_l[i] = (uint8_t)(0x80 + i);
        nonce[i] = (uint8_t)(0xf0 - i);
    }
    if (crypto_scalarmult_curve25519_base(mig_M, mig_m) != 0 ||
        crypto_scalarmult_curve25519_base(mig_L, mig_l) != 0 ||
        crypto_scalarmult_curve25519(shared, mig_m, mig_L) != 0 ||
        lm_mig_keys(mig_m, mig_L, mig_M, mig_L, nonce, gl, lg) != 0 ||
        lm_mig_keys(mig_l, mig_M, mig_M, mig_L, nonce, gl2, lg2) != 0 || memcmp(gl, gl2, 32) != 0 ||
        memcmp(lg, lg2, 32) != 0)
        die("migration keys");
    fputs("\n# m = 10..2f, l = 80..9f, nonce = f0 down to d1; both sides derive the same keys\n",
          f);
    strf(f, "vector", "session keys");
    strf(f, "type", "keys");
    hexf(f, "mig_secret", mig_m, 32);
    hexf(f, "mig_pub", mig_M, 32);
    hexf(f, "loader_secret", mig_l, 32);
    hexf(f, "loader_pub", mig_L, 32);
    hexf(f, "nonce", nonce, sizeof nonce);
    hexf(f, "shared", shared, 32);
    hexf(f, "key_gl", gl, 32);
    hexf(f, "key_lg", lg, 32);

    struct lm_mig_hello h;
    uint8_t hb[LM_MIG_HELLO_SIZE];
    memcpy(h.mig_pub, mig_M, 32);
    memcpy(h.nonce, nonce, sizeof nonce);
    lm_mig_hello_encode(&h, hb);
    fputs("\n# the guest's hello for these keys (72 bytes)\n", f);
    strf(f, "vector", "hello");
    strf(f, "type", "hello");
    hexf(f, "mig_pub", h.mig_pub, 32);
    hexf(f, "nonce", h.nonce, 32);
    hexf(f, "message", hb, sizeof hb);

    struct lm_mig_context c = {.mem_size = 8 * LM_MIG_PAGE,
                               .kernel_start = 0x1000,
                               .kernel_end = 0x5000,
                               .resume_entry = 0x2a40,
                               .clock_ns = 987654321012ull,
                               .wall_ns = 1795315750123456789ull};
    uint8_t cb[LM_MIG_CONTEXT_SIZE];
    lm_mig_context_encode(&c, cb);
    fputs("\n# a context: 32 KiB of RAM, the kernel at [0x1000, 0x5000), resuming at 0x2a40\n", f);
    strf(f, "vector", "context");
    strf(f, "type", "context");
    decf(f, "mem_size", c.mem_size);
    decf(f, "kernel_start", c.kernel_start);
    decf(f, "kernel_end", c.kernel_end);
    decf(f, "resume_entry", c.resume_entry);
    decf(f, "clock_ns", c.clock_ns);
    decf(f, "wall_ns", c.wall_ns);
    decf(f, "platform", c.platform);
    hexf(f, "message", cb, sizeof cb);

    /* The records of a stream over that RAM: page 1 with contents, the rest zero. */
    static uint8_t page[LM_MIG_PAGE];
    for (size_t i = 0; i < sizeof page; i++)
        page[i] = (uint8_t)(i * 7 + 3);
    struct lm_mig_totals t = {1, 7, 4};
    uint8_t tb[LM_MIG_TOTALS_SIZE], gb[LM_MIG_GO_SIZE];
    lm_mig_totals_encode(&t, tb);
    struct lm_mig_go g = {3, 5, 42, 123456789};
    lm_mig_go_encode(&g, gb);
    static const char err[] = "PAGE_RANGE record 1: pages [9, +1) outside 8 pages of RAM";
    mig_record(f, "# round 0 will send 8 pages\n", "ROUND 0", LM_MIG_ROUND, 8, 0, NULL, 0);
    mig_record(f, "# pages 0, 2..7 are zero\n", "ZERO 0", LM_MIG_ZERO, 1, 0, NULL, 0);
    mig_record(f, "", "ZERO 2..7", LM_MIG_ZERO, 6, 2, NULL, 0);
    mig_record(f, "# page 1: byte i = 7i + 3 mod 256\n", "PAGES 1", LM_MIG_PAGES, 1, 1, page,
               sizeof page);
    static uint8_t zpage[LM_MIG_PAGE];
    size_t zn = ZSTD_compress(zpage, sizeof zpage, page, sizeof page, 1);
    if (ZSTD_isError(zn) || zn >= sizeof page)
        die("zstd");
    mig_record(f, "# page 1 again, zstd-compressed (--zstd): inflates to exactly the 4096 bytes above\n",
               "ZPAGES 1", LM_MIG_ZPAGES, 1, 1, zpage, zn);
    mig_record(f, "# the context above\n", "CONTEXT", LM_MIG_CONTEXT, 0, 0, cb, sizeof cb);
    mig_record(f, "# 1 data page, 7 zero pages, 4 records before END\n", "END", LM_MIG_END, 0, 0,
               tb, sizeof tb);
    mig_record(f, "# the loader's answer: the same totals\n", "READY", LM_MIG_READY, 0, 0, tb,
               sizeof tb);
    mig_record(f, "", "GO", LM_MIG_GO, 0, 0, gb, sizeof gb);
    mig_record(f, "# a loader's refusal: count = the status (PAGE_RANGE), the message its text\n",
               "ERROR", LM_MIG_ERROR, LM_PAGE_RANGE, 0, (const uint8_t *)err, sizeof err - 1);

    /* The same stream, ZERO and PAGES left out, through the guest's secretstream. */
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t hdr[LM_MIG_SS_HEADER_BYTES];
    if (crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, gl) != 0)
        die("secretstream");
    fputs("\n# ROUND 0, CONTEXT, END and GO (tagged final) as the guest sends them under key_gl\n",
          f);
    strf(f, "vector", "stream");
    strf(f, "type", "stream");
    hexf(f, "key", gl, 32);
    hexf(f, "header", hdr, sizeof hdr);
    struct {
        uint8_t type;
        uint32_t count;
        const uint8_t *body;
        size_t len;
    } fr[] = {{LM_MIG_ROUND, 8, NULL, 0},
              {LM_MIG_CONTEXT, 0, cb, sizeof cb},
              {LM_MIG_END, 0, tb, sizeof tb},
              {LM_MIG_GO, 0, gb, sizeof gb}};
    for (int k = 0; k < 4; k++) {
        uint8_t plain[LM_MIG_REC_HDR + 128], out[4 + sizeof plain + LM_MIG_SS_ABYTES];
        unsigned long long clen;
        uint8_t tag = k == 3 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
        size_t n = LM_MIG_REC_HDR + fr[k].len;
        lm_mig_rec_header(plain, fr[k].type, fr[k].count, 0);
        memcpy(plain + LM_MIG_REC_HDR, fr[k].body, fr[k].len);
        if (crypto_secretstream_xchacha20poly1305_push(&st, out + 4, &clen, plain, n, NULL, 0,
                                                       tag) != 0)
            die("secretstream push");
        for (int i = 0; i < 4; i++)
            out[i] = (uint8_t)(clen >> (8 * i));
        char name[16];
        snprintf(name, sizeof name, "frame_%d", k);
        hexf(f, name, out, 4 + (size_t)clen);
        snprintf(name, sizeof name, "plain_%d", k);
        hexf(f, name, plain, n);
        snprintf(name, sizeof name, "tag_%d", k);
        decf(f, name, tag);
    }
    fclose(f);
}

/* ---- guestctl.txt ---- */

static void gen_guestctl(void)
{
    FILE *f = open_out("guestctl.txt");
    fputs("# Laundromat test vectors: the owner's control channel (docs/PROTOCOL.md, \"Owner "
          "control\n"
          "# channel\"; include/laundromat/guestctl.h).\n",
          f);
    fputs(common_header, f);
    fputs(
        "# Fields by type (str):\n"
        "#   ctl_key: owner_seed (hex, 32; keys.txt's first key), owner_pub (hex, 32), ctl_key\n"
        "#            (hex, 32) = BLAKE2b-256(key = owner_seed, \"laundromat/guestctl/v1\" "
        "\"ctl-key\")\n"
        "#   migrate: the MIGRATE body: ip (hex, 4), port, max_rounds (dec), loader_pub,\n"
        "#            mig_secret (hex, 32; migrate.txt's L and m), pay_token (hex, 16), pay_seed\n"
        "#            (hex, 32), pay_len (dec), body (hex, 136)\n"
        "#   command: owner_seed, ctl_key (hex, 32), cmd (dec), time (dec, Unix ns), nonce (hex,\n"
        "#            16), body (hex: the plaintext), body_key (hex, 32) = BLAKE2b-256(key = "
        "ctl_key,\n"
        "#            \"laundromat/guestctl/v1\" \"cmd\" || header), message (hex: header, body\n"
        "#            encrypted with ChaCha20 (64-bit nonce 0, counter from 0), Ed25519 "
        "signature)\n"
        "#   status:  the STATUS reply body: phase, round, pages_sent, pages_round, bytes,\n"
        "#            elapsed_ns, dirty_rate, ram_pages, migrations, uptime_ns, total_ns,\n"
        "#            downtime_ns, last_bytes, data_pages, zero_pages, last_ram_pages, rounds,\n"
        "#            final_pages, cow_faults, fw_in, fw_out, status (dec), error (str),\n"
        "#            body (hex, 264)\n"
        "#   reply:   ctl_key (hex, 32), cmd (dec), nonce (hex, 16), status (dec), status_name\n"
        "#            (str), body (hex), mac (hex, 32) = BLAKE2b-256(key = ctl_key,\n"
        "#            \"laundromat/guestctl/v1\" \"reply\" || header || body), message (hex)\n",
        f);
    uint8_t seed[32], ctl[32];
    struct lm_keypair kp;
    key_seed(0, seed);
    if (lm_key_from_seed(seed, &kp) != 0)
        die("owner key");
    lm_gc_ctl_key(seed, ctl);
    fputs("\n# the control key of keys.txt's first key\n", f);
    strf(f, "vector", "control key");
    strf(f, "type", "ctl_key");
    hexf(f, "owner_seed", seed, 32);
    hexf(f, "owner_pub", kp.pub.pk, 32);
    hexf(f, "ctl_key", ctl, 32);

    struct lm_gc_migrate m;
    memset(&m, 0, sizeof m);
    memcpy(m.ip, "\x0a\x00\x00\x07", 4);
    m.port = 7700;
    m.max_rounds = 30;
    memcpy(m.loader_pub, mig_L, 32);
    memcpy(m.mig_secret, mig_m, 32);
    for (int i = 0; i < 16; i++)
        m.pay_token[i] = (uint8_t)(0x10 + i);
    memcpy(m.pay_seed, chain_seed, 32);
    m.pay_len = CHAIN_N;
    uint8_t mb[LM_GC_MIGRATE_SIZE];
    lm_gc_migrate_encode(&m, mb);
    struct lm_gc_migrate back;
    if (lm_gc_migrate_decode(mb, sizeof mb, &back, NULL) != 0)
        die("migrate body");
    fputs("\n# migrate to the loader at 10.0.0.7:7700 (migrate.txt's L) with migrate.txt's m, at\n"
          "# most 30 rounds, paying the new host with chain.txt's chain (token.txt's first id)\n",
          f);
    strf(f, "vector", "migrate body");
    strf(f, "type", "migrate");
    hexf(f, "ip", m.ip, 4);
    decf(f, "port", m.port);
    decf(f, "max_rounds", m.max_rounds);
    hexf(f, "loader_pub", m.loader_pub, 32);
    hexf(f, "mig_secret", m.mig_secret, 32);
    hexf(f, "pay_token", m.pay_token, 16);
    hexf(f, "pay_seed", m.pay_seed, 32);
    decf(f, "pay_len", m.pay_len);
    hexf(f, "body", mb, sizeof mb);

    static const struct {
        const char *name, *comment;
        uint16_t cmd;
        uint64_t time;
        int with_body;
    } cmds[] = {
        {"MIGRATE", "# MIGRATE with the body above, at 2026-11-22T02:49:10Z\n", LM_GC_MIGRATE,
         1795315750000000000ull, 1},
        {"STATUS", "# STATUS, no body, one second later\n", LM_GC_STATUS, 1795315751000000000ull,
         0},
    };
    uint8_t nonces[2][LM_GC_NONCE_BYTES];
    for (int k = 0; k < 2; k++) {
        uint8_t out[LM_GC_CMD_MAX], bk[32], in[64];
        for (int i = 0; i < LM_GC_NONCE_BYTES; i++)
            nonces[k][i] = (uint8_t)(16 * k + i);
        size_t blen = cmds[k].with_body ? sizeof mb : 0;
        size_t n = lm_gc_cmd_seal(cmds[k].cmd, cmds[k].time, nonces[k], mb, blen, kp.sk, ctl, out);
        memcpy(in, "laundromat/guestctl/v1cmd", 25);
        memcpy(in + 25, out, LM_GC_HDR_SIZE);
        struct lm_gc_cmd c;
        uint8_t body[LM_GC_BODY_MAX];
        if (n == 0 || crypto_generichash(bk, 32, in, 25 + LM_GC_HDR_SIZE, ctl, 32) != 0 ||
            lm_gc_cmd_open(out, n, kp.pub.pk, ctl, cmds[k].time, &c, body, NULL) != 0 ||
            memcmp(body, mb, blen) != 0)
            die("command");
        fputc('\n', f);
        fputs(cmds[k].comment, f);
        strf(f, "vector", cmds[k].name);
        strf(f, "type", "command");
        hexf(f, "owner_seed", seed, 32);
        hexf(f, "ctl_key", ctl, 32);
        decf(f, "cmd", cmds[k].cmd);
        decf(f, "time", cmds[k].time);
        hexf(f, "nonce", nonces[k], LM_GC_NONCE_BYTES);
        hexf(f, "body", mb, blen);
        hexf(f, "body_key", bk, 32);
        hexf(f, "message", out, n);
    }

    struct lm_gc_status s;
    memset(&s, 0, sizeof s);
    s.phase = LM_GC_PHASE_PRECOPY;
    s.round = 2;
    s.pages_sent = 5000;
    s.pages_round = 1200;
    s.bytes = 20480000;
    s.elapsed_ns = 1500000000;
    s.dirty_rate = 800;
    s.ram_pages = 4096;
    s.migrations = 1;
    s.uptime_ns = 3600000000000ull;
    s.last = (struct lm_gc_figures){.total_ns = 2500000000ull,
                                    .downtime_ns = 42000000,
                                    .bytes = 16777216,
                                    .data_pages = 4000,
                                    .zero_pages = 96,
                                    .ram_pages = 4096,
                                    .rounds = 3,
                                    .final_pages = 120,
                                    .cow_faults = 7,
                                    .fw_in = 2,
                                    .fw_out = 1};
    s.status = LM_MIG_TIMEOUT;
    strcpy(s.error, "loader 10.0.0.9:7700 silent for 5 s");
    uint8_t sb[LM_GC_STATUS_SIZE];
    lm_gc_status_encode(&s, sb);
    fputs("\n# a guest in its second migration, round 2; the first one failed\n", f);
    strf(f, "vector", "status body");
    strf(f, "type", "status");
    decf(f, "phase", s.phase);
    decf(f, "round", s.round);
    decf(f, "pages_sent", s.pages_sent);
    decf(f, "pages_round", s.pages_round);
    decf(f, "bytes", s.bytes);
    decf(f, "elapsed_ns", s.elapsed_ns);
    decf(f, "dirty_rate", s.dirty_rate);
    decf(f, "ram_pages", s.ram_pages);
    decf(f, "migrations", s.migrations);
    decf(f, "uptime_ns", s.uptime_ns);
    decf(f, "total_ns", s.last.total_ns);
    decf(f, "downtime_ns", s.last.downtime_ns);
    decf(f, "last_bytes", s.last.bytes);
    decf(f, "data_pages", s.last.data_pages);
    decf(f, "zero_pages", s.last.zero_pages);
    decf(f, "last_ram_pages", s.last.ram_pages);
    decf(f, "rounds", s.last.rounds);
    decf(f, "final_pages", s.last.final_pages);
    decf(f, "cow_faults", s.last.cow_faults);
    decf(f, "fw_in", s.last.fw_in);
    decf(f, "fw_out", s.last.fw_out);
    decf(f, "status", s.status);
    strf(f, "error", s.error);
    hexf(f, "body", sb, sizeof sb);

    static const struct {
        const char *name, *comment;
        int k;
        uint16_t status;
    } rs[] = {
        {"reply to MIGRATE", "# the MIGRATE command's answer: started (0), with the status body\n",
         0, 0},
        {"reply to STATUS, busy", "# the STATUS command's answer, status BUSY, no body\n", 1,
         LM_BUSY},
    };
    for (int j = 0; j < 2; j++) {
        uint8_t out[LM_GC_REPLY_MAX];
        size_t blen = rs[j].k == 0 ? sizeof sb : 0;
        size_t n =
            lm_gc_reply_seal(cmds[rs[j].k].cmd, nonces[rs[j].k], rs[j].status, sb, blen, ctl, out);
        uint16_t st;
        const uint8_t *rb;
        size_t rl;
        if (n == 0 || lm_gc_reply_open(out, n, cmds[rs[j].k].cmd, nonces[rs[j].k], ctl, &st, &rb,
                                       &rl, NULL) != 0)
            die("reply");
        fputc('\n', f);
        fputs(rs[j].comment, f);
        strf(f, "vector", rs[j].name);
        strf(f, "type", "reply");
        hexf(f, "ctl_key", ctl, 32);
        decf(f, "cmd", cmds[rs[j].k].cmd);
        hexf(f, "nonce", nonces[rs[j].k], LM_GC_NONCE_BYTES);
        decf(f, "status", rs[j].status);
        strf(f, "status_name", lm_status_name(rs[j].status));
        hexf(f, "body", sb, blen);
        hexf(f, "mac", out + n - LM_GC_MAC_BYTES, LM_GC_MAC_BYTES);
        hexf(f, "message", out, n);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_vectors OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    char tmpdir[] = "/tmp/gen_vectors.XXXXXX";
    if (!mkdtemp(tmpdir))
        die("mkdtemp");
    gen_hash();
    gen_keys(tmpdir);
    gen_chain(tmpdir);
    gen_token();
    gen_wire();
    gen_migrate();
    gen_guestctl();
    rmdir(tmpdir);
    return 0;
}
