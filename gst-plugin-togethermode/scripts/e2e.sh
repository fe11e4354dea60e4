#!/usr/bin/env bash
# e2e.sh [PLUGIN_DIR]  (default target/release)
# Loads the plugin through GST_PLUGIN_PATH, runs the README's pipeline (three videotestsrc
# inputs in three formats -> togethermode -> Y4M) and checks the file with ffprobe.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=$(cd "${1:-target/release}" && pwd)
cargo build -q -p gst-plugin-togethermode $([ "$(basename "$DIR")" = release ] && echo --release)
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
echo "togethermode e2e: ffprobe reads $got (width|height|pix_fmt|frames)"
