/* Checks hashes, keys, key files, chains, tokens, wire messages, the migration stream and the
 * control channel against tests/vectors/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first; a separate block keeps clang-format off it. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/guestctl.h"
#include "laundromat/hash.h"
#include "laundromat/keys.h"
#include "laundromat/migrate.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "laundromat/wire.h"

/* ---- the vector file format (docs/PROTOCOL.md, "Test vectors") ---- */

#define MAX_FIELDS 64
#define MAX_RECORDS 128

struct field {
    const char *name, *value;
    int used;
};

struct rec {
    const char *file;
    int line;           /* of the record's first field */
    const char *vector; /* its "vector" field, for messages */
    struct field f[MAX_FIELDS];
    size_t n;
};

struct vfile {
    char *text;
    struct rec r[MAX_RECORDS];
    size_t n;
};

static struct vfile vf; /* the file the running test reads; freed by the teardown */
static char tmpdir[64]; /* a mkdtemp directory of the running test, removed by the teardown */

static void fail_at(const struct rec *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_at(const struct rec *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("tests/vectors/%s:%d (vector %s): %s", r->file, r->line, r->vector ? r->vector : "?",
             msg);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
        s[--l] = '\0';
    return s;
}

/* Reads $LM_TOP/tests/vectors/<name> into vf; fails the test if it cannot. */
static void load(const char *name)
{
    const char *top = getenv("LM_TOP");
    if (!top || !*top)
        fail_msg("LM_TOP is not set: run with LM_TOP=<top of the source tree>, which holds "
                 "tests/vectors/%s",
                 name);
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/%s", top, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("%s: cannot open the vector file: %s", path, strerror(errno));
    free(vf.text);
    memset(&vf, 0, sizeof vf);
    size_t cap = 1 << 16, len = 0;
    vf.text = malloc(cap);
    assert_non_null(vf.text);
    size_t got;
    while ((got = fread(vf.text + len, 1, cap - 1 - len, fp)) > 0) {
        len += got;
        if (len == cap - 1) {
            cap *= 2;
            vf.text = realloc(vf.text, cap);
            assert_non_null(vf.text);
        }
    }
    int err = ferror(fp);
    fclose(fp);
    if (err)
        fail_msg("%s: read error", path);
    vf.text[len] = '\0';
    if (strlen(vf.text) != len)
        fail_msg("%s: holds a NUL byte", path);

    struct rec *cur = NULL;
    int lineno = 0;
    for (char *line = vf.text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *s = trim(line);
        if (*s == '#')
            continue;
        if (*s == '\0') {
            cur = NULL;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || eq == s)
            fail_msg("%s:%d: expected \"name = value\", got \"%.60s\"", path, lineno, s);
        if (!cur) {
            if (vf.n == MAX_RECORDS)
                fail_msg("%s:%d: more than %d records", path, lineno, MAX_RECORDS);
            cur = &vf.r[vf.n++];
            cur->file = name;
            cur->line = lineno;
        }
        if (cur->n == MAX_FIELDS)
            fail_msg("%s:%d: more than %d fields in one record", path, lineno, MAX_FIELDS);
        *eq = '\0';
        struct field *f = &cur->f[cur->n++];
        f->name = trim(s);
        f->value = trim(eq + 1);
        for (size_t i = 0; i + 1 < cur->n; i++)
            if (strcmp(cur->f[i].name, f->name) == 0)
                fail_msg("%s:%d: field \"%s\" given twice in one record", path, lineno, f->name);
        if (strcmp(f->name, "vector") == 0)
            cur->vector = f->value;
    }
    if (vf.n == 0)
        fail_msg("%s: no records", path);
}

static struct field *find(struct rec *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].name, name) == 0)
            return &r->f[i];
    return NULL;
}

static int has(struct rec *r, const char *name)
{
    return find(r, name) != NULL;
}

static const char *get(struct rec *r, const char *name)
{
    struct field *f = find(r, name);
    if (!f)
        fail_at(r, "no field \"%s\"", name);
    f->used = 1;
    return f->value;
}

/* Hex of variable length (at most cap bytes); returns the length. */
static size_t get_hexv(struct rec *r, const char *name, uint8_t *out, size_t cap)
{
    const char *v = get(r, name);
    size_t l = strlen(v);
    if (l % 2 || l / 2 > cap || lm_hex_decode(v, out, l / 2) != 0)
        fail_at(r, "field \"%s\": expected at most %zu bytes of hex, got \"%.40s\"", name, cap, v);
    return l / 2;
}

static void get_hex(struct rec *r, const char *name, uint8_t *out, size_t n)
{
    if (get_hexv(r, name, out, n) != n)
        fail_at(r, "field \"%s\": expected exactly %zu bytes of hex", name, n);
}

static uint64_t get_dec(struct rec *r, const char *name, uint64_t max)
{
    const char *v = get(r, name);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] < '0' || v[0] > '9' || x > max)
        fail_at(r, "field \"%s\": expected a decimal number up to %llu, got \"%s\"", name,
                (unsigned long long)max, v);
    return x;
}

static uint64_t get_u64x(struct rec *r, const char *name)
{
    uint8_t b[8];
    get_hex(r, name, b, 8);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | b[i];
    return x;
}

/* A "double-quoted" string with the escapes \\, \" and \n, into out (capacity cap). */
static void get_str(struct rec *r, const char *name, char *out, size_t cap)
{
    const char *v = get(r, name);
    size_t l = strlen(v), o = 0;
    if (l < 2 || v[0] != '"' || v[l - 1] != '"')
        fail_at(r, "field \"%s\": expected a \"double-quoted\" string", name);
    for (size_t i = 1; i + 1 < l; i++) {
        char c = v[i];
        if (c == '"')
            fail_at(r, "field \"%s\": unescaped quote inside the string", name);
        if (c == '\\') {
            c = v[++i];
            if (i + 1 >= l || (c != '\\' && c != '"' && c != 'n'))
                fail_at(r, "field \"%s\": bad escape in the string", name);
            if (c == 'n')
                c = '\n';
        }
        if (o + 1 >= cap)
            fail_at(r, "field \"%s\": longer than %zu bytes", name, cap - 1);
        out[o++] = c;
    }
    out[o] = '\0';
}

/* Every field of a record must have been checked: a misspelled one is an error. */
static void done(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->f[i].used)
            fail_at(r, "field \"%s\" is not checked by this test (misspelled?)", r->f[i].name);
}

static void eq_bytes(struct rec *r, const char *what, const uint8_t *got, const uint8_t *want,
                     size_t n)
{
    if (memcmp(got, want, n) == 0)
        return;
    size_t i = 0;
    while (got[i] == want[i])
        i++;
    char g[2 * 32 + 1], w[2 * 32 + 1];
    size_t m = n - i < 32 ? n - i : 32;
    lm_hex_encode(got + i, m, g);
    lm_hex_encode(want + i, m, w);
    fail_at(r, "%s: differs from byte %zu of %zu: code gives %s..., vector has %s...", what, i, n,
            g, w);
}

static void eq_u64(struct rec *r, const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        fail_at(r, "%s: code gives %llu, vector has %llu", what, (unsigned long long)got,
                (unsigned long long)want);
}

static void eq_rc(struct rec *r, const char *what, int got, int want)
{
    if (got != want)
        fail_at(r, "%s: returned %d (%s), expected %d (%s)", what, got,
                got ? lm_status_name(got) : "OK", want, want ? lm_status_name(want) : "OK");
}

static size_t read_all(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    assert_true(n >= 0);
    buf[n] = '\0';
    return (size_t)n;
}

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/lm_test_vectors.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Removes the files a test may have left in tmpdir, and tmpdir; 0 or -1. */
static int cleanup_tmp(void)
{
    if (!tmpdir[0])
        return 0;
    static const char *const names[] = {"secret", "public", "chain", "vector-secret"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tmp_path(p, sizeof p, names[i]);
        unlink(p);
    }
    int rc = rmdir(tmpdir);
    if (rc != 0)
        print_error("cannot remove %s: %s\n", tmpdir, strerror(errno));
    tmpdir[0] = '\0';
    return rc ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    free(vf.text);
    memset(&vf, 0, sizeof vf);
    return cleanup_tmp();
}

/* ---- hash.txt ---- */

static void test_hash(void **state)
{
    (void)state;
    load("hash.txt");
    int seen[3] = {0, 0, 0};
    static const char *const domains[] = {LM_DOMAIN_CHAIN, LM_DOMAIN_KEYID, LM_DOMAIN_IMAGE};
    for (size_t i = 0; i < vf.n; i++) {
        struct rec *r = &vf.r[i];
        char domain[128];
        uint8_t data[4096], want[LM_HASH_BYTES], got[LM_HASH_BYTES];
        get(r, "vector");
        get_str(r, "domain", domain, sizeof domain);
        size_t n = get_hexv(r, "data", data, sizeof data);
        get_hex(r, "hash", want, sizeof want);
        done(r);
        for (int d = 0; d < 3; d++)
            seen[d] += strcmp(domain, domains[d]) == 0;
        eq_rc(r, "lm_hash", lm_hash(domain, data, n, got), 0);
        eq_bytes(r, "hash", got, want, LM_HASH_BYTES);
    }
    for (int d = 0; d < 3; d++)
        if (seen[d] < 4)
            fail_msg("hash.txt: %d vectors for domain \"%s\", expected at least 4", seen[d],
                     domains[d]);
}

/* ---- keys.txt ---- */

static void check_key_files(struct rec *r, const struct lm_keypair *kp)
{
    char want[1024], got[1024], sp[128], pp[128], vp[128];
    struct lm_diag d;
    struct stat st;
    make_tmpdir();
    tmp_path(sp, sizeof sp, "secret");
    tmp_path(pp, sizeof pp, "public");
    tmp_path(vp, sizeof vp, "vector-secret");

    get_str(r, "secret_file", want, sizeof want);
    eq_rc(r, "lm_key_write_secret", lm_key_write_secret(sp, kp, &d), 0);
    size_t n = read_all(sp, got, sizeof got);
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        fail_at(r, "secret key file differs:\n--- written\n%s--- vector\n%s", got, want);
    assert_int_equal(stat(sp, &st), 0);
    if ((st.st_mode & 0777) != 0600)
        fail_at(r, "secret key file has mode %04o, expected 0600", st.st_mode & 0777u);
    eq_rc(r, "lm_key_write_secret over an existing file", lm_key_write_secret(sp, kp, &d), -LM_IO);
    n = read_all(sp, got, sizeof got);
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        fail_at(r, "refused overwrite changed the secret key file");

    get_str(r, "public_file", want, sizeof want);
    eq_rc(r, "lm_key_write_public", lm_key_write_public(pp, &kp->pub, &d), 0);
    n = read_all(pp, got, sizeof got);
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        fail_at(r, "public key file differs:\n--- written\n%s--- vector\n%s", got, want);
    eq_rc(r, "lm_key_write_public over an existing file", lm_key_write_public(pp, &kp->pub, &d),
          -LM_IO);

    /* The vector's own secret key text loads back into the same key. */
    get_str(r, "secret_file", want, sizeof want);
    int fd = open(vp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, want, strlen(want)), (ssize_t)strlen(want));
    assert_int_equal(close(fd), 0);
    struct lm_keypair back;
    struct lm_pubkey pub;
    eq_rc(r, "lm_key_load_secret of the vector's text", lm_key_load_secret(vp, &back, &d), 0);
    eq_bytes(r, "loaded secret key's public key", back.pub.pk, kp->pub.pk, 32);
    eq_bytes(r, "loaded secret key's expanded key", back.sk, kp->sk, 64);
    eq_u64(r, "loaded secret key's key id", back.pub.key_id, kp->pub.key_id);
    eq_rc(r, "lm_key_load_public of the public key file", lm_key_load_public(pp, &pub, &d), 0);
    eq_bytes(r, "loaded public key", pub.pk, kp->pub.pk, 32);
    eq_u64(r, "loaded public key's key id", pub.key_id, kp->pub.key_id);
    assert_int_equal(chmod(vp, 0640), 0);
    eq_rc(r, "lm_key_load_secret of a group-readable file", lm_key_load_secret(vp, &back, &d),
          -LM_KEY_PERMS);

    assert_int_equal(cleanup_tmp(), 0);
}

static void test_keys(void **state)
{
    (void)state;
    load("keys.txt");
    size_t nrec = vf.n, with_files = 0;
    for (size_t i = 0; i < nrec; i++) {
        struct rec *r = &vf.r[i];
        uint8_t seed[32], pk[32], idhash[LM_HASH_BYTES], h[LM_HASH_BYTES];
        get(r, "vector");
        get_hex(r, "seed", seed, 32);
        get_hex(r, "public", pk, 32);
        get_hex(r, "key_id_hash", idhash, sizeof idhash);
        uint64_t id = get_u64x(r, "key_id");

        struct lm_keypair kp;
        eq_rc(r, "lm_key_from_seed", lm_key_from_seed(seed, &kp), 0);
        eq_bytes(r, "public key from seed", kp.pub.pk, pk, 32);
        eq_bytes(r, "libsodium secret key = seed || public key", kp.sk, seed, 32);
        eq_bytes(r, "libsodium secret key = seed || public key", kp.sk + 32, pk, 32);
        eq_bytes(r, "lm_keypair seed", kp.seed, seed, 32);
        eq_rc(r, "lm_hash(keyid)", lm_hash(LM_DOMAIN_KEYID, pk, 32, h), 0);
        eq_bytes(r, "key_id_hash", h, idhash, LM_HASH_BYTES);
        eq_u64(r, "lm_key_id", lm_key_id(pk), id);
        eq_u64(r, "lm_key_from_seed key id", kp.pub.key_id, id);
        if (has(r, "secret_file") || has(r, "public_file")) {
            check_key_files(r, &kp);
            with_files++;
        }
        done(r);
    }
    if (nrec < 2 || with_files < 1)
        fail_msg("keys.txt: %zu keys, %zu with key file texts; expected at least 2 and 1", nrec,
                 with_files);
}

/* ---- chain.txt ---- */

#define MAX_CHAIN 64

static void test_chain(void **state)
{
    (void)state;
    load("chain.txt");
    for (size_t i = 0; i < vf.n; i++) {
        struct rec *r = &vf.r[i];
        uint8_t seed[32], link[MAX_CHAIN + 1][LM_HASH_BYTES], got[LM_HASH_BYTES];
        struct lm_chain_state st;
        struct lm_diag d;
        get(r, "vector");
        get_hex(r, "seed", seed, 32);
        uint32_t n = (uint32_t)get_dec(r, "length", MAX_CHAIN);
        if (n < 3)
            fail_at(r, "length %u: this test wants a chain of at least 3 links", n);
        for (uint32_t k = 0; k <= n; k++) {
            char name[32];
            snprintf(name, sizeof name, "link_%u", k);
            get_hex(r, name, link[k], LM_HASH_BYTES);
        }
        eq_bytes(r, "link n = seed", link[n], seed, 32);

        /* Every link from the seed, and the step between neighbours. */
        for (uint32_t k = 0; k <= n; k++) {
            char what[64];
            snprintf(what, sizeof what, "lm_chain_link(k = %u)", k);
            eq_rc(r, what, lm_chain_link(seed, n, k, got), 0);
            eq_bytes(r, what, got, link[k], LM_HASH_BYTES);
            if (k < n) {
                snprintf(what, sizeof what, "lm_chain_step(link %u) = link %u", k + 1, k);
                eq_rc(r, what, lm_chain_step(link[k + 1], got), 0);
                eq_bytes(r, what, got, link[k], LM_HASH_BYTES);
            }
        }
        eq_rc(r, "lm_chain_link beyond the end", lm_chain_link(seed, n, n + 1, got),
              -LM_CHAIN_BEYOND_END);

        /* A verifier walking from the anchor, one link at a time. */
        lm_chain_init(&st, link[0], n, 0);
        eq_u64(r, "default jump limit", st.jump_limit, LM_CHAIN_DEFAULT_JUMP);
        eq_u64(r, "LM_CHAIN_DEFAULT_JUMP", LM_CHAIN_DEFAULT_JUMP, 4096);
        eq_rc(r, "accept the anchor as link 0", lm_chain_accept(&st, 0, link[0], &d),
              -LM_CHAIN_DUPLICATE);
        for (uint32_t k = 1; k <= n; k++) {
            char what[64];
            snprintf(what, sizeof what, "lm_chain_accept(link %u) walking", k);
            eq_rc(r, what, lm_chain_accept(&st, k, link[k], &d), 0);
            eq_u64(r, "last_index", st.last_index, k);
            eq_bytes(r, "last accepted link", st.last, link[k], LM_HASH_BYTES);
        }
        eq_rc(r, "accept link n again", lm_chain_accept(&st, n, link[n], &d), -LM_CHAIN_DUPLICATE);
        eq_rc(r, "accept link n-1 after n", lm_chain_accept(&st, n - 1, link[n - 1], &d),
              -LM_CHAIN_STALE);
        eq_rc(r, "accept link n+1", lm_chain_accept(&st, n + 1, link[n], &d), -LM_CHAIN_BEYOND_END);
        eq_u64(r, "last_index after refusals", st.last_index, n);

        /* Jumps, out-of-order and forged links. */
        lm_chain_init(&st, link[0], n, 2);
        eq_rc(r, "jump of 3 with limit 2", lm_chain_accept(&st, 3, link[3], &d), -LM_CHAIN_JUMP);
        eq_rc(r, "jump of 2 with limit 2", lm_chain_accept(&st, 2, link[2], &d), 0);
        eq_rc(r, "link 1 after link 2", lm_chain_accept(&st, 1, link[1], &d), -LM_CHAIN_STALE);
        eq_rc(r, "link 2 with link 3's value", lm_chain_accept(&st, 2, link[3], &d),
              -LM_CHAIN_STALE);
        eq_rc(r, "link 3 with link n's value", lm_chain_accept(&st, 3, link[n], &d),
              -LM_CHAIN_FORGED);
        eq_u64(r, "last_index after refusals", st.last_index, 2);
        eq_bytes(r, "last link after refusals", st.last, link[2], LM_HASH_BYTES);
        lm_chain_init(&st, link[0], n, 0);
        eq_rc(r, "link n straight from the anchor", lm_chain_accept(&st, n, link[n], &d), 0);

        /* The chain file text. */
        char want[1024], text[1024], path[128];
        struct lm_chain_secret cs, back;
        memcpy(cs.seed, seed, 32);
        memcpy(cs.anchor, link[0], 32);
        cs.length = n;
        get_str(r, "chain_file", want, sizeof want);
        make_tmpdir();
        tmp_path(path, sizeof path, "chain");
        eq_rc(r, "lm_chainfile_write", lm_chainfile_write(path, &cs, &d), 0);
        size_t len = read_all(path, text, sizeof text);
        if (len != strlen(want) || memcmp(text, want, len) != 0)
            fail_at(r, "chain file differs:\n--- written\n%s--- vector\n%s", text, want);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        if ((sb.st_mode & 0777) != 0600)
            fail_at(r, "chain file has mode %04o, expected 0600", sb.st_mode & 0777u);
        eq_rc(r, "lm_chainfile_write over an existing file", lm_chainfile_write(path, &cs, &d),
              -LM_IO);
        eq_rc(r, "lm_chainfile_load with check", lm_chainfile_load(path, 1, &back, &d), 0);
        eq_u64(r, "loaded chain length", back.length, n);
        eq_bytes(r, "loaded chain seed", back.seed, seed, 32);
        eq_bytes(r, "loaded chain anchor", back.anchor, link[0], 32);
        assert_int_equal(cleanup_tmp(), 0);
        done(r);
    }
}

/* ---- token.txt ---- */

/* The struct a record describes, and the key that signs it. */
static void token_from_record(struct rec *r, struct lm_token *t, struct lm_keypair *kp)
{
    uint8_t seed[32];
    memset(t, 0, sizeof *t);
    get(r, "vector");
    get_hex(r, "key_seed", seed, 32);
    eq_rc(r, "lm_key_from_seed", lm_key_from_seed(seed, kp), 0);
    t->key_id = get_u64x(r, "key_id");
    eq_u64(r, "key_id of key_seed", kp->pub.key_id, t->key_id);
    get_hex(r, "id", t->id, LM_TOKEN_ID_BYTES);
    t->issued_at = get_dec(r, "issued", UINT64_MAX);
    t->expires_at = get_dec(r, "expires", UINT64_MAX);
    t->scope_kind = (uint8_t)get_dec(r, "scope_kind", UINT8_MAX);
    get_str(r, "scope", t->scope, sizeof t->scope);
    t->payload_kind = (uint8_t)get_dec(r, "payload_kind", UINT8_MAX);
    t->vcpus = (uint16_t)get_dec(r, "vcpus", UINT16_MAX);
    t->mem_mib = (uint32_t)get_dec(r, "mem_mib", UINT32_MAX);
    get_hex(r, "commitment", t->commitment, LM_HASH_BYTES);
    get_hex(r, "anchor", t->anchor, LM_HASH_BYTES);
    t->chain_len = (uint32_t)get_dec(r, "chain_len", UINT32_MAX);
    t->link_value_ms = (uint32_t)get_dec(r, "link_value_ms", UINT32_MAX);
    t->prepaid_units = (uint32_t)get_dec(r, "prepaid_units", UINT32_MAX);
    get_hex(r, "mac", t->mac, 6);
    t->prefix = (uint8_t)get_dec(r, "prefix", UINT8_MAX);
    get_hex(r, "ipv4", t->ipv4, 4);
    get_hex(r, "signature", t->sig, LM_SIG_BYTES);
}

static void eq_token(struct rec *r, const char *how, const struct lm_token *got,
                     const struct lm_token *want)
{
    char what[128];
#define EQ_INT(field)                                                                              \
    do {                                                                                           \
        snprintf(what, sizeof what, "%s: " #field, how);                                           \
        eq_u64(r, what, got->field, want->field);                                                  \
    } while (0)
#define EQ_BYTES(field)                                                                            \
    do {                                                                                           \
        snprintf(what, sizeof what, "%s: " #field, how);                                           \
        eq_bytes(r, what, got->field, want->field, sizeof want->field);                            \
    } while (0)
    EQ_BYTES(id);
    EQ_INT(key_id);
    EQ_INT(issued_at);
    EQ_INT(expires_at);
    EQ_INT(scope_kind);
    EQ_INT(payload_kind);
    EQ_INT(vcpus);
    EQ_INT(mem_mib);
    if (strcmp(got->scope, want->scope) != 0)
        fail_at(r, "%s: scope \"%s\", vector has \"%s\"", how, got->scope, want->scope);
    EQ_BYTES(commitment);
    EQ_BYTES(anchor);
    EQ_INT(chain_len);
    EQ_INT(link_value_ms);
    EQ_INT(prepaid_units);
    EQ_BYTES(mac);
    EQ_INT(prefix);
    EQ_BYTES(ipv4);
    EQ_BYTES(sig);
#undef EQ_INT
#undef EQ_BYTES
}

static void test_token(void **state)
{
    (void)state;
    load("token.txt");
    /* The verifier's key ring: the key of every token, so lookup by key id is exercised. */
    static struct lm_pubkey ring[MAX_RECORDS];
    size_t nring = 0;
    for (size_t i = 0; i < vf.n; i++) {
        uint8_t seed[32];
        struct lm_keypair kp;
        get_hex(&vf.r[i], "key_seed", seed, 32);
        eq_rc(&vf.r[i], "lm_key_from_seed", lm_key_from_seed(seed, &kp), 0);
        size_t j = 0;
        while (j < nring && ring[j].key_id != kp.pub.key_id)
            j++;
        if (j == nring)
            ring[nring++] = kp.pub;
    }
    int netid = 0, cluster_checkpoint = 0;
    for (size_t i = 0; i < vf.n; i++) {
        struct rec *r = &vf.r[i];
        struct lm_token want, got;
        struct lm_keypair kp;
        struct lm_diag d;
        uint8_t bytes[LM_TOKEN_SIZE], enc[LM_TOKEN_SIZE];
        token_from_record(r, &want, &kp);
        get_hex(r, "token", bytes, LM_TOKEN_SIZE);
        eq_bytes(r, "signature field = token bytes 184..247", bytes + LM_TOK_OFF_SIG, want.sig,
                 LM_SIG_BYTES);
        eq_u64(r, "lm_token_value_ms", lm_token_value_ms(&want),
               get_dec(r, "value_ms", UINT64_MAX));
        if (has(r, "image")) {
            uint8_t image[1024], h[LM_HASH_BYTES];
            size_t n = get_hexv(r, "image", image, sizeof image);
            eq_rc(r, "lm_hash(image)", lm_hash(LM_DOMAIN_IMAGE, image, n, h), 0);
            eq_bytes(r, "commitment = image hash", h, want.commitment, LM_HASH_BYTES);
        }
        done(r);

        /* Fields -> bytes. */
        eq_rc(r, "lm_token_encode", lm_token_encode(&want, enc), 0);
        eq_bytes(r, "lm_token_encode (signed part)", enc, bytes, LM_TOK_SIGNED_BYTES);
        eq_rc(r, "lm_token_sign", lm_token_sign(enc, kp.sk), 0);
        eq_bytes(r, "lm_token_encode + lm_token_sign", enc, bytes, LM_TOKEN_SIZE);

        /* Bytes -> fields. */
        eq_rc(r, "lm_token_decode", lm_token_decode(bytes, LM_TOKEN_SIZE, &got, &d), 0);
        eq_token(r, "lm_token_decode", &got, &want);
        struct lm_verify_ctx ctx = {
            .keys = ring,
            .nkeys = nring,
            .now = want.issued_at + (want.expires_at - want.issued_at) / 2,
            .max_skew_s = 0,
            .host_name = want.scope_kind == LM_SCOPE_HOST ? want.scope : NULL,
            .cluster_name = want.scope_kind == LM_SCOPE_CLUSTER ? want.scope : NULL,
        };
        memset(&got, 0x55, sizeof got);
        int rc = lm_token_verify(bytes, LM_TOKEN_SIZE, &ctx, &got, &d);
        if (rc)
            fail_at(r, "lm_token_verify: %s (%s)", d.msg, lm_status_name(rc));
        eq_token(r, "lm_token_verify", &got, &want);
        ctx.now = want.issued_at;
        eq_rc(r, "lm_token_verify at the issue time",
              lm_token_verify(bytes, LM_TOKEN_SIZE, &ctx, &got, &d), 0);
        ctx.now = want.expires_at;
        eq_rc(r, "lm_token_verify at the expiry time",
              lm_token_verify(bytes, LM_TOKEN_SIZE, &ctx, &got, &d), -LM_EXPIRED);
        ctx.keys = &kp.pub;
        ctx.nkeys = 0;
        eq_rc(r, "lm_token_verify with an empty key ring",
              lm_token_verify(bytes, LM_TOKEN_SIZE, &ctx, &got, &d), -LM_UNKNOWN_KEY);
        ctx.nkeys = 1;

        /* One flipped signature bit, and one in the signed part, must not verify. */
        ctx.now = want.issued_at;
        bytes[LM_TOKEN_SIZE - 1] ^= 0x01;
        eq_rc(r, "lm_token_verify with a flipped signature bit",
              lm_token_verify(bytes, LM_TOKEN_SIZE, &ctx, &got, &d), -LM_BAD_SIGNATURE);
        bytes[LM_TOKEN_SIZE - 1] ^= 0x01;
        bytes[LM_TOK_OFF_ID] ^= 0x80;
        eq_rc(r, "lm_token_verify with a flipped id bit",
              lm_token_verify(bytes, LM_TOKEN_SIZE, &ctx, &got, &d), -LM_BAD_SIGNATURE);
        bytes[LM_TOK_OFF_ID] ^= 0x80;

        netid += !!(want.prefix && (want.mac[0] | want.mac[1] | want.mac[5]));
        cluster_checkpoint +=
            want.scope_kind == LM_SCOPE_CLUSTER && want.payload_kind == LM_PAYLOAD_CHECKPOINT;
    }
    if (vf.n < 3 || !netid || !cluster_checkpoint)
        fail_msg("token.txt: %zu tokens, %d with a network identity, %d cluster-scoped "
                 "checkpoints; expected at least 3, 1 and 1",
                 vf.n, netid, cluster_checkpoint);
}

/* ---- wire.txt ---- */

/* Decoding the message one byte short and one byte long must fail. */
static void check_lengths(struct rec *r, const uint8_t *msg, size_t n,
                          int (*decode)(const uint8_t *, size_t, void *, struct lm_diag *),
                          void *out)
{
    uint8_t buf[LM_WIRE_MAX + 1];
    memcpy(buf, msg, n);
    buf[n] = 0;
    eq_rc(r, "decode one byte short", decode(buf, n - 1, out, NULL), -LM_TRUNCATED);
    eq_rc(r, "decode one byte long", decode(buf, n + 1, out, NULL), -LM_TRAILING);
}

static int dec_ping(const uint8_t *b, size_t n, void *m, struct lm_diag *d)
{
    return lm_ping_decode(b, n, m, d);
}
static int dec_ping_reply(const uint8_t *b, size_t n, void *m, struct lm_diag *d)
{
    return lm_ping_reply_decode(b, n, m, d);
}
static int dec_pay(const uint8_t *b, size_t n, void *m, struct lm_diag *d)
{
    return lm_pay_decode(b, n, m, d);
}
static int dec_pay_reply(const uint8_t *b, size_t n, void *m, struct lm_diag *d)
{
    return lm_pay_reply_decode(b, n, m, d);
}

static void check_status(struct rec *r, uint16_t status)
{
    char name[64];
    get_str(r, "status_name", name, sizeof name);
    const char *code = lm_status_name(status);
    if (!code || strcmp(code, name) != 0)
        fail_at(r, "status %u: lm_status_name gives %s, vector has %s", status,
                code ? code : "NULL", name);
}

static void test_wire(void **state)
{
    (void)state;
    load("wire.txt");
    int seen_ping = 0, seen_paid = 0, seen_ping_reply = 0, seen_pay = 0, seen_pay_reply = 0;
    for (size_t i = 0; i < vf.n; i++) {
        struct rec *r = &vf.r[i];
        char type[32];
        uint8_t msg[LM_WIRE_MAX + 1], enc[LM_WIRE_MAX];
        struct lm_diag d;
        get(r, "vector");
        get_str(r, "type", type, sizeof type);
        size_t n = get_hexv(r, "message", msg, LM_WIRE_MAX);
        int rc;

        if (strcmp(type, "ping") == 0) {
            struct lm_ping m, got;
            memset(&m, 0, sizeof m);
            m.nonce = get_dec(r, "nonce", UINT64_MAX);
            get_hex(r, "token", m.token, LM_TOKEN_SIZE);
            m.has_payment = (int)get_dec(r, "has_payment", 1);
            if (m.has_payment) {
                m.pay_index = (uint32_t)get_dec(r, "pay_index", UINT32_MAX);
                get_hex(r, "pay_link", m.pay_link, LM_HASH_BYTES);
            }
            rc = lm_ping_encode(&m, enc, sizeof enc);
            eq_u64(r, "lm_ping_encode size", (uint64_t)rc, n);
            eq_u64(r, "ping size", n, m.has_payment ? LM_PING_SIZE_PAID : LM_PING_SIZE);
            eq_bytes(r, "lm_ping_encode", enc, msg, n);
            memset(&got, 0x55, sizeof got);
            eq_rc(r, "lm_ping_decode", lm_ping_decode(msg, n, &got, &d), 0);
            eq_u64(r, "decoded nonce", got.nonce, m.nonce);
            eq_bytes(r, "decoded token", got.token, m.token, LM_TOKEN_SIZE);
            eq_u64(r, "decoded has_payment", (uint64_t)got.has_payment, (uint64_t)m.has_payment);
            eq_u64(r, "decoded pay_index", got.pay_index, m.pay_index);
            eq_bytes(r, "decoded pay_link", got.pay_link, m.pay_link, LM_HASH_BYTES);
            check_lengths(r, msg, n, dec_ping, &got);
            seen_ping += !m.has_payment;
            seen_paid += m.has_payment;
        } else if (strcmp(type, "ping_reply") == 0) {
            struct lm_ping_reply m, got;
            memset(&m, 0, sizeof m);
            m.status = (uint16_t)get_dec(r, "status", UINT16_MAX);
            check_status(r, m.status);
            m.nonce = get_dec(r, "nonce", UINT64_MAX);
            get_hex(r, "token_id", m.token_id, LM_TOKEN_ID_BYTES);
            m.vm_id = get_dec(r, "vm_id", UINT64_MAX);
            m.server_time = get_dec(r, "server_time", UINT64_MAX);
            get_hex(r, "loader_ip", m.loader_ip, 4);
            m.loader_port = (uint16_t)get_dec(r, "loader_port", UINT16_MAX);
            m.credit_ms = get_dec(r, "credit_ms", UINT64_MAX);
            int vouched = has(r, "vouch_sig");
            struct lm_keypair vkp;
            if (vouched) {
                uint8_t vseed[32];
                get_hex(r, "loader_pub", m.loader_pub, 32);
                get_hex(r, "key_seed", vseed, 32);
                if (lm_key_from_seed(vseed, &vkp) != 0)
                    fail_at(r, "key_seed");
                lm_vouch_sign(&m, vkp.sk);
                uint8_t want_sig[64];
                get_hex(r, "vouch_sig", want_sig, 64);
                eq_bytes(r, "lm_vouch_sign", m.vouch_sig, want_sig, 64);
            }
            rc = lm_ping_reply_encode(&m, enc, sizeof enc);
            eq_u64(r, "lm_ping_reply_encode size", (uint64_t)rc, n);
            eq_u64(r, "ping reply size", n,
                   vouched ? LM_PING_REPLY_VOUCHED_SIZE : LM_PING_REPLY_SIZE);
            eq_bytes(r, "lm_ping_reply_encode", enc, msg, n);
            memset(&got, 0x55, sizeof got);
            eq_rc(r, "lm_ping_reply_decode", lm_ping_reply_decode(msg, n, &got, &d), 0);
            eq_u64(r, "decoded status", got.status, m.status);
            eq_u64(r, "decoded nonce", got.nonce, m.nonce);
            eq_bytes(r, "decoded token_id", got.token_id, m.token_id, LM_TOKEN_ID_BYTES);
            eq_u64(r, "decoded vm_id", got.vm_id, m.vm_id);
            eq_u64(r, "decoded server_time", got.server_time, m.server_time);
            eq_bytes(r, "decoded loader_ip", got.loader_ip, m.loader_ip, 4);
            eq_u64(r, "decoded loader_port", got.loader_port, m.loader_port);
            eq_u64(r, "decoded credit_ms", got.credit_ms, m.credit_ms);
            eq_u64(r, "decoded flags", got.flags, m.flags);
            if (vouched) {
                eq_bytes(r, "decoded loader_pub", got.loader_pub, m.loader_pub, 32);
                eq_rc(r, "lm_vouch_verify", lm_vouch_verify(&got, vkp.pub.pk, &d), 0);
                got.loader_pub[0] ^= 1; /* another key: the signature no longer holds */
                eq_rc(r, "lm_vouch_verify of another key",
                      lm_vouch_verify(&got, vkp.pub.pk, &d), -LM_BAD_SIGNATURE);
                got.loader_pub[0] ^= 1;
            }
            check_lengths(r, msg, n, dec_ping_reply, &got);
            seen_ping_reply++;
        } else if (strcmp(type, "pay") == 0) {
            struct lm_pay m, got;
            memset(&m, 0, sizeof m);
            get_hex(r, "token_id", m.token_id, LM_TOKEN_ID_BYTES);
            m.index = (uint32_t)get_dec(r, "index", UINT32_MAX);
            get_hex(r, "link", m.link, LM_HASH_BYTES);
            rc = lm_pay_encode(&m, enc, sizeof enc);
            eq_u64(r, "lm_pay_encode size", (uint64_t)rc, n);
            eq_u64(r, "payment size", n, LM_PAY_SIZE);
            eq_bytes(r, "lm_pay_encode", enc, msg, n);
            memset(&got, 0x55, sizeof got);
            eq_rc(r, "lm_pay_decode", lm_pay_decode(msg, n, &got, &d), 0);
            eq_bytes(r, "decoded token_id", got.token_id, m.token_id, LM_TOKEN_ID_BYTES);
            eq_u64(r, "decoded index", got.index, m.index);
            eq_bytes(r, "decoded link", got.link, m.link, LM_HASH_BYTES);
            check_lengths(r, msg, n, dec_pay, &got);
            seen_pay++;
        } else if (strcmp(type, "pay_reply") == 0) {
            struct lm_pay_reply m, got;
            memset(&m, 0, sizeof m);
            m.status = (uint16_t)get_dec(r, "status", UINT16_MAX);
            check_status(r, m.status);
            get_hex(r, "token_id", m.token_id, LM_TOKEN_ID_BYTES);
            m.accepted_index = (uint32_t)get_dec(r, "accepted_index", UINT32_MAX);
            m.credit_ms = get_dec(r, "credit_ms", UINT64_MAX);
            m.server_time = get_dec(r, "server_time", UINT64_MAX);
            rc = lm_pay_reply_encode(&m, enc, sizeof enc);
            eq_u64(r, "lm_pay_reply_encode size", (uint64_t)rc, n);
            eq_u64(r, "payment reply size", n, LM_PAY_REPLY_SIZE);
            eq_bytes(r, "lm_pay_reply_encode", enc, msg, n);
            memset(&got, 0x55, sizeof got);
            eq_rc(r, "lm_pay_reply_decode", lm_pay_reply_decode(msg, n, &got, &d), 0);
            eq_u64(r, "decoded status", got.status, m.status);
            eq_bytes(r, "decoded token_id", got.token_id, m.token_id, LM_TOKEN_ID_BYTES);
            eq_u64(r, "decoded accepted_index", got.accepted_index, m.accepted_index);
            eq_u64(r, "decoded credit_ms", got.credit_ms, m.credit_ms);
            eq_u64(r, "decoded server_time", got.server_time, m.server_time);
            check_lengths(r, msg, n, dec_pay_reply, &got);
            seen_pay_reply++;
        } else {
            fail_at(r, "unknown type \"%s\"", type);
        }
        done(r);
    }
    if (!seen_ping || !seen_paid || !seen_ping_reply || !seen_pay || !seen_pay_reply)
        fail_msg("wire.txt: needs at least one ping without and one with payment, one ping "
                 "reply, one payment and one payment reply (has %d, %d, %d, %d, %d)",
                 seen_ping, seen_paid, seen_ping_reply, seen_pay, seen_pay_reply);
}

/* ---- migrate.txt ---- */

static void test_migrate(void **state)
{
    (void)state;
    load("migrate.txt");
    uint8_t key_gl[32] = {0}, mig_pub[32] = {0}, nonce[LM_MIG_NONCE_BYTES] = {0};
    int seen_keys = 0, seen_hello = 0, seen_ctx = 0, seen_stream = 0;
    unsigned seen_types = 0; /* bit per record type, READY, ERROR and ZPAGES as 7, 8 and 0 */
    for (size_t i = 0; i < vf.n; i++) {
        struct rec *r = &vf.r[i];
        char type[32];
        struct lm_diag d;
        get(r, "vector");
        get_str(r, "type", type, sizeof type);
        if (strcmp(type, "keys") == 0) {
            uint8_t m[32], M[32], l[32], L[32], shared[32], gl[32], lg[32], x[32], a[32], b[32];
            get_hex(r, "mig_secret", m, 32);
            get_hex(r, "mig_pub", M, 32);
            get_hex(r, "loader_secret", l, 32);
            get_hex(r, "loader_pub", L, 32);
            get_hex(r, "nonce", nonce, sizeof nonce);
            get_hex(r, "shared", shared, 32);
            get_hex(r, "key_gl", gl, 32);
            get_hex(r, "key_lg", lg, 32);
            done(r);
            eq_rc(r, "X25519 base(m)", crypto_scalarmult_curve25519_base(x, m), 0);
            eq_bytes(r, "mig_pub = X25519(m, 9)", x, M, 32);
            eq_rc(r, "X25519 base(l)", crypto_scalarmult_curve25519_base(x, l), 0);
            eq_bytes(r, "loader_pub = X25519(l, 9)", x, L, 32);
            eq_rc(r, "X25519(m, L)", crypto_scalarmult_curve25519(x, m, L), 0);
            eq_bytes(r, "shared = X25519(m, L)", x, shared, 32);
            eq_rc(r, "X25519(l, M)", crypto_scalarmult_curve25519(x, l, M), 0);
            eq_bytes(r, "shared = X25519(l, M)", x, shared, 32);
            eq_rc(r, "lm_mig_kdf", lm_mig_kdf(shared, M, L, nonce, a, b), 0);
            eq_bytes(r, "lm_mig_kdf key_gl", a, gl, 32);
            eq_bytes(r, "lm_mig_kdf key_lg", b, lg, 32);
            eq_rc(r, "lm_mig_keys (guest)", lm_mig_keys(m, L, M, L, nonce, a, b), 0);
            eq_bytes(r, "guest's key_gl", a, gl, 32);
            eq_bytes(r, "guest's key_lg", b, lg, 32);
            eq_rc(r, "lm_mig_keys (loader)", lm_mig_keys(l, M, M, L, nonce, a, b), 0);
            eq_bytes(r, "loader's key_gl", a, gl, 32);
            eq_bytes(r, "loader's key_lg", b, lg, 32);
            memcpy(key_gl, gl, 32);
            memcpy(mig_pub, M, 32);
            seen_keys++;
        } else if (strcmp(type, "hello") == 0) {
            struct lm_mig_hello h, g;
            uint8_t msg[LM_MIG_HELLO_SIZE + 1] = {0}, enc[LM_MIG_HELLO_SIZE];
            get_hex(r, "mig_pub", h.mig_pub, 32);
            get_hex(r, "nonce", h.nonce, 32);
            get_hex(r, "message", msg, LM_MIG_HELLO_SIZE);
            done(r);
            lm_mig_hello_encode(&h, enc);
            eq_bytes(r, "lm_mig_hello_encode", enc, msg, LM_MIG_HELLO_SIZE);
            eq_rc(r, "lm_mig_hello_decode", lm_mig_hello_decode(msg, LM_MIG_HELLO_SIZE, &g, &d), 0);
            eq_bytes(r, "decoded hello", (const uint8_t *)&g, (const uint8_t *)&h, sizeof h);
            eq_rc(r, "decode one byte short", lm_mig_hello_decode(msg, 71, &g, &d), -LM_TRUNCATED);
            eq_rc(r, "decode one byte long", lm_mig_hello_decode(msg, 73, &g, &d), -LM_TRAILING);
            if (seen_keys) {
                eq_bytes(r, "mig_pub of the keys vector", h.mig_pub, mig_pub, 32);
                eq_bytes(r, "nonce of the keys vector", h.nonce, nonce, 32);
            }
            seen_hello++;
        } else if (strcmp(type, "context") == 0) {
            struct lm_mig_context c, g;
            uint8_t msg[LM_MIG_CONTEXT_SIZE], enc[LM_MIG_CONTEXT_SIZE];
            c.mem_size = get_dec(r, "mem_size", UINT64_MAX);
            c.kernel_start = get_dec(r, "kernel_start", UINT64_MAX);
            c.kernel_end = get_dec(r, "kernel_end", UINT64_MAX);
            c.resume_entry = get_dec(r, "resume_entry", UINT64_MAX);
            c.clock_ns = get_dec(r, "clock_ns", UINT64_MAX);
            c.wall_ns = get_dec(r, "wall_ns", UINT64_MAX);
            c.platform = get_dec(r, "platform", LM_MIG_PLATFORM_PVH);
            get_hex(r, "message", msg, sizeof msg);
            done(r);
            lm_mig_context_encode(&c, enc);
            eq_bytes(r, "lm_mig_context_encode", enc, msg, sizeof msg);
            eq_rc(r, "lm_mig_context_decode", lm_mig_context_decode(msg, sizeof msg, &g, &d), 0);
            eq_bytes(r, "decoded context", (const uint8_t *)&g, (const uint8_t *)&c, sizeof c);
            seen_ctx++;
        } else if (strcmp(type, "record") == 0) {
            static uint8_t body[LM_MIG_REC_MAX], msg[LM_MIG_REC_MAX + 1], enc[LM_MIG_REC_MAX];
            uint8_t rt = (uint8_t)get_dec(r, "rec_type", UINT8_MAX);
            uint32_t count = (uint32_t)get_dec(r, "count", UINT32_MAX);
            uint64_t arg = get_dec(r, "arg", UINT64_MAX);
            size_t bl = get_hexv(r, "body", body, sizeof body - LM_MIG_REC_HDR);
            size_t n = get_hexv(r, "message", msg, LM_MIG_REC_MAX);
            if (rt == LM_MIG_END || rt == LM_MIG_READY) {
                struct lm_mig_totals t, u;
                t.data_pages = get_dec(r, "data_pages", UINT64_MAX);
                t.zero_pages = get_dec(r, "zero_pages", UINT64_MAX);
                t.records = get_dec(r, "records", UINT64_MAX);
                eq_u64(r, "totals body size", bl, LM_MIG_TOTALS_SIZE);
                lm_mig_totals_encode(&t, enc);
                eq_bytes(r, "lm_mig_totals_encode", enc, body, LM_MIG_TOTALS_SIZE);
                lm_mig_totals_decode(body, &u);
                eq_bytes(r, "lm_mig_totals_decode", (const uint8_t *)&u, (const uint8_t *)&t,
                         sizeof t);
            }
            if (rt == LM_MIG_GO) {
                struct lm_mig_go g, h;
                g.fw_in = get_dec(r, "fw_in", UINT64_MAX);
                g.fw_out = get_dec(r, "fw_out", UINT64_MAX);
                g.cow_faults = get_dec(r, "cow_faults", UINT64_MAX);
                g.cow_ticks = get_dec(r, "cow_ticks", UINT64_MAX);
                eq_u64(r, "GO body size", bl, LM_MIG_GO_SIZE);
                lm_mig_go_encode(&g, enc);
                eq_bytes(r, "lm_mig_go_encode", enc, body, LM_MIG_GO_SIZE);
                lm_mig_go_decode(body, &h);
                eq_bytes(r, "lm_mig_go_decode", (const uint8_t *)&h, (const uint8_t *)&g, sizeof g);
            }
            done(r);
            eq_u64(r, "message size", n, LM_MIG_REC_HDR + bl);
            lm_mig_rec_header(enc, rt, count, arg);
            memcpy(enc + LM_MIG_REC_HDR, body, bl);
            eq_bytes(r, "lm_mig_rec_header + body", enc, msg, n);
            struct lm_mig_rec p;
            int rc = lm_mig_rec_parse(msg, n, &p, &d);
            if (rc)
                fail_at(r, "lm_mig_rec_parse: %s", d.msg);
            eq_u64(r, "parsed type", p.type, rt);
            eq_u64(r, "parsed count", p.count, count);
            eq_u64(r, "parsed arg", p.arg, arg);
            eq_u64(r, "parsed body length", p.body_len, bl);
            if (rt == LM_MIG_CONTEXT) {
                struct lm_mig_context c;
                eq_rc(r, "the CONTEXT body decodes", lm_mig_context_decode(p.body, bl, &c, &d), 0);
            }
            if (rt == LM_MIG_ZPAGES) { /* its length varies: the frames must inflate exactly */
                eq_rc(r, "the ZPAGES body inflates to its pages", lm_zpages_check(&p, &d), 0);
                p.body_len--;
                if (lm_zpages_check(&p, &d) == 0)
                    fail_at(r, "lm_zpages_check accepts the frame one byte short");
                p.body_len++;
                p.count++;
                if (lm_zpages_check(&p, &d) == 0)
                    fail_at(r, "lm_zpages_check accepts it for one page more");
            }
            msg[n] = 0;
            bool varies = rt == LM_MIG_ERROR || rt == LM_MIG_ZPAGES;
            if (!varies && lm_mig_rec_parse(msg, n + 1, &p, &d) == 0)
                fail_at(r, "lm_mig_rec_parse accepts one byte more");
            if (n > LM_MIG_REC_HDR && lm_mig_rec_parse(msg, n - 1, &p, &d) == 0 && !varies)
                fail_at(r, "lm_mig_rec_parse accepts one byte less");
            seen_types |= 1u << (rt == LM_MIG_READY    ? 7
                                 : rt == LM_MIG_ERROR  ? 8
                                 : rt == LM_MIG_ZPAGES ? 0
                                                       : rt);
        } else if (strcmp(type, "stream") == 0) {
            uint8_t key[32], hdr[LM_MIG_SS_HEADER_BYTES];
            get_hex(r, "key", key, 32);
            get_hex(r, "header", hdr, sizeof hdr);
            if (seen_keys)
                eq_bytes(r, "key = key_gl of the keys vector", key, key_gl, 32);
            crypto_secretstream_xchacha20poly1305_state st, st2;
            eq_rc(r, "init_pull", crypto_secretstream_xchacha20poly1305_init_pull(&st, hdr, key),
                  0);
            int k;
            for (k = 0;; k++) {
                char fn[16], pn[16], tn[16];
                snprintf(fn, sizeof fn, "frame_%d", k);
                snprintf(pn, sizeof pn, "plain_%d", k);
                snprintf(tn, sizeof tn, "tag_%d", k);
                if (!has(r, fn))
                    break;
                uint8_t frame[512], plain[512], got[512], tag;
                size_t fl = get_hexv(r, fn, frame, sizeof frame);
                size_t pl = get_hexv(r, pn, plain, sizeof plain);
                uint8_t want_tag = (uint8_t)get_dec(r, tn, UINT8_MAX);
                eq_u64(r, "frame length prefix (u32 little-endian)",
                       (uint32_t)frame[0] | (uint32_t)frame[1] << 8 | (uint32_t)frame[2] << 16 |
                           (uint32_t)frame[3] << 24,
                       fl - 4);
                eq_u64(r, "ciphertext = plaintext + ABYTES", fl - 4, pl + LM_MIG_SS_ABYTES);
                st2 = st;
                frame[4 + k] ^= 0x10; /* a flipped byte does not authenticate */
                unsigned long long ml;
                if (crypto_secretstream_xchacha20poly1305_pull(&st2, got, &ml, &tag, frame + 4,
                                                               fl - 4, NULL, 0) == 0)
                    fail_at(r, "%s with a flipped byte authenticates", fn);
                frame[4 + k] ^= 0x10;
                if (crypto_secretstream_xchacha20poly1305_pull(&st, got, &ml, &tag, frame + 4,
                                                               fl - 4, NULL, 0) != 0)
                    fail_at(r, "%s does not authenticate under key and header", fn);
                eq_u64(r, "plaintext length", ml, pl);
                eq_bytes(r, pn, got, plain, pl);
                eq_u64(r, tn, tag, want_tag);
                struct lm_mig_rec p;
                eq_rc(r, "the plaintext parses", lm_mig_rec_parse(got, pl, &p, &d), 0);
                if ((tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) !=
                    (p.type == LM_MIG_GO))
                    fail_at(r, "%s: the final tag belongs to GO alone", fn);
            }
            done(r);
            if (k < 2)
                fail_at(r, "a stream of %d frames, expected at least 2", k);
            seen_stream++;
        } else {
            fail_at(r, "unknown type \"%s\"", type);
        }
    }
    /* ROUND, ZERO, PAGES, CONTEXT, END, GO, READY and ERROR: bits 3, 2, 1, 4, 5, 6, 7, 8. */
    if (!seen_keys || !seen_hello || !seen_ctx || !seen_stream || seen_types != 0x1ff)
        fail_msg("migrate.txt: needs keys, hello, context, stream and every record type (has %d, "
                 "%d, %d, %d, types 0x%x)",
                 seen_keys, seen_hello, seen_ctx, seen_stream, seen_types);
}

/* ---- guestctl.txt ---- */

static void test_guestctl(void **state)
{
    (void)state;
    load("guestctl.txt");
    int seen_key = 0, seen_migrate = 0, seen_cmd = 0, seen_status = 0, seen_reply = 0;
    for (size_t i = 0; i < vf.n; i++) {
        struct rec *r = &vf.r[i];
        char type[32];
        struct lm_diag d;
        get(r, "vector");
        get_str(r, "type", type, sizeof type);
        if (strcmp(type, "ctl_key") == 0) {
            uint8_t seed[32], pub[32], ctl[32], got[32];
            struct lm_keypair kp;
            get_hex(r, "owner_seed", seed, 32);
            get_hex(r, "owner_pub", pub, 32);
            get_hex(r, "ctl_key", ctl, 32);
            done(r);
            eq_rc(r, "lm_key_from_seed", lm_key_from_seed(seed, &kp), 0);
            eq_bytes(r, "owner_pub", kp.pub.pk, pub, 32);
            lm_gc_ctl_key(seed, got);
            eq_bytes(r, "lm_gc_ctl_key", got, ctl, 32);
            seen_key++;
        } else if (strcmp(type, "migrate") == 0) {
            struct lm_gc_migrate m, g;
            uint8_t body[LM_GC_MIGRATE_SIZE], enc[LM_GC_MIGRATE_SIZE];
            memset(&m, 0, sizeof m);
            get_hex(r, "ip", m.ip, 4);
            m.port = (uint16_t)get_dec(r, "port", UINT16_MAX);
            m.max_rounds = (uint32_t)get_dec(r, "max_rounds", UINT32_MAX);
            get_hex(r, "loader_pub", m.loader_pub, 32);
            get_hex(r, "mig_secret", m.mig_secret, 32);
            get_hex(r, "pay_token", m.pay_token, 16);
            get_hex(r, "pay_seed", m.pay_seed, 32);
            m.pay_len = (uint32_t)get_dec(r, "pay_len", UINT32_MAX);
            get_hex(r, "body", body, sizeof body);
            done(r);
            lm_gc_migrate_encode(&m, enc);
            eq_bytes(r, "lm_gc_migrate_encode", enc, body, sizeof body);
            memset(&g, 0, sizeof g);
            eq_rc(r, "lm_gc_migrate_decode", lm_gc_migrate_decode(body, sizeof body, &g, &d), 0);
            eq_bytes(r, "decoded migrate body", (const uint8_t *)&g, (const uint8_t *)&m, sizeof m);
            seen_migrate++;
        } else if (strcmp(type, "command") == 0) {
            uint8_t seed[32], ctl[32], nonce[LM_GC_NONCE_BYTES], body[LM_GC_BODY_MAX];
            uint8_t bkey[32], msg[LM_GC_CMD_MAX], enc[LM_GC_CMD_MAX], got[LM_GC_BODY_MAX];
            get_hex(r, "owner_seed", seed, 32);
            get_hex(r, "ctl_key", ctl, 32);
            uint16_t cmd = (uint16_t)get_dec(r, "cmd", UINT16_MAX);
            uint64_t time = get_dec(r, "time", UINT64_MAX);
            get_hex(r, "nonce", nonce, sizeof nonce);
            size_t bl = get_hexv(r, "body", body, sizeof body);
            get_hex(r, "body_key", bkey, 32);
            size_t n = get_hexv(r, "message", msg, sizeof msg);
            done(r);
            struct lm_keypair kp;
            uint8_t k[32];
            eq_rc(r, "lm_key_from_seed", lm_key_from_seed(seed, &kp), 0);
            lm_gc_ctl_key(seed, k);
            eq_bytes(r, "ctl_key of owner_seed", k, ctl, 32);
            eq_u64(r, "lm_gc_cmd_seal", lm_gc_cmd_seal(cmd, time, nonce, body, bl, kp.sk, ctl, enc),
                   n);
            eq_bytes(r, "lm_gc_cmd_seal", enc, msg, n);
            /* The body key and cipher, spelled out. */
            uint8_t in[25 + LM_GC_HDR_SIZE], zero8[8] = {0}, plain[LM_GC_BODY_MAX];
            memcpy(in, "laundromat/guestctl/v1cmd", 25);
            memcpy(in + 25, msg, LM_GC_HDR_SIZE);
            eq_rc(r, "BLAKE2b", crypto_generichash(k, 32, in, sizeof in, ctl, 32), 0);
            eq_bytes(r, "body_key", k, bkey, 32);
            eq_rc(r, "ChaCha20",
                  crypto_stream_chacha20_xor(plain, msg + LM_GC_HDR_SIZE, bl, zero8, bkey), 0);
            eq_bytes(r, "body decrypted with body_key", plain, body, bl);
            struct lm_gc_cmd c;
            int rc = lm_gc_cmd_open(msg, n, kp.pub.pk, ctl, time, &c, got, &d);
            if (rc)
                fail_at(r, "lm_gc_cmd_open: %s", d.msg);
            eq_u64(r, "opened cmd", c.cmd, cmd);
            eq_u64(r, "opened time", c.time_ns, time);
            eq_bytes(r, "opened nonce", c.nonce, nonce, sizeof nonce);
            eq_u64(r, "opened body_len", c.body_len, bl);
            eq_bytes(r, "opened body", got, body, bl);
            msg[n - 1] ^= 0x01;
            eq_rc(r, "lm_gc_cmd_open with a flipped signature bit",
                  lm_gc_cmd_open(msg, n, kp.pub.pk, ctl, time, &c, got, &d), -LM_BAD_SIGNATURE);
            msg[n - 1] ^= 0x01;
            eq_rc(r, "lm_gc_cmd_open past the window",
                  lm_gc_cmd_open(msg, n, kp.pub.pk, ctl, time + LM_GC_WINDOW_NS + 1, &c, got, &d),
                  -LM_EXPIRED);
            seen_cmd++;
        } else if (strcmp(type, "status") == 0) {
            struct lm_gc_status s, g;
            uint8_t body[LM_GC_STATUS_SIZE], enc[LM_GC_STATUS_SIZE];
            memset(&s, 0, sizeof s);
            s.phase = (uint32_t)get_dec(r, "phase", UINT32_MAX);
            s.round = (uint32_t)get_dec(r, "round", UINT32_MAX);
            s.pages_sent = get_dec(r, "pages_sent", UINT64_MAX);
            s.pages_round = get_dec(r, "pages_round", UINT64_MAX);
            s.bytes = get_dec(r, "bytes", UINT64_MAX);
            s.elapsed_ns = get_dec(r, "elapsed_ns", UINT64_MAX);
            s.dirty_rate = get_dec(r, "dirty_rate", UINT64_MAX);
            s.ram_pages = get_dec(r, "ram_pages", UINT64_MAX);
            s.migrations = get_dec(r, "migrations", UINT64_MAX);
            s.uptime_ns = get_dec(r, "uptime_ns", UINT64_MAX);
            s.last.total_ns = get_dec(r, "total_ns", UINT64_MAX);
            s.last.downtime_ns = get_dec(r, "downtime_ns", UINT64_MAX);
            s.last.bytes = get_dec(r, "last_bytes", UINT64_MAX);
            s.last.data_pages = get_dec(r, "data_pages", UINT64_MAX);
            s.last.zero_pages = get_dec(r, "zero_pages", UINT64_MAX);
            s.last.ram_pages = get_dec(r, "last_ram_pages", UINT64_MAX);
            s.last.rounds = get_dec(r, "rounds", UINT64_MAX);
            s.last.final_pages = get_dec(r, "final_pages", UINT64_MAX);
            s.last.cow_faults = get_dec(r, "cow_faults", UINT64_MAX);
            s.last.fw_in = get_dec(r, "fw_in", UINT64_MAX);
            s.last.fw_out = get_dec(r, "fw_out", UINT64_MAX);
            s.status = (uint32_t)get_dec(r, "status", UINT32_MAX);
            get_str(r, "error", s.error, sizeof s.error);
            get_hex(r, "body", body, sizeof body);
            done(r);
            lm_gc_status_encode(&s, enc);
            eq_bytes(r, "lm_gc_status_encode", enc, body, sizeof body);
            memset(&g, 0, sizeof g);
            eq_rc(r, "lm_gc_status_decode", lm_gc_status_decode(body, sizeof body, &g, &d), 0);
            eq_bytes(r, "decoded status", (const uint8_t *)&g, (const uint8_t *)&s, sizeof s);
            seen_status++;
        } else if (strcmp(type, "reply") == 0) {
            uint8_t ctl[32], nonce[LM_GC_NONCE_BYTES], body[LM_GC_REPLY_MAX], mac[32];
            uint8_t msg[LM_GC_REPLY_MAX], enc[LM_GC_REPLY_MAX];
            get_hex(r, "ctl_key", ctl, 32);
            uint16_t cmd = (uint16_t)get_dec(r, "cmd", UINT16_MAX);
            get_hex(r, "nonce", nonce, sizeof nonce);
            uint16_t status = (uint16_t)get_dec(r, "status", UINT16_MAX);
            char name[64];
            get_str(r, "status_name", name, sizeof name);
            size_t bl = get_hexv(r, "body", body, sizeof body);
            get_hex(r, "mac", mac, 32);
            size_t n = get_hexv(r, "message", msg, sizeof msg);
            done(r);
            const char *code = lm_status_name(status);
            if (!code || strcmp(code, name) != 0)
                fail_at(r, "status %u: lm_status_name gives %s, vector has %s", status,
                        code ? code : "NULL", name);
            eq_u64(r, "lm_gc_reply_seal", lm_gc_reply_seal(cmd, nonce, status, body, bl, ctl, enc),
                   n);
            eq_bytes(r, "lm_gc_reply_seal", enc, msg, n);
            eq_bytes(r, "mac = the last 32 bytes", msg + n - 32, mac, 32);
            uint16_t st;
            const uint8_t *rb;
            size_t rl;
            int rc = lm_gc_reply_open(msg, n, cmd, nonce, ctl, &st, &rb, &rl, &d);
            if (rc)
                fail_at(r, "lm_gc_reply_open: %s", d.msg);
            eq_u64(r, "opened status", st, status);
            eq_u64(r, "opened body length", rl, bl);
            eq_bytes(r, "opened body", rb, body, bl);
            msg[n - 32] ^= 0x80;
            eq_rc(r, "lm_gc_reply_open with a flipped MAC bit",
                  lm_gc_reply_open(msg, n, cmd, nonce, ctl, &st, &rb, &rl, &d), -LM_BAD_SIGNATURE);
            seen_reply++;
        } else {
            fail_at(r, "unknown type \"%s\"", type);
        }
    }
    if (!seen_key || !seen_migrate || seen_cmd < 2 || !seen_status || !seen_reply)
        fail_msg("guestctl.txt: needs a control key, a migrate body, two commands, a status body "
                 "and a reply (has %d, %d, %d, %d, %d)",
                 seen_key, seen_migrate, seen_cmd, seen_status, seen_reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hash, teardown),
        cmocka_unit_test_teardown(test_keys, teardown),
        cmocka_unit_test_teardown(test_chain, teardown),
        cmocka_unit_test_teardown(test_token, teardown),
        cmocka_unit_test_teardown(test_wire, teardown),
        cmocka_unit_test_teardown(test_migrate, teardown),
        cmocka_unit_test_teardown(test_guestctl, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
