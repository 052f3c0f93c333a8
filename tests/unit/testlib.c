/* Fixtures shared by the unit tests (linked into every test binary). */
#include <string.h>

#include "laundromat/chain.h"
#include "testlib.h"

void t_key(int i, struct lm_keypair *kp)
{
    uint8_t seed[32];
    for (int j = 0; j < 32; j++)
        seed[j] = (uint8_t)(0x40 + i * 32 + j);
    assert_int_equal(lm_key_from_seed(seed, kp), 0);
}

void t_base_token(struct lm_token *t)
{
    struct lm_keypair kp;
    t_key(0, &kp);
    memset(t, 0, sizeof *t);
    for (int i = 0; i < LM_TOKEN_ID_BYTES; i++)
        t->id[i] = (uint8_t)(0xa0 + i);
    t->key_id = kp.pub.key_id;
    t->issued_at = T_NOW - 10;
    t->expires_at = T_NOW + 3600;
    t->scope_kind = LM_SCOPE_HOST;
    t->payload_kind = LM_PAYLOAD_IMAGE;
    t->vcpus = 1;
    t->mem_mib = 16;
    strcpy(t->scope, "alpha");
    memset(t->commitment, 0xcc, sizeof t->commitment);
    uint8_t seed[32];
    memset(seed, 0x5e, sizeof seed);
    assert_int_equal(lm_chain_link(seed, 100, 0, t->anchor), 0);
    t->chain_len = 100;
    t->link_value_ms = 1000;
    t->prepaid_units = 5;
}

void t_mint(const struct lm_token *t, int key, uint8_t out[LM_TOKEN_SIZE])
{
    struct lm_keypair kp;
    t_key(key, &kp);
    assert_int_equal(lm_token_encode(t, out), 0);
    assert_int_equal(lm_token_sign(out, kp.sk), 0);
}

void t_ctx(struct lm_verify_ctx *c, struct lm_pubkey *keybuf)
{
    struct lm_keypair kp;
    t_key(0, &kp);
    *keybuf = kp.pub;
    memset(c, 0, sizeof *c);
    c->keys = keybuf;
    c->nkeys = 1;
    c->now = T_NOW;
    c->max_skew_s = 60;
    c->host_name = "alpha";
    c->cluster_name = "blue";
}
