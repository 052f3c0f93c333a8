/* sodium_init's pick-best hooks for the primitives the guest's libsodium subset leaves out. */
#include "private/implementations.h"

/*
 * sodium_init() (sodium/core.c) lets every primitive with SIMD variants choose one. Argon2 and
 * Salsa20 are not compiled into the guest (see SODIUM_FILES in guest/sodium.mk), so there is
 * nothing to choose: these stand in for their dispatchers. Adding one of those primitives later
 * brings its real hook, and the duplicate definition fails the link until the stand-in here is
 * removed. (Curve25519 is compiled in and brings its own hook, which keeps ref10: without
 * HAVE_AVX_ASM there is no sandy2x to pick.)
 */
int _crypto_pwhash_argon2_pick_best_implementation(void)
{
    return 0;
}

int _crypto_stream_salsa20_pick_best_implementation(void)
{
    return 0;
}
