#!/usr/bin/env bash
# Builds the development guest: a Debian kernel (linux-image-amd64) and a busybox initramfs whose
# init mounts the host's /usr (for Node.js) and the project read-only over 9p, brings up QEMU user
# networking and starts our worker. Everything comes from Debian packages through apt; nothing
# else is downloaded. Idempotent: the result is cached under td-image/dev-guest/out/ and rebuilt
# only when the kernel package, busybox or init changes.
#
# Output (printed as one JSON line on stdout):
#   out/worker.mjs       `cocoon worker` bundled into one file (the guest runs it with the host's node)
#   out/vmlinuz          the kernel
#   out/initrd.img       the initramfs (busybox, the virtio/9p/vsock modules, init)
#   out/cmdline          the kernel command line the guest expects
#
# Needs: apt-get (to download the kernel package), dpkg-deb, busybox-static, gzip.
# `scripts/install-system-deps.sh` installs busybox-static and qemu-system-x86.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${COCOON_DEV_GUEST_OUT:-$here/out}"
mkdir -p "$out"
# Tests that boot the guest may build it at the same time (CI runs two test files at once): one
# build at a time, the second then finds the cache.
exec 9>"$out/.build.lock"
flock 9

# 0. The worker bundle (our `cocoon worker`, one file; see bundle-worker.mjs). Rebuilt every time:
#    it follows the project's sources and takes seconds.
node "$here/bundle-worker.mjs" "$out/worker.mjs.tmp" && mv "$out/worker.mjs.tmp" "$out/worker.mjs"

die() { echo "dev-guest build: $*" >&2; exit 1; }
busybox_bin="$(command -v busybox || true)"
[ -x /bin/busybox ] && busybox_bin=/bin/busybox
[ -n "$busybox_bin" ] || die "busybox not found: apt-get install busybox-static (or run scripts/install-system-deps.sh)"
# The initramfs has no libc, so busybox must be the static build.
if ldd "$busybox_bin" >/dev/null 2>&1; then die "$busybox_bin is dynamically linked: apt-get install busybox-static"; fi
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (this script needs a Debian/Ubuntu host)"

# 1. The kernel package: the one linux-image-amd64 points at, downloaded once through apt.
kpkg="${COCOON_DEV_GUEST_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')}"
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 through apt-cache: run apt-get update"
deb="$(ls "$out"/debs/"$kpkg"_*.deb 2>/dev/null | head -1 || true)"
if [ -z "$deb" ]; then
  mkdir -p "$out/debs"
  echo "downloading $kpkg through apt" >&2
  (cd "$out/debs" && apt-get download -q "$kpkg" >&2) || die "apt-get download $kpkg failed (run apt-get update first)"
  deb="$(ls "$out"/debs/"$kpkg"_*.deb | head -1)"
fi

# Fingerprint of the inputs: skip the rest when nothing changed.
stamp="$(basename "$deb") $(sha256sum "$busybox_bin" "$here/init" "$0" | sha256sum | cut -c1-16)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
  printf '{"kernel":"%s","initrd":"%s","cmdline":"%s","worker":"%s","cached":true}\n' "$out/vmlinuz" "$out/initrd.img" "$(cat "$out/cmdline")" "$out/worker.mjs"
  exit 0
fi

krootfs="$out/kernel-root"
rm -rf "$krootfs" && mkdir -p "$krootfs"
dpkg-deb -x "$deb" "$krootfs"
kver="$(ls "$krootfs/lib/modules" | head -1)"
cp "$krootfs/boot/vmlinuz-$kver" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"

# 2. The modules the guest needs, with their dependencies read from each module's .modinfo
#    (no kmod on the host required), in load order: dependencies first.
declare -A modpath=()
while IFS= read -r f; do n="$(basename "$f" .ko)"; modpath["${n//-/_}"]="$f"; done < <(find "$krootfs/lib/modules/$kver" -name '*.ko')
order=()
declare -A seen=()
add_module() {
  local name="${1//-/_}" dep
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  local f="${modpath[$name]:-}"
  [ -n "$f" ] || return 0   # built into the kernel
  for dep in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do add_module "$dep"; done
  order+=("$name")
}
for m in button evdev virtio_pci virtio_net 9pnet_virtio 9p vmw_vsock_virtio_transport virtio_blk virtio_console; do add_module "$m"; done

# 3. The initramfs tree.
tree="$out/initramfs"
rm -rf "$tree" && mkdir -p "$tree"/{bin,sbin,dev,proc,sys,tmp,run,etc,modules,mnt/host-usr,mnt/spec,mnt/persistent}
cp "$busybox_bin" "$tree/bin/busybox"
for a in $("$busybox_bin" --list); do [ "$a" = busybox ] || ln -sf busybox "$tree/bin/$a"; done
# The host's /usr is mounted at /usr in the guest, so node and its shared libraries resolve
# (Debian's merged /usr: /lib and /lib64 point into it).
ln -s mnt/host-usr "$tree/usr"
ln -s usr/lib "$tree/lib"
ln -s usr/lib64 "$tree/lib64"
: > "$tree/modules/load-order"
for name in "${order[@]}"; do
  cp "${modpath[$name]}" "$tree/modules/$name.ko"
  echo "$name" >> "$tree/modules/load-order"
done
cp "$here/init" "$tree/init" && chmod 755 "$tree/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$tree/etc/passwd"
echo "nameserver 10.0.2.3" > "$tree/etc/resolv.conf"
(cd "$tree" && find . | LC_ALL=C sort | "$busybox_bin" cpio -o -H newc 2>/dev/null | gzip -1 > "$out/initrd.img.tmp")
mv "$out/initrd.img.tmp" "$out/initrd.img"
rm -rf "$tree" "$krootfs"

echo "console=ttyS0 panic=-1 quiet loglevel=3" > "$out/cmdline"
echo "$stamp" > "$out/stamp"
printf '{"kernel":"%s","initrd":"%s","cmdline":"%s","worker":"%s","cached":false,"kernelPackage":"%s","modules":%d}\n' \
  "$out/vmlinuz" "$out/initrd.img" "$(cat "$out/cmdline")" "$out/worker.mjs" "$kpkg" "${#order[@]}"
