/* Leveled logging to stderr for daemons and tools: "prog: level: message". */
#ifndef LAUNDROMAT_LOG_H
#define LAUNDROMAT_LOG_H

enum lm_log_level { LM_LOG_ERROR, LM_LOG_WARN, LM_LOG_INFO, LM_LOG_DEBUG };

/* Sets the program name printed first and the most verbose level printed (default INFO). */
void lm_log_init(const char *prog, enum lm_log_level max);
/* Formats into a stack buffer and writes one line with a single write(2): safe in the
 * sandboxed monitor, which allows no allocation. */
void lm_log(enum lm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lm_err(...) lm_log(LM_LOG_ERROR, __VA_ARGS__)
#define lm_warn(...) lm_log(LM_LOG_WARN, __VA_ARGS__)
#define lm_info(...) lm_log(LM_LOG_INFO, __VA_ARGS__)
#define lm_debug(...) lm_log(LM_LOG_DEBUG, __VA_ARGS__)

#endif
