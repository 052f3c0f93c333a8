/* Places a checked ELF kernel into guest memory and writes its boot info. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/log.h"
#include "vmm.h"

int vm_load_elf(struct vm *vm, const char *path, struct lm_elf_image *img)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lm_err("%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > vm->mem_size) {
        lm_err("%s: not a regular file no larger than guest memory (%llu MiB)", path,
               (unsigned long long)(vm->mem_size >> 20));
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != len) {
        lm_err("%s: read failed", path);
        free(buf);
        return -1;
    }
    struct lm_diag d;
    /* A loader VM's kernel is the loader, linked into the loader block; any other into RAM. */
    uint64_t lo = vm->loader_mem ? LM_LOADER_GPA : LM_KERNEL_MIN_GPA;
    uint64_t hi = vm->loader_mem ? LM_LOADER_GPA + vm->loader_size : vm->mem_size;
    if (lm_elf_parse(buf, len, lo, hi, img, &d) != 0) {
        lm_err("%s: %s", path, d.msg);
        free(buf);
        return -1;
    }
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct lm_elf_segment *s = &img->seg[i];
        uint8_t *dst = vm_gpa(vm, s->paddr, s->memsz); /* parse checked the window */
        memcpy(dst, buf + s->offset, s->filesz);
        memset(dst + s->filesz, 0, s->memsz - s->filesz);
    }
    free(buf);
    return 0;
}

void vm_write_bootinfo(struct vm *vm, const struct lm_elf_image *img, const char *cmdline,
                       const uint8_t commitment[32])
{
    struct lm_boot_info *bi = vm_gpa(vm, LM_BOOTINFO_GPA, sizeof *bi);
    memset(bi, 0, sizeof *bi);
    bi->magic = LM_BOOTINFO_MAGIC;
    bi->abi_version = LM_ABI_VERSION;
    bi->mem_size = vm->mem_size;
    bi->kernel_start = img->lo;
    bi->kernel_end = img->hi;
    snprintf(bi->cmdline, sizeof bi->cmdline, "%s", cmdline);
    bi->net = vm->boot_net;
    bi->clock.tsc_hz = vm->tsc_hz;
    bi->clock.wall_ns = lm_wall_ns();
    memcpy(bi->commitment, commitment, 32);
    bi->loader_base = vm->loader_mem ? LM_LOADER_GPA : 0;
    bi->loader_size = vm->loader_size;
    /* RAM is fresh anonymous memory, and a loader's image lives in its own block above it. */
    bi->boot_flags = vm->loader_mem ? LM_BOOT_RAM_ZERO : 0;
}
