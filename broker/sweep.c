/* Settlement sweeper: refunds what was not redeemed after expiry plus grace, exactly once,
 * and forgets nonces too old to be replayed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "laundromat/clock.h"
#include "laundromat/util.h"

int sweep_run(struct broker *b, int64_t now, int64_t *tokens, int64_t *credits, int64_t *nonces)
{
    *tokens = *credits = *nonces = 0;
    /* refunded_at IS NULL is what makes the sweep idempotent: a token is closed once. */
    sqlite3_stmt *st = ledger_prep(b,
                                   "SELECT id, buyer_id, cost - paid FROM tokens WHERE "
                                   "refunded_at IS NULL AND expires_at + ?1 <= ?2",
                                   "ii", (int64_t)b->cfg.settlement_grace_s, now);
    if (!st)
        return -1;
    struct due {
        char id[33];
        int64_t buyer, amount;
    } *due = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            struct due *nd = realloc(due, cap * sizeof *due);
            if (!nd) {
                rc = SQLITE_NOMEM;
                break;
            }
            due = nd;
        }
        snprintf(due[n].id, sizeof due[n].id, "%s", (const char *)sqlite3_column_text(st, 0));
        due[n].buyer = sqlite3_column_int64(st, 1);
        due[n].amount = sqlite3_column_int64(st, 2);
        n++;
    }
    sqlite3_finalize(st);
    int err = rc != SQLITE_DONE;
    for (size_t i = 0; !err && i < n; i++) {
        err = ledger_exec(b,
                          "UPDATE tokens SET refunded = ?1, refunded_at = ?2 WHERE id = ?3 AND "
                          "refunded_at IS NULL",
                          "iit", due[i].amount, now, due[i].id) != 0 ||
              sqlite3_changes(b->db) != 1 ||
              (due[i].amount > 0 &&
               ledger_move(b, due[i].buyer, "refund", due[i].amount, due[i].id, now) != 0);
        if (!err) {
            ++*tokens;
            *credits += due[i].amount;
            lm_debug("sweep: token %s refunded %" PRId64 " credits", due[i].id, due[i].amount);
        }
    }
    free(due);
    if (err)
        return -1;
    /* A request older than max_skew is refused anyway; 2x leaves room for clock steps. */
    if (ledger_exec(b, "DELETE FROM nonces WHERE time < ?1", "i",
                    now - 2 * (int64_t)b->cfg.max_skew_s) != 0)
        return -1;
    *nonces = sqlite3_changes(b->db);
    return 0;
}

int h_sweep(struct call *c)
{
    int64_t tokens, credits, nonces;
    if (sweep_run(c->b, c->now, &tokens, &credits, &nonces) != 0)
        return call_db_fail(c);
    return call_ok(c, 200,
                   json_pack("{s:I s:I s:I}", "refunded_tokens", (json_int_t)tokens,
                             "refunded_credits", (json_int_t)credits, "pruned_nonces",
                             (json_int_t)nonces));
}

/* The daemon's sweeper thread: one transaction per sweep, every sweep_interval seconds. */
static pthread_t sweeper;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stopping, running;

static void *sweeper_main(void *arg)
{
    struct broker *b = arg;
    pthread_mutex_lock(&stop_lock);
    while (!stopping) {
        pthread_mutex_unlock(&stop_lock);
        int64_t tokens = 0, credits = 0, nonces = 0, now = (int64_t)lm_now();
        ledger_lock(b);
        int rc = ledger_sql(b, "BEGIN IMMEDIATE");
        if (rc == 0 && sweep_run(b, now, &tokens, &credits, &nonces) == 0)
            rc = ledger_sql(b, "COMMIT");
        else if (rc == 0) {
            ledger_sql(b, "ROLLBACK");
            rc = -1;
        }
        ledger_unlock(b);
        if (rc)
            lm_err("sweep failed; it runs again in %" PRIu32 " s", b->cfg.sweep_interval_s);
        else if (tokens)
            lm_info("sweep: refunded %" PRId64 " credits on %" PRId64 " tokens", credits, tokens);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += b->cfg.sweep_interval_s;
        pthread_mutex_lock(&stop_lock);
        while (!stopping && pthread_cond_timedwait(&stop_cond, &stop_lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

int sweeper_start(struct broker *b)
{
    if (pthread_create(&sweeper, NULL, sweeper_main, b) != 0)
        return -1;
    running = 1;
    return 0;
}

void sweeper_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&stop_lock);
    stopping = 1;
    pthread_cond_signal(&stop_cond);
    pthread_mutex_unlock(&stop_lock);
    pthread_join(sweeper, NULL);
    running = 0;
}
