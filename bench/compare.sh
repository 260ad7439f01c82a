#!/usr/bin/env bash
# The README's performance figures in one command: a fresh shipshape-engine on a
# temp socket against the dockerd at /var/run/docker.sock, in the same run
# (`shipshape bench` alternates A B A B after a warm-up and prints the targets).
# Usage: bench/compare.sh [extra `shipshape bench` flags]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --release --locked -q
work=$(mktemp -d /tmp/shipshape-bench-XXXXXX)
./target/release/shipshape-engine -H "unix://$work/engine.sock" --data-root "$work/data" 2>"$work/engine.log" &
engine=$!
cleanup() {
  kill "$engine" 2>/dev/null || true
  wait "$engine" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -S "$work/engine.sock" ] && break; sleep 0.05; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
./target/release/shipshape bench --host "unix://$work/engine.sock" --host unix:///var/run/docker.sock "$@"
