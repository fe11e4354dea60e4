#!/usr/bin/env bash
# Before/after pictures of real people seated in builtin:auditorium (issue 15): renders each
# clip of scripts/make-clips.sh with one `together` build twice, as the engine drew it before
# issue 15 (`--segment alpha`, the old default: an opaque camera frame is a box) and with the
# defaults (the selfie model, cleaned and refined matte), and writes one PNG per clip into
# OUTDIR: the seat and its surroundings at 0 s (top) and 3 s (bottom: frame 89, the clips' last), before on the left,
# after on the right (pixels doubled).
#
#   scripts/real-pictures.sh [BIN [OUTDIR [CLIP ...]]]
#
# BIN defaults to target/release/together, OUTDIR to footage/pictures (git-ignored: the
# pictures show third-party footage, so they are made here, never committed; the README links
# to them there). Needs ffmpeg, python3, the model where `together` finds it and
# footage/clips/ (scripts/make-clips.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/together}"
out="${2:-$root/footage/pictures}"
shift $(($# < 2 ? $# : 2))
clips=("$@")
[[ -x "$bin" ]] || { echo "real-pictures: no together binary at $bin (cargo build --release)" >&2; exit 2; }
[[ ${#clips[@]} -gt 0 ]] || clips=(close far offcentre portrait moving still walkers profile)
size=1280x720
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/real-pictures.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The seat of the first participant, with a margin of a quarter of its size, in output pixels.
read -r cx cy cw ch < <("$bin" seating --scene builtin:auditorium --participants 1 \
  --scene-size "$size" --size "$size" | python3 -c '
import json, sys
r = next(iter(json.load(sys.stdin).values()))
mx, my = r["width"] // 4, r["height"] // 4
x, y = max(0, r["left"] - mx), max(0, r["top"] - my)
w, h = r["width"] + 2 * mx, r["height"] + 2 * my
print(x - x % 2, y - y % 2, w - w % 2, h - h % 2)')

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
for clip in "${clips[@]}"; do
  src="$root/footage/clips/$clip.y4m"
  for which in before after; do
    seg=()
    [[ $which == before ]] && seg=(--segment alpha)
    "$bin" render --scene builtin:auditorium --input "8:acs:$clip=$src" --size "$size" \
      --frames 90 "${seg[@]}" --out "$work/$which.y4m" 2>/dev/null
    for t in 0 89; do
      ff -i "$work/$which.y4m" -vf "select=eq(n\,$t),crop=$cw:$ch:$cx:$cy,scale=iw*2:ih*2:flags=neighbor" \
        -frames:v 1 "$work/$which-$t.png"
    done
  done
  ff -i "$work/before-0.png" -i "$work/after-0.png" -i "$work/before-89.png" -i "$work/after-89.png" \
    -filter_complex "[0][1]hstack=2[t];[2][3]hstack=2[b];[t][b]vstack=2" "$out/$clip.png"
  echo "real-pictures: $out/$clip.png" >&2
done
