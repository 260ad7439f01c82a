#!/bin/sh
# Makes local stand-ins for Docker Hub's busybox and alpine images (no
# registry, no pulls): a root filesystem holding busybox-static and a link per
# applet, imported with `docker import` and tagged under the given names.
#
#   tests/sdk/busybox-image.sh [TAG...]      (default: busybox:latest)
#
# Needs `busybox` on the host (Debian: apt-get install busybox-static) and
# a docker CLI pointed (DOCKER_HOST) at the daemon to load into. Every image
# gets the label shipshape.sdk=$SDK_RUN (default 1) so that it, and what is
# made from it, can be found and removed afterwards by the run that made it.
set -eu
[ $# -gt 0 ] || set -- busybox:latest
bb=$(command -v busybox) || { echo "busybox-static is not installed" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/home" "$root/var" \
         "$root/usr/bin" "$root/sbin" "$root/usr/sbin" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' > "$root/etc/group"
first=$1
shift
tar -C "$root" --numeric-owner --owner=0 --group=0 -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["sh"]' -c "LABEL shipshape.sdk=${SDK_RUN:-1}" - "$first" >/dev/null
for t in "$@"; do docker tag "$first" "$t"; done
echo "$first $*"
