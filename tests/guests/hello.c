/* Test guest: prints its boot info and command line, exits with the status the cmdline names. */
#include "tiny.h"

void tiny_main(struct lm_boot_info *bi)
{
    if (bi->magic != LM_BOOTINFO_MAGIC || bi->abi_version != LM_ABI_VERSION)
        tiny_exit(99);
    tiny_puts("hello from the guest: cmdline=[");
    tiny_puts(bi->cmdline);
    tiny_puts("]\n");
    /* "exit=N" anywhere in the command line picks the exit status. */
    const char *c = bi->cmdline;
    for (; *c; c++)
        if (c[0] == 'e' && c[1] == 'x' && c[2] == 'i' && c[3] == 't' && c[4] == '=') {
            uint64_t v = 0;
            for (c += 5; *c >= '0' && *c <= '9'; c++)
                v = v * 10 + (uint64_t)(*c - '0');
            tiny_exit(v);
        }
}
