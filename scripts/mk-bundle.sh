#!/bin/sh
# Build an OCI bundle with a busybox-static root filesystem, no image download.
#   scripts/mk-bundle.sh DIR [husk-binary]
# DIR/rootfs gets busybox with a RELATIVE symlink per applet; DIR/config.json comes from
# `husk spec` (or `runc spec` if no husk binary is given and runc is installed) unless present.
set -eu
dir=${1:?usage: mk-bundle.sh DIR [husk-binary]}
spec_tool=${2:-}
# The spec tool runs from inside DIR: a relative path to it must be made absolute first.
case "$spec_tool" in
    */*) [ "${spec_tool#/}" != "$spec_tool" ] || spec_tool=$PWD/$spec_tool ;;
esac
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "mk-bundle: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    # file(1) may be missing; fall back to ldd's answer
    if ldd "$busybox" >/dev/null 2>&1; then
        echo "mk-bundle: $busybox is not static (apt-get install busybox-static)" >&2; exit 1
    fi
fi
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/etc" \
         "$dir/rootfs/tmp" "$dir/rootfs/root" "$dir/rootfs/usr/bin" "$dir/rootfs/sbin"
cp "$busybox" "$dir/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] && continue
    [ -e "$dir/rootfs/bin/$applet" ] || ln -s busybox "$dir/rootfs/bin/$applet"
done
[ -e "$dir/rootfs/usr/bin/env" ] || ln -s ../../bin/busybox "$dir/rootfs/usr/bin/env"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
chmod 1777 "$dir/rootfs/tmp"
if [ ! -e "$dir/config.json" ]; then
    if [ -n "$spec_tool" ]; then
        (cd "$dir" && "$spec_tool" spec)
    elif command -v runc >/dev/null; then
        (cd "$dir" && runc spec)
    else
        echo "mk-bundle: no spec tool: pass the husk binary" >&2; exit 1
    fi
fi
