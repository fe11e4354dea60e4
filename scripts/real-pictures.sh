#!/usr/bin/env bash
# Before/after pictures of real people cut out into builtin:auditorium (issue 15): renders each
# clip of scripts/make-clips.sh with two builds of `together` (e.g. main's and a branch's, both
# with --features ml) and `--segment ml`, and writes one PNG per clip: the seat and its
# surroundings at 0 s (top) and 3 s (bottom), the first build on the left, the second on the
# right.
#
#   scripts/real-pictures.sh BEFORE_BIN AFTER_BIN OUTDIR [CLIP ...]
#
# NOT RUN YET (2026-12-04: no ml build of main was at hand; the README's pictures came from
# tests/segment_real.rs with SEGMENT_REAL_DUMP=DIR, "before" = ScheduleOptions::clean None).
# Needs ffmpeg, python3, models/selfie_segmentation.tflite and footage/clips/ (made by
# scripts/make-clips.sh). Nothing it writes is committed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
[[ $# -ge 3 ]] || { echo "usage: $0 BEFORE_BIN AFTER_BIN OUTDIR [CLIP ...]" >&2; exit 2; }
before="$1" after="$2" out="$3"
shift 3
clips=("$@")
[[ ${#clips[@]} -gt 0 ]] || clips=(close far offcentre portrait moving still walkers profile)
model="$root/models/selfie_segmentation.tflite"
size=1280x720
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/real-pictures.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The seat of the first participant, with a margin of a quarter of its size, in output pixels.
read -r cx cy cw ch < <("$after" seating --scene builtin:auditorium --participants 1 \
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
    bin="${!which}"
    "$bin" render --scene builtin:auditorium --input "8:acs:$clip=$src" --size "$size" \
      --frames 91 --segment ml --model "$model" --out "$work/$which.y4m" 2>/dev/null
    for t in 0 90; do
      ff -i "$work/$which.y4m" -vf "select=eq(n\,$t),crop=$cw:$ch:$cx:$cy,scale=iw*2:ih*2:flags=neighbor" \
        -frames:v 1 "$work/$which-$t.png"
    done
  done
  ff -i "$work/before-0.png" -i "$work/after-0.png" -i "$work/before-90.png" -i "$work/after-90.png" \
    -filter_complex "[0][1]hstack=2[t];[2][3]hstack=2[b];[t][b]vstack=2" "$out/$clip.png"
  echo "real-pictures: $out/$clip.png" >&2
done
