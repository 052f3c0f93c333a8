/* abort() of the guest libc: with no process to kill, it stops the guest through lm_panic. */
#include <assert.h> /* lm_panic */
#include <stdlib.h>

/* The caller's address is the only clue left (libsodium's sodium_misuse ends here, for one). */
void abort(void)
{
    lm_panic("abort() called from %p", __builtin_return_address(0));
}
