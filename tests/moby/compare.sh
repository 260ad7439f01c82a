#!/bin/sh
# Compares two runs of run-moby-integration.sh: how many top-level tests
# pass on the first (the oracle, dockerd), how many of those pass on the
# second, and which do not.
#
#   tests/moby/compare.sh OUT_DOCKERD OUT_ENGINE
set -eu
a=${1:?usage: compare.sh OUT_ORACLE OUT_OTHER}
b=${2:?usage: compare.sh OUT_ORACLE OUT_OTHER}
passed() { cat "$1"/*.log | grep -E '^--- PASS' | awk '{print $3}' | sort -u; }
passed "$a" >"$a/passed.txt"
passed "$b" >"$b/passed.txt"
total=$(wc -l <"$a/passed.txt")
both=$(comm -12 "$a/passed.txt" "$b/passed.txt" | wc -l)
echo "passing on $a: $total; of those passing on $b: $both"
echo "passing on $a only:"
comm -23 "$a/passed.txt" "$b/passed.txt" | sed 's/^/  /'
