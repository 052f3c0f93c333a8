/* Small helpers the tools, host and broker share: hex and time formatting (clocks: clock.h). */
#ifndef LAUNDROMAT_UTIL_H
#define LAUNDROMAT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2n hex digits plus NUL into out (capacity 2n+1). */
void lm_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2n hex digits (and nothing else) into out; 0 or -LM_INVAL. */
int lm_hex_decode(const char *hex, uint8_t *out, size_t n);
/* Formats Unix seconds as 2026-11-22T10:00:00Z into out (capacity >= 21); returns out. */
char *lm_fmt_time(uint64_t t, char out[32]);
/* A duration as people write one: digits and a unit, "1500ms", "30s" (or "30"), "2m", at most
 * max_ms; into *ms. 0, or -LM_INVAL (anything else, or more than max_ms). */
int lm_parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *ms);

#endif
