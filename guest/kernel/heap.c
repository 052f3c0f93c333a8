/* malloc/free: power-of-two size classes carved from pages; large blocks take whole pages. */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

#define HDR 16
#define NCLASS 8 /* 32 .. 4096 bytes per slot, header included */
#define HEAP_MAGIC 0x68656170u

struct hdr {
    uint32_t magic;
    uint32_t cls;   /* size class, or NCLASS for a page run */
    uint64_t pages; /* page run length */
};
_Static_assert(sizeof(struct hdr) == HDR, "header size");

struct free_slot {
    struct free_slot *next;
};
static struct free_slot *free_list[NCLASS];

void heap_init(void)
{
    memset(free_list, 0, sizeof free_list);
}

static size_t class_size(unsigned c)
{
    return (size_t)32 << c;
}

void *malloc(size_t n)
{
    if (n > (size_t)1 << 40)
        return NULL;
    size_t total = n + HDR;
    struct hdr *h;
    unsigned c = 0;
    while (c < NCLASS && class_size(c) < total)
        c++;
    if (c < NCLASS) {
        if (!free_list[c]) {
            uint8_t *page = page_alloc(1);
            if (!page)
                return NULL;
            for (size_t off = 0; off + class_size(c) <= PAGE_SIZE; off += class_size(c)) {
                struct free_slot *s = (struct free_slot *)(page + off);
                s->next = free_list[c];
                free_list[c] = s;
            }
        }
        h = (struct hdr *)free_list[c];
        free_list[c] = free_list[c]->next;
        h->pages = 0;
    } else {
        size_t pages = PAGE_ROUND_UP(total) / PAGE_SIZE;
        h = page_alloc(pages);
        if (!h)
            return NULL;
        h->pages = pages;
    }
    h->magic = HEAP_MAGIC;
    h->cls = c;
    return (uint8_t *)h + HDR;
}

static struct hdr *header(void *p)
{
    struct hdr *h = (struct hdr *)((uint8_t *)p - HDR);
    if (h->magic != HEAP_MAGIC || h->cls > NCLASS)
        lm_panic("free/realloc of %p: not a live heap block (double free or corruption)", p);
    return h;
}

void free(void *p)
{
    if (!p)
        return;
    struct hdr *h = header(p);
    h->magic = 0;
    if (h->cls < NCLASS) {
        struct free_slot *s = (struct free_slot *)h;
        s->next = free_list[h->cls];
        free_list[h->cls] = s;
    } else {
        page_free(h, h->pages);
    }
}

void *calloc(size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size)
        return NULL;
    void *p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    struct hdr *h = header(p);
    size_t have = (h->cls < NCLASS ? class_size(h->cls) : h->pages * PAGE_SIZE) - HDR;
    if (n <= have)
        return p;
    void *q = malloc(n);
    if (q) {
        memcpy(q, p, have);
        free(p);
    }
    return q;
}
