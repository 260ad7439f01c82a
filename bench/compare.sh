#!/usr/bin/env bash
# The README's performance figures in one command: a fresh shipshape-engine on a
# temp socket against the dockerd at /var/run/docker.sock, in the same run.
#
# Usage: bench/compare.sh [--only TEXT]... [extra `shipshape bench` flags]   (as root)
#
# Two kinds of workloads, each selected by `--only TEXT` (a workload runs when
# its title contains one of the TEXTs; no --only runs everything):
# - the API workloads of `shipshape bench` (it alternates A B A B after a
#   warm-up and prints its own table, targets and, with --floor, CI floors);
# - the CLI workloads below, one function each (`wl_*`), timed through the real
#   docker CLI against both daemons in alternation; they print one table with
#   the targets. To add one: write `wl_name` that calls `measure TITLE TARGET
#   CMD...` (CMD runs with DOCKER_HOST set, $W the scratch dir, $IMG the probe
#   image), and list it in WORKLOADS.
# RUNS (default 5) sets the measured runs per CLI workload, after one warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --workspace --release --locked -q   # NO_BUILD=1: use what is built

only=()
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only+=("$2"); pass+=("$1" "$2"); shift 2 ;;
    --only=*) only+=("${1#--only=}"); pass+=("$1"); shift ;;
    *) pass+=("$1"); shift ;;
  esac
done
RUNS=${RUNS:-5}

W=$(mktemp -d /tmp/shipshape-bench-XXXXXX)
ENGINE="unix://$W/engine.sock"
DOCKERD="unix:///var/run/docker.sock"
LABEL="io.shipshape.bench.cli=$(basename "$W")"
IMG="shipshape-bench-cli:$(basename "$W" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9')"
./target/release/shipshape-engine -H "$ENGINE" --data-root "$W/data" 2>"$W/engine.log" &
engine=$!
cleanup() {
  for h in "$ENGINE" "$DOCKERD"; do
    ids=$(DOCKER_HOST=$h docker ps -aq --filter "label=$LABEL" 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=$h docker rm -f $ids >/dev/null 2>&1
    for t in $(DOCKER_HOST=$h docker images -q --filter "label=$LABEL" 2>/dev/null | sort -u); do
      DOCKER_HOST=$h docker rmi -f "$t" >/dev/null 2>&1 || true
    done
    DOCKER_HOST=$h docker rmi "$IMG" >/dev/null 2>&1 || true
  done
  # `docker load` of the fixture applies its own tag: dockerd keeps it only if it had it.
  if [ "${had_fixture_tag:-1}" = 0 ]; then
    DOCKER_HOST=$DOCKERD docker rmi shipshape-probe:latest >/dev/null 2>&1 || true
  fi
  kill "$engine" 2>/dev/null || true
  wait "$engine" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -S "$W/engine.sock" ] && break; sleep 0.05; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"

selected() {
  [ ${#only[@]} -eq 0 ] && return 0
  local o
  for o in "${only[@]}"; do [[ "$1" == *"$o"* ]] && return 0; done
  return 1
}

# ---------------------------------------------------------------- helpers
ROWS=()   # "title|engine ms|dockerd ms|target"

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# measure TITLE TARGET SETUP CMD: SETUP (a function name, or :) runs before each
# timed CMD, untimed; both get DOCKER_HOST. One warm-up, then RUNS runs per
# daemon, alternating; the row keeps each daemon's median.
measure() {
  local title=$1 target=$2 setup=$3
  shift 3
  local -a te=() td=()
  local i h t0 t1
  for i in $(seq 0 "$RUNS"); do
    for h in "$ENGINE" "$DOCKERD"; do
      export DOCKER_HOST=$h
      $setup
      t0=$(now_ms)
      if ! "$@" >/dev/null 2>"$W/last.err"; then
        echo "$title on $h failed: $(grep -v -e DEPRECATED -e BuildKit -e '^ *$' "$W/last.err")" >&2
        return 1
      fi
      t1=$(now_ms)
      if [ "$i" -gt 0 ]; then
        if [ "$h" = "$ENGINE" ]; then te+=($((t1 - t0))); else td+=($((t1 - t0))); fi
      fi
    done
  done
  unset DOCKER_HOST
  ROWS+=("$title|$(median "${te[@]}")|$(median "${td[@]}")|$target")
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The probe image (a static binary, /probe) on both daemons, and a 100 MB tree.
prepare_cli() {
  [ -n "${prepared:-}" ] && return 0
  prepared=1
  had_fixture_tag=0
  DOCKER_HOST=$DOCKERD docker image inspect shipshape-probe:latest >/dev/null 2>&1 && had_fixture_tag=1
  ./target/release/shipshape fixture --output "$W/probe.tar" >/dev/null
  for h in "$ENGINE" "$DOCKERD"; do
    id=$(DOCKER_HOST=$h docker load -q -i "$W/probe.tar" | sed -n 's/^Loaded image[^:]*: //p' | tail -1)
    DOCKER_HOST=$h docker tag "$id" "$IMG"
  done
  mkdir -p "$W/tree/sub"
  for i in $(seq 1 90); do head -c 1000000 /dev/urandom >"$W/tree/f$i"; done
  for i in $(seq 1 1000); do head -c 10000 /dev/urandom >"$W/tree/sub/s$i"; done
}

# A stopped container holding the 100 MB tree at /tree (for commit, export, cp out).
tree_container() {
  local c
  c=$(docker create --label "$LABEL" "$IMG" /probe exit 0)
  docker cp "$W/tree" "$c:/tree" >/dev/null
  echo "$c"
}

# ---------------------------------------------------------------- workloads
new_container() { CUR=$(docker create --label "$LABEL" "$IMG" /probe exit 0); export CUR; }
rm_out() { rm -rf "$W/out"; }

wl_cp_in() {
  measure "docker cp into a container, 100 MB tree" 2 new_container \
    sh -c 'docker cp "$0" "$CUR:/tree"' "$W/tree"
}

wl_cp_out() {
  local ce cd
  ce=$(DOCKER_HOST=$ENGINE tree_container)
  cd=$(DOCKER_HOST=$DOCKERD tree_container)
  pick() { if [ "$DOCKER_HOST" = "$ENGINE" ]; then CUR=$ce; else CUR=$cd; fi; export CUR; rm_out; }
  measure "docker cp out of a container, 100 MB tree" 2 pick \
    sh -c 'docker cp "$CUR:/tree" "$0/out"' "$W"
}

wl_commit() {
  local ce cd
  ce=$(DOCKER_HOST=$ENGINE tree_container)
  cd=$(DOCKER_HOST=$DOCKERD tree_container)
  pick() { if [ "$DOCKER_HOST" = "$ENGINE" ]; then CUR=$ce; else CUR=$cd; fi; export CUR; }
  measure "docker commit of a 100 MB tree" 2 pick \
    sh -c 'docker commit -c "LABEL $0" "$CUR"' "$LABEL"
}

wl_export() {
  local ce cd
  ce=$(DOCKER_HOST=$ENGINE tree_container)
  cd=$(DOCKER_HOST=$DOCKERD tree_container)
  pick() { if [ "$DOCKER_HOST" = "$ENGINE" ]; then CUR=$ce; else CUR=$cd; fi; export CUR; }
  measure "docker export of a 100 MB tree" 2 pick \
    sh -c 'docker export "$CUR" -o "$0/export.tar"' "$W"
}

# A 10-step Dockerfile on the classic builder: FROM, ENV, WORKDIR, COPY, RUN,
# LABEL, ARG, EXPOSE, RUN, CMD (RUN in exec form: the image has no shell).
build_context() {
  mkdir -p "$W/ctx/files"
  for i in $(seq 1 20); do head -c 20000 /dev/urandom >"$W/ctx/files/f$i"; done
  cat >"$W/ctx/Dockerfile" <<EOF
FROM $IMG
ENV A=1 B=2
WORKDIR /work
COPY files/ /work/files/
RUN ["/probe", "write", "/work/a", "hello"]
LABEL $LABEL
ARG X=1
EXPOSE 8080
RUN ["/probe", "exit", "0"]
CMD ["/probe", "sleep", "1"]
EOF
}

wl_build_cold() {
  build_context
  measure "build, 10 steps, cold (classic builder)" 5 : \
    env DOCKER_BUILDKIT=0 docker build --no-cache -q "$W/ctx"
}

wl_build_cached() {
  build_context
  for h in "$ENGINE" "$DOCKERD"; do DOCKER_HOST=$h DOCKER_BUILDKIT=0 docker build -q "$W/ctx" >/dev/null; done
  measure "build, 10 steps, every step cached (classic builder)" 5 : \
    env DOCKER_BUILDKIT=0 docker build -q "$W/ctx"
}

# title of each CLI workload, in order (the function is wl_<key>).
WORKLOADS=(
  "build_cold|build, 10 steps, cold (classic builder)"
  "build_cached|build, 10 steps, every step cached (classic builder)"
  "commit|docker commit of a 100 MB tree"
  "export|docker export of a 100 MB tree"
  "cp_in|docker cp into a container, 100 MB tree"
  "cp_out|docker cp out of a container, 100 MB tree"
)

# ---------------------------------------------------------------- run
api_wanted=1
if [ ${#only[@]} -gt 0 ]; then
  api_wanted=0
  for o in "${only[@]}"; do
    hit=0
    for w in "${WORKLOADS[@]}"; do [[ "${w#*|}" == *"$o"* ]] && hit=1; done
    [ $hit = 0 ] && api_wanted=1
  done
fi
status=0
if [ $api_wanted = 1 ]; then
  ./target/release/shipshape bench --host "$ENGINE" --host "$DOCKERD" "${pass[@]}" || status=$?
fi

for w in "${WORKLOADS[@]}"; do
  key=${w%%|*}
  title=${w#*|}
  selected "$title" || continue
  prepare_cli
  echo "bench: $title" >&2
  "wl_$key"
done

if [ ${#ROWS[@]} -gt 0 ]; then
  echo
  echo "CLI workloads (docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null), median of $RUNS after a warm-up, alternating A and B)"
  printf '%-56s%14s%14s%10s\n' "workload" "A (engine)" "B (dockerd)" "A vs B"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r title a b target <<<"$r"
    printf '%-56s%11s ms%11s ms%9.1fx\n' "$title" "$a" "$b" "$(echo "scale=2; $b / ($a + 0.0001)" | bc)"
  done
  echo
  printf '%-84s%-16s%s\n' "target" "this run" "verdict"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r title a b target <<<"$r"
    x=$(echo "scale=2; $b / ($a + 0.0001)" | bc)
    verdict=$(echo "$x >= $target" | bc)
    printf '%-84s%-16s%s\n' "$title: A at least ${target}x better than B" "$(printf '%.1f' "$x")x" "$([ "$verdict" = 1 ] && echo met || echo MISSED)"
  done
fi

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
  e() { DOCKER_HOST="unix://$W/engine.sock" DOCKER_CONFIG="$rdir/cfg-e" docker "$@"; }
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
exit $status
