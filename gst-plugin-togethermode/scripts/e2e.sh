#!/usr/bin/env bash
# e2e.sh [PLUGIN_DIR]  (default target/release)
# Builds the plugin, loads it through GST_PLUGIN_PATH, runs the README's pipeline (three
# videotestsrc inputs in three formats -> togethermode -> Y4M) and checks the file with ffprobe.
#
# PLUGIN_DIR is where the plugin is loaded from; its last component picks the build profile
# (release: --release, else the dev profile). `target/...` (relative) means cargo's target
# directory, which is $CARGO_TARGET_DIR when that is set: `e2e.sh target/debug` works whatever
# the target directory is. Any other directory (relative to the workspace root, as before) is
# used as given, e.g. a copy of a build.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=target-dir.sh
source "$HERE/target-dir.sh"
ARG=${1:-target/release}
case "$ARG" in
  target) DIR=$TARGET_DIR ;;
  target/*) DIR=$TARGET_DIR/${ARG#target/} ;;
  /*) DIR=$ARG ;;
  *) DIR=$REPO/$ARG ;;
esac
PROFILE=()
[ "$(basename "$DIR")" = release ] && PROFILE=(--release)
(cd "$REPO" && cargo build -q -p gst-plugin-togethermode "${PROFILE[@]}")
DIR=$(cd "$DIR" && pwd)
[ -f "$DIR/libgsttogethermode.so" ] || {
  echo "togethermode e2e: no libgsttogethermode.so in $DIR" >&2
  exit 1
}
export GST_PLUGIN_PATH=$DIR
OUT=$(mktemp -d /tmp/togethermode-e2e.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
gst-launch-1.0 -q -e togethermode name=tm scene=builtin:auditorium \
    sink_0::participant-id=8:acs:alice sink_1::participant-id=8:acs:bob \
    sink_2::participant-id=8:orgid:carol sink_2::role=presenter \
  ! video/x-raw,width=1280,height=720 ! y4menc ! filesink location="$OUT/meeting.y4m" \
  videotestsrc num-buffers=30 pattern=ball ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! tm.sink_0 \
  videotestsrc num-buffers=30 pattern=smpte ! video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! tm.sink_1 \
  videotestsrc num-buffers=30 pattern=pinwheel ! video/x-raw,format=RGBA,width=480,height=640,framerate=30/1 ! tm.sink_2
got=$(ffprobe -v error -count_frames -show_entries stream=width,height,pix_fmt,nb_read_frames \
  -of compact=p=0:nk=1 "$OUT/meeting.y4m")
want="1280|720|yuv420p|30"
if [ "$got" != "$want" ]; then
  echo "togethermode e2e: ffprobe says $got, expected $want" >&2
  exit 1
fi
echo "togethermode e2e: $DIR: ffprobe reads $got (width|height|pix_fmt|frames)"
