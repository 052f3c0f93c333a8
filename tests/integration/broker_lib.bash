# Sourced by the broker tests: keys, a config, a broker on a free loopback port with a
# temporary ledger (killed on exit), request helpers and the ledger invariant checks.
. "$(dirname "${BASH_SOURCE[0]}")/tap.bash"
BROKER_BIN=$BUILD/bin/lm-broker
BROKER_PID=
BROKER_PORT=0
cd "$SCRATCH" || exit 1

broker_kill() {
    if [ -n "$BROKER_PID" ]; then
        kill -9 "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
    fi
    BROKER_PID=
}
trap 'broker_kill; rm -rf "$SCRATCH"' EXIT

[ -x "$BROKER_BIN" ] || { not_ok "no $BROKER_BIN: run make first"; done_testing; exit 1; }

# broker_config [EXTRA LINES...]: keys for the broker and the admin, and broker.conf.
broker_config() {
    [ -f broker.key ] || "$LMCTL" keygen broker.key >/dev/null
    [ -f admin.key ] || "$LMCTL" keygen admin.key >/dev/null
    {
        echo "listen = 127.0.0.1:$BROKER_PORT"
        echo "database = ledger.db"
        echo "signing_key = broker.key"
        echo "admin_key = admin.key.pub"
        echo "port_file = broker.port"
        printf '%s\n' "$@"
    } >broker.conf
}

# broker_start: starts lm-broker, waits until it serves, exports LM_BROKER. Once started,
# the broker keeps its port across restarts.
broker_start() {
    rm -f broker.port
    "$BROKER_BIN" --config broker.conf 2>>broker.log &
    BROKER_PID=$!
    local i
    for i in $(seq 500); do
        [ -s broker.port ] && break
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.01
    done
    if [ ! -s broker.port ]; then
        echo "# lm-broker did not start; its log:"
        sed 's/^/#   /' broker.log | tail -20
        return 1
    fi
    if [ "$BROKER_PORT" = 0 ]; then
        BROKER_PORT=$(cat broker.port)
        sed -i "s/^listen = .*/listen = 127.0.0.1:$BROKER_PORT/" broker.conf
    fi
    export LM_BROKER=http://127.0.0.1:$BROKER_PORT
}

# new_account NAME ROLE [DEPOSIT]: a key NAME.key and its account.
new_account() {
    "$LMCTL" keygen "$1.key" >/dev/null &&
        "$LMCTL" account create --key admin.key --name "$1" --role "$2" --pub "$1.key.pub" >/dev/null &&
        if [ -n "${3:-}" ]; then
            "$LMCTL" deposit --key admin.key --account "$1" --amount "$3" >/dev/null
        fi
}

# api KEY METHOD TARGET [BODY]: a signed request; sets STATUS and BODY.
api() {
    local out
    if [ $# -ge 4 ]; then
        out=$("$LMCTL" broker call --key "$1" -i "$2" "$3" --data "$4" 2>&1)
    else
        out=$("$LMCTL" broker call --key "$1" -i "$2" "$3" 2>&1)
    fi
    STATUS=$(printf '%s\n' "$out" | head -1 | sed -n 's/^HTTP //p')
    BODY=$(printf '%s\n' "$out" | tail -n +2)
}

# jget FIELD [FIELD...]: a value from the JSON in $BODY (nested keys in turn).
jget() {
    printf '%s' "$BODY" | python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print("null" if v is None else (str(v).lower() if isinstance(v, bool) else v))' "$@"
}

# want DESC STATUS [ERROR_CODE]: checks the last reply's status and error code.
want() {
    local desc=$1 st=$2 code=${3:-}
    if [ "$STATUS" != "$st" ]; then
        not_ok "$desc (HTTP ${STATUS:-none}, want $st)"
        printf '%s\n' "$BODY" | sed 's/^/# /' | head -10
    elif [ -n "$code" ] && ! printf '%s' "$BODY" | grep -q "\"error\": \"$code\""; then
        not_ok "$desc (error code is not $code)"
        printf '%s\n' "$BODY" | sed 's/^/# /' | head -10
    elif [ -n "$code" ] && ! printf '%s' "$BODY" | grep -q '"message": "..'; then
        not_ok "$desc (no message in the error body)"
    else
        ok "$desc: $st${code:+ $code}"
    fi
}

# ledger_check DESC: the invariant, through the audit endpoint and straight from SQLite.
ledger_check() {
    local sq
    api admin.key GET /v1/admin/audit
    if [ "$STATUS" != 200 ] || [ "$(jget ok)" != true ]; then
        not_ok "$1: audit reports the ledger unbalanced"
        printf '%s\n' "$BODY" | sed 's/^/# /' | head -30
        return
    fi
    sq=$(sqlite3 -readonly ledger.db "SELECT (SELECT COALESCE(SUM(balance), 0) FROM accounts)
        + (SELECT COALESCE(SUM(cost - paid - refunded), 0) FROM tokens)
        - (SELECT COALESCE(SUM(amount), 0) FROM deposits),
        (SELECT COUNT(*) FROM accounts WHERE balance < 0)" 2>&1)
    if [ "$sq" != "0|0" ]; then
        not_ok "$1: SQLite says balances + open reservations - deposits, negative balances = $sq"
        return
    fi
    ok "$1: ledger balanced (deposits $(jget deposits) = balances $(jget balances) + open $(jget open_reservations))"
}

# no_500 DESC: no request so far got a 500 (the broker logs each with its status): client
# input, however malformed, gets a 4xx of its own.
no_500() {
    local n
    n=$(grep -acE ': 500 [A-Z_]+: ' broker.log)
    if [ "$n" = 0 ]; then
        ok "$1: no request got a 500"
    else
        not_ok "$1: $n requests got a 500"
        grep -aE ': 500 [A-Z_]+: ' broker.log | head -5 | sed 's/^/# /'
    fi
}
