/* Host-side test of the guest's libsodium subset, guest_-renamed, against the system libsodium. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/clock.h"
#include "laundromat/hash.h"

/*
 * The guest's libsodium.a sources, compiled for the host with the guest's config.h and flags over
 * the guest libc (kc_ names), one object whose every global is renamed guest_ (SODIUM_HOST_OBJ in
 * guest/sodium.mk). Declared with the system library's own prototypes, so a signature cannot
 * drift between the two.
 */
#define GUEST(f) __typeof__(f) guest_##f
GUEST(sodium_init);
GUEST(sodium_version_string);
GUEST(sodium_library_version_major);
GUEST(sodium_library_version_minor);
GUEST(sodium_runtime_has_sse2);
GUEST(sodium_runtime_has_ssse3);
GUEST(sodium_runtime_has_sse41);
GUEST(sodium_runtime_has_avx);
GUEST(sodium_runtime_has_avx2);
GUEST(sodium_memcmp);
GUEST(sodium_is_zero);
GUEST(sodium_increment);
GUEST(sodium_memzero);
GUEST(randombytes_implementation_name);
GUEST(randombytes_buf);
GUEST(randombytes_random);
GUEST(randombytes_uniform);
GUEST(crypto_generichash);
GUEST(crypto_generichash_blake2b);
GUEST(crypto_generichash_blake2b_init);
GUEST(crypto_generichash_blake2b_update);
GUEST(crypto_generichash_blake2b_final);
GUEST(crypto_core_hchacha20);
GUEST(crypto_stream_chacha20_xor_ic);
GUEST(crypto_stream_chacha20_ietf_xor_ic);
GUEST(crypto_onetimeauth_poly1305);
GUEST(crypto_onetimeauth_poly1305_verify);
GUEST(crypto_verify_16);
GUEST(crypto_secretstream_xchacha20poly1305_keygen);
GUEST(crypto_secretstream_xchacha20poly1305_init_push);
GUEST(crypto_secretstream_xchacha20poly1305_push);
GUEST(crypto_secretstream_xchacha20poly1305_init_pull);
GUEST(crypto_secretstream_xchacha20poly1305_pull);
GUEST(crypto_secretstream_xchacha20poly1305_rekey);
GUEST(crypto_verify_32);
GUEST(crypto_hash_sha512);
GUEST(crypto_hash_sha512_init);
GUEST(crypto_hash_sha512_update);
GUEST(crypto_hash_sha512_final);
GUEST(crypto_scalarmult_curve25519);
GUEST(crypto_scalarmult_curve25519_base);
GUEST(crypto_sign_ed25519_detached);
GUEST(crypto_sign_ed25519_verify_detached);

/* ---- What the guest kernel provides, played by the test. ---- */

void lm_entropy(void *buf, unsigned long len);
void lm_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void lm_console_write(const char *s, unsigned long n);

/* The guest libc's printf, linked in with the rest of it, has nothing to print here. */
void lm_console_write(const char *s, unsigned long n)
{
    fwrite(s, 1, n, stderr);
}

/* A deterministic stream, recorded, so the test can see that guest randomness comes from here. */
static unsigned long entropy_calls, entropy_bytes;
static unsigned char entropy_last[64];

void lm_entropy(void *buf, unsigned long len)
{
    unsigned char seed[randombytes_SEEDBYTES] = {'e', 'n', 't', 'r', 'o', 'p', 'y'};

    memcpy(seed + 8, &entropy_calls, sizeof(entropy_calls));
    randombytes_buf_deterministic(buf, len, seed);
    memcpy(entropy_last, buf, len < sizeof(entropy_last) ? len : sizeof(entropy_last));
    entropy_calls++;
    entropy_bytes += len;
}

/* A guest assertion: fails the running test with its message. */
void lm_panic(const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fail_msg("guest lm_panic: %s", msg);
    abort();
}

/* ---- Fixtures. ---- */

#define MIB (1u << 20)
static unsigned char *data;     /* MIB + 64 deterministic bytes */
static unsigned char key64[64]; /* BLAKE2b keys are prefixes of this */
static int guest_init_rc, guest_init_again_rc;
static unsigned long init_entropy_calls, init_entropy_bytes;

static int setup(void **state)
{
    static const unsigned char seed[randombytes_SEEDBYTES] = {'g', 'u', 'e', 's', 't'};

    (void)state;
    if (sodium_init() < 0)
        return -1;
    guest_init_rc = guest_sodium_init();
    init_entropy_calls = entropy_calls;
    init_entropy_bytes = entropy_bytes;
    guest_init_again_rc = guest_sodium_init();
    data = malloc(MIB + 64);
    if (data == NULL)
        return -1;
    randombytes_buf_deterministic(data, MIB + 64, seed);
    memcpy(key64, data + MIB, sizeof(key64));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(data);
    return 0;
}

/*
 * Byte comparisons are counted and the first few mismatches printed with the case and the first
 * differing byte, so one run shows the extent of a break; each test asserts none at its end.
 */
static int mismatches;

static void same_bytes(int line, const unsigned char *want, const unsigned char *got, size_t n,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void same_bytes(int line, const unsigned char *want, const unsigned char *got, size_t n,
                       const char *fmt, ...)
{
    char what[160];
    va_list ap;
    size_t i = 0;

    if (memcmp(want, got, n) == 0)
        return;
    while (want[i] == got[i])
        i++;
    if (mismatches++ < 8) {
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        print_error("line %d: %s: system and guest differ at byte %zu of %zu (%02x, %02x)\n", line,
                    what, i, n, want[i], got[i]);
    }
}
#define SAME(want, got, n, ...) same_bytes(__LINE__, want, got, n, __VA_ARGS__)

static void expect_no_mismatch(void)
{
    int n = mismatches;

    mismatches = 0;
    assert_int_equal(n, 0);
}

static void hex_decode(const char *hex, unsigned char *out, size_t n)
{
    size_t bin_len = 0;

    assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &bin_len, NULL), 0);
    assert_int_equal(bin_len, n);
}

/* ---- Initialisation and randomness. ---- */

static void test_init_and_entropy(void **state)
{
    unsigned char buf[100];
    unsigned long calls;

    (void)state;
    assert_int_equal(guest_init_rc, 0);
    assert_int_equal(guest_init_again_rc, 1);
    /* sodium_init draws its 16-byte canary, and nothing else, from lm_entropy. */
    assert_int_equal(init_entropy_calls, 1);
    assert_int_equal(init_entropy_bytes, 16);
    assert_string_equal(guest_randombytes_implementation_name(), "lm_entropy");
    assert_string_equal(guest_sodium_version_string(), sodium_version_string());
    assert_int_equal(guest_sodium_library_version_major(), sodium_library_version_major());
    assert_int_equal(guest_sodium_library_version_minor(), sodium_library_version_minor());

    /* The CPU-feature probe found nothing (no CPUID): every dispatcher kept the reference code. */
    assert_int_equal(guest_sodium_runtime_has_sse2(), 0);
    assert_int_equal(guest_sodium_runtime_has_ssse3(), 0);
    assert_int_equal(guest_sodium_runtime_has_sse41(), 0);
    assert_int_equal(guest_sodium_runtime_has_avx(), 0);
    assert_int_equal(guest_sodium_runtime_has_avx2(), 0);

    calls = entropy_calls;
    guest_randombytes_buf(buf, sizeof(buf));
    assert_int_equal(entropy_calls, calls + 1);
    assert_memory_equal(buf, entropy_last, sizeof(entropy_last));
    uint32_t r = guest_randombytes_random();
    assert_int_equal(entropy_calls, calls + 2);
    assert_memory_equal(&r, entropy_last, sizeof(r));
    for (int i = 0; i < 1000; i++)
        assert_true(guest_randombytes_uniform(7) < 7);
    assert_int_equal(guest_randombytes_uniform(1), 0);
}

static void test_utils(void **state)
{
    static const size_t lens[] = {1, 4, 8, 12, 24};
    unsigned char a[24], b[24];

    (void)state;
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t n = lens[k];

        /* Carries through every byte, from all-0xff and from a random start. */
        for (int start = 0; start < 2; start++) {
            if (start == 0)
                memset(a, 0xff, n);
            else
                memcpy(a, data + 7 * n, n);
            memcpy(b, a, n);
            for (int i = 0; i < 300; i++) {
                sodium_increment(a, n);
                guest_sodium_increment(b, n);
                SAME(a, b, n, "sodium_increment, %zu bytes, step %d", n, i);
            }
        }
        memset(a, 0, n);
        assert_int_equal(guest_sodium_is_zero(a, n), 1);
        a[n - 1] = 1;
        assert_int_equal(guest_sodium_is_zero(a, n), 0);
        memcpy(b, a, n);
        assert_int_equal(guest_sodium_memcmp(a, b, n), 0);
        b[n / 2] ^= 0x80;
        assert_int_equal(guest_sodium_memcmp(a, b, n), -1);
        guest_sodium_memzero(b, n);
        assert_int_equal(sodium_is_zero(b, n), 1);
    }
    expect_no_mismatch();
}

/* ---- BLAKE2b. ---- */

static const size_t keylens[] = {0, 1, 16, 32, 64};
#define NKEYLENS (sizeof(keylens) / sizeof(keylens[0]))

/* Keyed or not, every length 0..1000, 32-byte output; other output sizes for unkeyed. */
static void test_blake2b_oneshot(void **state)
{
    static const size_t outlens[] = {1, 16, 20, 48, 64};
    unsigned char want[64], got[64];

    (void)state;
    for (size_t len = 0; len <= 1000; len++) {
        for (size_t k = 0; k < NKEYLENS; k++) {
            const unsigned char *key = keylens[k] ? key64 : NULL;

            assert_int_equal(crypto_generichash_blake2b(want, 32, data, len, key, keylens[k]), 0);
            assert_int_equal(guest_crypto_generichash_blake2b(got, 32, data, len, key, keylens[k]),
                             0);
            SAME(want, got, 32, "BLAKE2b-256 of %zu bytes, %zu-byte key", len, keylens[k]);
        }
        for (size_t o = 0; o < sizeof(outlens) / sizeof(outlens[0]); o++) {
            crypto_generichash_blake2b(want, outlens[o], data, len, NULL, 0);
            guest_crypto_generichash_blake2b(got, outlens[o], data, len, NULL, 0);
            SAME(want, got, outlens[o], "BLAKE2b-%zu of %zu bytes", 8 * outlens[o], len);
        }
        /* The generic name is BLAKE2b too. */
        crypto_generichash(want, 32, data, len, NULL, 0);
        guest_crypto_generichash(got, 32, data, len, NULL, 0);
        SAME(want, got, 32, "crypto_generichash of %zu bytes", len);
    }
    expect_no_mismatch();
}

/* Guest init/update/final in chunks of size `chunk`, or of irregular sizes when chunk is 0. */
static void guest_blake2b_chunked(unsigned char *out, size_t outlen, const unsigned char *in,
                                  size_t len, const unsigned char *key, size_t keylen, size_t chunk)
{
    crypto_generichash_blake2b_state st;
    size_t off = 0, step = 0;

    assert_int_equal(guest_crypto_generichash_blake2b_init(&st, key, keylen, outlen), 0);
    while (off < len) {
        size_t n = chunk ? chunk : 1 + (step++ * 37 + 11) % 301;

        if (n > len - off)
            n = len - off;
        assert_int_equal(guest_crypto_generichash_blake2b_update(&st, in + off, n), 0);
        off += n;
    }
    assert_int_equal(guest_crypto_generichash_blake2b_final(&st, out, outlen), 0);
}

static void test_blake2b_incremental(void **state)
{
    /* Odd sizes straddle the 128-byte block and the 256-byte buffer; 0 means irregular. */
    static const size_t chunks[] = {1, 3, 7, 63, 65, 127, 128, 129, 191, 255, 257, 1001, 0};
    unsigned char want[64], got[64];

    (void)state;
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
        for (size_t len = 0; len <= 1000; len++)
            for (size_t k = 0; k < NKEYLENS; k += 2) { /* key 0, 16 and 64 bytes */
                const unsigned char *key = keylens[k] ? key64 : NULL;

                crypto_generichash_blake2b(want, 32, data, len, key, keylens[k]);
                guest_blake2b_chunked(got, 32, data, len, key, keylens[k], chunks[c]);
                SAME(want, got, 32, "BLAKE2b-256 of %zu bytes in %zu-byte chunks, %zu-byte key",
                     len, chunks[c], keylens[k]);
            }
    expect_no_mismatch();
}

static void test_blake2b_1mib(void **state)
{
    static const size_t chunks[] = {MIB, 4093, 65536, 65537, 0};
    unsigned char want[64], got[64];

    (void)state;
    for (size_t k = 0; k < NKEYLENS; k++) {
        const unsigned char *key = keylens[k] ? key64 : NULL;

        for (size_t outlen = 32; outlen <= 64; outlen += 32) {
            crypto_generichash_blake2b(want, outlen, data, MIB, key, keylens[k]);
            guest_crypto_generichash_blake2b(got, outlen, data, MIB, key, keylens[k]);
            SAME(want, got, outlen, "BLAKE2b-%zu of 1 MiB, %zu-byte key", 8 * outlen, keylens[k]);
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                guest_blake2b_chunked(got, outlen, data, MIB, key, keylens[k], chunks[c]);
                SAME(want, got, outlen, "BLAKE2b-%zu of 1 MiB in %zu-byte chunks, %zu-byte key",
                     8 * outlen, chunks[c], keylens[k]);
            }
        }
    }
    expect_no_mismatch();
}

/* Known answers, independent of either library: RFC 7693 appendix A, and BLAKE2b-256(""). */
static void test_blake2b_vectors(void **state)
{
    unsigned char want[64], got[64];

    (void)state;
    hex_decode("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
               "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
               want, 64);
    guest_crypto_generichash_blake2b(got, 64, (const unsigned char *)"abc", 3, NULL, 0);
    assert_memory_equal(want, got, 64);
    hex_decode("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", want, 32);
    guest_crypto_generichash_blake2b(got, 32, NULL, 0, NULL, 0);
    assert_memory_equal(want, got, 32);
}

/* Out-of-range sizes are refused alike: output 1..64 bytes, key 0..64 bytes. */
static void test_blake2b_limits(void **state)
{
    static const size_t outlens[] = {0, 1, 16, 64, 65, 1000};
    static const size_t keys[] = {0, 1, 64, 65, 1000};
    crypto_generichash_blake2b_state st;
    unsigned char want[64], got[64];

    (void)state;
    for (size_t o = 0; o < sizeof(outlens) / sizeof(outlens[0]); o++)
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            size_t outlen = outlens[o], keylen = keys[k];
            int want_rc, got_rc;

            want_rc = crypto_generichash_blake2b(want, outlen, data, 100, data + 200, keylen);
            got_rc = guest_crypto_generichash_blake2b(got, outlen, data, 100, data + 200, keylen);
            assert_int_equal(want_rc, got_rc);
            assert_int_equal(got_rc, outlen >= 1 && outlen <= 64 && keylen <= 64 ? 0 : -1);
            if (got_rc == 0)
                SAME(want, got, outlen, "BLAKE2b-%zu, %zu-byte key", 8 * outlen, keylen);
            want_rc = crypto_generichash_blake2b_init(&st, data + 200, keylen, outlen);
            got_rc = guest_crypto_generichash_blake2b_init(&st, data + 200, keylen, outlen);
            assert_int_equal(want_rc, got_rc);
        }
    /* A finalised state is spent: a second final is refused, by both. */
    assert_int_equal(crypto_generichash_blake2b_init(&st, NULL, 0, 32), 0);
    assert_int_equal(crypto_generichash_blake2b_final(&st, want, 32), 0);
    assert_int_equal(crypto_generichash_blake2b_final(&st, want, 32), -1);
    assert_int_equal(guest_crypto_generichash_blake2b_init(&st, NULL, 0, 32), 0);
    assert_int_equal(guest_crypto_generichash_blake2b_final(&st, got, 32), 0);
    assert_int_equal(guest_crypto_generichash_blake2b_final(&st, got, 32), -1);
    expect_no_mismatch();
}

/* The guest's BLAKE2b computes lib/hash.c's lm_hash: BLAKE2b-256(domain || data). */
static void test_lm_hash_domains(void **state)
{
    static const char *const domains[] = {LM_DOMAIN_CHAIN, LM_DOMAIN_IMAGE, LM_DOMAIN_KEYID};
    static const size_t longer[] = {1000, 4096, MIB};
    unsigned char want[LM_HASH_BYTES], got[LM_HASH_BYTES];
    static unsigned char cat[64 + MIB];

    (void)state;
    assert_string_equal(LM_DOMAIN_CHAIN, "laundromat/chain/v1");
    for (size_t d = 0; d < sizeof(domains) / sizeof(domains[0]); d++) {
        size_t dlen = strlen(domains[d]);

        assert_true(dlen <= 64);
        /* Every length to 300 (domain and data end at every place in a block), then longer. */
        for (size_t l = 0; l <= 300 + sizeof(longer) / sizeof(longer[0]); l++) {
            size_t len = l <= 300 ? l : longer[l - 301];
            crypto_generichash_blake2b_state st;

            assert_int_equal(lm_hash(domains[d], data, len, want), 0);
            /* As lm_hash does it: domain, then data. */
            assert_int_equal(guest_crypto_generichash_blake2b_init(&st, NULL, 0, 32), 0);
            guest_crypto_generichash_blake2b_update(&st, (const unsigned char *)domains[d], dlen);
            guest_crypto_generichash_blake2b_update(&st, data, len);
            guest_crypto_generichash_blake2b_final(&st, got, sizeof(got));
            SAME(want, got, sizeof(got), "lm_hash(\"%s\", %zu bytes), incremental", domains[d],
                 len);
            /* One shot over the concatenation, as a guest with the bytes in one buffer may. */
            memcpy(cat, domains[d], dlen);
            memcpy(cat + dlen, data, len);
            guest_crypto_generichash_blake2b(got, sizeof(got), cat, dlen + len, NULL, 0);
            SAME(want, got, sizeof(got), "lm_hash(\"%s\", %zu bytes), one shot", domains[d], len);
        }
    }
    expect_no_mismatch();
}

/* ---- The secretstream's parts, each compared alone, so a break points at its primitive. ---- */

static void test_chacha20_poly1305_parts(void **state)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4097};
    static const uint32_t ics[] = {0, 1, 2, 0x7fffffff, 0xfffffff0};
    unsigned char want[4097], got[4097], mac[16];
    const unsigned char *key = key64, *nonce = key64 + 32;

    (void)state;
    crypto_core_hchacha20(want, data, key, NULL);
    guest_crypto_core_hchacha20(got, data, key, NULL);
    SAME(want, got, 32, "HChaCha20");
    crypto_core_hchacha20(want, data, key, data + 16);
    guest_crypto_core_hchacha20(got, data, key, data + 16);
    SAME(want, got, 32, "HChaCha20 with constant");

    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        size_t len = lens[l];

        for (size_t i = 0; i < sizeof(ics) / sizeof(ics[0]); i++) {
            if ((uint64_t)ics[i] + (len + 63) / 64 > (1ull << 32))
                continue; /* past the IETF counter: a misuse, which aborts */
            crypto_stream_chacha20_ietf_xor_ic(want, data, len, nonce, ics[i], key);
            guest_crypto_stream_chacha20_ietf_xor_ic(got, data, len, nonce, ics[i], key);
            SAME(want, got, len, "ChaCha20-IETF of %zu bytes from block %u", len, ics[i]);
            crypto_stream_chacha20_xor_ic(want, data, len, nonce, 0xffffffffull + ics[i], key);
            guest_crypto_stream_chacha20_xor_ic(got, data, len, nonce, 0xffffffffull + ics[i], key);
            SAME(want, got, len, "ChaCha20 of %zu bytes, 64-bit counter", len);
        }
        crypto_onetimeauth_poly1305(want, data, len, key);
        guest_crypto_onetimeauth_poly1305(got, data, len, key);
        SAME(want, got, 16, "Poly1305 of %zu bytes", len);
        assert_int_equal(guest_crypto_onetimeauth_poly1305_verify(want, data, len, key), 0);
        memcpy(mac, want, 16);
        mac[len % 16] ^= 1;
        assert_int_equal(guest_crypto_onetimeauth_poly1305_verify(mac, data, len, key), -1);
        assert_int_equal(guest_crypto_verify_16(mac, want), -1);
        assert_int_equal(guest_crypto_verify_16(want, want), 0);
    }
    expect_no_mismatch();
}

/* ---- The secretstream. ---- */

/* One implementation's secretstream, so every test runs each way round. */
struct ss_impl {
    const char *name;
    __typeof__(crypto_secretstream_xchacha20poly1305_init_push) *init_push;
    __typeof__(crypto_secretstream_xchacha20poly1305_push) *push;
    __typeof__(crypto_secretstream_xchacha20poly1305_init_pull) *init_pull;
    __typeof__(crypto_secretstream_xchacha20poly1305_pull) *pull;
};

static const struct ss_impl sys_ss = {"system", crypto_secretstream_xchacha20poly1305_init_push,
                                      crypto_secretstream_xchacha20poly1305_push,
                                      crypto_secretstream_xchacha20poly1305_init_pull,
                                      crypto_secretstream_xchacha20poly1305_pull};
static const struct ss_impl guest_ss = {"guest",
                                        guest_crypto_secretstream_xchacha20poly1305_init_push,
                                        guest_crypto_secretstream_xchacha20poly1305_push,
                                        guest_crypto_secretstream_xchacha20poly1305_init_pull,
                                        guest_crypto_secretstream_xchacha20poly1305_pull};

#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_KEY crypto_secretstream_xchacha20poly1305_KEYBYTES
#define SS_A crypto_secretstream_xchacha20poly1305_ABYTES
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_PUSH crypto_secretstream_xchacha20poly1305_TAG_PUSH
#define TAG_REKEY crypto_secretstream_xchacha20poly1305_TAG_REKEY
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

/* The stream every test sends: sizes around ChaCha20 blocks, every tag, with and without AD. */
static const struct ss_msg {
    size_t len, adlen;
    unsigned char tag;
} msgs[] = {
    {0, 0, TAG_MESSAGE},  {1, 0, TAG_MESSAGE},   {15, 1, TAG_PUSH},       {16, 0, TAG_MESSAGE},
    {17, 13, TAG_REKEY},  {63, 0, TAG_MESSAGE},  {64, 64, TAG_MESSAGE},   {65, 0, TAG_PUSH},
    {1000, 7, TAG_REKEY}, {0, 100, TAG_MESSAGE}, {65539, 0, TAG_MESSAGE}, {100, 3, TAG_FINAL},
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))
#define MSG(i) (data + 11 * (i))
#define AD(i) (msgs[i].adlen ? data + 70000 + (i) : NULL)

#define SS_MAXLEN 65539 /* the longest message above */

/* A pushed stream: no heap, so a failing assertion (a longjmp) leaks nothing. */
struct ss_stream {
    unsigned char header[SS_HEADER];
    unsigned char *c[NMSGS];
    unsigned long long clen[NMSGS];
    unsigned char buf[68000]; /* every message plus SS_A bytes each */
};

static void ss_send(const struct ss_impl *impl, const unsigned char *key, struct ss_stream *s)
{
    crypto_secretstream_xchacha20poly1305_state st;
    size_t off = 0;

    assert_int_equal(impl->init_push(&st, s->header, key), 0);
    for (size_t i = 0; i < NMSGS; i++) {
        assert_true(msgs[i].len <= SS_MAXLEN && off + msgs[i].len + SS_A <= sizeof(s->buf));
        s->c[i] = s->buf + off;
        assert_int_equal(impl->push(&st, s->c[i], &s->clen[i], MSG(i), msgs[i].len, AD(i),
                                    msgs[i].adlen, msgs[i].tag),
                         0);
        assert_int_equal(s->clen[i], msgs[i].len + SS_A);
        off += s->clen[i];
    }
}

/* Pulls the whole stream; every message and tag must come back as sent. */
static void ss_receive(const struct ss_impl *impl, const unsigned char *key,
                       const struct ss_stream *s)
{
    crypto_secretstream_xchacha20poly1305_state st;
    static unsigned char m[SS_MAXLEN];
    unsigned long long mlen;
    unsigned char tag;

    assert_int_equal(impl->init_pull(&st, s->header, key), 0);
    for (size_t i = 0; i < NMSGS; i++) {
        if (impl->pull(&st, m, &mlen, &tag, s->c[i], s->clen[i], AD(i), msgs[i].adlen) != 0)
            fail_msg("%s pull of message %zu (%zu bytes) failed", impl->name, i, msgs[i].len);
        assert_int_equal(mlen, msgs[i].len);
        assert_int_equal(tag, msgs[i].tag);
        SAME(MSG(i), m, msgs[i].len, "%s pull of message %zu", impl->name, i);
    }
    expect_no_mismatch();
}

/* Push with one, pull with the other, all four ways; the guest's header is lm_entropy's. */
static void test_secretstream_round_trip(void **state)
{
    const struct ss_impl *impls[] = {&sys_ss, &guest_ss};
    unsigned char key[SS_KEY];

    (void)state;
    for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++) {
            static struct ss_stream s;

            randombytes_buf(key, sizeof(key));
            ss_send(impls[p], key, &s);
            if (impls[p] == &guest_ss)
                assert_memory_equal(s.header, entropy_last, SS_HEADER);
            ss_receive(impls[q], key, &s);
        }
}

/* keygen draws the key from lm_entropy; the stream works with it across implementations. */
static void test_secretstream_keygen(void **state)
{
    unsigned char key[SS_KEY];
    unsigned long calls = entropy_calls;
    static struct ss_stream s;

    (void)state;
    guest_crypto_secretstream_xchacha20poly1305_keygen(key);
    assert_int_equal(entropy_calls, calls + 1);
    assert_memory_equal(key, entropy_last, SS_KEY);
    ss_send(&guest_ss, key, &s);
    ss_receive(&sys_ss, key, &s);
}

/*
 * Byte for byte: a pull state is the push state of the same header, so the system library,
 * initialised with the guest's header, must push exactly the guest's ciphertexts and keep
 * exactly its state, through explicit and automatic (counter wrap) rekeying.
 */
static void test_secretstream_same_bytes(void **state)
{
    crypto_secretstream_xchacha20poly1305_state gs, ss;
    static unsigned char want[SS_MAXLEN + SS_A], got[SS_MAXLEN + SS_A];
    unsigned char header[SS_HEADER];

    (void)state;
    for (int round = 0; round < 3; round++) {
        guest_crypto_secretstream_xchacha20poly1305_init_push(&gs, header, key64);
        crypto_secretstream_xchacha20poly1305_init_pull(&ss, header, key64);
        SAME((unsigned char *)&ss, (unsigned char *)&gs, sizeof(gs), "state after init");
        for (size_t i = 0; i < NMSGS; i++) {
            unsigned long long wlen, glen;

            if (round == 1 && i % 3 == 2) {
                crypto_secretstream_xchacha20poly1305_rekey(&ss);
                guest_crypto_secretstream_xchacha20poly1305_rekey(&gs);
            }
            if (round == 2 && i % 4 == 1) { /* counter 0xffffffff: this push wraps, rekeys */
                memset(ss.nonce, 0xff, 4);
                memset(gs.nonce, 0xff, 4);
            }
            crypto_secretstream_xchacha20poly1305_push(&ss, want, &wlen, MSG(i), msgs[i].len, AD(i),
                                                       msgs[i].adlen, msgs[i].tag);
            guest_crypto_secretstream_xchacha20poly1305_push(&gs, got, &glen, MSG(i), msgs[i].len,
                                                             AD(i), msgs[i].adlen, msgs[i].tag);
            assert_int_equal(wlen, glen);
            SAME(want, got, wlen, "round %d, ciphertext %zu", round, i);
            SAME((unsigned char *)&ss, (unsigned char *)&gs, sizeof(gs), "round %d, state %zu",
                 round, i);
        }
    }
    expect_no_mismatch();
}

/* Expects pull to refuse; the output length and tag must say nothing came out. */
static void refused(const struct ss_impl *impl, crypto_secretstream_xchacha20poly1305_state *st,
                    const unsigned char *c, unsigned long long clen, const unsigned char *ad,
                    size_t adlen, const char *what, size_t pos)
{
    unsigned char m[256];
    unsigned long long mlen = 12345;
    unsigned char tag = 0;

    if (impl->pull(st, m, &mlen, &tag, c, clen, ad, adlen) != -1)
        fail_msg("%s pull accepted %s (at %zu)", impl->name, what, pos);
    assert_int_equal(mlen, 0);
    assert_int_equal(tag, 0xff);
}

/* Tampering: every flipped bit position, wrong AD, truncation, reordering, wrong key or header. */
static void test_secretstream_tampering(void **state)
{
    const struct ss_impl *impls[] = {&sys_ss, &guest_ss};

    (void)state;
    for (int p = 0; p < 2; p++) {
        const struct ss_impl *puller = impls[!p];
        crypto_secretstream_xchacha20poly1305_state st0, st;
        unsigned char c[256], header[SS_HEADER], key[SS_KEY];
        unsigned char m[256], tag;
        unsigned long long clen, mlen;
        static struct ss_stream s;

        /* A 100-byte message with 3 bytes of AD: each of its 117 bytes, each bit. */
        assert_int_equal(impls[p]->init_push(&st, header, key64), 0);
        impls[p]->push(&st, c, &clen, data, 100, data + 500, 3, TAG_FINAL);
        puller->init_pull(&st0, header, key64);
        for (size_t i = 0; i < clen; i++)
            for (int bit = 0; bit < 8; bit++) {
                c[i] ^= (unsigned char)(1u << bit);
                st = st0;
                refused(puller, &st, c, clen, data + 500, 3, "a flipped bit", i * 8 + bit);
                c[i] ^= (unsigned char)(1u << bit);
            }
        for (size_t i = 0; i < 3; i++) {
            unsigned char ad[3] = {data[500], data[501], data[502]};

            ad[i] ^= 0x40;
            st = st0;
            refused(puller, &st, c, clen, ad, 3, "changed AD", i);
        }
        st = st0;
        refused(puller, &st, c, clen, NULL, 0, "missing AD", 0);
        st = st0;
        refused(puller, &st, c, clen, data + 500, 2, "shortened AD", 0);
        for (size_t n = 0; n < clen; n += (n < SS_A + 2 ? 1 : 17)) {
            st = st0;
            refused(puller, &st, c, n, data + 500, 3, "a truncated message", n);
        }
        st = st0;
        refused(puller, &st, c, clen, data + 501, 3, "shifted AD", 0);
        memcpy(key, key64, SS_KEY);
        key[5] ^= 1;
        puller->init_pull(&st, header, key);
        refused(puller, &st, c, clen, data + 500, 3, "a wrong key", 0);
        header[20] ^= 1;
        puller->init_pull(&st, header, key64);
        refused(puller, &st, c, clen, data + 500, 3, "a wrong header", 0);
        header[20] ^= 1;
        /* Untouched, it still opens, FINAL tag and all. */
        st = st0;
        assert_int_equal(puller->pull(&st, m, &mlen, &tag, c, clen, data + 500, 3), 0);
        assert_int_equal(mlen, 100);
        assert_int_equal(tag, TAG_FINAL);
        assert_memory_equal(m, data, 100);

        /* Order: message 1 cannot be pulled first, nor message 0 twice. */
        ss_send(impls[p], key64, &s);
        puller->init_pull(&st, s.header, key64);
        refused(puller, &st, s.c[1], s.clen[1], AD(1), msgs[1].adlen, "a skipped message", 1);
        puller->init_pull(&st, s.header, key64);
        assert_int_equal(puller->pull(&st, m, &mlen, &tag, s.c[0], s.clen[0], AD(0), msgs[0].adlen),
                         0);
        refused(puller, &st, s.c[0], s.clen[0], AD(0), msgs[0].adlen, "a replayed message", 0);
    }
}

/* ---- SHA-512 and crypto_verify_32: the parts of Ed25519 verification. ---- */

static void test_sha512(void **state)
{
    /* Odd sizes straddle the 128-byte block; 0 means irregular. */
    static const size_t chunks[] = {1, 7, 111, 127, 128, 129, 255, 0};
    unsigned char want[64], got[64];

    (void)state;
    for (size_t len = 0; len <= 1000; len++) {
        crypto_hash_sha512(want, data, len);
        guest_crypto_hash_sha512(got, data, len);
        SAME(want, got, 64, "SHA-512 of %zu bytes", len);
    }
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
        for (size_t len = 0; len <= 600; len += 3) {
            crypto_hash_sha512_state st;
            size_t off = 0, step = 0;

            crypto_hash_sha512(want, data, len);
            assert_int_equal(guest_crypto_hash_sha512_init(&st), 0);
            while (off < len) {
                size_t n = chunks[c] ? chunks[c] : 1 + (step++ * 37 + 11) % 301;

                if (n > len - off)
                    n = len - off;
                assert_int_equal(guest_crypto_hash_sha512_update(&st, data + off, n), 0);
                off += n;
            }
            assert_int_equal(guest_crypto_hash_sha512_final(&st, got), 0);
            SAME(want, got, 64, "SHA-512 of %zu bytes in %zu-byte chunks", len, chunks[c]);
        }
    expect_no_mismatch();
    /* A known answer independent of either library: FIPS 180-2's "abc". */
    hex_decode("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
               want, 64);
    guest_crypto_hash_sha512(got, (const unsigned char *)"abc", 3);
    assert_memory_equal(want, got, 64);
}

static void flip_bit(unsigned char *b, size_t bit)
{
    b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
}

static void test_verify_32(void **state)
{
    unsigned char a[32], b[32];

    (void)state;
    memcpy(a, data + 99, 32);
    memcpy(b, a, 32);
    assert_int_equal(guest_crypto_verify_32(a, b), 0);
    for (size_t bit = 0; bit < 256; bit++) {
        flip_bit(b, bit);
        if (guest_crypto_verify_32(a, b) != -1)
            fail_msg("crypto_verify_32 accepted a difference in bit %zu", bit);
        flip_bit(b, bit);
    }
    assert_int_equal(guest_crypto_verify_32(a, b), 0);
}

/* ---- X25519. ---- */

#define X_BYTES crypto_scalarmult_curve25519_BYTES

/* RFC 7748 section 5.2 (two inputs, then the iteration) and section 6.1 (Diffie-Hellman). */
static void test_x25519_rfc7748(void **state)
{
    static const struct {
        const char *k, *u, *out;
    } vec[] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    unsigned char k[X_BYTES], u[X_BYTES], want[X_BYTES], got[X_BYTES], sys[X_BYTES];
    unsigned char a[X_BYTES], b[X_BYTES], apub[X_BYTES], bpub[X_BYTES];

    (void)state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        hex_decode(vec[i].k, k, X_BYTES);
        hex_decode(vec[i].u, u, X_BYTES);
        hex_decode(vec[i].out, want, X_BYTES);
        assert_int_equal(guest_crypto_scalarmult_curve25519(got, k, u), 0);
        assert_memory_equal(want, got, X_BYTES);
        assert_int_equal(crypto_scalarmult_curve25519(sys, k, u), 0);
        assert_memory_equal(want, sys, X_BYTES);
    }

    /* k = u = 9; then k, u = X25519(k, u), k. */
    memset(k, 0, X_BYTES);
    k[0] = 9;
    memcpy(u, k, X_BYTES);
    for (int i = 1; i <= 1000; i++) {
        assert_int_equal(guest_crypto_scalarmult_curve25519(got, k, u), 0);
        memcpy(u, k, X_BYTES);
        memcpy(k, got, X_BYTES);
        if (i == 1)
            hex_decode("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", want,
                       X_BYTES);
        else if (i == 1000)
            hex_decode("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", want,
                       X_BYTES);
        else
            continue;
        if (memcmp(want, k, X_BYTES) != 0)
            fail_msg("RFC 7748 X25519 iteration %d: wrong result", i);
    }

    hex_decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, X_BYTES);
    hex_decode("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, X_BYTES);
    assert_int_equal(guest_crypto_scalarmult_curve25519_base(apub, a), 0);
    hex_decode("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, X_BYTES);
    assert_memory_equal(want, apub, X_BYTES);
    assert_int_equal(guest_crypto_scalarmult_curve25519_base(bpub, b), 0);
    hex_decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want, X_BYTES);
    assert_memory_equal(want, bpub, X_BYTES);
    hex_decode("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, X_BYTES);
    assert_int_equal(guest_crypto_scalarmult_curve25519(got, a, bpub), 0);
    assert_memory_equal(want, got, X_BYTES);
    assert_int_equal(guest_crypto_scalarmult_curve25519(got, b, apub), 0);
    assert_memory_equal(want, got, X_BYTES);
}

/* One X25519 by each library, which must agree on the result and the return code. */
static int x25519_both(const unsigned char *n, const unsigned char *p, const char *what, int i)
{
    unsigned char want[X_BYTES], got[X_BYTES];
    int want_rc, got_rc;

    if (p == NULL) {
        want_rc = crypto_scalarmult_curve25519_base(want, n);
        got_rc = guest_crypto_scalarmult_curve25519_base(got, n);
    } else {
        want_rc = crypto_scalarmult_curve25519(want, n, p);
        got_rc = guest_crypto_scalarmult_curve25519(got, n, p);
    }
    if (want_rc != got_rc)
        fail_msg("X25519%s, %s %d: system returns %d, guest %d", p ? "" : " base", what, i, want_rc,
                 got_rc);
    /* A refused point leaves ref10's output untouched but sandy2x's zeroed: only agree on 0. */
    if (got_rc == 0)
        SAME(want, got, X_BYTES, "X25519%s, %s %d", p ? "" : " base", what, i);
    return got_rc;
}

/* Random scalars and points (32 bytes each, top bit included), and odd ones. */
static void test_x25519_random(void **state)
{
    unsigned char n[X_BYTES], p[X_BYTES], apub[X_BYTES], bpub[X_BYTES], s1[X_BYTES], s2[X_BYTES];

    (void)state;
    for (int i = 0; i < 400; i++) {
        memcpy(n, data + 64 * i, X_BYTES);
        memcpy(p, data + 64 * i + 32, X_BYTES);
        assert_int_equal(x25519_both(n, NULL, "random scalar", i), 0);
        assert_int_equal(x25519_both(n, p, "random scalar and point", i), 0);
        /* A key exchange across the two: each side's public key made by the other library. */
        crypto_scalarmult_curve25519_base(apub, n);
        guest_crypto_scalarmult_curve25519_base(bpub, p);
        assert_int_equal(guest_crypto_scalarmult_curve25519(s1, p, apub), 0);
        assert_int_equal(crypto_scalarmult_curve25519(s2, n, bpub), 0);
        SAME(s2, s1, X_BYTES, "X25519 shared secret %d", i);
    }
    expect_no_mismatch();

    /* Scalars: zero, all ones, one; points: 9 (the base point), 2, and u = p+2 .. 2^255-1, which
     * are not reduced (p = 2^255-19); each of them also with bit 255 set, which X25519 ignores. */
    for (int sc = 0; sc < 5; sc++) {
        memset(n, sc == 1 ? 0xff : 0, X_BYTES);
        if (sc == 2)
            n[0] = 1;
        if (sc >= 3)
            memcpy(n, data + 40000 + 32 * sc, X_BYTES);
        assert_int_equal(x25519_both(n, NULL, "odd scalar", sc), 0);
        for (int pt = 0; pt < 2 * 19; pt++) {
            memset(p, 0, X_BYTES);
            if (pt % 19 == 0) {
                p[0] = 9;
            } else if (pt % 19 == 1) {
                p[0] = 2;
            } else {
                memset(p, 0xff, X_BYTES);
                p[0] = (unsigned char)(0xed + pt % 19); /* p + 2 .. p + 18 */
                p[31] = 0x7f;
            }
            if (pt >= 19)
                p[31] |= 0x80;
            assert_int_equal(x25519_both(n, p, "odd scalar and point", sc * 100 + pt), 0);
        }
    }
    expect_no_mismatch();
}

/* The points of small order (u = 0, 1, the two of order 8, p-1, p, p+1), each also with bit 255
 * set: X25519 with any scalar is all zeros, which both refuse with -1. */
static void test_x25519_small_order(void **state)
{
    static const char *const points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    unsigned char n[X_BYTES], p[X_BYTES];

    (void)state;
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
        for (int top = 0; top < 2; top++)
            for (int sc = 0; sc < 4; sc++) {
                hex_decode(points[i], p, X_BYTES);
                p[31] |= (unsigned char)(top << 7);
                memcpy(n, data + 50000 + 32 * sc, X_BYTES);
                if (x25519_both(n, p, "small-order point", (int)i * 10 + top) != -1)
                    fail_msg("X25519 accepted small-order point %zu (bit 255 %d)", i, top);
                /* A neighbour (u + 256 or u - 256) is an ordinary point: accepted alike. */
                p[1] ^= 1;
                assert_int_equal(x25519_both(n, p, "small-order neighbour", (int)i * 10 + top), 0);
            }
    expect_no_mismatch();
}

/* ---- Ed25519 verification. ---- */

#define ED_PK crypto_sign_ed25519_PUBLICKEYBYTES
#define ED_SK crypto_sign_ed25519_SECRETKEYBYTES
#define ED_SIG crypto_sign_ed25519_BYTES

/* RFC 8032 section 7.1, tests 1 and 2: verified by the guest, and signed alike. */
static void test_ed25519_rfc8032(void **state)
{
    static const struct {
        const char *seed, *pk, *msg, *sig;
    } vec[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        unsigned char seed[32], pk[ED_PK], sk[ED_SK], kp_pk[ED_PK], sig[ED_SIG], got[ED_SIG];
        unsigned char msg[1];
        size_t mlen = strlen(vec[i].msg) / 2;

        hex_decode(vec[i].seed, seed, sizeof(seed));
        hex_decode(vec[i].pk, pk, ED_PK);
        hex_decode(vec[i].msg, msg, mlen);
        hex_decode(vec[i].sig, sig, ED_SIG);
        assert_int_equal(guest_crypto_sign_ed25519_verify_detached(sig, msg, mlen, pk), 0);
        /* The key pair from the seed is the system's (the guest has no keypair code). */
        assert_int_equal(crypto_sign_ed25519_seed_keypair(kp_pk, sk, seed), 0);
        assert_memory_equal(pk, kp_pk, ED_PK);
        assert_int_equal(guest_crypto_sign_ed25519_detached(got, NULL, msg, mlen, sk), 0);
        assert_memory_equal(sig, got, ED_SIG);
        sig[10] ^= 4;
        assert_int_equal(guest_crypto_sign_ed25519_verify_detached(sig, msg, mlen, pk), -1);
    }
}

/* A key pair from seed `i` and a message of `mlen` bytes, signed by the system library. */
struct ed_case {
    unsigned char pk[ED_PK], sk[ED_SK], sig[ED_SIG], m[1000];
    size_t mlen;
};

static void ed_case_make(struct ed_case *c, int i, size_t mlen)
{
    assert_true(mlen <= sizeof(c->m));
    assert_int_equal(crypto_sign_ed25519_seed_keypair(c->pk, c->sk, data + 32 * i), 0);
    memcpy(c->m, data + 300000 + 13 * i, mlen);
    c->mlen = mlen;
    assert_int_equal(crypto_sign_ed25519_detached(c->sig, NULL, c->m, mlen, c->sk), 0);
}

/* One verification by each library; both must give `expect`. */
static void ed_both(const unsigned char *sig, const unsigned char *m, size_t mlen,
                    const unsigned char *pk, int expect, const char *what, size_t pos)
{
    int want = crypto_sign_ed25519_verify_detached(sig, m, mlen, pk);
    int got = guest_crypto_sign_ed25519_verify_detached(sig, m, mlen, pk);

    if (want != expect || got != expect)
        fail_msg("Ed25519 verify, %s (%zu): system %d, guest %d, expected %d", what, pos, want, got,
                 expect);
}

/* Signatures by the system library, messages of 0 to 999 bytes, verify in the guest's build;
 * under the wrong key they fail in both. The guest's signing (sign.c, compiled in for open.c's
 * hash setup) makes the same bytes. */
static void test_ed25519_system_signed(void **state)
{
    static struct ed_case c, prev;
    unsigned char sig[ED_SIG];

    (void)state;
    for (int i = 0; i < 300; i++) {
        ed_case_make(&c, i, (size_t)(i * 337) % 1000);
        ed_both(c.sig, c.m, c.mlen, c.pk, 0, "system-signed message", (size_t)i);
        if (i > 0)
            ed_both(c.sig, c.m, c.mlen, prev.pk, -1, "under another key", (size_t)i);
        assert_int_equal(guest_crypto_sign_ed25519_detached(sig, NULL, c.m, c.mlen, c.sk), 0);
        SAME(c.sig, sig, ED_SIG, "Ed25519 signature %d (%zu bytes)", i, c.mlen);
        prev = c;
    }
    expect_no_mismatch();
}

/* Every single-bit change of the message, the signature or the public key is refused by both. */
static void test_ed25519_bit_flips(void **state)
{
    static const size_t mlens[] = {0, 1, 64, 150};
    static struct ed_case c;

    (void)state;
    for (size_t k = 0; k < sizeof(mlens) / sizeof(mlens[0]); k++) {
        ed_case_make(&c, 1000 + (int)k, mlens[k]);
        ed_both(c.sig, c.m, c.mlen, c.pk, 0, "untouched", k);
        for (size_t bit = 0; bit < 8 * c.mlen; bit++) {
            flip_bit(c.m, bit);
            ed_both(c.sig, c.m, c.mlen, c.pk, -1, "a flipped message bit", bit);
            flip_bit(c.m, bit);
        }
        for (size_t bit = 0; bit < 8 * ED_SIG; bit++) {
            flip_bit(c.sig, bit);
            ed_both(c.sig, c.m, c.mlen, c.pk, -1, "a flipped signature bit", bit);
            flip_bit(c.sig, bit);
        }
        for (size_t bit = 0; bit < 8 * ED_PK; bit++) {
            flip_bit(c.pk, bit);
            ed_both(c.sig, c.m, c.mlen, c.pk, -1, "a flipped public key bit", bit);
            flip_bit(c.pk, bit);
        }
        /* A byte more or less of message. */
        if (c.mlen > 0)
            ed_both(c.sig, c.m, c.mlen - 1, c.pk, -1, "a shortened message", k);
        ed_both(c.sig, c.m, c.mlen + 1, c.pk, -1, "a lengthened message", k);
        ed_both(c.sig, c.m, c.mlen, c.pk, 0, "untouched again", k);
    }
}

/*
 * Forgeries that satisfy the group equation [S]B = R + [h]A, each refused by one check alone (S
 * below L; A, then R, not of small order), then encodings refused before any arithmetic: both
 * libraries must refuse them all. Built with libsodium's pre-1.0.16 rules (ED25519_COMPAT), the
 * guest would accept the three forgeries.
 */
static void test_ed25519_malformed(void **state)
{
    static struct ed_case c;
    unsigned char L[32]; /* the group order, 2^252 + 27742317777372353535851937790883648493 */
    unsigned char sig[ED_SIG], pk[ED_PK], a[64] = {0}, h[64], hr[32], ar[32];
    crypto_hash_sha512_state st;
    unsigned int carry = 0;

    (void)state;
    hex_decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", L, 32);
    memcpy(h, L, 32);
    memset(h + 32, 0, 32);
    crypto_core_ed25519_scalar_reduce(hr, h);
    assert_true(sodium_is_zero(hr, 32)); /* L mod L: the constant is right */
    ed_case_make(&c, 2000, 100);

    /* S + L: [S + L]B = [S]B, so the equation holds; only the check that S < L refuses it. */
    memcpy(sig, c.sig, ED_SIG);
    for (int i = 0; i < 32; i++) {
        carry += sig[32 + i] + L[i];
        sig[32 + i] = (unsigned char)carry;
        carry >>= 8;
    }
    assert_int_equal(carry, 0);
    ed_both(sig, c.m, c.mlen, c.pk, -1, "S + L", 0);
    memcpy(sig + 32, L, 32);
    ed_both(sig, c.m, c.mlen, c.pk, -1, "S = L", 0);

    /* A the identity: any r, R = [r]B and S = r sign any message. */
    crypto_core_ed25519_scalar_reduce(sig + 32, data + 60000);
    assert_int_equal(crypto_scalarmult_ed25519_base_noclamp(sig, sig + 32), 0);
    memset(pk, 0, ED_PK);
    pk[0] = 1;
    ed_both(sig, c.m, c.mlen, pk, -1, "the identity as key, R = [r]B, S = r", 0);

    /* R the identity, under the real key A = [a]B: S = h a, with a from the secret key. */
    memset(sig, 0, 32);
    sig[0] = 1;
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(a, c.sk), 0); /* the clamped a */
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig, 32);
    crypto_hash_sha512_update(&st, c.pk, ED_PK);
    crypto_hash_sha512_update(&st, c.m, c.mlen);
    crypto_hash_sha512_final(&st, h);
    crypto_core_ed25519_scalar_reduce(hr, h);
    crypto_core_ed25519_scalar_reduce(ar, a);
    crypto_core_ed25519_scalar_mul(sig + 32, hr, ar);
    ed_both(sig, c.m, c.mlen, c.pk, -1, "the identity as R, S = h a", 0);

    /* A public key of small order (the identity, y = -1, the two of order 4 with y = 0), not
     * reduced (y = p + 1 .. 2^255 - 1) or not on the curve. */
    for (int i = 0; i < 4 + 18; i++) {
        memset(pk, 0, ED_PK);
        if (i == 0) {
            pk[0] = 1;
        } else if (i == 1) {
            memset(pk, 0xff, ED_PK);
            pk[0] = 0xec;
            pk[31] = 0x7f;
        } else if (i == 3) {
            pk[31] = 0x80;
        } else if (i >= 4) {
            memset(pk, 0xff, ED_PK);
            pk[0] = (unsigned char)(0xee + i - 4); /* p + 1 .. p + 18 */
            pk[31] = 0x7f;
        }
        ed_both(c.sig, c.m, c.mlen, pk, -1, "small-order or unreduced key", (size_t)i);
    }
    memset(pk, 0, ED_PK);
    pk[0] = 2;
    while (crypto_core_ed25519_is_valid_point(pk))
        pk[0]++;
    ed_both(c.sig, c.m, c.mlen, pk, -1, "a key off the curve", pk[0]);

    ed_both(c.sig, c.m, c.mlen, c.pk, 0, "untouched", 0);
}

/* ---- Cost. ---- */

/* Not a check but a report, for the guest's budget: the time of one X25519 and one Ed25519
 * verification in the guest's code, beside the system library's, in this ASan+UBSan build
 * (which slows the guest's code and not the system's, so its figures are upper bounds). */
static void test_curve25519_cost(void **state)
{
    enum { N = 200 };
    static struct ed_case c;
    unsigned char q[X_BYTES];
    uint64_t t[7];
    int rc = 0;

    (void)state;
    ed_case_make(&c, 3000, 64);
    t[0] = lm_now_ns();
    for (int i = 0; i < N; i++)
        rc |= guest_crypto_scalarmult_curve25519(q, data + 32 * i, c.pk);
    t[1] = lm_now_ns();
    for (int i = 0; i < N; i++)
        rc |= guest_crypto_scalarmult_curve25519_base(q, data + 32 * i);
    t[2] = lm_now_ns();
    for (int i = 0; i < N; i++)
        rc |= guest_crypto_sign_ed25519_verify_detached(c.sig, c.m, c.mlen, c.pk);
    t[3] = lm_now_ns();
    for (int i = 0; i < N; i++)
        rc |= crypto_scalarmult_curve25519(q, data + 32 * i, c.pk);
    t[4] = lm_now_ns();
    for (int i = 0; i < N; i++)
        rc |= crypto_scalarmult_curve25519_base(q, data + 32 * i);
    t[5] = lm_now_ns();
    for (int i = 0; i < N; i++)
        rc |= crypto_sign_ed25519_verify_detached(c.sig, c.m, c.mlen, c.pk);
    t[6] = lm_now_ns();
    assert_int_equal(rc, 0);
    print_message("# per call, guest code (ASan+UBSan) / system: X25519 %.0f / %.0f us, "
                  "X25519 base %.0f / %.0f us, Ed25519 verify (64 bytes) %.0f / %.0f us\n",
                  (t[1] - t[0]) / 1e3 / N, (t[4] - t[3]) / 1e3 / N, (t[2] - t[1]) / 1e3 / N,
                  (t[5] - t[4]) / 1e3 / N, (t[3] - t[2]) / 1e3 / N, (t[6] - t[5]) / 1e3 / N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_entropy),
        cmocka_unit_test(test_utils),
        cmocka_unit_test(test_blake2b_oneshot),
        cmocka_unit_test(test_blake2b_incremental),
        cmocka_unit_test(test_blake2b_1mib),
        cmocka_unit_test(test_blake2b_vectors),
        cmocka_unit_test(test_blake2b_limits),
        cmocka_unit_test(test_lm_hash_domains),
        cmocka_unit_test(test_chacha20_poly1305_parts),
        cmocka_unit_test(test_secretstream_round_trip),
        cmocka_unit_test(test_secretstream_keygen),
        cmocka_unit_test(test_secretstream_same_bytes),
        cmocka_unit_test(test_secretstream_tampering),
        cmocka_unit_test(test_sha512),
        cmocka_unit_test(test_verify_32),
        cmocka_unit_test(test_x25519_rfc7748),
        cmocka_unit_test(test_x25519_random),
        cmocka_unit_test(test_x25519_small_order),
        cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_ed25519_system_signed),
        cmocka_unit_test(test_ed25519_bit_flips),
        cmocka_unit_test(test_ed25519_malformed),
        cmocka_unit_test(test_curve25519_cost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
