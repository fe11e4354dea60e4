#!/usr/bin/env bash
# bench.sh [N ...]  (default N = 9 25 49)
#
# CPU time per output frame of the `togethermode` element against GStreamer's `compositor` on
# the canonical workload W(N) (BENCHMARKS.md, "The workload and the method"), run through
# gst-launch-1.0 side by side in the same session. Inputs and the compositor pipeline come
# from the repository's scripts/bench-peers.sh: its `inputs` (the 8 raw 640x360 I420 clips,
# clip0.yuv .. clip7.yuv, generated once) and its `gst` peer (`print gst N F full|src`:
# videocrop + videoscale per seat, then compositor over a still background). The togethermode
# pipeline reads the same N clips (participant k plays clip k mod 8) straight into
# togethermode (scene=builtin:gridN: the same seats and gradient background; it crops and
# scales itself).
#
# Method (as bench-peers.sh's): hyperfine times each pipeline at F_SHORT and F_LONG output
# frames; CPU ms/frame = ((user+sys) at F_LONG - (user+sys) at F_SHORT) / (F_LONG - F_SHORT),
# so start-up cancels. The same is done for the input path alone (the same sources into
# fakesink); "compositing" = end-to-end - input path. Each pass times both elements back to
# back; PASSES passes, median reported. One line per (element, N, pass) on stdout:
#   element=… n=… pass=… cpu_ms=… src_cpu_ms=… comp_cpu_ms=… wall_ms=… load1=…
#
# Env: PASSES (3) RUNS (3) F_SHORT (30) F_LONG (330) ALPHA (0.8)
#      BENCH_INPUTS (bench-peers.sh's: where the clips are kept)
#      PLUGIN_DIR (the release directory of cargo's target directory, $CARGO_TARGET_DIR when set,
#      else target/release: where libgsttogethermode.so is; point it at a copy of another build
#      to compare two builds) ELEMENTS ("togethermode compositor": which to time)
# Needs: the release plugin (cargo build --release -p gst-plugin-togethermode); FFmpeg,
# GStreamer's tools and base/good plugins, hyperfine and jq (bench-peers.sh installs what is
# missing with apt-get unless NO_INSTALL is set).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=target-dir.sh
source "$HERE/target-dir.sh"
PEERS=$REPO/scripts/bench-peers.sh
PASSES=${PASSES:-3}
RUNS=${RUNS:-3}
# bench-peers.sh reads these too (the clips' length, the compositor's seat opacity).
export F_SHORT=${F_SHORT:-30} F_LONG=${F_LONG:-330} ALPHA=${ALPHA:-0.8}
# W(N)'s sizes (bench-peers.sh's OUT_W x OUT_H and IN_W x IN_H) and its 8 distinct clips.
readonly OUT_W=1920 OUT_H=1080 IN_W=640 IN_H=360 CLIPS=8
NS=("$@")
((${#NS[@]})) || NS=(9 25 49)
export GST_PLUGIN_PATH="${PLUGIN_DIR:-$TARGET_DIR/release}"
read -r -a ELS <<< "${ELEMENTS:-togethermode compositor}"
gst-inspect-1.0 togethermode >/dev/null || { echo "build the plugin first" >&2; exit 1; }
# Installs the tools if needed, generates the clips if needed, prints their folder.
BENCH_INPUTS=$("$PEERS" inputs)
export BENCH_INPUTS
FRAME_IN=$((IN_W * IN_H * 3 / 2))

# tm_cmd N F MODE -> the togethermode pipeline (MODE full) or its input path (MODE src)
tm_cmd() {
  local n=$1 f=$2 mode=$3 k s="gst-launch-1.0 -q"
  if [ "$mode" = full ]; then
    s+=" togethermode name=m scene=builtin:grid$n seat-opacity=$ALPHA"
    s+=" ! video/x-raw,format=I420,width=$OUT_W,height=$OUT_H,framerate=30/1 ! fakesink sync=false"
  fi
  for ((k = 0; k < n; k++)); do
    s+=" filesrc location=$BENCH_INPUTS/clip$((k % CLIPS)).yuv blocksize=$FRAME_IN num-buffers=$f"
    s+=" ! rawvideoparse width=$IN_W height=$IN_H format=i420 framerate=30/1"
    if [ "$mode" = full ]; then s+=" ! m.sink_$k"; else s+=" ! fakesink sync=false"; fi
  done
  echo "$s"
}

W=$(mktemp -d /tmp/tm-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# cpu_ms FILE -> (user+sys) per frame in ms from a hyperfine JSON holding [short, long]
cpu_ms() {
  jq -r --argjson d $((F_LONG - F_SHORT)) \
    '((.results[1].user + .results[1].system) - (.results[0].user + .results[0].system)) / $d * 1000' "$1"
}
wall_ms() {
  jq -r --argjson d $((F_LONG - F_SHORT)) '(.results[1].median - .results[0].median) / $d * 1000' "$1"
}

for ((pass = 1; pass <= PASSES; pass++)); do
  for n in "${NS[@]}"; do
    for el in "${ELS[@]}"; do
      for mode in full src; do
        for f in "$F_SHORT" "$F_LONG"; do
          if [ "$el" = togethermode ]; then tm_cmd "$n" "$f" "$mode"; else "$PEERS" print gst "$n" "$f" "$mode"; fi > "$W/$el-$mode-$f.sh"
          bash "$W/$el-$mode-$f.sh" || { echo "failed: $(cat "$W/$el-$mode-$f.sh")" >&2; exit 1; }
        done
        hyperfine -N --style none --runs "$RUNS" --warmup 1 --export-json "$W/$el-$mode.json" \
          "bash $W/$el-$mode-$F_SHORT.sh" "bash $W/$el-$mode-$F_LONG.sh" >/dev/null 2>&1
      done
      full=$(cpu_ms "$W/$el-full.json"); src=$(cpu_ms "$W/$el-src.json")
      awk -v e="$el" -v n="$n" -v p=$pass -v c="$full" -v s="$src" -v w="$(wall_ms "$W/$el-full.json")" \
        -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{printf "element=%s n=%d pass=%d cpu_ms=%.2f src_cpu_ms=%.2f comp_cpu_ms=%.2f wall_ms=%.2f load1=%s\n", e, n, p, c, s, c-s, w, l}'
    done
  done
done
