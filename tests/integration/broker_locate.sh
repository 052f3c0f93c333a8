#!/usr/bin/env bash
# Locate, the broker's half: VM names given at purchase, location reports signed by the operator
# of the host a VM runs on (POST /v1/locations), the owner's look-up (GET /v1/locations/NAME);
# each refusal with its status and code, the ordering of reports by token, the ledger's upgrade
# from schema version 1. Real lm-broker and lmctl, no KVM.
. "$(dirname "$0")/broker_lib.bash"

broker_config
broker_start || { not_ok "broker starts"; done_testing; exit 1; }
new_account alice buyer 100000 && new_account bob buyer 100000 && new_account op1 operator &&
    new_account op2 operator && ok "buyers alice, bob; operators op1, op2" || not_ok "accounts"
reg() { # KEY NAME CLUSTER ADDRESS PORT
    api "$1" POST /v1/hosts "{\"name\":\"$2\",${3:+\"cluster\":\"$3\",}\"address\":\"$4\",\"port\":$5,\"price_per_unit\":1,\"unit_ms\":1000}"
    [ "$STATUS" = 201 ] || not_ok "register host $2: $STATUS $BODY"
}
reg op1.key alpha blue 10.0.0.1 7000
reg op1.key beta blue 10.0.0.2 7001
reg op1.key delta "" 10.0.0.4 7004
reg op2.key gamma red 10.0.0.3 7002
ok "hosts alpha, beta (op1, cluster blue), delta (op1, no cluster), gamma (op2, cluster red)"
C=$(printf 'ab%.0s' {1..32})

# buy KEY SCOPE_JSON [NAME_JSON]: a purchase of one prepaid unit; sets STATUS, BODY.
buy() {
    api "$1" POST /v1/tokens "{$2,\"commitment\":\"$C\",\"prepaid_units\":1${3:+,\"name\":$3}}"
}
# report KEY TOKEN HOST ADDRESS: a location report.
report() {
    api "$1" POST /v1/locations "{\"token_id\":\"$2\",\"host\":\"$3\",\"address\":\"$4\"}"
}
# located KEY NAME HOST ADDRESS TOKEN: GET /v1/locations/NAME answers exactly that.
located() {
    api "$1" GET "/v1/locations/$2"
    if [ "$STATUS" = 200 ] && [ "$(jget name)" = "$2" ] && [ "$(jget host)" = "$3" ] &&
        [ "$(jget address)" = "$4" ] && [ "$(jget token_id)" = "$5" ]; then
        return 0
    fi
    printf '%s\n' "$STATUS $BODY" | sed 's/^/# /' | head -12
    return 1
}
locations() { sqlite3 -readonly ledger.db "SELECT group_concat(buyer_id || ':' || name || '@' || host || '/' || address || '/' || token_id, ' ') FROM locations"; }

# --- names at purchase
buy alice.key '"host":"alpha"' '"web-1"'
want "a purchase with a name" 201
T1=$(jget token_id)
[ "$(jget name)" = web-1 ] && ok "the reply echoes the name" || not_ok "no name in: $BODY"
api alice.key GET "/v1/tokens/$T1"
[ "$(jget name)" = web-1 ] && ok "GET /v1/tokens/ID shows the name" || not_ok "token: $BODY"
buy alice.key '"host":"alpha"'
want "a purchase without a name" 201
TN=$(jget token_id)
printf '%s' "$BODY" | grep -q '"name"' && not_ok "a token without a name shows one: $BODY" ||
    ok "its reply has no name"
N63=$(printf 'a%.0s' {1..63})
buy alice.key '"host":"alpha"' "\"$N63\""
want "a name of 63 characters" 201
buy alice.key '"host":"alpha"' '"9lives"'
want "a name starting with a digit" 201
SPENT=$(sqlite3 -readonly ledger.db "SELECT balance FROM accounts WHERE name = 'alice'")
for bad in '""' '"-web"' '"Web-1"' '"web_1"' '"web.1"' '"w\u00e9b"' '"web 1"' "\"a$N63\"" 12 true \
    '["web"]'; do
    buy alice.key '"host":"alpha"' "$bad"
    if [ "$bad" = 12 ] || [ "$bad" = true ] || [ "$bad" = '["web"]' ]; then
        want "name $bad is refused" 400 BAD_FIELD
    elif [ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q "1 to 63 of a-z, 0-9 and '-', starting with a letter or digit"; then
        want "name $bad is refused, the message names the rule" 400 BAD_FIELD
    else
        not_ok "name $bad: $STATUS $BODY"
    fi
done
[ "$(sqlite3 -readonly ledger.db "SELECT balance FROM accounts WHERE name = 'alice'")" = "$SPENT" ] &&
    ok "refused purchases charged nothing" || not_ok "refused purchases moved credit"

# --- reports and look-ups
report op1.key "$T1" alpha 10.0.0.11
want "op1 reports web-1 on its host alpha" 200
[ "$(jget recorded)" = true ] && [ "$(jget name)" = web-1 ] && [ "$(jget host)" = alpha ] &&
    [ "$(jget address)" = 10.0.0.11 ] && [ "$(jget token_id)" = "$T1" ] &&
    [ "$(jget updated_at)" -gt 1700000000 ] && ok "the reply: recorded, name, host, address, token, time" ||
    not_ok "reply: $BODY"
located alice.key web-1 alpha 10.0.0.11 "$T1" && [ "$(jget host_address)" = 10.0.0.1 ] &&
    [ "$(jget host_port)" = 7000 ] && [ "$(jget updated_at)" -gt 1700000000 ] &&
    ok "alice locates web-1: alpha, 10.0.0.11, and alpha's agent at 10.0.0.1:7000" ||
    not_ok "alice's look-up"
BEFORE=$(locations)
report op2.key "$T1" alpha 10.0.0.66
want "op2 reports on op1's host" 403 NOT_YOUR_HOST
report op2.key "$T1" gamma 10.0.0.66
want "op2 reports on its own host outside the token's scope (host alpha)" 403 WRONG_SCOPE
report op1.key "$T1" beta 10.0.0.66
want "op1 reports on its other host, outside the token's scope" 403 WRONG_SCOPE
report op1.key 0123456789abcdef0123456789abcdef alpha 10.0.0.66
want "an unknown token" 404 UNKNOWN_TOKEN
report op1.key "$T1" omega 10.0.0.66
want "an unknown host" 404 UNKNOWN_HOST
report op1.key "$TN" alpha 10.0.0.66
want "a token without a name" 200
[ "$(jget recorded)" = false ] && [ "$(jget token_id)" = "$TN" ] &&
    ok "is not recorded: {\"recorded\": false, \"token_id\": ...}" || not_ok "reply: $BODY"
[ "$(locations)" = "$BEFORE" ] && ok "nothing above changed a location" ||
    not_ok "locations changed: $(locations)"

# --- a migration: a newer token moves the VM; a late report with an older token is refused
buy alice.key '"cluster":"blue"' '"web-1"'
T2=$(jget token_id)
report op2.key "$T2" gamma 10.0.0.66
want "a cluster token reported on a host of another cluster" 403 WRONG_SCOPE
report op1.key "$T2" delta 10.0.0.66
want "a cluster token reported on a host in no cluster" 403 WRONG_SCOPE
report op1.key "$T2" beta 10.0.0.12
want "the newer token reported on beta, in its cluster" 200
located alice.key web-1 beta 10.0.0.12 "$T2" && ok "web-1 moved to beta" || not_ok "not moved"
report op1.key "$T1" alpha 10.0.0.11
want "the older token's late report from alpha" 409 STALE_LOCATION
printf '%s' "$BODY" | grep -q "$T1" && printf '%s' "$BODY" | grep -q "$T2" &&
    [ "$(jget current_token_id)" = "$T2" ] && ok "the refusal names both tokens" ||
    not_ok "message: $BODY"
located alice.key web-1 beta 10.0.0.12 "$T2" && ok "the location is unchanged" || not_ok "changed"
report op1.key "$T2" beta 10.0.0.13
want "the same token reports again (a new address)" 200
located alice.key web-1 beta 10.0.0.13 "$T2" && ok "the address follows" || not_ok "address"
buy alice.key '"host":"gamma"' '"web-1"'
T3=$(jget token_id)
report op2.key "$T3" gamma 10.1.0.5
want "a newer token reported on gamma by op2" 200
located alice.key web-1 gamma 10.1.0.5 "$T3" && [ "$(jget host_address)" = 10.0.0.3 ] &&
    [ "$(jget host_port)" = 7002 ] && ok "web-1 moved to gamma, op2's agent at 10.0.0.3:7002" ||
    not_ok "not on gamma"
# Order is by issue time first, the purchase order only breaks ties: a token bought later but
# issued earlier (made so in the ledger) is older.
buy alice.key '"host":"alpha"' '"web-1"'
T4=$(jget token_id)
sqlite3 ledger.db "UPDATE tokens SET issued_at = issued_at - 1000 WHERE id = '$T4'"
report op1.key "$T4" alpha 10.0.0.14
want "a token issued earlier, though bought later" 409 STALE_LOCATION
located alice.key web-1 gamma 10.1.0.5 "$T3" && ok "still on gamma" || not_ok "moved"

# --- names are per account: no leak, no interference
api bob.key GET /v1/locations/web-1
want "bob looks up alice's VM name" 404 UNKNOWN_NAME
printf '%s' "$BODY" | grep -q 'no VM named \\"web-1\\" located for account \\"bob\\"' &&
    ! printf '%s' "$BODY" | grep -qE "gamma|alice|$T3" && ok "the refusal tells bob nothing of alice's VM" ||
    not_ok "message: $BODY"
buy bob.key '"host":"gamma"' '"web-1"'
B1=$(jget token_id)
report op2.key "$B1" gamma 10.1.0.9
want "bob's own web-1 reported on gamma" 200
located bob.key web-1 gamma 10.1.0.9 "$B1" && ok "bob locates his web-1" || not_ok "bob's web-1"
located alice.key web-1 gamma 10.1.0.5 "$T3" && ok "alice's web-1 is unchanged" || not_ok "alice's"
report op2.key "$T3" gamma 10.1.0.6
want "alice's older token still reports: bob's newer token is another VM" 200
api admin.key GET /v1/locations/web-1
want "the admin has no VM of that name" 404 UNKNOWN_NAME

# --- malformed requests, wrong roles
BEFORE=$(locations)
for a in 10.0.0 10.0.0.256 ::1 10.0.0.1/24 010.0.0.1 ' 10.0.0.1' '10.0.0.1 ' alpha.example ''; do
    report op2.key "$T3" gamma "$a"
    want "address \"$a\"" 400 BAD_FIELD
done
api op2.key POST /v1/locations "{\"token_id\":\"$T3\",\"host\":\"gamma\",\"address\":167837957}"
want "an address as a number" 400 BAD_FIELD
api op2.key POST /v1/locations "{\"token_id\":\"$T3\",\"host\":\"gamma\""
want "a body that is not JSON" 400 BAD_JSON
api op2.key POST /v1/locations "[\"$T3\",\"gamma\",\"10.1.0.7\"]"
want "a body that is not an object" 400 BAD_JSON
api op2.key POST /v1/locations "{\"token_id\":\"$T3\",\"host\":\"gamma\",\"address\":\"10.1.0.7\",\"host\":\"gamma\"}"
want "a duplicated key" 400 BAD_JSON
api op2.key POST /v1/locations "{\"token_id\":\"$T3\",\"host\":\"gamma\",\"address\":\"10.1.0.7\",\"port\":7002}"
want "an unknown field" 400 UNKNOWN_FIELD
api op2.key POST /v1/locations "{\"token_id\":\"$T3\",\"host\":\"gamma\"}"
want "no address" 400 MISSING_FIELD
api op2.key POST /v1/locations "{\"token_id\":\"${T3^^}\",\"host\":\"gamma\",\"address\":\"10.1.0.7\"}"
want "an uppercase token id" 400 BAD_FIELD
api op2.key POST /v1/locations "{\"token_id\":\"$T3\",\"host\":\"gam ma\",\"address\":\"10.1.0.7\"}"
want "a host that is not a name" 400 BAD_FIELD
report alice.key "$T3" gamma 10.1.0.7
want "a buyer reports a location" 403 WRONG_ROLE
api op2.key GET /v1/locations/web-1
want "an operator looks a VM up" 403 WRONG_ROLE
printf '%s' "$BODY" | grep -q "is for buyer and the admin accounts" && ok "the refusal names the roles" ||
    not_ok "message: $BODY"
[ "$(locations)" = "$BEFORE" ] && ok "no refused report changed a location" ||
    not_ok "locations changed: $(locations)"
for n in Web-1 -web web_1 "a$N63" 'web%2d1'; do
    api alice.key GET "/v1/locations/$n"
    want "GET /v1/locations/$n: not a VM name" 400 BAD_FIELD
done
api alice.key GET "/v1/locations/web-1?all=1"
want "a look-up with a query" 400 BAD_QUERY
api alice.key GET /v1/locations/
want "a look-up without a name" 404 NOT_FOUND
api alice.key GET /v1/locations/nothing-here
want "a name never reported" 404 UNKNOWN_NAME

ledger_check "after the reports"
api admin.key GET /v1/admin/audit
[ "$(jget checks locations_not_matching_token)" = 0 ] &&
    ok "audit: every location's token is its owner's and carries its name" || not_ok "audit: $BODY"
sqlite3 ledger.db "UPDATE locations SET name = 'web-2' WHERE token_id = '$B1'"
api admin.key GET /v1/admin/audit
[ "$(jget ok)" = false ] && [ "$(jget checks locations_not_matching_token)" = 1 ] &&
    ok "audit: a location whose token does not carry its name is found" || not_ok "audit: $BODY"
sqlite3 ledger.db "UPDATE locations SET name = 'web-1' WHERE token_id = '$B1'"

# --- the ledger keeps locations across a restart, and a version-1 ledger is upgraded
broker_kill
broker_start && ok "restart" || not_ok "restart"
located alice.key web-1 gamma 10.1.0.6 "$T3" && ok "locations survive a restart" || not_ok "lost"
expect "the ledger's schema is version 2" 0 "^2$" -- sqlite3 -readonly ledger.db "PRAGMA user_version"
broker_kill
# What a ledger of the version-1 broker holds: tokens without names, no locations table.
sqlite3 ledger.db "DROP TABLE locations; ALTER TABLE tokens DROP COLUMN name; PRAGMA user_version = 1"
[ "$(sqlite3 -readonly ledger.db "PRAGMA user_version; SELECT COUNT(*) FROM pragma_table_info('tokens')
    WHERE name = 'name'; SELECT COUNT(*) FROM sqlite_master WHERE name = 'locations'" | tr '\n' ' ')" = "1 0 0 " ] &&
    ok "made a version-1 ledger: version 1, tokens without names, no locations" ||
    not_ok "could not make a version-1 ledger"
broker_start && ok "the broker starts on a version-1 ledger" || not_ok "start on version 1"
grep -q "ledger upgraded from schema version 1 to 2" broker.log && ok "it logs the upgrade" ||
    not_ok "no upgrade in the log"
expect "the ledger is version 2 again" 0 "^2$" -- sqlite3 -readonly ledger.db "PRAGMA user_version"
api alice.key GET "/v1/tokens/$T1"
[ "$STATUS" = 200 ] && ! printf '%s' "$BODY" | grep -q '"name"' &&
    ok "old tokens are kept, without names" || not_ok "token: $BODY"
api alice.key GET /v1/locations/web-1
want "no location was kept over the upgrade" 404 UNKNOWN_NAME
buy alice.key '"host":"alpha"' '"web-1"'
T5=$(jget token_id)
report op1.key "$T5" alpha 10.0.0.15
want "a named token bought after the upgrade is reported" 200
located alice.key web-1 alpha 10.0.0.15 "$T5" && ok "and located" || not_ok "not located"
report op1.key "$T1" alpha 10.0.0.11
want "an old token (no name after the downgrade) is not recorded" 200
[ "$(jget recorded)" = false ] && ok "recorded false" || not_ok "reply: $BODY"
broker_kill
sqlite3 ledger.db "PRAGMA user_version = 3"
expect "a ledger of a newer schema is refused" 1 "schema version 3 is newer than this broker's \(2\)" -- \
    "$BROKER_BIN" --config broker.conf
sqlite3 ledger.db "PRAGMA user_version = 2"
broker_start && ok "restart" || not_ok "restart"
ledger_check "after the upgrade"
expect "the ledger file is intact" 0 "^ok$" -- sqlite3 ledger.db "PRAGMA integrity_check"
# --- lmctl's side: buy --name, report-location (what Evil Man runs), locate, a name for a VM
out=$("$LMCTL" buy --key alice.key --host beta --commitment "$C" --prepaid 1 --name db --json -o db.tok 2>&1)
TD=$(printf '%s' "$out" | sed -n 's/.*"token_id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
[ -n "$TD" ] && ok "lmctl buy --name db" || { not_ok "lmctl buy --name"; printf '%s\n' "$out" | sed 's/^/# /'; }
expect "lmctl buy refuses a bad name before asking the broker" 2 "a VM name is 1 to 63" -- \
    "$LMCTL" buy --key alice.key --host beta --commitment "$C" --prepaid 1 --name Bad
expect "lmctl report-location by the host's operator" 0 "located: db runs on beta at 127.0.0.77" -- \
    "$LMCTL" report-location --key op1.key --token "$TD" --host beta --address 127.0.0.77
expect "lmctl report-location by another operator" 1 "NOT_YOUR_HOST" -- \
    "$LMCTL" report-location --key op2.key --token "$TD" --host beta --address 127.0.0.78
expect "lmctl report-location refuses a bad address itself" 2 "expected a dotted IPv4 address" -- \
    "$LMCTL" report-location --key op1.key --token "$TD" --host beta --address 127.1
expect "lmctl locate db" 0 "^db: host beta \(agent 10.0.0.2:7001\), address 127.0.0.77, since [0-9]+ \(token $TD\)" -- \
    "$LMCTL" locate --key alice.key db
expect "lmctl locate: another buyer's VM of that name is unknown" 1 "UNKNOWN_NAME" -- \
    "$LMCTL" locate --key bob.key db
expect "lmctl locate refuses a bad name" 2 "expected one VM name" -- "$LMCTL" locate --key alice.key "No!"
expect "lmctl status takes a name, looked up at the broker" 1 "db: at 127.0.0.77 on host beta" -- \
    "$LMCTL" status --key alice.key --owner alice.key --timeout 300 db
expect "lmctl status: an unknown name is the broker's 404" 1 "UNKNOWN_NAME" -- \
    "$LMCTL" status --key alice.key --owner alice.key --timeout 300 nosuchvm
no_500 "every request"
done_testing
