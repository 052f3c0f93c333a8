/* The audit: the ledger's totals and the invariants that must hold between them. */
#include "broker.h"

/*
 * deposits == balances + open reservations, where a token's open reservation is
 * cost - paid - refunded. Also checked: each balance equals the sum of its journal lines,
 * each token's payments equal its redemptions, no token is paid or refunded beyond its
 * cost, and each VM's location was reported with a token of its owner that carries its name.
 * One transaction, so the figures are one consistent snapshot.
 */
int h_audit(struct call *c)
{
    static const char *const sums[] = {
        "SELECT COALESCE(SUM(amount), 0) FROM deposits",
        "SELECT COALESCE(SUM(balance), 0) FROM accounts",
        "SELECT COALESCE(SUM(cost), 0) FROM tokens",
        "SELECT COALESCE(SUM(paid), 0) FROM tokens",
        "SELECT COALESCE(SUM(refunded), 0) FROM tokens",
        "SELECT COUNT(*) FROM accounts WHERE balance <> (SELECT COALESCE(SUM(amount), 0) FROM "
        "journal j WHERE j.account_id = accounts.id)",
        "SELECT COUNT(*) FROM tokens WHERE paid <> (SELECT COALESCE(SUM(amount), 0) FROM "
        "redemptions r WHERE r.token_id = tokens.id)",
        "SELECT COUNT(*) FROM tokens WHERE paid + refunded > cost OR paid < 0 OR refunded < 0",
        "SELECT COUNT(*) FROM tokens WHERE refunded_at IS NULL AND refunded <> 0",
        "SELECT COUNT(*) FROM tokens",
        "SELECT COUNT(*) FROM tokens WHERE refunded_at IS NULL",
        "SELECT COUNT(*) FROM accounts",
        "SELECT COALESCE(SUM(amount), 0) FROM journal WHERE kind = 'deposit'",
        "SELECT COUNT(*) FROM locations l LEFT JOIN tokens t ON t.id = l.token_id WHERE t.id IS "
        "NULL OR t.buyer_id <> l.buyer_id OR t.name IS NOT l.name",
    };
    enum {
        DEP,
        BAL,
        RES,
        PAID,
        REF,
        BAD_JOURNAL,
        BAD_PAID,
        BAD_COST,
        BAD_OPEN,
        NTOK,
        NOPEN,
        NACC,
        JDEP,
        BAD_LOC,
        N
    };
    int64_t v[N];
    for (int i = 0; i < N; i++)
        if (ledger_int(c->b, &v[i], sums[i], "") != 0)
            return call_db_fail(c);
    int64_t open = v[RES] - v[PAID] - v[REF];
    int balanced = v[BAL] + open == v[DEP];
    int ok = balanced && !v[BAD_JOURNAL] && !v[BAD_PAID] && !v[BAD_COST] && !v[BAD_OPEN] &&
             v[JDEP] == v[DEP] && !v[BAD_LOC];
    json_t *checks =
        json_pack("{s:b s:I s:I s:I s:I s:b s:I}", "balances_plus_open_equal_deposits", balanced,
                  "accounts_not_matching_journal", (json_int_t)v[BAD_JOURNAL],
                  "tokens_paid_not_matching_redemptions", (json_int_t)v[BAD_PAID],
                  "tokens_beyond_cost", (json_int_t)v[BAD_COST], "open_tokens_with_refund",
                  (json_int_t)v[BAD_OPEN], "journal_deposits_match", v[JDEP] == v[DEP],
                  "locations_not_matching_token", (json_int_t)v[BAD_LOC]);
    return call_ok(c, 200,
                   json_pack("{s:b s:I s:I s:I s:I s:I s:I s:I s:I s:I s:o}", "ok", ok, "deposits",
                             (json_int_t)v[DEP], "balances", (json_int_t)v[BAL], "reserved",
                             (json_int_t)v[RES], "paid", (json_int_t)v[PAID], "refunded",
                             (json_int_t)v[REF], "open_reservations", (json_int_t)open, "tokens",
                             (json_int_t)v[NTOK], "open_tokens", (json_int_t)v[NOPEN], "accounts",
                             (json_int_t)v[NACC], "checks", checks));
}
