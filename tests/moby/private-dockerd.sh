#!/bin/sh
# A private dockerd, and optionally the engine, in a network namespace of
# their own, for suites that wipe everything they did not create (moby's
# integration tests do, after every test).
#
#   tests/moby/private-dockerd.sh start [ENGINE_BINARY]
#   tests/moby/private-dockerd.sh stop
#
# Starts Debian's dockerd with the settings of the machine's own
# /etc/docker/daemon.json (storage driver, MTU, log options) but its own
# data root, exec root, socket and cgroup parent, in the network namespace
# $NETNS (default ssmoby): its bridge, iptables rules and published ports
# live there, and nothing it starts has a route out. `nsenter --net` rather
# than `ip netns exec`, which would remount /sys and hide the cgroup
# hierarchy dockerd needs. With ENGINE_BINARY, starts the engine beside it
# in the same namespace. Prints the two DOCKER_HOST values.
set -eu
NETNS=${NETNS:-ssmoby}
dir=/run/$NETNS
cmd=${1:?usage: private-dockerd.sh start [ENGINE_BINARY] | stop}

case "$cmd" in
start)
    engine=${2:-}
    ip netns add "$NETNS" 2>/dev/null || true
    ip -n "$NETNS" link set lo up
    # From nothing: the suites' cleanup takes whatever it finds at the start
    # of each test for the daemon's own.
    rm -rf "/var/lib/$NETNS-dockerd" "/var/lib/$NETNS-engine"
    mkdir -p "$dir" "/var/lib/$NETNS-dockerd"
    python3 - "$dir" "$NETNS" <<'EOF'
import json, sys, os
d, ns = sys.argv[1], sys.argv[2]
try:
    base = json.load(open('/etc/docker/daemon.json'))
except (OSError, ValueError):
    base = {}
keep = {k: v for k, v in base.items() if k in ('storage-driver', 'mtu', 'log-driver', 'log-opts')}
keep.update({'data-root': f'/var/lib/{ns}-dockerd', 'exec-root': f'{d}/exec',
             'pidfile': f'{d}/dockerd.pid', 'hosts': [f'unix://{d}/docker.sock'],
             'cgroup-parent': ns})
json.dump(keep, open(f'{d}/daemon.json', 'w'))
EOF
    nsenter --net="/run/netns/$NETNS" dockerd --config-file "$dir/daemon.json" >"$dir/dockerd.log" 2>&1 &
    if [ -n "$engine" ]; then
        cp "$engine" "$dir/engine"
        nsenter --net="/run/netns/$NETNS" "$dir/engine" -H "unix://$dir/engine.sock" \
            --data-root "/var/lib/$NETNS-engine" >"$dir/engine.log" 2>&1 &
        echo $! >"$dir/engine.pid"
    fi
    for _ in $(seq 1 60); do
        curl -fsS --unix-socket "$dir/docker.sock" http://x/_ping >/dev/null 2>&1 && break
        sleep 1
    done
    echo "dockerd: unix://$dir/docker.sock"
    [ -z "$engine" ] || echo "engine:  unix://$dir/engine.sock"
    ;;
stop)
    [ -f "$dir/engine.pid" ] && kill "$(cat "$dir/engine.pid")" 2>/dev/null || true
    [ -f "$dir/dockerd.pid" ] && kill "$(cat "$dir/dockerd.pid")" 2>/dev/null || true
    sleep 5
    ip netns del "$NETNS" 2>/dev/null || true
    rm -rf "/var/lib/$NETNS-engine" "/var/lib/$NETNS-dockerd"
    echo stopped
    ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
