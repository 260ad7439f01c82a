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
# ENGINE_BIN (default: the release build) is the engine measured: an older
# build gives a before/after in the same conditions. SHIPSHAPE_BIN (default:
# the release build) is the harness that runs the API workloads and writes the
# probe image.
# The pull and push workloads need Debian's docker-registry (REGISTRY_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
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
NET="shipshape-bench-$(basename "$W" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9')"   # the DNS workload's network
"${ENGINE_BIN:-./target/release/shipshape-engine}" -H "$ENGINE" --data-root "$W/data" 2>"$W/engine.log" &
engine=$!
cleanup() {
  for h in "$ENGINE" "$DOCKERD"; do
    ids=$(DOCKER_HOST=$h docker ps -aq --filter "label=$LABEL" 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=$h docker rm -f $ids >/dev/null 2>&1
    for t in $(DOCKER_HOST=$h docker images -q --filter "label=$LABEL" 2>/dev/null | sort -u); do
      DOCKER_HOST=$h docker rmi -f "$t" >/dev/null 2>&1 || true
    done
    DOCKER_HOST=$h docker rmi "$IMG" >/dev/null 2>&1 || true
    DOCKER_HOST=$h docker network rm "$NET" >/dev/null 2>&1 || true
  done
  # `docker load` of the fixture applies its own tag: dockerd keeps it only if it had it.
  if [ "${had_fixture_tag:-1}" = 0 ]; then
    DOCKER_HOST=$DOCKERD docker rmi shipshape-probe:latest >/dev/null 2>&1 || true
  fi
  kill "$engine" 2>/dev/null || true
  wait "$engine" 2>/dev/null || true
  if [ -f "$W/registry.pids" ]; then
    local name pid
    while read -r name pid; do stop_pid "$pid"; done <"$W/registry.pids"
  fi
  rm -rf "$W"
  echo "bench: total run time ${SECONDS}s (build not included)"
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
# One row per line of $W/rows, "title|engine|dockerd|unit|target|better":
# better = lo (latencies), hi (rates) or max (a ceiling on the engine's
# figure). A file, so a workload can run in a subshell and fail alone.
ROWS=()

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
  echo "$title|$(median "${te[@]}")|$(median "${td[@]}")|ms|$target|lo" >>"$W/rows"
}

# measure_rate TITLE UNIT TARGET CMD: like `measure` for a rate (higher is
# better): CMD runs with DOCKER_HOST set and prints one number, the rate.
measure_rate() {
  local title=$1 unit=$2 target=$3
  shift 3
  local -a re=() rd=()
  local i h v
  for i in $(seq 0 "$RUNS"); do
    for h in "$ENGINE" "$DOCKERD"; do
      export DOCKER_HOST=$h
      if ! v=$("$@" 2>"$W/last.err"); then
        echo "$title on $h failed: $(cat "$W/last.err")" >&2
        return 1
      fi
      if [ "$i" -gt 0 ]; then
        if [ "$h" = "$ENGINE" ]; then re+=("$v"); else rd+=("$v"); fi
      fi
    done
  done
  unset DOCKER_HOST
  echo "$title|$(median "${re[@]}")|$(median "${rd[@]}")|$unit|$target|hi" >>"$W/rows"
}

# An absolute figure of each daemon, with a target on the engine's alone
# ("at most TARGET UNIT"): title|engine|dockerd|unit|target|max.
absolute_row() { echo "$1|$2|$3|$4|$5|max" >>"$W/rows"; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

SHIPSHAPE_BIN=${SHIPSHAPE_BIN:-./target/release/shipshape}

# The probe image (a static binary, /probe) on both daemons, and a 100 MB tree.
prepare_cli() {
  [ -n "${prepared:-}" ] && return 0
  prepared=1
  had_fixture_tag=0
  DOCKER_HOST=$DOCKERD docker image inspect shipshape-probe:latest >/dev/null 2>&1 && had_fixture_tag=1
  "$SHIPSHAPE_BIN" fixture --output "$W/probe.tar" >/dev/null
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

# ---------------------------------------------------------------- network workloads
# Each daemon serves one container per workload; the load comes from
# bench/netclient.py (stdlib Python), one request in flight.
NETSECS=${NETSECS:-2}

# on_each VAR CMD...: runs CMD against each daemon; VAR_engine / VAR_dockerd
# get its output (e.g. a container's ID).
on_each() {
  local var=$1
  shift
  printf -v "${var}_engine" '%s' "$(DOCKER_HOST=$ENGINE "$@")"
  printf -v "${var}_dockerd" '%s' "$(DOCKER_HOST=$DOCKERD "$@")"
}
# mine VAR: VAR_engine or VAR_dockerd, after DOCKER_HOST.
mine() { local v="${1}_dockerd"; [ "$DOCKER_HOST" = "$ENGINE" ] && v="${1}_engine"; echo "${!v}"; }

# A container answering TEXT to each connection on a port published on 127.0.0.1; prints the host port.
port_server() {
  local c
  c=$(docker run -d --label "$LABEL" -p 127.0.0.1::8080 "$IMG" /probe tcp-serve 8080 "$1")
  for _ in $(seq 1 50); do docker logs "$c" 2>/dev/null | grep -q listening && break; sleep 0.1; done
  docker port "$c" 8080/tcp | sed -n 's/^127.0.0.1://p' | head -1
}
# conn_rate | byte_rate: connections per second, MB per second through the port.
conn_rate() { python3 bench/netclient.py tcp 127.0.0.1 "$(mine PORT)" "$NETSECS" | awk '{printf "%.0f", $1 / $3}'; }
byte_rate() { python3 bench/netclient.py tcp 127.0.0.1 "$(mine PORT)" "$NETSECS" | awk '{printf "%.1f", $2 / $3 / 1e6}'; }

wl_port_conns() {
  on_each PORT port_server hi
  measure_rate "published port, connections/s (2-byte answer)" conn/s 1 conn_rate
}

wl_port_bytes() {
  # 128,000 bytes: the most one argument can carry (MAX_ARG_STRLEN is 128 KiB).
  on_each PORT port_server "$(head -c 128000 /dev/zero | tr '\0' x)"
  measure_rate "published port, MB/s (128 KB answers)" MB/s 1 byte_rate
}

# DNS: a container on a user-defined network asks its network's resolver
# (127.0.0.11, in its own network namespace) for its own name.
dns_client() {
  docker network create "$NET" >/dev/null
  local c
  c=$(docker run -d --label "$LABEL" --network "$NET" --name "$NET-dns" "$IMG" /probe sleep 600)
  docker inspect -f '{{.State.Pid}}' "$c"
}
dns_rate() {
  nsenter -t "$(mine DNSPID)" -n python3 bench/netclient.py dns 127.0.0.11 "$NET-dns" "$NETSECS" |
    awk '{printf "%.0f", $1 / $2}'
}
wl_dns() {
  on_each DNSPID dns_client
  measure_rate "DNS lookups inside a container (user-defined network)" queries/s 1 dns_rate
}

# ---------------------------------------------------------------- registry workloads
# Pull and push through a local docker-registry (Debian's package) on a free
# loopback port; both daemons treat 127.0.0.0/8 as an insecure (plain HTTP)
# registry by default. The image is REG_LAYERS layers of REG_LAYER_MB MB of
# random bytes (incompressible: a push gzips each layer, as dockerd does).
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
REG_LAYERS=${REG_LAYERS:-5}
REG_LAYER_MB=${REG_LAYER_MB:-20}
REG_SIZE="$REG_LAYERS x $REG_LAYER_MB MB layers"

# stop_pid PID: ends a process this script started and waits until it is gone
# (a registry started in a workload's subshell is not this shell's child).
stop_pid() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
}

# start_registry NAME [PORT]: a registry storing under $W/registry/NAME.data;
# prints host:port once it answers. Its PID goes to $W/registry.pids, which
# cleanup reads (workloads run in subshells).
start_registry() {
  local name=$1 port=${2:-} dir="$W/registry"
  [ -x "$REGISTRY_BIN" ] || { echo "$REGISTRY_BIN not found (apt-get install docker-registry)" >&2; return 1; }
  mkdir -p "$dir"
  [ -n "$port" ] || port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$dir/$name.data" "$port" >"$dir/$name.yml"
  "$REGISTRY_BIN" serve "$dir/$name.yml" >>"$dir/$name.log" 2>&1 &
  echo "$name $!" >>"$W/registry.pids"
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && { echo "127.0.0.1:$port"; return 0; }
    sleep 0.05
  done
  echo "registry $name did not answer on port $port: $(cat "$dir/$name.log")" >&2
  return 1
}
stop_registry() { stop_pid "$(awk -v n="$1" '$1 == n {p = $2} END {print p}' "$W/registry.pids")"; }

# registry_source: the source registry holding the bench image, made once (a
# classic build on dockerd, pushed, then removed from dockerd so that its
# pulls download every layer); sets REGIMG.
registry_source() {
  if [ ! -f "$W/registry/source.addr" ]; then
    local src ctx="$W/regctx" i
    src=$(start_registry source)
    mkdir -p "$ctx"
    printf 'FROM scratch\nLABEL %s\n' "$LABEL" >"$ctx/Dockerfile"
    for i in $(seq 1 "$REG_LAYERS"); do
      head -c $((REG_LAYER_MB * 1000000)) /dev/urandom >"$ctx/layer$i"
      echo "COPY layer$i /layer$i" >>"$ctx/Dockerfile"
    done
    if ! DOCKER_HOST=$DOCKERD DOCKER_BUILDKIT=0 docker build -q -t "$src/shipshape-bench/big:1" "$ctx" \
      >/dev/null 2>"$W/last.err"; then
      grep -v -e DEPRECATED -e BuildKit -e '^ *$' "$W/last.err" >&2
      return 1
    fi
    DOCKER_HOST=$DOCKERD docker push "$src/shipshape-bench/big:1" >/dev/null
    DOCKER_HOST=$DOCKERD docker rmi "$src/shipshape-bench/big:1" >/dev/null
    rm -rf "$ctx"
    echo "$src" >"$W/registry/source.addr"
  fi
  REGIMG="$(cat "$W/registry/source.addr")/shipshape-bench/big:1"
}

wl_pull() {
  registry_source
  # Before each pull the image is removed, with its layers (nothing else uses them).
  unpull() { docker rmi -f "$REGIMG" >/dev/null 2>&1 || true; }
  measure "docker pull from a local registry, $REG_SIZE" 1 unpull \
    docker pull -q "$REGIMG"
}

wl_push() {
  registry_source
  local h dst port
  for h in "$ENGINE" "$DOCKERD"; do DOCKER_HOST=$h docker pull -q "$REGIMG" >/dev/null; done
  dst=$(start_registry push)
  port=${dst##*:}
  for h in "$ENGINE" "$DOCKERD"; do DOCKER_HOST=$h docker tag "$REGIMG" "$dst/shipshape-bench/big:1"; done
  # Each push goes to an empty registry (restarted on the same port, its
  # storage removed): every layer is gzipped and uploaded, none skipped.
  fresh_registry() {
    stop_registry push
    rm -rf "$W/registry/push.data"
    start_registry push "$port" >/dev/null
  }
  measure "docker push to a local registry, $REG_SIZE" 2 fresh_registry \
    docker push "$dst/shipshape-bench/big:1"
  stop_registry push
}

# Resident memory of a daemon, in kB: dockerd with containerd, the shims and
# docker-proxy; the engine with its helper processes (its own program's children).
daemon_rss_kb() {
  local pids p
  if [ "$1" = "$DOCKERD" ]; then
    pids=$(pgrep -x -d ' ' 'dockerd|containerd|containerd-shim.*|docker-proxy')
  else
    pids="$engine"
    for p in $(pgrep -P "$engine"); do
      [ "$(readlink "/proc/$p/exe")" = "$(readlink "/proc/$engine/exe")" ] && pids="$pids $p"
    done
  fi
  for p in $pids; do awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s += $1} END {print s + 0}'
}

# MEM_CONTAINERS (default 20) running containers, each on the default bridge
# with a published port; the daemon's RSS growth per container.
wl_mem_ports() {
  local n=${MEM_CONTAINERS:-20} h before after i
  local -A per=()
  for h in "$ENGINE" "$DOCKERD"; do
    before=$(daemon_rss_kb "$h")
    for i in $(seq 1 "$n"); do
      DOCKER_HOST=$h docker run -d --label "$LABEL" -p 127.0.0.1::8080 "$IMG" /probe sleep 600 >/dev/null
    done
    sleep 1
    after=$(daemon_rss_kb "$h")
    per[$h]=$(echo "scale=3; ($after - $before) / 1024 / $n" | bc | xargs printf '%.2f')
    DOCKER_HOST=$h docker rm -f $(DOCKER_HOST=$h docker ps -q --filter "label=$LABEL") >/dev/null
  done
  absolute_row "daemon RSS per running container with a published port ($n running)" \
    "${per[$ENGINE]}" "${per[$DOCKERD]}" MB 1
}

# title of each CLI workload, in order (the function is wl_<key>).
WORKLOADS=(
  "build_cold|build, 10 steps, cold (classic builder)"
  "build_cached|build, 10 steps, every step cached (classic builder)"
  "commit|docker commit of a 100 MB tree"
  "export|docker export of a 100 MB tree"
  "cp_in|docker cp into a container, 100 MB tree"
  "cp_out|docker cp out of a container, 100 MB tree"
  "port_conns|published port, connections/s (2-byte answer)"
  "port_bytes|published port, MB/s (128 KB answers)"
  "dns|DNS lookups inside a container (user-defined network)"
  "mem_ports|daemon RSS per running container with a published port"
  "pull|docker pull from a local registry, $REG_SIZE"
  "push|docker push to a local registry, $REG_SIZE"
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
  "$SHIPSHAPE_BIN" bench --host "$ENGINE" --host "$DOCKERD" "${pass[@]}" || status=$?
fi

for w in "${WORKLOADS[@]}"; do
  key=${w%%|*}
  title=${w#*|}
  selected "$title" || continue
  prepare_cli
  echo "bench: $title" >&2
  # In a subshell: a workload that fails (a daemon out of disk, ...) is
  # reported and the others still run and print.
  set +e
  (
    set -e
    "wl_$key"
  )
  rc=$?
  set -e
  if [ $rc != 0 ]; then
    echo "bench: $title failed (exit $rc), left out of the table" >&2
    status=1
  fi
done
[ -f "$W/rows" ] && mapfile -t ROWS <"$W/rows"

# ratio ROW: how many times better the engine is (B/A for latencies, A/B for rates).
ratio() {
  local title a b unit target better
  IFS='|' read -r title a b unit target better <<<"$1"
  case $better in
    lo | max) echo "scale=2; $b / ($a + 0.0001)" | bc ;;
    *) echo "scale=2; $a / ($b + 0.0001)" | bc ;;
  esac
}

if [ ${#ROWS[@]} -gt 0 ]; then
  echo
  echo "CLI workloads (docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null), median of $RUNS after a warm-up, alternating A and B)"
  printf '%-72s%16s%16s%10s\n' "workload" "A (engine)" "B (dockerd)" "A vs B"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r title a b unit target better <<<"$r"
    printf '%-72s%16s%16s%9.1fx\n' "$title" "$a $unit" "$b $unit" "$(ratio "$r")"
  done
  echo
  printf '%-100s%-16s%s\n' "target" "this run" "verdict"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r title a b unit target better <<<"$r"
    if [ "$better" = max ]; then
      verdict=$(echo "$a <= $target" | bc)
      printf '%-100s%-16s%s\n' "$title: A at most $target $unit" "$a $unit" "$([ "$verdict" = 1 ] && echo met || echo MISSED)"
      continue
    fi
    x=$(ratio "$r")
    verdict=$(echo "$x >= $target" | bc)
    if [ "$target" = 1 ]; then goal="A at least as good as B"; else goal="A at least ${target}x better than B"; fi
    printf '%-100s%-16s%s\n' "$title: $goal" "$(printf '%.1f' "$x")x" "$([ "$verdict" = 1 ] && echo met || echo MISSED)"
  done
fi

exit $status
