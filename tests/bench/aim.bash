# Sourced by bench scripts: aim RATIO "<=" | ">=" LIMIT prints "aim OP LIMIT: met" or "not met"
# (or "no figure"), for the report's goal column.
aim() {
    awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN { if (r == "" || r == "-") { print "aim " op " " l ": no figure"; exit }
        ok = op == "<=" ? r + 0 <= l + 0 : r + 0 >= l + 0; print "aim " op " " l ": " (ok ? "met" : "not met") }'
}
