/* Places a checked ELF kernel into guest memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (lm_elf_parse(buf, len, LM_KERNEL_MIN_GPA, vm->mem_size, img, &d) != 0) {
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
