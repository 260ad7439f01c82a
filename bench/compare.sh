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

# --- registry bench (issue 16): pull and push of a 5-layer ~100 MB image ---
# against one local docker-registry, engine vs dockerd. Opt-in (it moves
# 100 MB several times): SHIPSHAPE_BENCH_REGISTRY=1 bench/compare.sh
registry_bench() {
  [ -x /usr/bin/docker-registry ] || { echo "registry bench: docker-registry not installed"; return 0; }
  local port reg rdir ctx img d e t0 t1 dpull epull dpush epush
  rdir=$(mktemp -d /tmp/shipshape-bench-registry-XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  reg="127.0.0.1:$port"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n' "$rdir" "$reg" >"$rdir/config.yml"
  /usr/bin/docker-registry serve "$rdir/config.yml" >"$rdir/log" 2>&1 &
  local rpid=$!
  for _ in $(seq 1 50); do curl -fsS "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  ctx="$rdir/ctx"; mkdir -p "$ctx"
  { echo "FROM scratch"; echo "LABEL io.shipshape.bench=registry"; } >"$ctx/Dockerfile"
  for i in 1 2 3 4 5; do
    head -c $((20 * 1024 * 1024)) /dev/urandom >"$ctx/layer$i.bin"
    echo "COPY layer$i.bin /layer$i.bin" >>"$ctx/Dockerfile"
  done
  img="$reg/bench/big:v1"
  d() { DOCKER_HOST=unix:///var/run/docker.sock DOCKER_CONFIG="$rdir/cfg-d" docker "$@"; }
  e() { DOCKER_HOST="unix://$work/engine.sock" DOCKER_CONFIG="$rdir/cfg-e" docker "$@"; }
  now() { date +%s.%N; }
  d build -q -t "$img" "$ctx" >/dev/null 2>&1
  t0=$(now); d push "$img" >/dev/null; t1=$(now); dpush=$(echo "$t1 - $t0" | bc)
  d rmi "$img" >/dev/null
  t0=$(now); d pull -q "$img" >/dev/null; t1=$(now); dpull=$(echo "$t1 - $t0" | bc)
  t0=$(now); e pull -q "$img" >/dev/null; t1=$(now); epull=$(echo "$t1 - $t0" | bc)
  # The engine pushes to a second, empty registry: every blob uploaded, as
  # dockerd's push above (no mounts or skips to flatter it).
  local port2 reg2
  port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  reg2="127.0.0.1:$port2"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data2\nhttp:\n  addr: %s\n' "$rdir" "$reg2" >"$rdir/config2.yml"
  /usr/bin/docker-registry serve "$rdir/config2.yml" >"$rdir/log2" 2>&1 &
  local rpid2=$!
  for _ in $(seq 1 50); do curl -fsS "http://$reg2/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  e tag "$img" "$reg2/bench/big:v1"
  t0=$(now); e push "$reg2/bench/big:v1" >/dev/null; t1=$(now); epush=$(echo "$t1 - $t0" | bc)
  d rmi "$img" >/dev/null 2>&1 || true
  kill "$rpid2" 2>/dev/null || true
  wait "$rpid2" 2>/dev/null || true
  printf 'registry: pull 5 x 20 MB: engine %.2fs, dockerd %.2fs (%.1fx); push: engine %.2fs, dockerd %.2fs (%.1fx, target 2x)\n' \
    "$epull" "$dpull" "$(echo "$dpull / $epull" | bc -l)" "$epush" "$dpush" "$(echo "$dpush / $epush" | bc -l)"
  kill "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  rm -rf "$rdir"
}
if [ "${SHIPSHAPE_BENCH_REGISTRY:-0}" = 1 ]; then
  registry_bench
fi
# --- end registry bench ---
