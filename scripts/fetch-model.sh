#!/usr/bin/env bash
# Fetches MediaPipe's selfie segmentation models (Apache-2.0) from the npm registry, pinned by
# package version and SHA-256, into models/ (git-ignored). Nothing of the model is committed.
#
#   scripts/fetch-model.sh [DEST_DIR]     (default: models/ at the repository root)
#
# Writes DEST_DIR/selfie_segmentation.tflite (1x256x256x3 in) and
# DEST_DIR/selfie_segmentation_landscape.tflite (1x144x256x3 in). Idempotent: files already
# present with the right checksum are kept.
set -euo pipefail

PKG="@mediapipe/selfie_segmentation"
VERSION="0.1.1675465747"
TARBALL_SHA256="7767b33eaa68990ee06c28bbb89f39a13a47ebb07ff0f1fd4947d9e817bb9bf9"
declare -A MODEL_SHA256=(
  [selfie_segmentation.tflite]="8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27"
  [selfie_segmentation_landscape.tflite]="4aafe6223bb8dac6fac8ca8ed56852870a33051ef3f6238822d282a109962894"
)

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/models}"
mkdir -p "$dest"

sha() { sha256sum "$1" | cut -d' ' -f1; }

all_present=1
for f in "${!MODEL_SHA256[@]}"; do
  if [[ ! -f "$dest/$f" || "$(sha "$dest/$f")" != "${MODEL_SHA256[$f]}" ]]; then
    all_present=0
  fi
done
if [[ $all_present == 1 ]]; then
  echo "fetch-model: models already present in $dest"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-model: npm is required (apt-get install npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
got="$(sha "$tarball")"
if [[ "$got" != "$TARBALL_SHA256" ]]; then
  echo "fetch-model: tarball checksum mismatch: got $got, want $TARBALL_SHA256" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
for f in "${!MODEL_SHA256[@]}"; do
  got="$(sha "$work/package/$f")"
  if [[ "$got" != "${MODEL_SHA256[$f]}" ]]; then
    echo "fetch-model: $f checksum mismatch: got $got, want ${MODEL_SHA256[$f]}" >&2
    exit 1
  fi
  install -m 0644 "$work/package/$f" "$dest/$f"
done
echo "fetch-model: wrote ${!MODEL_SHA256[*]} to $dest"
