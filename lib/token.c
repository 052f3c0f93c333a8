/* Boot token encode, structural decode, signing and verification. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/netaddr.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "lm.h"

void lm_token_id_hex(const uint8_t id[LM_TOKEN_ID_BYTES], char out[2 * LM_TOKEN_ID_BYTES + 1])
{
    lm_hex_encode(id, LM_TOKEN_ID_BYTES, out);
}

uint64_t lm_token_value_ms(const struct lm_token *t)
{
    return ((uint64_t)t->prepaid_units + t->chain_len) * t->link_value_ms;
}

int lm_token_encode(const struct lm_token *t, uint8_t out[LM_TOKEN_SIZE])
{
    size_t slen = strnlen(t->scope, sizeof t->scope);
    if (slen > LM_SCOPE_BYTES)
        return -LM_INVAL;
    memset(out, 0, LM_TOKEN_SIZE);
    memcpy(out + LM_TOK_OFF_MAGIC, LM_TOKEN_MAGIC, 4);
    lm_put16(out + LM_TOK_OFF_VERSION, LM_TOKEN_VERSION);
    memcpy(out + LM_TOK_OFF_ID, t->id, LM_TOKEN_ID_BYTES);
    lm_put64(out + LM_TOK_OFF_KEY_ID, t->key_id);
    lm_put64(out + LM_TOK_OFF_ISSUED, t->issued_at);
    lm_put64(out + LM_TOK_OFF_EXPIRES, t->expires_at);
    out[LM_TOK_OFF_SCOPE_KIND] = t->scope_kind;
    out[LM_TOK_OFF_PAYLOAD] = t->payload_kind;
    lm_put16(out + LM_TOK_OFF_VCPUS, t->vcpus);
    lm_put32(out + LM_TOK_OFF_MEM_MIB, t->mem_mib);
    memcpy(out + LM_TOK_OFF_SCOPE, t->scope, slen);
    memcpy(out + LM_TOK_OFF_COMMIT, t->commitment, LM_HASH_BYTES);
    memcpy(out + LM_TOK_OFF_ANCHOR, t->anchor, LM_HASH_BYTES);
    lm_put32(out + LM_TOK_OFF_CHAIN_LEN, t->chain_len);
    lm_put32(out + LM_TOK_OFF_LINK_MS, t->link_value_ms);
    lm_put32(out + LM_TOK_OFF_PREPAID, t->prepaid_units);
    memcpy(out + LM_TOK_OFF_MAC, t->mac, 6);
    out[LM_TOK_OFF_PREFIX] = t->prefix;
    memcpy(out + LM_TOK_OFF_IPV4, t->ipv4, 4);
    return 0;
}

int lm_token_sign(uint8_t tok[LM_TOKEN_SIZE], const uint8_t sk[64])
{
    if (lm_crypto_init() != 0 || crypto_sign_detached(tok + LM_TOK_OFF_SIG, NULL, tok, LM_TOK_SIGNED_BYTES, sk) != 0)
        return -LM_CRYPTO;
    return 0;
}

/* Scope: 1..32 printable ASCII bytes (no space), then NUL padding to 32. */
static int scope_ok(const uint8_t *s)
{
    size_t n = 0;
    while (n < LM_SCOPE_BYTES && s[n] != 0) {
        if (s[n] <= 0x20 || s[n] >= 0x7f)
            return 0;
        n++;
    }
    return n > 0 && lm_all_zero(s + n, LM_SCOPE_BYTES - n);
}

int lm_token_decode(const uint8_t *b, size_t len, struct lm_token *t, struct lm_diag *d)
{
    if (len < 6 && (len < 4 || memcmp(b, LM_TOKEN_MAGIC, 4) == 0))
        return lm_fail(d, LM_TRUNCATED, "token: %zu bytes, a version %d token has %d",
                       len, LM_TOKEN_VERSION, LM_TOKEN_SIZE);
    if (memcmp(b, LM_TOKEN_MAGIC, 4) != 0)
        return lm_fail(d, LM_BAD_MAGIC, "token: magic %02x%02x%02x%02x, expected \"LMTK\"",
                       b[0], b[1], b[2], b[3]);
    uint16_t ver = lm_get16(b + LM_TOK_OFF_VERSION);
    if (ver != LM_TOKEN_VERSION)
        return lm_fail(d, LM_BAD_VERSION, "token: version %u, this build reads version %d",
                       ver, LM_TOKEN_VERSION);
    if (len < LM_TOKEN_SIZE)
        return lm_fail(d, LM_TRUNCATED, "token: %zu bytes, a version %d token has %d", len,
                       LM_TOKEN_VERSION, LM_TOKEN_SIZE);
    if (len > LM_TOKEN_SIZE)
        return lm_fail(d, LM_TRAILING, "token: %zu bytes, %zu more than the %d of version %d",
                       len, len - LM_TOKEN_SIZE, LM_TOKEN_SIZE, LM_TOKEN_VERSION);

    memset(t, 0, sizeof *t);
    memcpy(t->id, b + LM_TOK_OFF_ID, LM_TOKEN_ID_BYTES);
    char idh[33];
    lm_token_id_hex(t->id, idh);

    uint16_t flags = lm_get16(b + LM_TOK_OFF_FLAGS);
    if (flags != 0)
        return lm_fail(d, LM_BAD_FLAGS, "token %s: flags 0x%04x, none are defined", idh, flags);
    if (!lm_all_zero(b + LM_TOK_OFF_RESERVED, 4) || b[LM_TOK_OFF_RESERVED2] != 0 ||
        !lm_all_zero(b + LM_TOK_OFF_RESERVED3, 4))
        return lm_fail(d, LM_RESERVED_NONZERO, "token %s: reserved bytes are not zero", idh);

    t->key_id = lm_get64(b + LM_TOK_OFF_KEY_ID);
    t->issued_at = lm_get64(b + LM_TOK_OFF_ISSUED);
    t->expires_at = lm_get64(b + LM_TOK_OFF_EXPIRES);
    t->scope_kind = b[LM_TOK_OFF_SCOPE_KIND];
    t->payload_kind = b[LM_TOK_OFF_PAYLOAD];
    t->vcpus = lm_get16(b + LM_TOK_OFF_VCPUS);
    t->mem_mib = lm_get32(b + LM_TOK_OFF_MEM_MIB);
    memcpy(t->scope, b + LM_TOK_OFF_SCOPE, LM_SCOPE_BYTES);
    t->scope[LM_SCOPE_BYTES] = '\0';
    memcpy(t->commitment, b + LM_TOK_OFF_COMMIT, LM_HASH_BYTES);
    memcpy(t->anchor, b + LM_TOK_OFF_ANCHOR, LM_HASH_BYTES);
    t->chain_len = lm_get32(b + LM_TOK_OFF_CHAIN_LEN);
    t->link_value_ms = lm_get32(b + LM_TOK_OFF_LINK_MS);
    t->prepaid_units = lm_get32(b + LM_TOK_OFF_PREPAID);
    memcpy(t->mac, b + LM_TOK_OFF_MAC, 6);
    t->prefix = b[LM_TOK_OFF_PREFIX];
    memcpy(t->ipv4, b + LM_TOK_OFF_IPV4, 4);
    memcpy(t->sig, b + LM_TOK_OFF_SIG, LM_SIG_BYTES);

    char t1[32], t2[32];
    if (t->expires_at <= t->issued_at || t->expires_at - t->issued_at > LM_MAX_LIFETIME_S)
        return lm_fail(d, LM_BAD_LIFETIME,
                       "token %s: issued %s, expires %s; expiry must follow issue by at most "
                       "%llu days",
                       idh, lm_fmt_time(t->issued_at, t1), lm_fmt_time(t->expires_at, t2),
                       LM_MAX_LIFETIME_S / 86400);
    if (t->scope_kind != LM_SCOPE_HOST && t->scope_kind != LM_SCOPE_CLUSTER)
        return lm_fail(d, LM_BAD_SCOPE_KIND, "token %s: scope kind %u, expected 1 (host) or 2 "
                       "(cluster)", idh, t->scope_kind);
    if (!scope_ok(b + LM_TOK_OFF_SCOPE))
        return lm_fail(d, LM_BAD_SCOPE_NAME, "token %s: scope name is empty, holds a byte "
                       "outside printable ASCII, or is not NUL-padded", idh);
    if (t->mem_mib == 0 || t->vcpus == 0)
        return lm_fail(d, LM_ZERO_SHAPE, "token %s: shape %u MiB, %u vCPUs; both must be "
                       "non-zero", idh, t->mem_mib, t->vcpus);
    if (t->mem_mib > LM_MAX_MEM_MIB || t->vcpus > LM_MAX_VCPUS)
        return lm_fail(d, LM_OVERSIZED_SHAPE, "token %s: shape %u MiB, %u vCPUs; the protocol "
                       "allows at most %u MiB and %u vCPUs", idh, t->mem_mib, t->vcpus,
                       LM_MAX_MEM_MIB, LM_MAX_VCPUS);
    if (t->payload_kind != LM_PAYLOAD_IMAGE && t->payload_kind != LM_PAYLOAD_CHECKPOINT)
        return lm_fail(d, LM_BAD_PAYLOAD_KIND, "token %s: payload kind %u, expected 1 (image) "
                       "or 2 (checkpoint)", idh, t->payload_kind);
    if (lm_all_zero(t->commitment, LM_HASH_BYTES))
        return lm_fail(d, LM_ZERO_COMMITMENT, "token %s: payload commitment is all zero", idh);
    if (t->chain_len > LM_MAX_CHAIN_LEN)
        return lm_fail(d, LM_CHAIN_TOO_LONG, "token %s: chain length %u, at most %u", idh,
                       t->chain_len, LM_MAX_CHAIN_LEN);
    if ((t->chain_len == 0) != lm_all_zero(t->anchor, LM_HASH_BYTES))
        return lm_fail(d, LM_CHAIN_ANCHOR, "token %s: chain length %u with %s anchor; a chain "
                       "needs an anchor and no chain needs none", idh, t->chain_len,
                       t->chain_len ? "an all-zero" : "a non-zero");
    if (t->link_value_ms == 0)
        return lm_fail(d, LM_ZERO_LINK_VALUE, "token %s: one link is worth 0 ms", idh);
    if (t->prepaid_units > LM_MAX_PREPAID)
        return lm_fail(d, LM_PREPAID_TOO_LARGE, "token %s: %u prepaid units, at most %u", idh,
                       t->prepaid_units, LM_MAX_PREPAID);
    if (t->prepaid_units == 0 && t->chain_len == 0)
        return lm_fail(d, LM_NO_VALUE, "token %s: no prepaid units and no chain", idh);

    int ip_zero = lm_all_zero(t->ipv4, 4), mac_zero = lm_all_zero(t->mac, 6);
    if (ip_zero ? t->prefix != 0 : (t->prefix == 0 || t->prefix > 32))
        return lm_fail(d, LM_BAD_NETID, "token %s: IPv4 prefix /%u with %s address", idh,
                       t->prefix, ip_zero ? "no" : "an");
    char mac[LM_MAC_STR];
    if (!mac_zero && (t->mac[0] & 1))
        return lm_fail(d, LM_BAD_NETID, "token %s: MAC %s is multicast", idh,
                       lm_mac_format(t->mac, mac));
    return 0;
}

int lm_token_check_claims(const struct lm_token *t, const struct lm_verify_ctx *c,
                          const struct lm_pubkey **key, struct lm_diag *d)
{
    char idh[33], t1[32], t2[32];
    lm_token_id_hex(t->id, idh);
    const struct lm_pubkey *k = NULL;
    for (size_t i = 0; i < c->nkeys && !k; i++)
        if (c->keys[i].key_id == t->key_id)
            k = &c->keys[i];
    if (!k)
        return lm_fail(d, LM_UNKNOWN_KEY, "token %s: signed by key %016llx, which is not a "
                       "trusted broker key here", idh, (unsigned long long)t->key_id);
    if (c->now >= t->expires_at)
        return lm_fail(d, LM_EXPIRED, "token %s: expired at %s (now %s)", idh,
                       lm_fmt_time(t->expires_at, t1), lm_fmt_time(c->now, t2));
    if (t->issued_at > c->now && t->issued_at - c->now > c->max_skew_s)
        return lm_fail(d, LM_NOT_YET_VALID, "token %s: issued at %s, in the future (now %s, "
                       "skew allowed %us); check both clocks", idh,
                       lm_fmt_time(t->issued_at, t1), lm_fmt_time(c->now, t2), c->max_skew_s);
    const char *want = t->scope_kind == LM_SCOPE_HOST ? c->host_name : c->cluster_name;
    if ((t->scope_kind == LM_SCOPE_CLUSTER && !want) || (want && strcmp(want, t->scope) != 0))
        return lm_fail(d, LM_WRONG_SCOPE, "token %s: scoped to %s \"%s\", this is %s \"%s\"",
                       idh, t->scope_kind == LM_SCOPE_HOST ? "host" : "cluster", t->scope,
                       t->scope_kind == LM_SCOPE_HOST ? "host" : "cluster",
                       want ? want : "(no cluster)");
    if (key)
        *key = k;
    return 0;
}

int lm_token_check_signature(const uint8_t tok[LM_TOKEN_SIZE], const struct lm_pubkey *key,
                             struct lm_diag *d)
{
    char idh[33];
    lm_token_id_hex(tok + LM_TOK_OFF_ID, idh);
    if (lm_crypto_init() != 0)
        return lm_fail(d, LM_CRYPTO, "token %s: libsodium failed to initialise", idh);
    if (crypto_sign_verify_detached(tok + LM_TOK_OFF_SIG, tok, LM_TOK_SIGNED_BYTES, key->pk) != 0)
        return lm_fail(d, LM_BAD_SIGNATURE, "token %s: signature does not verify under key "
                       "%016llx", idh, (unsigned long long)key->key_id);
    return 0;
}

int lm_token_verify(const uint8_t *buf, size_t len, const struct lm_verify_ctx *c,
                    struct lm_token *t, struct lm_diag *d)
{
    const struct lm_pubkey *key;
    int rc = lm_token_decode(buf, len, t, d);
    if (rc == 0)
        rc = lm_token_check_claims(t, c, &key, d);
    if (rc == 0)
        rc = lm_token_check_signature(buf, key, d);
    return rc;
}
