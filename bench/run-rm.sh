#!/usr/bin/env bash
# `docker run --rm IMAGE` round trip through the real docker CLI, against
# shipshape-engine and against dockerd in the same run (hyperfine alternates
# nothing, so each gets a warm-up), plus the engine's idle RSS.
# Usage: bench/run-rm.sh   (as root, after `cargo build --release`)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
work=$(mktemp -d /tmp/shipshape-bench-XXXXXX)
./target/release/shipshape-engine -H "unix://$work/engine.sock" --data-root "$work/data" 2>"$work/engine.log" &
engine=$!
cleanup() {
  kill "$engine" 2>/dev/null || true; wait "$engine" 2>/dev/null || true
  # Only the tag this script added on dockerd; the image stays if others use it.
  DOCKER_HOST=unix:///var/run/docker.sock docker rmi shipshape-bench:probe >/dev/null 2>&1 || true
  if [ "${had_fixture_tag:-1}" = 0 ]; then
    DOCKER_HOST=unix:///var/run/docker.sock docker rmi shipshape-probe:latest >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# `docker load` of the fixture also applies its own tag; remove that tag at the
# end only if dockerd did not have it before this script.
had_fixture_tag=0
DOCKER_HOST=unix:///var/run/docker.sock docker image inspect shipshape-probe:latest >/dev/null 2>&1 && had_fixture_tag=1
for _ in $(seq 1 100); do [ -S "$work/engine.sock" ] && break; sleep 0.05; done
./target/release/shipshape fixture --output "$work/probe.tar" >/dev/null
for host in "unix://$work/engine.sock" unix:///var/run/docker.sock; do
  id=$(DOCKER_HOST=$host docker load -q -i "$work/probe.tar" | sed -n 's/^Loaded image[^:]*: //p')
  DOCKER_HOST=$host docker tag "$id" shipshape-bench:probe
done
echo "engine idle: $(grep VmRSS /proc/$engine/status)"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" \
  -n shipshape-engine "env DOCKER_HOST=unix://$work/engine.sock docker run --rm shipshape-bench:probe /probe exit 0" \
  -n dockerd "env DOCKER_HOST=unix:///var/run/docker.sock docker run --rm shipshape-bench:probe /probe exit 0"
echo "engine after the runs: $(grep VmRSS /proc/$engine/status)"
