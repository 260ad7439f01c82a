#!/bin/sh
# Runs docker-py's own integration tests (tests/integration from its sdist on
# PyPI) against one Docker endpoint, as a user of the SDK would run them.
#
#   tests/sdk/run-docker-py.sh unix:///var/run/docker.sock  [pytest args...]
#   tests/sdk/run-docker-py.sh unix:///tmp/engine/docker.sock [pytest args...]
#
# Writes $OUT/junit.xml and $OUT/summary.txt (OUT defaults to
# ./target/sdk/docker-py-<socket name>); compare two runs with
# tests/sdk/compare-junit.py. Needs python3 (venv), network access to PyPI
# only, and busybox-static for the stand-in images.
#
# What is set up and why:
# * docker==$DOCKER_PY_VERSION from PyPI (the sdist: it ships the tests; the
#   7.x sdists no longer do) plus pytest, in a venv under $WORK.
# * alpine:3.10, alpine:latest and busybox:latest built locally by
#   busybox-image.sh (no registry, no pulls) and removed afterwards unless
#   they existed before.
# * docker-py 6.1.3 needs requests<2.32 ("Not supported URL scheme
#   http+docker" otherwise).
# * Afterwards the containers and images the tests left are removed: they
#   inherit the stand-ins' label shipshape.sdk=<this run's id>, so a run
#   removes only what came from the stand-ins it made itself, never another
#   run's (several may share a daemon). When the stand-ins existed before,
#   the run removes nothing of theirs and lists what the tests left.
# * On a shared daemon (SDK_SHARED=1, e.g. the machine's dockerd), tests
#   that prune are deselected: a prune removes every stopped container,
#   unused image, volume or network on the daemon, others' included.
# * Tests that make the daemon contact Docker Hub (pulls, even of an image
#   it has; `inspect_distribution`; running an image it lacks) are always
#   deselected: dockerd would look up registry-1.docker.io through the
#   host's resolver, and nothing here may leave loopback.
# * Swarm, service, secret, config, node and plugin tests are left out: they
#   turn the daemon into a swarm manager or install plugins from Docker Hub,
#   which a shared daemon must not do and this machine cannot reach.
# * tests/integration/credentials runs last: its utils_test replaces
#   os.environ with a plain dict for the rest of the session, so every test
#   after it loses DOCKER_HOST and talks to /var/run/docker.sock instead of
#   the endpoint under test (pytest runs the paths in the order given).
# * DOCKER_CONFIG is a fresh directory per run: docker-py keeps contexts
#   next to the config file (or in ./contexts without one), and
#   context_api_test leaves a context "test" behind that fails the next run.
set -eu
host=${1:?usage: run-docker-py.sh DOCKER_HOST [pytest args...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
DOCKER_PY_VERSION=${DOCKER_PY_VERSION:-6.1.3}
WORK=${WORK:-${TMPDIR:-/tmp}/shipshape-docker-py}
name=$(basename "${host#*://}" | tr -c 'A-Za-z0-9.\n' '-')
OUT=${OUT:-$PWD/target/sdk/docker-py-$name}
mkdir -p "$WORK" "$OUT"

if [ ! -x "$WORK/venv/bin/pytest" ]; then
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q "docker[ssh]==$DOCKER_PY_VERSION" "requests<2.32" pytest pytest-timeout
fi
src="$WORK/docker-$DOCKER_PY_VERSION"
if [ ! -d "$src/tests/integration" ]; then
    "$WORK/venv/bin/pip" download -q --no-deps --no-binary :all: \
        "docker==$DOCKER_PY_VERSION" -d "$WORK/dl"
    tar -xzf "$WORK/dl/docker-$DOCKER_PY_VERSION.tar.gz" -C "$WORK"
fi

export DOCKER_HOST="$host"
SDK_RUN=${SDK_RUN:-run-$$-$(date +%s)}
export SDK_RUN
made=""
for t in busybox:latest alpine:3.10 alpine:latest; do
    if ! docker image inspect "$t" >/dev/null 2>&1; then
        "$here/busybox-image.sh" "$t" >/dev/null
        made="$made $t"
    fi
done
# api_build_test's test_build_isolation tags a FROM scratch image
# "isolation" (no stand-in label) and never removes it.
leftover=""
docker image inspect isolation:latest >/dev/null 2>&1 || leftover="isolation:latest"
cleanup() {
    # What the tests left: containers and images from the stand-ins carry
    # their label (shipshape.sdk=1); then the stand-ins this run made.
    docker ps -aq --filter "label=shipshape.sdk=$SDK_RUN" | xargs -r docker rm -f -v >/dev/null 2>&1 || true
    for id in $(docker images -q --filter "label=shipshape.sdk=$SDK_RUN" --filter dangling=false) \
              $(docker images -q --filter "label=shipshape.sdk=$SDK_RUN" --filter dangling=true); do
        keep=no
        for t in busybox:latest alpine:3.10 alpine:latest; do
            case " $made " in *" $t "*) ;; *)
                [ "$(docker image inspect -f '{{.Id}}' "$t" 2>/dev/null | cut -c8-19)" = "$id" ] && keep=yes ;;
            esac
        done
        [ $keep = yes ] || docker rmi -f "$id" >/dev/null 2>&1 || true
    done
    for t in $made $leftover; do docker rmi -f "$t" >/dev/null 2>&1 || true; done
    if [ -z "$made" ]; then
        echo "note: the stand-in images existed before this run; what the tests made from them is left to the run that made them" >&2
    fi
}
trap cleanup EXIT

export DOCKER_CONFIG="$OUT/docker-config"
rm -rf "$DOCKER_CONFIG"
mkdir -p "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json"

cd "$src"
set +e
files=""
for f in tests/integration/*_test.py; do
    case "$f" in
    */api_swarm_test.py | */api_service_test.py | */api_secret_test.py | \
    */api_config_test.py | */api_plugin_test.py | */models_swarm_test.py | \
    */models_services_test.py | */models_nodes_test.py) ;;
    *) files="$files $f" ;;
    esac
done
deselect=""
[ "${SDK_SHARED:-0}" = 1 ] && deselect="not prune"
hub=""
for t in api_image_test.py::PullImageTest::test_pull \
         api_image_test.py::PullImageTest::test_pull_streaming \
         api_image_test.py::ImportImageTest::test_get_load_image \
         api_image_test.py::PruneImagesTest::test_prune_images \
         api_image_test.py::InspectDistributionTest::test_inspect_distribution \
         models_images_test.py::ImageCollectionTest::test_list \
         models_images_test.py::ImageCollectionTest::test_list_with_repository \
         models_images_test.py::ImageCollectionTest::test_pull \
         models_images_test.py::ImageCollectionTest::test_pull_with_tag \
         models_images_test.py::ImageCollectionTest::test_pull_with_sha \
         models_images_test.py::ImageCollectionTest::test_pull_multiple \
         models_images_test.py::ImageTest::test_tag_and_remove \
         models_containers_test.py::ContainerCollectionTest::test_run_with_image_that_does_not_exist; do
    hub="$hub --deselect tests/integration/$t"
done
# shellcheck disable=SC2086 # one word per file
"$WORK/venv/bin/pytest" $files tests/integration/credentials \
    ${deselect:+-k "$deselect"} $hub \
    -p no:cacheprovider \
    --timeout="${TEST_TIMEOUT:-120}" -q -o addopts= \
    --junitxml="$OUT/junit.xml" "$@" >"$OUT/pytest.log" 2>&1
rc=$?
set -e
tail -n 1 "$OUT/pytest.log" | tee "$OUT/summary.txt"
exit $rc
