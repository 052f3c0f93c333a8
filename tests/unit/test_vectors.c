/* Checks hashes, keys, key files, chains, tokens and wire messages against tests/vectors/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first; a separate block keeps clang-format off it. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/hash.h"
#include "laundromat/keys.h"
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
            rc = lm_ping_reply_encode(&m, enc, sizeof enc);
            eq_u64(r, "lm_ping_reply_encode size", (uint64_t)rc, n);
            eq_u64(r, "ping reply size", n, LM_PING_REPLY_SIZE);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hash, teardown),
        cmocka_unit_test_teardown(test_keys, teardown),
        cmocka_unit_test_teardown(test_chain, teardown),
        cmocka_unit_test_teardown(test_token, teardown),
        cmocka_unit_test_teardown(test_wire, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
