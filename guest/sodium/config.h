/* What libsodium's configure would find for the freestanding guest (forced in with -include). */
/*
 * libsodium has no config.h: its configure passes its findings as -D flags. We do not run
 * configure (it probes the host, not the guest, and wants a libc to link test programs against),
 * so this header states the answers for the guest, and guest/sodium.mk forces it into every
 * libsodium source with -include. Anything not defined here is absent on purpose:
 *
 *   - no HAVE_{EMM,PMM,TMM,SMM,AVX,AVX2,AVX512F,WMM}INTRIN_H: the guest runs with
 *     -mgeneral-regs-only (the monitor keeps no FPU/SSE state), so the SIMD variants are neither
 *     compiled nor reachable from the pick-best dispatchers, which keep the reference code;
 *   - no HAVE_CPUID (nor HAVE_AVX_ASM, HAVE_RDRAND): _sodium_runtime_get_cpu_features() reports
 *     no feature without executing CPUID or XGETBV; without HAVE_AVX_ASM, X25519 has only its
 *     ref10 code (sandy2x, the alternative, is AVX assembly);
 *   - no HAVE_AMD64_ASM: sodium_increment/sodium_add use their portable C loops;
 *   - no HAVE_PTHREAD or HAVE_ATOMIC_OPS: sodium_init's critical section is empty. The guest
 *     kernel runs one thread, and calls sodium_init() once at boot;
 *   - no HAVE_MMAP, HAVE_MPROTECT, HAVE_MLOCK, HAVE_POSIX_MEMALIGN: sodium_malloc is the kernel's
 *     malloc, and sodium_mlock/sodium_mprotect_* fail with ENOSYS;
 *   - no sysrandom: randombytes comes from the kernel's lm_entropy (guest/sodium/entropy.c).
 */
#ifndef LM_SODIUM_CONFIG_H
#define LM_SODIUM_CONFIG_H

/* We are the configuration step; without this, private/common.h warns about "an undocumented
 * method" of building. */
#define CONFIGURED 1

#define NATIVE_LITTLE_ENDIAN 1
/*
 * unsigned __int128: poly1305-donna's 64-bit variant, and for Curve25519 (X25519, Ed25519) the
 * field arithmetic in five 51-bit limbs (fe_51) rather than ten 25.5-bit ones (fe_25_5). Both
 * are portable C and give the same bytes; we choose fe_51 deliberately: it is what configure
 * picks for x86-64 gcc (the system libsodium runs it for Ed25519 and fixed-base X25519), and it
 * is 2.5 times as fast (X25519 about 40 us against 95 us on the host, built as for the guest).
 * Its 64x64->128 multiplies are plain MUL/ADD/ADC on general registers: no SIMD, and no libgcc
 * helper such as __multi3 (the link check, which links no libgcc, would say otherwise).
 */
#define HAVE_TI_MODE 1
/* sodium_memzero and sodium_memcmp hide their buffers behind a weak no-op call and an asm
 * barrier, so the compiler cannot drop the zeroing as a dead store (as configure finds on gcc). */
#define HAVE_WEAK_SYMBOLS 1
#define HAVE_INLINE_ASM 1
/* sodium_stackzero() clears with a variable-length array, as on the host. */
#define HAVE_C_VARARRAYS 1

/*
 * randombytes: no built-in implementation (no sysrandom, no internal ChaCha20 generator); the
 * default, installed by the first randombytes call (sodium_init makes one), is ours.
 */
#define RANDOMBYTES_CUSTOM_IMPLEMENTATION 1
struct randombytes_implementation;
extern const struct randombytes_implementation lm_sodium_randombytes;
#define RANDOMBYTES_DEFAULT_IMPLEMENTATION (&lm_sodium_randombytes)

#endif
