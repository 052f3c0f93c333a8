# libsodium for the guest: a freestanding subset (BLAKE2b, XChaCha20-Poly1305 secretstream, X25519,
# Ed25519 verification) built from the fetched Debian source into libsodium.a, its link check, and
# its host-side test against the system libsodium. Needs guest/guest.mk (GUEST_CC, GUEST_CFLAGS,
# KC_LIB) included first.
#
# For guest code: compile with $(GUEST_SODIUM_CFLAGS) and #include <sodium.h> (or
# <sodium/crypto_....h>); give the objects an order-only prerequisite on $(SODIUM_HEADERS) (the
# headers are staged at build time, see below); link $(SODIUM_LIB) before $(KC_LIB); the kernel
# defines $(SODIUM_KERNEL_SYMS).

SODIUM_TOP := $(BUILD)/third_party/libsodium/src
SODIUM_SRC := $(SODIUM_TOP)/src/libsodium
SODIUM_GEN := $(BUILD)/guest/sodium/include

# The public headers, laid out as `make install` would (sodium.h, sodium/*.h), in SODIUM_GEN: so
# guest code gets one include directory holding libsodium's API and nothing else (not its
# internal "core.h", "utils.h"...). All are copied from the source tree but sodium/version.h,
# which configure makes from version.h.in: we make it with sed from the same tree (version
# numbers read from its configure.ac), so it always matches the sources being compiled; for
# 1.0.18 it comes out identical to Debian's installed one. It must sit beside the other headers:
# it includes "export.h". The copies are one rule's work, with a stamp for target, not a list:
# a $(wildcard) of the fetched tree, taken when make reads this file, is empty on a fresh clone
# whose `make deps` runs later in the same make.
SODIUM_VERSION_H := $(SODIUM_GEN)/sodium/version.h
SODIUM_STAGED    := $(SODIUM_GEN)/.staged
SODIUM_HEADERS   := $(SODIUM_STAGED) $(SODIUM_VERSION_H)

# SODIUM_STATIC: plain declarations, no visibility or weak attributes (meant for shared builds).
GUEST_SODIUM_CFLAGS := -DSODIUM_STATIC=1 -I$(SODIUM_GEN)

# What the guest needs, reference (portable C) implementations only: sodium_init and the helpers
# (utils: memzero, memcmp, increment...), randombytes' front end, BLAKE2b, and the secretstream
# with what it calls: HChaCha20, ChaCha20, Poly1305 and crypto_verify_16 (verify.c, which has
# crypto_verify_32 too). For self-migration's key exchange and owner commands: X25519
# (crypto_scalarmult_curve25519 and _base: ref10, never sandy2x, which is AVX assembly) over the
# Curve25519 field and group code of crypto_core/ed25519/ref10; and Ed25519 verification
# (crypto_sign_ed25519_verify_detached in open.c) with SHA-512. open.c takes its hash setup from
# sign.c, which brings signing along; nothing in the guest signs. Not the generic wrappers
# (crypto_scalarmult.c, crypto_sign.c): the guest calls the named primitives.
SODIUM_FILES := sodium/core sodium/utils sodium/runtime sodium/version randombytes/randombytes \
                crypto_generichash/crypto_generichash \
                $(addprefix crypto_generichash/blake2b/,generichash_blake2 ref/blake2b-ref \
                                                      ref/blake2b-compress-ref \
                                                      ref/generichash_blake2b) \
                crypto_core/hchacha20/core_hchacha20 \
                crypto_stream/chacha20/stream_chacha20 crypto_stream/chacha20/ref/chacha20_ref \
                crypto_onetimeauth/poly1305/onetimeauth_poly1305 \
                crypto_onetimeauth/poly1305/donna/poly1305_donna \
                crypto_verify/sodium/verify \
                crypto_secretstream/xchacha20poly1305/secretstream_xchacha20poly1305 \
                crypto_core/ed25519/ref10/ed25519_ref10 \
                crypto_scalarmult/curve25519/scalarmult_curve25519 \
                crypto_scalarmult/curve25519/ref10/x25519_ref10 \
                crypto_sign/ed25519/ref10/open crypto_sign/ed25519/ref10/sign \
                crypto_hash/sha512/cp/hash_sha512_cp
SODIUM_UP_OBJS   := $(SODIUM_FILES:%=$(BUILD)/guest/sodium/%.o)
SODIUM_GLUE_SRCS := $(wildcard guest/sodium/*.c)
SODIUM_GLUE_OBJS := $(SODIUM_GLUE_SRCS:guest/sodium/%.c=$(BUILD)/guest/sodium/glue/%.o)
SODIUM_OBJS      := $(SODIUM_UP_OBJS) $(SODIUM_GLUE_OBJS)
SODIUM_LIB       := $(BUILD)/guest/libsodium.a
export SODIUM_LIB GUEST_SODIUM_CFLAGS

# libsodium's own sources: its internal include directories (it includes "core.h",
# "private/common.h", "version.h"), our configure answers (guest/sodium/config.h, forced in) and
# empty <time.h>/<signal.h>/<unistd.h> (guest/sodium/shim) for includes config.h makes unused.
SODIUM_INTERNAL := $(GUEST_SODIUM_CFLAGS) -I$(SODIUM_SRC)/include/sodium -I$(SODIUM_GEN)/sodium \
                   -Iguest/sodium/shim -include guest/sodium/config.h
# libsodium 1.0.18 builds clean with the strict set our own guest code uses, -Werror included, so
# upstream and glue get the same flags. One exception, for utils.c only: with no mmap, mprotect
# or mlock in the guest, its sodium_mlock/_mprotect_* stubs ignore their parameters and its
# page_size (for guard-page sodium_malloc) goes unused.
SODIUM_CFLAGS := $(GUEST_CFLAGS) $(SODIUM_INTERNAL) -Wshadow -Wstrict-prototypes \
                 -Wmissing-prototypes -Wundef
SODIUM_CFLAGS_sodium/utils := -Wno-unused-parameter -Wno-unused-variable
# The Curve25519 field arithmetic (private/ed25519_ref10_fe_51.h, see HAVE_TI_MODE in
# guest/sodium/config.h) is a header of static functions, each file using a part of them; and
# ed25519_ref10.c names two locals `d` like its global constant.
SODIUM_FE_WARN := -Wno-unused-function
SODIUM_CFLAGS_crypto_core/ed25519/ref10/ed25519_ref10 := $(SODIUM_FE_WARN) -Wno-shadow
SODIUM_CFLAGS_crypto_scalarmult/curve25519/ref10/x25519_ref10 := $(SODIUM_FE_WARN)
SODIUM_CFLAGS_crypto_sign/ed25519/ref10/open := $(SODIUM_FE_WARN)
SODIUM_CFLAGS_crypto_sign/ed25519/ref10/sign := $(SODIUM_FE_WARN)

# What the kernel must define for libsodium.a + libkc.a (the link check proves the list exact):
# lm_entropy (guest/sodium/entropy.h), malloc and free (sodium_malloc), lm_panic (assert, and
# abort() behind sodium_misuse) and lm_console_write (libkc's printf).
SODIUM_KERNEL_SYMS := free lm_console_write lm_entropy lm_panic malloc
SODIUM_LINK_CHECK  := $(BUILD)/guest/sodium-link-check.elf

.PHONY: guest-sodium guest-sodium-link-check
guest-sodium: $(SODIUM_LIB)
guest-sodium-link-check: $(SODIUM_LINK_CHECK)
all: $(SODIUM_LIB) $(SODIUM_LINK_CHECK)

$(SODIUM_VERSION_H): $(SODIUM_SRC)/include/sodium/version.h.in $(SODIUM_TOP)/configure.ac
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN $@")
	$(Q)ac=$(SODIUM_TOP)/configure.ac; \
	ver=$$(sed -n 's/^AC_INIT(\[libsodium\],\[\([0-9.]*\)\].*/\1/p' $$ac); \
	maj=$$(sed -n 's/^SODIUM_LIBRARY_VERSION_MAJOR=\([0-9]*\)$$/\1/p' $$ac); \
	min=$$(sed -n 's/^SODIUM_LIBRARY_VERSION_MINOR=\([0-9]*\)$$/\1/p' $$ac); \
	[ -n "$$ver" ] && [ -n "$$maj" ] && [ -n "$$min" ] || \
	    { echo "$$ac: no version in it (version '$$ver', major '$$maj', minor '$$min')" >&2; \
	      exit 1; }; \
	sed -e "s/@VERSION@/$$ver/" -e "s/@SODIUM_LIBRARY_VERSION_MAJOR@/$$maj/" \
	    -e "s/@SODIUM_LIBRARY_VERSION_MINOR@/$$min/" -e 's/@SODIUM_LIBRARY_MINIMAL_DEF@//' \
	    $< >$@.tmp; \
	if grep -n '@[A-Z_]*@' $@.tmp >&2; then echo "$<: unknown placeholder left" >&2; exit 1; fi
	$(Q)mv $@.tmp $@

# Plain copies (cp -p keeps the dates, so restaging rebuilds nothing), made again when deps
# fetches the tree again (it touches the stamp).
$(SODIUM_STAGED): $(BUILD)/third_party/.libsodium.ok
	@mkdir -p $(@D)/sodium
	@$(if $(Q),echo "  STAGE $(@D)")
	$(Q)cp -p $(SODIUM_SRC)/include/sodium.h $(@D)/ && \
	    cp -p $(SODIUM_SRC)/include/sodium/*.h $(@D)/sodium/
	$(Q)touch $@

$(SODIUM_UP_OBJS): $(BUILD)/guest/sodium/%.o: $(SODIUM_SRC)/%.c | $(SODIUM_HEADERS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(SODIUM_CFLAGS) $(SODIUM_CFLAGS_$*) -MMD -MP -c $< -o $@

$(SODIUM_GLUE_OBJS): $(BUILD)/guest/sodium/glue/%.o: guest/sodium/%.c | $(SODIUM_HEADERS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(SODIUM_CFLAGS) -MMD -MP -c $< -o $@

# libsodium is fetched, not kept in the tree: say how to get it rather than "no rule to make".
$(SODIUM_SRC)/%.c $(SODIUM_SRC)/%.h $(SODIUM_SRC)/%.in:
	@echo "$@ is missing: run 'make deps' to fetch the libsodium source" >&2
	@exit 1
$(SODIUM_TOP)/configure.ac:
	@echo "$@ is missing: run 'make deps' to fetch the libsodium source" >&2
	@exit 1

$(SODIUM_LIB): $(SODIUM_OBJS) guest/sodium.mk # a new file in the list rebuilds it (.SECONDARY)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR $@")
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

# A whole-archive freestanding link of libsodium.a + libkc.a with only SODIUM_KERNEL_SYMS stubbed
# (complete), nm to show nothing else is needed (exact), and objdump to show the code touches no
# SSE/AVX register and runs no CPUID: the guest has no vector state to offer.
$(SODIUM_LINK_CHECK): $(SODIUM_LIB) $(KC_LIB)
	@$(if $(Q),echo "  LINKCHECK $@")
	$(Q)$(GUEST_CC) -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none \
	    -Wl,-e,sodium_init -o $@.tmp \
	    -Wl,--whole-archive $(SODIUM_LIB) $(KC_LIB) -Wl,--no-whole-archive \
	    $(SODIUM_KERNEL_SYMS:%=-Wl,--defsym=%=0)
	$(Q)nm --defined-only $(SODIUM_LIB) $(KC_LIB) | awk 'NF == 3 { print $$3 }' | sort -u >$@.def
	$(Q)nm -u $(SODIUM_LIB) $(KC_LIB) | awk 'NF == 2 { print $$2 }' | sort -u | \
	    comm -23 - $@.def >$@.need
	$(Q)printf '%s\n' $(SODIUM_KERNEL_SYMS) | sort | cmp -s - $@.need || \
	    { echo "sodium link check: the libraries need [$$(echo $$(cat $@.need))]," \
	        "SODIUM_KERNEL_SYMS (guest/sodium.mk) says [$(SODIUM_KERNEL_SYMS)]" >&2; exit 1; }
	$(Q)objdump -d --no-show-raw-insn $@.tmp | grep -E '%[xyz]mm[0-9]|\<cpuid\>|\<xgetbv\>' \
	    >$@.simd; [ ! -s $@.simd ] || \
	    { echo "sodium link check: SIMD or CPUID in the guest code (see $@.simd):" >&2; \
	      head -5 $@.simd >&2; exit 1; }
	$(Q)mv $@.tmp $@

# tests/unit/test_guest_sodium: the same libsodium sources, compiled with the same flags and
# config (less the three that pin code to the kernel's address space), for the host, with ASan
# and UBSan, over the guest libc: its names get test_guest_libc's kc_ renaming (KC_HOST_NAMES),
# and its kc_-named host build (KC_HOST_OBJS) links in. ld -r makes one object of libsodium and
# our glue, and objcopy renames every global it defines with a guest_ prefix, so it links beside
# the system libsodium and the two can be compared. What it needs keeps its name: kc_* from the
# guest libc, lm_entropy and lm_panic from the test, and from glibc malloc/free and the
# memcpy/memset calls gcc emits by itself.
SODIUM_HOST_CFLAGS := $(filter-out -fno-pic -fno-pie -mcmodel=small,$(SODIUM_CFLAGS)) \
                      $(KC_HOST_SAN) $(foreach n,$(KC_HOST_NAMES),-D$(n)=kc_$(n))
SODIUM_HOST_DIR    := $(BUILD)/tests/unit/guest_sodium
SODIUM_HOST_UP     := $(SODIUM_FILES:%=$(SODIUM_HOST_DIR)/%.o)
SODIUM_HOST_GLUEO  := $(SODIUM_GLUE_SRCS:guest/sodium/%.c=$(SODIUM_HOST_DIR)/glue/%.o)
SODIUM_HOST_OBJ    := $(SODIUM_HOST_DIR)/libsodium-guest.o

$(SODIUM_HOST_UP): $(SODIUM_HOST_DIR)/%.o: $(SODIUM_SRC)/%.c | $(SODIUM_HEADERS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $< (host, guest_ names)")
	$(Q)$(GUEST_CC) $(SODIUM_HOST_CFLAGS) $(SODIUM_CFLAGS_$*) -MMD -MP -c $< -o $@

$(SODIUM_HOST_GLUEO): $(SODIUM_HOST_DIR)/glue/%.o: guest/sodium/%.c | $(SODIUM_HEADERS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $< (host, guest_ names)")
	$(Q)$(GUEST_CC) $(SODIUM_HOST_CFLAGS) -MMD -MP -c $< -o $@

# Compiler-made globals (__odr_asan_gen_*, ...) start with "__" and keep their names.
$(SODIUM_HOST_OBJ): $(SODIUM_HOST_UP) $(SODIUM_HOST_GLUEO)
	@$(if $(Q),echo "  OBJCOPY $@ (guest_ prefix)")
	$(Q)ld -r -o $@.tmp $^
	$(Q)nm -g --defined-only $@.tmp | awk 'NF == 3 && $$3 !~ /^__/ { print $$3, "guest_" $$3 }' \
	    >$@.map
	$(Q)objcopy --redefine-syms=$@.map $@.tmp $@ && rm -f $@.tmp

$(BUILD)/tests/unit/test_guest_sodium.o: CFLAGS += $(KC_HOST_SAN)
$(BUILD)/tests/unit/test_guest_sodium: $(BUILD)/tests/unit/test_guest_sodium.o $(SODIUM_HOST_OBJ) \
                                       $(KC_HOST_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) $(KC_HOST_SAN) -o $@ $^ -lsodium -lcmocka
