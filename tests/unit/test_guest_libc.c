/* Host-side test of the guest libc: its printf, string and strtol code, kc_-renamed, vs glibc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The guest libc, compiled for the host with every public name prefixed kc_ (KC_HOST_NAMES in
 * guest/guest.mk), so that it links beside glibc. No format attribute on the printf family:
 * the cases below include flag combinations gcc rightly calls suspicious.
 */
int kc_snprintf(char *buf, size_t size, const char *fmt, ...);
int kc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int kc_printf(const char *fmt, ...);
int kc_puts(const char *s);
int kc_putchar(int c);
void *kc_memcpy(void *dst, const void *src, size_t n);
void *kc_memmove(void *dst, const void *src, size_t n);
void *kc_memset(void *dst, int c, size_t n);
int kc_memcmp(const void *a, const void *b, size_t n);
void *kc_memchr(const void *s, int c, size_t n);
size_t kc_strlen(const char *s);
size_t kc_strnlen(const char *s, size_t maxlen);
int kc_strcmp(const char *a, const char *b);
int kc_strncmp(const char *a, const char *b, size_t n);
char *kc_strchr(const char *s, int c);
char *kc_strrchr(const char *s, int c);
char *kc_strstr(const char *haystack, const char *needle);
char *kc_strcpy(char *dst, const char *src);
char *kc_strncpy(char *dst, const char *src, size_t n);
unsigned long kc_strtoul(const char *nptr, char **endptr, int base);
long kc_strtol(const char *nptr, char **endptr, int base);
int kc_atoi(const char *s);
int kc_abs(int x);
void kc_abort(void) __attribute__((noreturn));
int kc_isdigit(int c);
int kc_isxdigit(int c);
int kc_isspace(int c);
int kc_isalpha(int c);
int kc_isalnum(int c);
int kc_isupper(int c);
int kc_islower(int c);
int kc_isprint(int c);
int kc_toupper(int c);
int kc_tolower(int c);
extern int kc_errno;

/* The kernel's console hook, here capturing what the guest printf writes. */
void lm_console_write(const char *s, unsigned long n);

static char console[4096];
static size_t console_len;
static unsigned console_writes;
static size_t console_max_write;

void lm_console_write(const char *s, unsigned long n)
{
    assert_true(console_len + n <= sizeof(console));
    memcpy(console + console_len, s, n);
    console_len += n;
    console_writes++;
    if (n > console_max_write)
        console_max_write = n;
}

/* The kernel's panic hook, here recording the message and jumping back into the test. */
void lm_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static char panic_msg[256];
static jmp_buf panic_return;

void lm_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(panic_msg, sizeof(panic_msg), fmt, ap);
    va_end(ap);
    longjmp(panic_return, 1);
}

static void console_reset(void)
{
    console_len = 0;
    console_writes = 0;
    console_max_write = 0;
}

/* Mismatches are counted and each one printed, so one run shows every broken case. */
static int mismatches;

static void same_output(int line, const char *args, const char *want, int want_n, const char *got,
                        int got_n)
{
    if (want_n == got_n && strcmp(want, got) == 0)
        return;
    print_error("line %d: snprintf(%s): glibc %d \"%s\", guest %d \"%s\"\n", line, args, want_n,
                want, got_n, got);
    mismatches++;
}

#define FMT(...)                                                                                   \
    do {                                                                                           \
        char want_[512], got_[512];                                                                \
        int want_n_ = snprintf(want_, sizeof(want_), __VA_ARGS__);                                 \
        int got_n_ = kc_snprintf(got_, sizeof(got_), __VA_ARGS__);                                 \
        same_output(__LINE__, #__VA_ARGS__, want_, want_n_, got_, got_n_);                         \
    } while (0)

static void expect_no_mismatch(void)
{
    int n = mismatches;

    mismatches = 0;
    assert_int_equal(n, 0);
}

/* The format cases deliberately include what gcc warns about ('0' with '-', '#' with d...). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-zero-length"
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat-truncation"

static void test_format_signed(void **state)
{
    (void)state;
    FMT("plain text, no conversion");
    FMT("%s", "");
    FMT("%d", 0);
    FMT("%d", 42);
    FMT("%d", -42);
    FMT("%i", 123456789);
    FMT("%d", INT_MAX);
    FMT("%d", INT_MIN);
    FMT("%5d|%-5d|%05d", 42, 42, 42);
    FMT("%5d|%-5d|%05d", -42, -42, -42);
    FMT("%+d|%+d|%+d", 0, 7, -7);
    FMT("% d|% d|% d", 0, 7, -7);
    FMT("%+ d|% +d", 7, 7); /* '+' beats ' ' */
    FMT("%-05d|", 7);       /* '-' beats '0' */
    FMT("%08.3d|", -7);     /* a precision beats '0' */
    FMT("%.5d|%.0d|%.0d|", 42, 0, 1);
    FMT("%3.0d|%-3.0d|%+.0d|", 0, 0, 0);
    FMT("%.3d|%.3d", -1, 1000);
    FMT("%010d", INT_MIN);
    FMT("%+.12d", INT_MIN);
    FMT("%hhd|%hhd|%hhd", 127, 128, 300);
    FMT("%hd|%hd|%hd", 32767, 32768, 70000);
    FMT("%ld|%ld", LONG_MAX, LONG_MIN);
    FMT("%lld|%lld", LLONG_MAX, LLONG_MIN);
    FMT("%lli", -1LL);
    FMT("%zd|%zd", (ssize_t)-5, (ssize_t)SSIZE_MAX);
    FMT("%jd|%jd", INTMAX_MIN, INTMAX_MAX);
    FMT("%td|%td", (ptrdiff_t)-3, PTRDIFF_MAX);
    FMT("%-+25lld|", LLONG_MIN);
    FMT("%025lld|", LLONG_MIN);
    expect_no_mismatch();
}

static void test_format_unsigned(void **state)
{
    (void)state;
    FMT("%u|%u|%u", 0u, 1u, UINT_MAX);
    FMT("%x|%X|%o", 0u, 0u, 0u);
    FMT("%x|%X|%o", 255u, 255u, 255u);
    FMT("%x|%X", 0xdeadbeefu, 0xdeadbeefu);
    FMT("%#x|%#X|%#o", 255u, 255u, 8u);
    FMT("%#x|%#X|%#o", 0u, 0u, 0u); /* no 0x for zero; octal 0 stays one digit */
    FMT("%#.0o|%.0o|%#.0x|%.0x|", 0u, 0u, 0u, 0u);
    FMT("%#.5o|%#.1o|%#5o|", 8u, 8u, 8u);
    FMT("%#10x|%#-10x|%#010x|", 0xabcu, 0xabcu, 0xabcu);
    FMT("%#.6x|%#12.6X|", 0xabcu, 0xabcu);
    FMT("%08x|%-8x|%8.4x|", 0x1fu, 0x1fu, 0x1fu);
    FMT("%+u|% u|%+x|", 5u, 5u, 5u); /* sign flags do nothing to unsigned conversions */
    FMT("%hhu|%hhx|%hho", 255, 256, 511);
    FMT("%hu|%hx", 65535, 65536);
    FMT("%lu|%lx|%lo", ULONG_MAX, ULONG_MAX, ULONG_MAX);
    FMT("%llu|%llx|%llX|%llo", (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX,
        (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX);
    FMT("%zu|%zx", SIZE_MAX, (size_t)4096);
    FMT("%ju|%jx", UINTMAX_MAX, (uintmax_t)1 << 63);
    FMT("%tu|%tx", (ptrdiff_t)77, (ptrdiff_t)-1);
    FMT("%#llo|%#llx", (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX);
    FMT("%.20llu|%25llu|", 1ull, (unsigned long long)UINT64_MAX);
    expect_no_mismatch();
}

static void test_format_char_string_pointer(void **state)
{
    const char unterminated[3] = {'a', 'b', 'c'};
    int x;

    (void)state;
    FMT("%c|%c|%c", 'a', 'Z', '0');
    FMT("%3c|%-3c|", 'q', 'q');
    FMT("%c", 256 + 'b'); /* an int, converted to unsigned char */
    FMT("%s", "hello");
    FMT("%10s|%-10s|", "hi", "hi");
    FMT("%.2s|%.0s|%.10s|", "hello", "hello", "hello");
    FMT("%8.3s|%-8.3s|", "abcdef", "abcdef");
    FMT("%.3s", unterminated); /* a precision lets %s read an array with no NUL */
    FMT("%s", (char *)NULL);
    FMT("%10s|%-10s|", (char *)NULL, (char *)NULL);
    FMT("%.6s|%.3s|", (char *)NULL, (char *)NULL);
    FMT("%p", (void *)&x);
    FMT("%p|%p", (void *)0x1234, (void *)UINTPTR_MAX);
    FMT("%20p|%-20p|%020p|%.10p|", (void *)0x1234, (void *)0x1234, (void *)0x1234, (void *)0x1234);
    FMT("%p|%10p|%-10p|", (void *)NULL, (void *)NULL, (void *)NULL);
    FMT("100%%|%%d|%%|");
    FMT("%s=%d (%c) %x%%", "k", -1, 'c', 0x10u);
    expect_no_mismatch();
}

static void test_format_star(void **state)
{
    (void)state;
    FMT("%*d|", 6, 42);
    FMT("%*d|", -6, 42); /* a negative width is '-' and the width */
    FMT("%-*d|", -6, 42);
    FMT("%.*d|", 4, 42);
    FMT("%.*d|", -4, 42); /* a negative precision is none */
    FMT("%0*.*d|", 8, -1, -42);
    FMT("%*.*s|", 6, 2, "abcdef");
    FMT("%-*.*s|", 6, 2, "abcdef");
    FMT("%*s|%*s|", 0, "a", 1, "");
    FMT("%*c|%-*c|", 4, 'x', 4, 'x');
    FMT("%#*x|", 10, 0xbeefu);
    FMT("%.*s", 3, "abcdef");
    expect_no_mismatch();
}

#pragma GCC diagnostic pop

/* Buffer limits: same bytes written, nothing past size touched, same full-length result. */
static void check_truncation(const char *fmt, const char *arg)
{
    char want[64], got[64];
    int want_n, got_n;
    size_t full = (size_t)snprintf(NULL, 0, fmt, arg);
    size_t sizes[] = {0, 1, 2, full - 1, full, full + 1, sizeof(want) - 8};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (sizes[i] > sizeof(want) - 8) /* full - 1 when full is 0 */
            continue;
        memset(want, 0x5a, sizeof(want));
        memset(got, 0x5a, sizeof(got));
        want_n = snprintf(want, sizes[i], fmt, arg);
        got_n = kc_snprintf(got, sizes[i], fmt, arg);
        assert_int_equal(got_n, want_n);
        assert_int_equal(got_n, (int)full);
        assert_memory_equal(got, want, sizeof(got));
        if (sizes[i] > 0)
            assert_int_equal(got[sizes[i] < full + 1 ? sizes[i] - 1 : full], '\0');
    }
    /* size 0 may come with a NULL buffer: only the length is wanted. */
    assert_int_equal(kc_snprintf(NULL, 0, fmt, arg), (int)full);
}

static int kc_vsnprintf_wrap(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kc_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void test_format_truncation(void **state)
{
    char buf[8];

    (void)state;
    check_truncation("hello %s!", "world");
    check_truncation("%20s", "right");
    check_truncation("%s", "");
    check_truncation("[%-12s]", "left");
    /* vsnprintf directly, and a size of 1 leaves just the terminator. */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(kc_vsnprintf_wrap(buf, 1, "%d", 12345), 5);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');
    assert_int_equal(kc_vsnprintf_wrap(buf, sizeof(buf), "%d-%s", 12345, "abcdef"), 12);
    assert_string_equal(buf, "12345-a");
}

static void test_console_output(void **state)
{
    char want[1200], line[1001];

    (void)state;
    console_reset();
    assert_int_equal(kc_printf("%s=%d\n", "answer", 42), 10);
    assert_int_equal(console_len, 10);
    assert_memory_equal(console, "answer=42\n", 10);
    assert_int_equal(console_writes, 1);

    /* Longer than the stack chunk: arrives whole, in several writes of at most 256 bytes. */
    memset(line, 'y', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    console_reset();
    int n = kc_printf("<%s|%5d>", line, 7);
    assert_int_equal(n, snprintf(want, sizeof(want), "<%s|%5d>", line, 7));
    assert_int_equal(console_len, (size_t)n);
    assert_memory_equal(console, want, (size_t)n);
    assert_true(console_writes > 1);
    assert_true(console_max_write <= 256);

    console_reset();
    assert_int_equal(kc_printf("%s", ""), 0);
    assert_int_equal(console_writes, 0);

    console_reset();
    assert_true(kc_puts("line") >= 0);
    assert_int_equal(console_len, 5);
    assert_memory_equal(console, "line\n", 5);
    assert_int_equal(console_writes, 1);

    console_reset();
    assert_int_equal(kc_putchar('A'), 'A');
    assert_int_equal(kc_putchar(0x1ff), 0xff);
    assert_int_equal(console_len, 2);
    assert_memory_equal(console, "A\xff", 2);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void test_mem_functions(void **state)
{
    unsigned char want[160], got[160], src[160];

    (void)state;
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i * 7 + 1);

    /* memmove over every overlap: both directions, all small offsets and lengths. */
    for (size_t n = 0; n <= 70; n++) {
        for (size_t from = 0; from <= 20; from++) {
            for (size_t to = 0; to <= 20; to++) {
                memcpy(want, src, sizeof(src));
                memcpy(got, src, sizeof(src));
                memmove(want + to, want + from, n);
                assert_ptr_equal(kc_memmove(got + to, got + from, n), got + to);
                assert_memory_equal(got, want, sizeof(got));
            }
        }
    }
    /* memcpy and memset at every alignment, with nothing written outside the range. */
    for (size_t n = 0; n <= 70; n++) {
        for (size_t off = 0; off < 8; off++) {
            memset(want, 0xee, sizeof(want));
            memset(got, 0xee, sizeof(got));
            memcpy(want + off, src + 3, n);
            assert_ptr_equal(kc_memcpy(got + off, src + 3, n), got + off);
            assert_memory_equal(got, want, sizeof(got));
            memset(want + off, 0x1c3, n);
            assert_ptr_equal(kc_memset(got + off, 0x1c3, n), got + off); /* low byte: 0xc3 */
            assert_memory_equal(got, want, sizeof(got));
        }
    }
    /* memcmp compares as unsigned char and stops at n. */
    static const struct {
        const char *a, *b;
        size_t n;
    } cmps[] = {
        {"abc", "abc", 3},   {"abc", "abd", 3},   {"abd", "abc", 3}, {"abc", "abd", 2},
        {"\x80", "\x01", 1}, {"\x01", "\xff", 1}, {"", "", 0},       {"a\0b", "a\0c", 3},
    };
    for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++)
        assert_int_equal(sign(kc_memcmp(cmps[i].a, cmps[i].b, cmps[i].n)),
                         sign(memcmp(cmps[i].a, cmps[i].b, cmps[i].n)));
    /* memchr: finds the first match, converts c to unsigned char, respects n. */
    const char *s = "abcabc";
    assert_ptr_equal(kc_memchr(s, 'c', 6), s + 2);
    assert_ptr_equal(kc_memchr(s, 'c' + 256, 6), s + 2);
    assert_ptr_equal(kc_memchr(s, 'c', 2), NULL);
    assert_ptr_equal(kc_memchr(s, '\0', 7), s + 6);
    assert_ptr_equal(kc_memchr(s, 'z', 0), NULL);
}

static void test_str_functions(void **state)
{
    char want[32], got[32];
    const char *hay = "aaab, abc; abcabd";

    (void)state;
    assert_int_equal(kc_strlen(""), 0);
    assert_int_equal(kc_strlen("hello"), 5);
    assert_int_equal(kc_strnlen("hello", 0), 0);
    assert_int_equal(kc_strnlen("hello", 3), 3);
    assert_int_equal(kc_strnlen("hello", 99), 5);

    static const char *const strs[] = {"", "a", "ab", "abc", "abd", "b", "\xff", "\x01", "ab\xe9"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        for (size_t j = 0; j < sizeof(strs) / sizeof(strs[0]); j++) {
            assert_int_equal(sign(kc_strcmp(strs[i], strs[j])), sign(strcmp(strs[i], strs[j])));
            for (size_t n = 0; n <= 4; n++)
                assert_int_equal(sign(kc_strncmp(strs[i], strs[j], n)),
                                 sign(strncmp(strs[i], strs[j], n)));
        }
    }
    assert_int_equal(kc_strncmp("abc", "abd", 0), 0);
    assert_int_equal(kc_strncmp("abc", "abd", 2), 0);
    assert_true(kc_strncmp("abc", "abd", 3) < 0);
    assert_int_equal(kc_strncmp("ab\0x", "ab\0y", 4), 0); /* nothing counts after the NUL */
    assert_int_equal(kc_strncmp("abc", "abc", SIZE_MAX), 0);

    assert_ptr_equal(kc_strchr(hay, 'b'), strchr(hay, 'b'));
    assert_ptr_equal(kc_strchr(hay, 'z'), NULL);
    assert_ptr_equal(kc_strchr(hay, '\0'), hay + strlen(hay));
    assert_ptr_equal(kc_strchr(hay, 'b' + 256), strchr(hay, 'b' + 256));
    assert_ptr_equal(kc_strrchr(hay, 'b'), strrchr(hay, 'b'));
    assert_ptr_equal(kc_strrchr(hay, 'z'), NULL);
    assert_ptr_equal(kc_strrchr(hay, '\0'), hay + strlen(hay));

    static const char *const needles[] = {
        "", "a", "aab", "abc", "abd", "abcabd", "abx", "d", "aaab, abc; abcabd!", ";"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        assert_ptr_equal(kc_strstr(hay, needles[i]), strstr(hay, needles[i]));
    const char *empty = "";
    assert_ptr_equal(kc_strstr(empty, ""), empty);
    assert_ptr_equal(kc_strstr(empty, "a"), NULL);

    memset(want, 0x77, sizeof(want));
    memset(got, 0x77, sizeof(got));
    assert_ptr_equal(kc_strcpy(got + 1, "copy me"), got + 1);
    strcpy(want + 1, "copy me");
    assert_memory_equal(got, want, sizeof(got));
    /* strncpy pads with NULs to n, and leaves a long source unterminated. */
    for (size_t n = 0; n <= 12; n++) {
        memset(want, 0x77, sizeof(want));
        memset(got, 0x77, sizeof(got));
        assert_ptr_equal(kc_strncpy(got, "abcdef", n), got);
        strncpy(want, "abcdef", n);
        assert_memory_equal(got, want, sizeof(got));
    }
}

static void test_ctype(void **state)
{
    (void)state;
    /* Every unsigned char and EOF, against glibc in the "C" locale. */
    for (int c = -1; c <= 255; c++) {
        assert_int_equal(!!kc_isdigit(c), !!isdigit(c));
        assert_int_equal(!!kc_isxdigit(c), !!isxdigit(c));
        assert_int_equal(!!kc_isspace(c), !!isspace(c));
        assert_int_equal(!!kc_isalpha(c), !!isalpha(c));
        assert_int_equal(!!kc_isalnum(c), !!isalnum(c));
        assert_int_equal(!!kc_isupper(c), !!isupper(c));
        assert_int_equal(!!kc_islower(c), !!islower(c));
        assert_int_equal(!!kc_isprint(c), !!isprint(c));
        assert_int_equal(kc_toupper(c), toupper(c));
        assert_int_equal(kc_tolower(c), tolower(c));
    }
}

/* Inputs for strtoul and strtol, each tried in several bases against glibc. */
static const char *const numbers[] = {
    /* signs, leading space, nothing to parse, trailing junk */
    "0", "1", "42", "-42", "+17", "  \t\n 99x", "   ", "", "-", "+", "x", "- 1", "1 2", "12abc",
    /* base prefixes, and a 0x with no hex digit after it */
    "0x", "0X", "0x1f", "0X1F", "0xg", "-0x10", "077", "08", "0b101", "101", "zz", "Zz!",
    /* the edges of long and unsigned long, and past them */
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "-18446744073709551615",
    "-18446744073709551616", "99999999999999999999999999", "+0x7fffffffffffffff",
    "0xffffffffffffffff", "0x10000000000000000", "-1",
    "00000000000000000000000000000000001", /* leading zeros do not overflow */
};

static void test_strtoul_strtol(void **state)
{
    static const int bases[] = {0, 2, 8, 10, 16, 36};
    char *want_end, *got_end;

    (void)state;
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
            const char *s = numbers[i];
            int base = bases[b];

            errno = 0;
            kc_errno = 0;
            unsigned long want_u = strtoul(s, &want_end, base);
            unsigned long got_u = kc_strtoul(s, &got_end, base);
            if (got_u != want_u || got_end != want_end || kc_errno != errno)
                print_error("strtoul(\"%s\", %d): glibc %lu end +%td errno %d, guest %lu end "
                            "+%td errno %d\n",
                            s, base, want_u, want_end - s, errno, got_u, got_end - s, kc_errno);
            assert_true(got_u == want_u);
            assert_ptr_equal(got_end, want_end);
            assert_int_equal(kc_errno, errno);

            errno = 0;
            kc_errno = 0;
            long want_l = strtol(s, &want_end, base);
            long got_l = kc_strtol(s, &got_end, base);
            if (got_l != want_l || got_end != want_end || kc_errno != errno)
                print_error("strtol(\"%s\", %d): glibc %ld end +%td errno %d, guest %ld end "
                            "+%td errno %d\n",
                            s, base, want_l, want_end - s, errno, got_l, got_end - s, kc_errno);
            assert_true(got_l == want_l);
            assert_ptr_equal(got_end, want_end);
            assert_int_equal(kc_errno, errno);
        }
    }
    /* The overflow cases spelled out, as the kernel relies on them. */
    kc_errno = 0;
    assert_true(kc_strtoul("18446744073709551616", &got_end, 10) == ULONG_MAX);
    assert_int_equal(kc_errno, ERANGE);
    assert_int_equal(*got_end, '\0');
    kc_errno = 0;
    assert_true(kc_strtoul("0x1ffffffffffffffffz", &got_end, 0) == ULONG_MAX);
    assert_int_equal(kc_errno, ERANGE);
    assert_int_equal(*got_end, 'z');
    kc_errno = 0;
    assert_true(kc_strtol("-9223372036854775809", NULL, 10) == LONG_MIN);
    assert_int_equal(kc_errno, ERANGE);
    /* A base C does not allow: 0 and EINVAL, as glibc. */
    kc_errno = 0;
    assert_true(kc_strtoul("10", &got_end, 1) == 0);
    assert_int_equal(kc_errno, EINVAL);
    kc_errno = 0;
    assert_true(kc_strtol("10", &got_end, 37) == 0);
    assert_int_equal(kc_errno, EINVAL);
    /* NULL endptr is allowed. */
    assert_true(kc_strtol("123", NULL, 0) == 123);
}

static void test_atoi_abs(void **state)
{
    static const char *const ints[] = {"0", "-1", "2147483647", "-2147483648", " 12x", "", "+5"};

    (void)state;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        assert_int_equal(kc_atoi(ints[i]), atoi(ints[i]));
    assert_int_equal(kc_abs(0), 0);
    assert_int_equal(kc_abs(-5), 5);
    assert_int_equal(kc_abs(INT_MAX), INT_MAX);
    assert_int_equal(kc_abs(-INT_MAX), INT_MAX);
}

/* abort() panics with its caller's address, the one clue to where the guest gave up. */
static void test_abort(void **state)
{
    char *end;

    (void)state;
    panic_msg[0] = '\0';
    if (setjmp(panic_return) == 0)
        kc_abort();
    assert_true(strncmp(panic_msg, "abort() called from 0x", 22) == 0);
    assert_true(strtoull(panic_msg + 20, &end, 16) != 0);
    assert_int_equal(*end, '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_signed),
        cmocka_unit_test(test_format_unsigned),
        cmocka_unit_test(test_format_char_string_pointer),
        cmocka_unit_test(test_format_star),
        cmocka_unit_test(test_format_truncation),
        cmocka_unit_test(test_console_output),
        cmocka_unit_test(test_mem_functions),
        cmocka_unit_test(test_str_functions),
        cmocka_unit_test(test_ctype),
        cmocka_unit_test(test_strtoul_strtol),
        cmocka_unit_test(test_atoi_abs),
        cmocka_unit_test(test_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
