#!/bin/sh
# Runs the Docker project's own API integration tests (moby's integration/,
# Go) at dockerd's exact version against one Docker endpoint, as moby's CI
# runs them against a remote daemon.
#
#   tests/moby/run-moby-integration.sh ENDPOINT [PACKAGE...]
#
#   ENDPOINT  unix:///path/to/docker.sock
#   PACKAGE   integration packages to run (default: every one that a single
#             shared host can serve; see SKIP_PACKAGES below), e.g. container
#
# Writes $OUT/<package>.log (go test -v output), $OUT/<package>.xml (JUnit,
# by gotestsum) and $OUT/summary.txt; compare two runs with
# tests/moby/compare.sh OUT_A OUT_B. OUT defaults to
# ./target/moby/<socket name>.
#
# Where the tests come from. Debian ships the moby source of its docker.io
# package (20.10.24, the same version as the dockerd on these machines) as a
# source package, and every Go dependency as golang-*-dev packages. The
# script fetches the source with a private apt configuration that adds
# deb-src (the machine's own sources are not changed), unpacks it with
# dpkg-source (which applies Debian's patches: they make it build against
# Debian's newer runc and containerd), installs the build dependencies and
# Debian's Go, and builds each package's test binary in GOPATH mode, as
# Debian's own build does. Nothing is downloaded from anywhere else.
#
# How they run.
# * DOCKER_REMOTE_DAEMON=1: tests that start their own dockerd (testutil/
#   daemon) skip themselves, as they do in moby's CI against a remote daemon.
# * The frozen images the suite expects (busybox:latest, busybox:glibc,
#   debian:bullseye-slim, hello-world:frozen) cannot be pulled here; they are
#   local stand-ins made by tests/sdk/busybox-image.sh. Tests that need the
#   real images' content fail on every endpoint, and so drop out of the
#   comparison.
# * The suite's cleanup removes every container, image, volume and network it
#   did not see at the start of each test. Never point it at a daemon other
#   people use while they use it: tests/moby/private-dockerd.sh starts a
#   private dockerd (and the engine) in a network namespace of its own, with
#   no route out.
# * With NETNS=name the test binaries run inside that network namespace, so
#   that published ports and container addresses are the namespace's.
#
# Packages left out by default, and why:
# * config, secret, service, plugin/*: they make the daemon a swarm manager
#   or install plugins from Docker Hub (unreachable here);
# * network/ipvlan, network/macvlan: every test starts its own daemon;
# * integration (the top package): no tests.
set -eu
endpoint=${1:?usage: run-moby-integration.sh ENDPOINT [PACKAGE...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/shipshape-moby}
name=$(basename "${endpoint#*://}" | tr -c 'A-Za-z0-9.\n' '-')
OUT=${OUT:-$PWD/target/moby/$name}
PACKAGES=${*:-"build container daemon image network session system volume"}
TIMEOUT=${TIMEOUT:-30m}
mkdir -p "$WORK" "$OUT"

# The version of the dockerd whose tests these are: the installed docker.io.
version=${MOBY_VERSION:-$(dpkg-query -W -f '${source:Version}' docker.io 2>/dev/null || true)}
[ -n "$version" ] || { echo "docker.io is not installed: set MOBY_VERSION" >&2; exit 2; }
src="$WORK/src-$version"

if [ ! -d "$src/engine/integration" ]; then
    apt="$WORK/apt"
    mkdir -p "$apt/sources.list.d" "$apt/lists/partial"
    # The machine's deb822 sources with deb-src added (binary indexes too:
    # build-dep resolves the build dependencies against this list set).
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        sed 's/^Types: deb$/Types: deb deb-src/' "$f" >"$apt/sources.list.d/$(basename "$f")"
    done
    aptx() {
        apt-get -o DPkg::Lock::Timeout=1800 -o Dir::Etc::SourceList=/dev/null \
            -o Dir::Etc::SourceParts="$apt/sources.list.d" \
            -o Dir::State::Lists="$apt/lists" "$@"
    }
    aptx update -qq
    export DEBIAN_FRONTEND=noninteractive
    aptx build-dep -y -qq "docker.io=$version" >/dev/null
    apt-get -o DPkg::Lock::Timeout=1800 install -y -qq golang-go golang-github-gotestyourself-gotest.tools-dev gotestsum >/dev/null
    dl="$WORK/dl"
    rm -rf "$dl" && mkdir -p "$dl"
    (cd "$dl" && aptx source --download-only -qq "docker.io=$version")
    rm -rf "$src.tmp"
    dpkg-source -x "$dl"/docker.io_*.dsc "$src.tmp" >/dev/null
    mv "$src.tmp" "$src"
fi

# GOPATH as Debian's build lays it out: the three source trees, then the
# system's gocode. gotest.tools is packaged without its /v3 path.
gopath="$WORK/gopath"
mkdir -p "$gopath/src/github.com/docker" "$gopath/src/gotest.tools"
ln -sfn "$src/engine" "$gopath/src/github.com/docker/docker"
ln -sfn "$src/swarmkit" "$gopath/src/github.com/docker/swarmkit"
ln -sfn "$src/libnetwork" "$gopath/src/github.com/docker/libnetwork"
ln -sfn /usr/share/gocode/src/gotest.tools "$gopath/src/gotest.tools/v3"
export GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off GOPROXY=off
export GOCACHE="$WORK/gocache"
pkgdir="$gopath/src/github.com/docker/docker/integration"
bindir="$WORK/bin-$version"
mkdir -p "$bindir"

export DOCKER_HOST="$endpoint" DOCKER_REMOTE_DAEMON=1
# The suite's own images, as local stand-ins (kept between packages: the
# suite protects what exists when a package starts).
if ! docker image inspect busybox:latest >/dev/null 2>&1; then
    sh "$here/../sdk/busybox-image.sh" busybox:latest busybox:glibc debian:bullseye-slim hello-world:frozen
fi

in_ns() {
    if [ -n "${NETNS:-}" ]; then nsenter --net="/run/netns/$NETNS" "$@"; else "$@"; fi
}

: >"$OUT/summary.txt"
for p in $PACKAGES; do
    bin="$bindir/$(echo "$p" | tr / _).test"
    if [ ! -x "$bin" ]; then
        (cd "$pkgdir/.." && go test -c -o "$bin" "./integration/$p")
    fi
    log="$OUT/$(echo "$p" | tr / _).log"
    # Tests write daemon folders into the working directory: a scratch one.
    run="$WORK/run/$(echo "$p" | tr / _)"
    rm -rf "$run" && mkdir -p "$run"
    cp -a "$pkgdir/$p/." "$run/" 2>/dev/null || true
    (cd "$run" && in_ns "$bin" -test.v -test.timeout "$TIMEOUT" >"$log" 2>&1) || true
    base="$OUT/$(echo "$p" | tr / _)"
    go tool test2json -p "integration/$p" <"$log" >"$base.json" || true
    gotestsum --junitfile "$base.xml" --raw-command -- cat "$base.json" >/dev/null 2>&1 || true
    pass=$(grep -c '^--- PASS' "$log" || true)
    fail=$(grep -c '^--- FAIL' "$log" || true)
    skip=$(grep -c '^--- SKIP' "$log" || true)
    printf '%-12s %4s passed %4s failed %4s skipped\n' "$p" "$pass" "$fail" "$skip" | tee -a "$OUT/summary.txt"
done
