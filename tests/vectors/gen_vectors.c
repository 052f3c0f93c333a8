/*
 * GENERATOR of the .txt files in tests/vectors/, kept for reference and for adding vectors.
 * Built by nothing: the committed .txt files are the reference, and tests/unit/test_vectors.c
 * checks the library against them. Regenerating changes the reference; do it only for a
 * deliberate protocol change, and review the diff. By hand, from the top of the tree:
 *   make build/lib/liblaundromat.a
 *   cc -std=c11 -Wall -Wextra -D_GNU_SOURCE -Iinclude tests/vectors/gen_vectors.c \
 *      build/lib/liblaundromat.a -lsodium -o /tmp/gen_vectors && /tmp/gen_vectors /tmp/vec
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/hash.h"
#include "laundromat/keys.h"
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
          "(dec)\n"
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
    strf(f, "type", "ping_reply");
    decf(f, "status", pr.status);
    strf(f, "status_name", lm_status_name(pr.status));
    decf(f, "nonce", pr.nonce);
    hexf(f, "token_id", pr.token_id, 16);
    decf(f, "vm_id", pr.vm_id);
    decf(f, "server_time", pr.server_time);
    hexf(f, "loader_ip", pr.loader_ip, 4);
    decf(f, "loader_port", pr.loader_port);
    decf(f, "credit_ms", pr.credit_ms);
    hexf(f, "message", buf, (size_t)n);

    memset(&pr, 0, sizeof pr);
    pr.status = LM_EXPIRED;
    pr.nonce = 0x0123456789abcdefull;
    memcpy(pr.token_id, t.id, 16);
    pr.server_time = 1795309200;
    n = lm_ping_reply_encode(&pr, buf, sizeof buf);
    fputs("\n# ping reply: refused, the token expired (server_time shows the host's clock)\n", f);
    strf(f, "vector", "ping reply expired");
    strf(f, "type", "ping_reply");
    decf(f, "status", pr.status);
    strf(f, "status_name", lm_status_name(pr.status));
    decf(f, "nonce", pr.nonce);
    hexf(f, "token_id", pr.token_id, 16);
    decf(f, "vm_id", pr.vm_id);
    decf(f, "server_time", pr.server_time);
    hexf(f, "loader_ip", pr.loader_ip, 4);
    decf(f, "loader_port", pr.loader_port);
    decf(f, "credit_ms", pr.credit_ms);
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
    rmdir(tmpdir);
    return 0;
}
