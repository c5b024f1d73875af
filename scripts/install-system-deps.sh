#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, when missing: Chromium, which the browser
# tests drive through playwright-core; QEMU (qemu-system-x86) and busybox-static, which the TD
# launcher's development-guest test boots (td-image/dev-guest/build.sh fetches the guest kernel,
# linux-image-amd64, through `apt-get download` itself). Needs root or sudo; prints what to do
# otherwise. Nothing here downloads a browser build of its own.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The TD image's model-image builder (td-image/model-image) and its test.
command -v veritysetup >/dev/null 2>&1 || need+=(cryptsetup-bin)
command -v mkfs.erofs >/dev/null 2>&1 || need+=(erofs-utils)
# The TD launcher's development guest and its boot test.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "missing Debian packages: ${need[*]} — install them as root: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
echo "installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
