#!/usr/bin/env bash
# Makes the real-footage test clips (issue 15, "Measured on real people") from the footage that
# scripts/fetch-footage.sh fetches (it is run first, and is a no-op when the footage is there).
# Nothing of it is committed: DIR is git-ignored.
#
#   scripts/make-clips.sh [DIR]     (default: footage/ at the repository root)
#
# Reads DIR/src/, writes DIR/clips/*.y4m (I420, 30 fps, 90 frames = 3 s each) and
# DIR/clips/clips.json, which records per clip its size, frame count, sources and the face height
# fraction and face centre it was designed to have, computed below from the geometry chosen.
# Needs ffmpeg. Clips are remade on every run (a few seconds of CPU in all).
#
# Clips:
#   close      carphone cropped around the face: face ~54 % of the height
#   far        carphone shrunk into a 16:9 street scene (bikes.mp4): face ~10 %
#   offcentre  carphone at the right edge of a 16:9 scene (bikes.mp4): face centre at x ~0.87
#   portrait   carphone cropped 9:16 (180x320)
#   moving     carphone sliding left to right across a 16:9 scene (bikes.mp4), ~4.2 px a frame
#   still      astronaut.png repeated with fresh sensor noise each frame (sigma ~3 luma levels)
#   walkers    (extra) vtest.avi: several small real people walking, 3x speed, in a 16:9 crop
#   profile    (extra) camera.png: grayscale, a man in profile behind a camera, with noise
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/footage}"
"$root/scripts/fetch-footage.sh" "$dir"
src="$dir/src"
out="$dir/clips"
command -v ffmpeg >/dev/null 2>&1 || { echo "make-clips: ffmpeg is required (apt-get install ffmpeg)" >&2; exit 1; }

FPS=30
FRAMES=90
NOISE="noise=alls=6:allf=t" # temporal: fresh noise every frame, sigma ~3 luma levels

# carphone_pristine.mp4 (176x144, 120 frames at 29.97 fps, played here at exactly 30 fps),
# measured on frames 0, 60 and 119: face (hairline to chin) ~60 px, head (crown to chin) ~80 px,
# face centre at (79, 66); the head sways, its centre's x ranging over ~71..87.
CP_W=176 CP_H=144 CP_FACE=60 CP_HEAD=80 CP_CX=79 CP_CY=66
# astronaut.png (512x512): face (hairline to chin) ~110 px, head ~170 px, centre (225, 130).
AS_W=512 AS_H=512 AS_FACE=110 AS_HEAD=170 AS_CX=225 AS_CY=130
# camera.png (512x512, grayscale): face in profile ~95 px, head ~130 px, centre (215, 148).
CM_W=512 CM_H=512 CM_FACE=95 CM_HEAD=130 CM_CX=215 CM_CY=148

work="$(mktemp -d "${TMPDIR:-/tmp}/make-clips.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
num() { awk "BEGIN { printf \"%.3f\", $1 }"; }
CP_IN=(-i "$src/carphone_pristine.mp4")
CP_30="setpts=N/($FPS*TB)" # every source frame, at exactly 30 fps
Y4M=(-r "$FPS" -frames:v "$FRAMES" -pix_fmt yuv420p -f yuv4mpegpipe)

# bg N OUT: frame N of bikes.mp4 (640x272), centre-cropped to 16:9, scaled to 480x270
bg() { ff -i "$src/bikes.mp4" -vf "select=eq(n\,$1),crop=484:272:78:0,scale=480:270,setsar=1" -frames:v 1 "$2"; }

json="$work/clips.json"
first=1
# record NAME W H SOURCES GEOMETRY FACE_FRAC HEAD_FRAC CX CY [CX_LAST CY_LAST]: one clips.json entry
record() {
  local name="$1" w="$2" h="$3" sources="$4" geometry="$5" face="$6" head="$7" cx="$8" cy="$9"
  local cxl="${10:-$8}" cyl="${11:-$9}" file="$out/$1.y4m" hdr fsize frames
  hdr=$(head -n 1 "$file" | wc -c)
  fsize=$((6 + w * h * 3 / 2))
  frames=$((($(stat -c %s "$file") - hdr) / fsize))
  [[ $frames == "$FRAMES" ]] || { echo "make-clips: $name.y4m has $frames frames, want $FRAMES" >&2; exit 1; }
  [[ $first == 1 ]] || printf ',\n' >>"$json"
  first=0
  printf '    {"name": "%s", "file": "%s.y4m", "width": %d, "height": %d, "frames": %d, "fps": %d,\n' \
    "$name" "$name" "$w" "$h" "$frames" "$FPS" >>"$json"
  printf '     "sources": "%s",\n     "geometry": "%s",\n' "$sources" "$geometry" >>"$json"
  printf '     "face_height_frac": %s, "head_height_frac": %s,\n' "$face" "$head" >>"$json"
  printf '     "face_centre_first": [%s, %s], "face_centre_last": [%s, %s]}' "$cx" "$cy" "$cxl" "$cyl" >>"$json"
  echo "make-clips: $name.y4m ${w}x${h}, $frames frames, face $face of the height" >&2
}
# the same, for a clip without one designed face (several people)
record_crowd() {
  local name="$1" w="$2" h="$3" sources="$4" geometry="$5" person="$6" file="$out/$1.y4m" hdr frames
  hdr=$(head -n 1 "$file" | wc -c)
  frames=$((($(stat -c %s "$file") - hdr) / (6 + w * h * 3 / 2)))
  [[ $frames == "$FRAMES" ]] || { echo "make-clips: $name.y4m has $frames frames, want $FRAMES" >&2; exit 1; }
  printf ',\n    {"name": "%s", "file": "%s.y4m", "width": %d, "height": %d, "frames": %d, "fps": %d,\n' \
    "$name" "$name" "$w" "$h" "$frames" "$FPS" >>"$json"
  printf '     "sources": "%s",\n     "geometry": "%s",\n' "$sources" "$geometry" >>"$json"
  printf '     "face_height_frac": null, "person_height_frac": %s, "face_centre_first": null, "face_centre_last": null}' \
    "$person" >>"$json"
  echo "make-clips: $name.y4m ${w}x${h}, $frames frames, several people ~$person of the height" >&2
}

cat >"$json" <<EOF
{
  "generator": "scripts/make-clips.sh",
  "format": "YUV4MPEG2 I420 (yuv420p), progressive, $FPS fps",
  "face_definition": "face = hairline to chin (head = crown to chin), measured by eye on source frames; fractions are of the clip's frame height; centre = centre of the face box as fractions of the frame (x from the left, y from the top), on the first and last frame. carphone's head sways by about +-8 source pixels in x, so its centres are +-0.05 of a source width.",
  "clips": [
EOF

# --- close: crop 128x112 at (16,8) around the face, scaled 2x -----------------------------------
x0=16 y0=8 cw=128 ch=112
ff "${CP_IN[@]}" -vf "$CP_30,crop=$cw:$ch:$x0:$y0,scale=256:224,setsar=1" "${Y4M[@]}" "$work/close.y4m"
mv "$work/close.y4m" "$out/close.y4m"
record close 256 224 "carphone_pristine.mp4 frames 0-89" \
  "carphone crop ${cw}x${ch} at ($x0,$y0), scaled 2x" \
  "$(num "$CP_FACE/$ch")" "$(num "$CP_HEAD/$ch")" "$(num "($CP_CX-$x0)/$cw")" "$(num "($CP_CY-$y0)/$ch")"

# --- far: carphone shrunk to 80x66 in a 480x270 street scene -------------------------------------
bg 160 "$work/bg_far.png"
pw=80 ph=66 ox=200 oy=180
ff -loop 1 -framerate "$FPS" -i "$work/bg_far.png" "${CP_IN[@]}" -filter_complex \
  "[1:v]$CP_30,scale=$pw:$ph[p];[0:v][p]overlay=x=$ox:y=$oy:shortest=1,setsar=1" "${Y4M[@]}" "$work/far.y4m"
mv "$work/far.y4m" "$out/far.y4m"
record far 480 270 "carphone_pristine.mp4 frames 0-89 over bikes.mp4 frame 160 (street, railing)" \
  "carphone scaled to ${pw}x${ph} at ($ox,$oy) in a 480x270 frame of bikes.mp4 frame 160 (crop 484x272 at (78,0), scaled)" \
  "$(num "$CP_FACE*$ph/$CP_H/270")" "$(num "$CP_HEAD*$ph/$CP_H/270")" \
  "$(num "($ox+$CP_CX*$pw/$CP_W)/480")" "$(num "($oy+$CP_CY*$ph/$CP_H)/270")"

# --- offcentre: carphone 1.5x at the right edge of a 480x270 scene, partly out of frame ----------
bg 240 "$work/bg_off.png"
pw=264 ph=216 ox=300 oy=54
ff -loop 1 -framerate "$FPS" -i "$work/bg_off.png" "${CP_IN[@]}" -filter_complex \
  "[1:v]$CP_30,scale=$pw:$ph[p];[0:v][p]overlay=x=$ox:y=$oy:shortest=1,setsar=1" "${Y4M[@]}" "$work/offcentre.y4m"
mv "$work/offcentre.y4m" "$out/offcentre.y4m"
record offcentre 480 270 "carphone_pristine.mp4 frames 0-89 over bikes.mp4 frame 240 (wall, parked bicycle, bollard)" \
  "carphone scaled 1.5x to ${pw}x${ph} at ($ox,$oy) in a 480x270 frame of bikes.mp4 frame 240, its right 84 px out of frame, bottom on the frame's bottom; the visible body spans x ~330..480" \
  "$(num "$CP_FACE*$ph/$CP_H/270")" "$(num "$CP_HEAD*$ph/$CP_H/270")" \
  "$(num "($ox+$CP_CX*$pw/$CP_W)/480")" "$(num "($oy+$CP_CY*$ph/$CP_H)/270")"

# --- portrait: 9:16 crop of carphone, 180x320 -----------------------------------------------------
x0=38 y0=1 cw=80 ch=142
ff "${CP_IN[@]}" -vf "$CP_30,crop=$cw:$ch:$x0:$y0,scale=180:320,setsar=1" "${Y4M[@]}" "$work/portrait.y4m"
mv "$work/portrait.y4m" "$out/portrait.y4m"
record portrait 180 320 "carphone_pristine.mp4 frames 0-89" \
  "carphone crop ${cw}x${ch} at ($x0,$y0) (9:16), scaled to 180x320; shoulders run into both side edges" \
  "$(num "$CP_FACE/$ch")" "$(num "$CP_HEAD/$ch")" "$(num "($CP_CX-$x0)/$cw")" "$(num "($CP_CY-$y0)/$ch")"

# --- moving: carphone 1.25x sliding from x=-60 to x=+320 over 3 s in a 480x270 scene ------------
bg 180 "$work/bg_mov.png"
pw=220 ph=180 oy=90 x_from=-60 x_span=380
ff -loop 1 -framerate "$FPS" -i "$work/bg_mov.png" "${CP_IN[@]}" -filter_complex \
  "[1:v]$CP_30,scale=$pw:$ph[p];[0:v][p]overlay=x='$x_from+$x_span*t/3':y=$oy:shortest=1,setsar=1" \
  "${Y4M[@]}" "$work/moving.y4m"
mv "$work/moving.y4m" "$out/moving.y4m"
x_last=$(num "$x_from+$x_span*($FRAMES-1)/$FPS/3")
record moving 480 270 "carphone_pristine.mp4 frames 0-89 over bikes.mp4 frame 180 (street, railing)" \
  "carphone scaled 1.25x to ${pw}x${ph}, bottom on the frame's bottom, its left edge moving linearly from x=$x_from to x=$x_last ($(num "$x_span/3/$FPS") px a frame), partly out of frame at both ends" \
  "$(num "$CP_FACE*$ph/$CP_H/270")" "$(num "$CP_HEAD*$ph/$CP_H/270")" \
  "$(num "($x_from+$CP_CX*$pw/$CP_W)/480")" "$(num "($oy+$CP_CY*$ph/$CP_H)/270")" \
  "$(num "($x_last+$CP_CX*$pw/$CP_W)/480")" "$(num "($oy+$CP_CY*$ph/$CP_H)/270")"

# --- still: astronaut, one image repeated, fresh sensor noise each frame --------------------------
ff -loop 1 -framerate "$FPS" -i "$src/astronaut.png" -vf "scale=256:256,setsar=1,format=yuv420p,$NOISE" \
  "${Y4M[@]}" "$work/still.y4m"
mv "$work/still.y4m" "$out/still.y4m"
record still 256 256 "astronaut.png (scikit-image, public domain)" \
  "astronaut.png scaled to 256x256, repeated; ffmpeg $NOISE (temporal, sigma ~3 luma levels, frame-to-frame difference sigma ~4.3)" \
  "$(num "$AS_FACE/$AS_H")" "$(num "$AS_HEAD/$AS_H")" "$(num "$AS_CX/$AS_W")" "$(num "$AS_CY/$AS_H")"

# --- walkers (extra): vtest.avi, several small people walking, 10 fps source played at 30 fps ------
ff -i "$src/vtest.avi" -vf "setpts=N/($FPS*TB),crop=768:432:0:100,scale=480:270,setsar=1" "${Y4M[@]}" "$work/walkers.y4m"
mv "$work/walkers.y4m" "$out/walkers.y4m"
record_crowd walkers 480 270 "vtest.avi frames 0-89 (Debian opencv-doc)" \
  "vtest.avi (768x576, 10 fps) crop 768x432 at (0,100), scaled to 480x270, every source frame at 30 fps (3x speed); several people walking across a campus road seen from above, 40..70 px tall, heads ~8 px" \
  "0.2"

# --- profile (extra): camera.png, grayscale man in profile, with sensor noise ---------------------
ff -loop 1 -framerate "$FPS" -i "$src/camera.png" -vf "scale=256:256,setsar=1,format=yuv420p,$NOISE" \
  "${Y4M[@]}" "$work/profile.y4m"
mv "$work/profile.y4m" "$out/profile.y4m"
record profile 256 256 "camera.png (scikit-image)" \
  "camera.png (grayscale) scaled to 256x256, repeated with ffmpeg $NOISE" \
  "$(num "$CM_FACE/$CM_H")" "$(num "$CM_HEAD/$CM_H")" "$(num "$CM_CX/$CM_W")" "$(num "$CM_CY/$CM_H")"

printf '\n  ]\n}\n' >>"$json"
mv "$json" "$out/clips.json"
echo "make-clips: wrote $(ls "$out" | tr '\n' ' ')to $out" >&2
