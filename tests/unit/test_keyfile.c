/* Unit tests of key files: round trips, permissions, overwrite refusal, malformed files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/keys.h"
#include "testlib.h"

static char dir[] = "/tmp/lm-keys-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static const char *path_of(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const char *text, size_t n, mode_t mode)
{
    const char *p = path_of(name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    fchmod(fd, mode);
    close(fd);
}

static void test_generate_write_load(void **state)
{
    (void)state;
    struct lm_keypair kp, r;
    struct lm_pubkey pub;
    struct lm_diag d;
    assert_int_equal(lm_key_generate(&kp), 0);
    assert_int_equal(kp.pub.key_id, lm_key_id(kp.pub.pk));
    assert_int_equal(lm_key_write_secret(path_of("k"), &kp, &d), 0);
    assert_int_equal(lm_key_write_public(path_of("k.pub"), &kp.pub, &d), 0);
    struct stat st;
    assert_int_equal(stat(path_of("k"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lm_key_load_secret(path_of("k"), &r, &d), 0);
    assert_memory_equal(r.sk, kp.sk, 64);
    assert_memory_equal(r.pub.pk, kp.pub.pk, 32);
    assert_int_equal(r.pub.key_id, kp.pub.key_id);
    assert_int_equal(lm_key_load_public(path_of("k.pub"), &pub, &d), 0);
    assert_memory_equal(pub.pk, kp.pub.pk, 32);
    assert_int_equal(pub.key_id, kp.pub.key_id);
    /* The public half of a secret key file. */
    memset(&pub, 0, sizeof pub);
    assert_int_equal(lm_key_load_public(path_of("k"), &pub, &d), 0);
    assert_memory_equal(pub.pk, kp.pub.pk, 32);
    /* Files are never overwritten. */
    assert_int_equal(lm_key_write_secret(path_of("k"), &kp, &d), -LM_IO);
    assert_non_null(strstr(d.msg, "refusing to overwrite"));
    /* Two generated keys differ. */
    struct lm_keypair kp2;
    assert_int_equal(lm_key_generate(&kp2), 0);
    assert_memory_not_equal(kp2.pub.pk, kp.pub.pk, 32);
}

static void test_secret_file_readable_by_others(void **state)
{
    (void)state;
    struct lm_keypair kp, r;
    struct lm_diag d;
    t_key(0, &kp);
    unlink(path_of("perm"));
    assert_int_equal(lm_key_write_secret(path_of("perm"), &kp, &d), 0);
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chmod(path_of("perm"), bad[i]);
        assert_int_equal(lm_key_load_secret(path_of("perm"), &r, &d), -LM_KEY_PERMS);
        assert_non_null(strstr(d.msg, "chmod 600"));
        /* Even reading only its public half refuses an exposed secret. */
        assert_int_equal(lm_key_load_public(path_of("perm"), &r.pub, &d), -LM_KEY_PERMS);
    }
    chmod(path_of("perm"), 0400);
    assert_int_equal(lm_key_load_secret(path_of("perm"), &r, &d), 0);
}

struct badfile {
    const char *name;
    const char *text;
    int secret_load; /* load as secret (1) or public (0) */
    int want;
    const char *msg;
};

#define SEED "4041424344454647484940414243444546474849404142434445464748494041"
static const struct badfile bad_files[] = {
    {"empty", "", 1, LM_KEY_FORMAT, "empty"},
    {"comments only", "# nothing\n\n", 1, LM_KEY_FORMAT, "empty"},
    {"wrong tag", "laundromat-secret-key-v2\n", 1, LM_KEY_FORMAT, "expected the line"},
    {"no key id", LM_SECRET_KEY_TAG "\nseed " SEED "\n", 1, LM_KEY_FORMAT, "needs exactly"},
    {"no seed", LM_SECRET_KEY_TAG "\nkey-id 0011223344556677\n", 1, LM_KEY_FORMAT,
     "needs exactly"},
    {"short seed", LM_SECRET_KEY_TAG "\nkey-id 0011223344556677\nseed 4041\n", 1,
     LM_KEY_FORMAT, ":3: bad value for \"seed\""},
    {"non-hex seed", LM_SECRET_KEY_TAG "\nkey-id 0011223344556677\nseed " SEED "zz\n", 1,
     LM_KEY_FORMAT, "bad value"},
    {"seed twice", LM_SECRET_KEY_TAG "\nseed " SEED "\nseed " SEED "\n", 1, LM_KEY_FORMAT,
     "given twice"},
    {"unknown line", LM_SECRET_KEY_TAG "\nowner bob\n", 1, LM_KEY_FORMAT, "unknown line"},
    {"wrong key id", LM_SECRET_KEY_TAG "\nkey-id 0011223344556677\nseed " SEED "\n", 1,
     LM_KEY_FORMAT, "key-id 0011223344556677 does not match"},
    {"public file as secret",
     LM_PUBLIC_KEY_TAG "\nkey-id 0011223344556677\npublic " SEED "\n", 1, LM_KEY_FORMAT,
     "a public key file"},
    {"public file with seed", LM_PUBLIC_KEY_TAG "\nkey-id 0011223344556677\nseed " SEED "\n", 0,
     LM_KEY_FORMAT, "needs exactly"},
    {"public key id mismatch", LM_PUBLIC_KEY_TAG "\nkey-id 0011223344556677\npublic " SEED "\n",
     0, LM_KEY_FORMAT, "does not match"},
    {"missing file", NULL, 1, LM_IO, "No such file"},
};
#define N_BAD (sizeof bad_files / sizeof bad_files[0])

static void test_bad_file(void **state)
{
    const struct badfile *c = *state;
    if (c->text)
        write_file("bad", c->text, strlen(c->text), 0600);
    else
        unlink(path_of("bad"));
    struct lm_keypair kp;
    struct lm_diag d = {""};
    int rc = c->secret_load ? lm_key_load_secret(path_of("bad"), &kp, &d)
                            : lm_key_load_public(path_of("bad"), &kp.pub, &d);
    if (rc != -c->want || !strstr(d.msg, c->msg)) {
        print_error("case \"%s\": got %s \"%s\"; want %s containing \"%s\"\n", c->name,
                    lm_status_name(rc), d.msg, lm_status_name(c->want), c->msg);
        fail();
    }
}

static void test_oversized_and_binary_files(void **state)
{
    (void)state;
    static char big[5000];
    memset(big, '#', sizeof big);
    write_file("big", big, sizeof big, 0600);
    struct lm_keypair kp;
    struct lm_diag d;
    assert_int_equal(lm_key_load_secret(path_of("big"), &kp, &d), -LM_KEY_FORMAT);
    assert_non_null(strstr(d.msg, "larger than 4096"));
    write_file("nul", LM_SECRET_KEY_TAG "\n\0", sizeof LM_SECRET_KEY_TAG + 1, 0600);
    assert_int_equal(lm_key_load_secret(path_of("nul"), &kp, &d), -LM_KEY_FORMAT);
    assert_non_null(strstr(d.msg, "NUL"));
    assert_int_equal(lm_key_load_secret(dir, &kp, &d), -LM_IO); /* a directory */
    assert_non_null(strstr(d.msg, "not a regular file"));
}

static void test_crlf_and_comments_accepted(void **state)
{
    (void)state;
    struct lm_keypair kp, r;
    t_key(0, &kp);
    char text[512], id[17], seed[65];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)kp.pub.key_id);
    for (int i = 0; i < 32; i++)
        snprintf(seed + 2 * i, 3, "%02X", kp.seed[i]); /* upper-case hex is accepted too */
    snprintf(text, sizeof text, "# a comment\r\n\r\n%s\r\n# another\r\nseed %s\r\n"
             "key-id %s\r\n", LM_SECRET_KEY_TAG, seed, id);
    write_file("crlf", text, strlen(text), 0600);
    struct lm_diag d = {""};
    assert_int_equal(lm_key_load_secret(path_of("crlf"), &r, &d), 0);
    assert_memory_equal(r.pub.pk, kp.pub.pk, 32);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_generate_write_load),
        cmocka_unit_test(test_secret_file_readable_by_others),
        cmocka_unit_test(test_oversized_and_binary_files),
        cmocka_unit_test(test_crlf_and_comments_accepted),
    };
    enum { NF = sizeof fixed / sizeof fixed[0] };
    struct CMUnitTest tests[NF + N_BAD];
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < N_BAD; i++)
        tests[NF + i] = (struct CMUnitTest){bad_files[i].name, test_bad_file, NULL, NULL,
                                            (void *)&bad_files[i]};
    return _cmocka_run_group_tests("keyfile", tests, NF + N_BAD, setup, teardown);
}
