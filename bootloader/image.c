/* The image payload: check its digest and ELF headers, place it in RAM, hand over. */
#include <stdio.h>
#include <string.h>

#include "laundromat/elf.h"
#include "laundromat/util.h"
#include "loader.h"

void image_finish(struct loader *l)
{
    uint8_t digest[LM_HASH_BYTES];
    crypto_generichash_blake2b_final(&l->hash, digest, sizeof digest);
    char got[2 * LM_HASH_BYTES + 1], want[2 * LM_HASH_BYTES + 1];
    lm_hex_encode(digest, sizeof digest, got);
    lm_hex_encode(boot_info->commitment, LM_HASH_BYTES, want);
    if (memcmp(digest, boot_info->commitment, LM_HASH_BYTES) != 0)
        loader_fail(l, EXIT_DIGEST, "DIGEST_MISMATCH", "image BLAKE2b-256 %s, the token commits "
                    "to %s", got, want);

    struct lm_elf_image img;
    struct lm_diag d;
    int rc = lm_elf_parse(l->buf, l->h.length, LM_KERNEL_MIN_GPA, boot_info->mem_size, &img, &d);
    if (rc)
        loader_fail(l, EXIT_BAD_IMAGE, lm_status_name(rc), "%s", d.msg);

    /* RAM belongs to nobody yet: the loader lives in its own block above it. Where the
     * platform promises it is still all zero, the bss is left as it is: writing its zeros
     * would cost a fault for each page first touched (~6 us on KVM-PVM, whose shadow page
     * tables fill one fault at a time: 8.6 ms for a kernel with 5 MiB of bss), and the kernel
     * touches only what it uses. */
    bool zero = boot_info->boot_flags & LM_BOOT_RAM_ZERO;
    for (unsigned i = 0; i < img.nseg; i++) {
        const struct lm_elf_segment *s = &img.seg[i];
        uint8_t *dst = (uint8_t *)(uintptr_t)s->paddr;
        memcpy(dst, l->buf + s->offset, s->filesz);
        if (!zero)
            memset(dst + s->filesz, 0, s->memsz - s->filesz);
    }

    /* A fresh boot info for the new kernel; the monitor fills in what the VM is. */
    struct lm_boot_info *bi = (struct lm_boot_info *)(uintptr_t)LM_BOOTINFO_GPA;
    memset(bi, 0, sizeof *bi);
    bi->magic = LM_BOOTINFO_MAGIC;
    bi->abi_version = LM_ABI_VERSION;
    bi->mem_size = boot_info->mem_size;
    bi->kernel_start = img.lo;
    bi->kernel_end = img.hi;
    memcpy(bi->cmdline, l->cmdline, l->cmd_len);
    bi->cmdline[l->cmd_len] = '\0';
    bi->clock.wall_ns = platform_wall_ns();
    memcpy(bi->commitment, boot_info->commitment, LM_HASH_BYTES);

    uint64_t now = clock_ns();
    printf("loader: image ok (%llu bytes in %llu us, %llu us of it hashing; BLAKE2b-256 %s), "
           "entry 0x%llx, handing over\n", (unsigned long long)l->h.length,
           (unsigned long long)((now - l->first_ns) / 1000), (unsigned long long)(l->hash_ns / 1000),
           got, (unsigned long long)img.entry);
    char line[200];
    int n = snprintf(line, sizeof line, "OK image %llu bytes, BLAKE2b-256 %s, entry 0x%llx\n",
                     (unsigned long long)l->h.length, got, (unsigned long long)img.entry);
    loader_answer(l, line, (size_t)n);

    platform_exec(img.entry);
}
