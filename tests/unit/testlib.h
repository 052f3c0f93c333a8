/* Shared fixtures of the unit tests: deterministic keys and a valid base token. */
#ifndef LM_TESTLIB_H
#define LM_TESTLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "laundromat/keys.h"
#include "laundromat/token.h"

#define T_NOW 1795315750ull /* 2026-11-22T02:49:10Z */

/* Key pair number i (0, 1, ...) from a fixed seed. */
void t_key(int i, struct lm_keypair *kp);
/* A valid token: host "alpha", 16 MiB, 1 vCPU, 100-link chain, issued T_NOW-10, 1 h life. */
void t_base_token(struct lm_token *t);
/* Encodes and signs t with key i into out. */
void t_mint(const struct lm_token *t, int key, uint8_t out[LM_TOKEN_SIZE]);
/* A verify context trusting key 0, at T_NOW, host "alpha", cluster "blue", skew 60 s. */
void t_ctx(struct lm_verify_ctx *c, struct lm_pubkey *keybuf);

#endif
