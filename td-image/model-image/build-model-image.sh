#!/usr/bin/env bash
# build-model-image.sh MODEL_DIR OUT_PREFIX
#
# Packs a model's weights into a read-only EROFS image and a dm-verity hash tree, and prints the
# verity root hash: that hash is the model hash registered on chain. The guest opens the image
# with `veritysetup open OUT.img model OUT.verity ROOT_HASH`, so every block it reads is checked
# against the hash the proxy and client agreed on.
#
# Reproducible: file order, timestamps (SOURCE_DATE_EPOCH, default 0), owners, the filesystem
# UUID, and the verity salt and UUID are all fixed, so the same weights always give the same root
# hash on any machine. Needs no privileges: mkfs.erofs builds the image from the directory and
# veritysetup format works on plain files. (EROFS rather than ext4: it is read-only by design and
# mkfs.erofs takes a fixed timestamp; Debian 12's mke2fs stamps the superblock with the clock.)
#
# Output: OUT_PREFIX.img, OUT_PREFIX.verity, OUT_PREFIX.roothash (the hex root hash, also on stdout).
set -euo pipefail

die() { echo "build-model-image: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: build-model-image.sh MODEL_DIR OUT_PREFIX"
src=$1 out=$2
[[ -d $src ]] || die "model directory '$src' does not exist"
command -v mkfs.erofs >/dev/null || die "mkfs.erofs not found: install erofs-utils"
command -v veritysetup >/dev/null || die "veritysetup not found: install cryptsetup-bin"
[[ -z $(find "$src" -type l -print -quit) ]] || die "'$src' contains symlinks; copy the model with real files (cp -L) first"

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
# A copy with normalised modes and times, so the checkout's umask and mtimes do not leak in.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r --no-preserve=all "$src"/. "$stage"/
find "$stage" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

rm -f "$out.img" "$out.verity"
# Uncompressed: weights do not compress, and plain blocks keep reads cheap.
mkfs.erofs --quiet -T "$SOURCE_DATE_EPOCH" --all-root -U 6f0f4e1c-0c0a-4d2b-9a57-6d6f64656c00 "$out.img" "$stage" \
  || die "mkfs.erofs failed"

salt=$(printf 'cocoon-model' | sha256sum | cut -c1-64)
root=$(veritysetup format "$out.img" "$out.verity" --hash sha256 --data-block-size 4096 --hash-block-size 4096 \
  --salt "$salt" --uuid 6f0f4e1c-0c0a-4d2b-9a57-6d6f64656c02 | awk '/^Root hash:/ {print $3}')
[[ $root =~ ^[0-9a-f]{64}$ ]] || die "veritysetup did not print a root hash"
veritysetup verify "$out.img" "$out.verity" "$root" >/dev/null || die "the new image does not verify against its own root hash"
echo "$root" > "$out.roothash"
echo "$root"
