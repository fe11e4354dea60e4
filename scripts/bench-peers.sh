#!/usr/bin/env bash
# The canonical benchmark workload W(N) run by the peers, FFmpeg and GStreamer, so that the
# figures in BENCHMARKS.md can be reproduced beside `together bench` (BENCHMARKS.md, "The
# workload and the method", defines W(N) and the method; this script is its executable form).
#
#   scripts/bench-peers.sh PEER N            one measurement, one `key=value` line
#   scripts/bench-peers.sh all               every peer in $PEERS for every N in $NS
#   scripts/bench-peers.sh print PEER N F [full|src]   the pipeline command for F output frames
#   scripts/bench-peers.sh inputs            generate the inputs (if needed), print their folder
#   scripts/bench-peers.sh floor [N...]      single-thread memory-bandwidth floor per N
#   scripts/bench-peers.sh peers             list the peers
#
# PEER: ffmpeg         FFmpeg, a chain of N overlay filters (default filter threads)
#       ffmpeg-t1      the same chain with -filter_complex_threads 1
#       ffmpeg-xstack  FFmpeg, the seats tiled by one xstack, a static alpha mask merged, then
#                      one full-frame overlay over the background
#       gst            GStreamer, videocrop ! videoscale per seat, then compositor (max-threads 0,
#                      i.e. as many threads as CPUs)
#       gst-t1         the same with compositor max-threads=1
#
# Environment (defaults in brackets):
#   RUNS [3]            timed runs per command (after one warm-up run)
#   ALPHA [0.8]         constant seat opacity; 1.0 (or 1) is the opaque variant
#   F_SHORT [30] F_LONG [330]   output frames of the short and the long run
#   NS ["9 25 49"] PEERS ["ffmpeg ffmpeg-t1 ffmpeg-xstack gst gst-t1"]   for `all`
#   BENCH_INPUTS [${XDG_CACHE_HOME:-~/.cache}/together-bench-peers]   where the inputs are kept
#                       (8 clips of F_LONG frames: 0.9 GB for 330 frames)
#   BENCH_TIMEOUT [180] seconds after which one pipeline run is killed (the run then fails)
#   NO_INSTALL          set to skip the apt-get step (the tools must then be present)
#
# Output: a header of `#` lines (date, CPU model, tool versions), then per measurement
#   peer= n= alpha= runs= frames= cpu_ms_per_frame= comp_cpu_ms_per_frame= src_cpu_ms_per_frame=
#   ms_per_frame= e2e_ms_per_frame= src_ms_per_frame= load1=
# cpu_ms_per_frame  user+sys CPU per output frame, whole pipeline, steady state
#                   (CPU(F_LONG) - CPU(F_SHORT)) / (F_LONG - F_SHORT): start-up cancels
# src_cpu_ms_per_frame  the same for the input path alone (the same inputs read and parsed
#                   into a null sink, nothing composited)
# comp_cpu_ms_per_frame = cpu_ms_per_frame - src_cpu_ms_per_frame: compositing alone
# e2e_ms_per_frame, src_ms_per_frame, ms_per_frame (compositing): the same three in wall-clock
#                   time (medians); on a machine with other work or few cores, prefer CPU time
# load1             the 1-minute load average before..after the measurement
set -euo pipefail

readonly OUT_W=1920 OUT_H=1080      # output and background
readonly IN_W=640 IN_H=360          # every participant
readonly CROP_W=270 CROP_H=360 CROP_X=184 CROP_Y=0   # 3:4 centre crop, even offset
readonly CLIPS=8                    # distinct input clips; participant k plays clip k mod 8
readonly ALL_PEERS="ffmpeg ffmpeg-t1 ffmpeg-xstack gst gst-t1"

RUNS=${RUNS:-3}
ALPHA=${ALPHA:-0.8}
F_SHORT=${F_SHORT:-30}
F_LONG=${F_LONG:-330}
NS=${NS:-"9 25 49"}
PEERS=${PEERS:-$ALL_PEERS}
BENCH_INPUTS=${BENCH_INPUTS:-${XDG_CACHE_HOME:-$HOME/.cache}/together-bench-peers}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-180}

die() { echo "bench-peers: $*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------------------------
# Tools

have() { command -v "$1" >/dev/null 2>&1; }

# Installs what is missing (Debian, apt-get; as root or through sudo).
ensure_tools() {
  local pkgs=() e
  have ffmpeg || pkgs+=(ffmpeg)
  have gst-launch-1.0 || pkgs+=(gstreamer1.0-tools)
  have hyperfine || pkgs+=(hyperfine)
  have jq || pkgs+=(jq)
  have timeout || pkgs+=(coreutils)
  have perl || pkgs+=(perl)
  # The elements have no program of their own to look for: ask GStreamer.
  for e in compositor videoscale videocrop rawvideoparse imagefreeze; do
    if ! have gst-inspect-1.0 || ! gst-inspect-1.0 "$e" >/dev/null 2>&1; then
      pkgs+=(gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
      break
    fi
  done
  ((${#pkgs[@]})) || return 0
  [ -z "${NO_INSTALL:-}" ] || die "missing: ${pkgs[*]} (NO_INSTALL is set)"
  have apt-get || die "missing: ${pkgs[*]}; install them (this script knows only apt-get)"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    have sudo || die "missing: ${pkgs[*]}; not root and no sudo"
    sudo=(sudo)
  fi
  echo "bench-peers: installing ${pkgs[*]}" >&2
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${pkgs[@]}" >&2
}

# ---------------------------------------------------------------------------------------------
# The workload

# alpha as the 8-bit value FFmpeg's alpha plane carries (0.8 -> 204)
alpha8() { awk -v a="$ALPHA" 'BEGIN { v = int(a * 255 + 0.5); if (v < 0 || v > 255) exit 1; print v }'; }
opaque() { [ "$(alpha8)" = 255 ]; }

# layout N: the benchmark grid (the same arithmetic as Scene::grid). Sets GRID (columns),
# ROWS, SEAT_W, SEAT_H and the seats' top-left corners SEAT_X[k], SEAT_Y[k].
layout() {
  local n=$1 k cell_w cell_h
  ((n >= 1)) || die "N must be at least 1"
  GRID=1
  while ((GRID * GRID < n)); do GRID=$((GRID + 1)); done
  ROWS=$(((n + GRID - 1) / GRID))
  cell_w=$((OUT_W / GRID))
  cell_h=$((OUT_H / ROWS))
  SEAT_H=$((cell_h * 9 / 10 / 8 * 8))   # 90 % of the cell, down to a multiple of 8
  SEAT_W=$((SEAT_H * 3 / 4 / 2 * 2))    # 3:4, even
  ((SEAT_W > 0 && SEAT_H > 0)) || die "N=$n leaves no room for a seat"
  SEAT_X=()
  SEAT_Y=()
  for ((k = 0; k < n; k++)); do
    SEAT_X[k]=$((((k % GRID) * cell_w + (cell_w - SEAT_W) / 2) / 2 * 2))
    SEAT_Y[k]=$((((k / GRID) * cell_h + (cell_h - SEAT_H) / 2) / 2 * 2))
  done
}

# The background (one 1920x1080 I420 frame, a two-colour gradient) and CLIPS raw 640x360
# I420 clips of F_LONG frames at 30 fps, generated once with FFmpeg's test sources.
prepare_inputs() {
  local stamp=$BENCH_INPUTS/frames k
  if [ -f "$stamp" ] && (($(cat "$stamp") >= F_LONG)) && [ -f "$BENCH_INPUTS/background.yuv" ]; then
    return 0
  fi
  mkdir -p "$BENCH_INPUTS"
  rm -f "$stamp"
  echo "bench-peers: generating the inputs in $BENCH_INPUTS ($F_LONG frames per clip)" >&2
  ffmpeg -nostdin -v error -y -f lavfi \
    -i "gradients=size=${OUT_W}x${OUT_H}:c0=0x203060:c1=0xc09060:x0=0:y0=0:x1=${OUT_W}:y1=${OUT_H}:nb_colors=2" \
    -frames:v 1 -pix_fmt yuv420p -f rawvideo "$BENCH_INPUTS/background.yuv.part"
  mv "$BENCH_INPUTS/background.yuv.part" "$BENCH_INPUTS/background.yuv"
  local sources=(testsrc2 testsrc smptehdbars rgbtestsrc "gradients=speed=0.05" mandelbrot
    "cellauto=rule=110" "life=mold=10:ratio=0.2")
  for ((k = 0; k < CLIPS; k++)); do
    local src=${sources[k]} opts=size=${IN_W}x${IN_H}:rate=30
    case $src in *=*) src="$src:$opts" ;; *) src="$src=$opts" ;; esac
    ffmpeg -nostdin -v error -y -f lavfi -i "$src" -frames:v "$F_LONG" -pix_fmt yuv420p \
      -f rawvideo "$BENCH_INPUTS/clip$k.yuv.part"
    mv "$BENCH_INPUTS/clip$k.yuv.part" "$BENCH_INPUTS/clip$k.yuv"
  done
  echo "$F_LONG" >"$stamp"
}

# The static alpha plane of the xstack peer for N seats: one gray8 image as large as the
# xstack canvas, alpha8 inside the seats and 0 elsewhere.
# Sets MASK to its file.
xstack_mask() {
  local n=$1 a k corners=()
  a=$(alpha8)
  layout "$n"
  MASK=$BENCH_INPUTS/mask-n$n-a$a.gray
  [ ! -f "$MASK" ] || return 0
  mkdir -p "$BENCH_INPUTS"
  for ((k = 0; k < n; k++)); do corners+=("${SEAT_X[k]}" "${SEAT_Y[k]}"); done
  perl -e '
    my ($w, $h, $sw, $sh, $a, @xy) = @ARGV;
    my @rows = map { "\0" x $w } 1 .. $h;
    while (my ($x, $y) = splice(@xy, 0, 2)) {
      substr($rows[$_], $x, $sw) = chr($a) x $sw for $y .. $y + $sh - 1;
    }
    print @rows;' \
    "$((SEAT_X[n - 1] + SEAT_W))" "$((SEAT_Y[n - 1] + SEAT_H))" "$SEAT_W" "$SEAT_H" "$a" \
    "${corners[@]}" >"$MASK.part"
  mv "$MASK.part" "$MASK"
}

# ---------------------------------------------------------------------------------------------
# The peers' pipelines. Each prints one command line (words quoted for bash) on stdout.
# MODE full: the whole workload; MODE src: only the same inputs read into a null sink.

# Prints the words as one command line for bash: plain words as they are, others in single
# quotes (the filter graphs, the caps).
quote() {
  local w out=()
  for w in "$@"; do
    if [[ $w =~ ^[A-Za-z0-9_@%+=:,./-]+$ || $w == '!' ]]; then
      out+=("$w")
    else
      out+=("'${w//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${out[*]}"
}

ffmpeg_command() {
  local peer=$1 n=$2 frames=$3 mode=$4 k graph="" last next a
  layout "$n"
  a=$(alpha8)
  local args=(ffmpeg -hide_banner -nostdin -nostats -v error)
  [ "$peer" = ffmpeg-t1 ] && args+=(-filter_complex_threads 1)
  local raw=(-f rawvideo -pix_fmt yuv420p -framerate 30)
  args+=("${raw[@]}" -video_size "${OUT_W}x${OUT_H}" -i "$BENCH_INPUTS/background.yuv")
  for ((k = 0; k < n; k++)); do
    args+=("${raw[@]}" -video_size "${IN_W}x${IN_H}" -i "$BENCH_INPUTS/clip$((k % CLIPS)).yuv")
  done
  if [ "$mode" = src ]; then
    for ((k = 0; k <= n; k++)); do args+=(-map "$k:v"); done
    quote "${args[@]}" -frames:v "$frames" -f null -
    return
  fi
  # The background is one frame, repeated for ever.
  graph="[0:v]loop=loop=-1:size=1:start=0[bg];"
  local seat="crop=$CROP_W:$CROP_H:$CROP_X:$CROP_Y,scale=$SEAT_W:$SEAT_H:flags=bilinear"
  if [ "$peer" = ffmpeg-xstack ]; then
    local tiles="" places=""
    for ((k = 0; k < n; k++)); do
      graph+="[$((k + 1)):v]${seat}[t$k];"
      tiles+="[t$k]"
      places+="${SEAT_X[k]}_${SEAT_Y[k]}|"
    done
    xstack_mask "$n"
    args+=(-f rawvideo -pix_fmt gray -framerate 30
      -video_size "$((SEAT_X[n - 1] + SEAT_W))x$((SEAT_Y[n - 1] + SEAT_H))" -i "$MASK")
    graph+="${tiles}xstack=inputs=$n:layout=${places%|}:fill=black[tiled];"
    graph+="[$((n + 1)):v]loop=loop=-1:size=1:start=0[mask];"
    graph+="[tiled][mask]alphamerge[seats];"
    graph+="[bg][seats]overlay=x=0:y=0:eval=init:format=yuv420[out]"
  else
    # Each seat carries its constant alpha as an alpha plane (FFmpeg's overlay has no
    # per-input opacity); opaque seats need none.
    opaque || seat+=",format=yuva420p,lut=a=$a"
    last="bg"
    for ((k = 0; k < n; k++)); do
      next=o$k
      ((k < n - 1)) || next=out
      graph+="[$((k + 1)):v]${seat}[s$k];[$last][s$k]overlay=x=${SEAT_X[k]}:y=${SEAT_Y[k]}:eval=init:format=yuv420[$next];"
      last=$next
    done
    graph=${graph%;}
  fi
  quote "${args[@]}" -filter_complex "$graph" -map '[out]' -frames:v "$frames" -f null -
}

gst_command() {
  local peer=$1 n=$2 frames=$3 mode=$4 k p threads=0
  layout "$n"
  [ "$peer" = gst-t1 ] && threads=1
  local clip_bytes=$((IN_W * IN_H * 3 / 2))
  # The background: one frame, repeated by imagefreeze at the clips' rate (without the caps
  # after it imagefreeze runs at 25 fps and the compositor emits more frames than asked).
  # shellcheck disable=SC2054 # the commas belong to the caps
  local bg=(filesrc "location=$BENCH_INPUTS/background.yuv" ! rawvideoparse "width=$OUT_W"
    "height=$OUT_H" format=i420 framerate=30/1 ! imagefreeze "num-buffers=$frames"
    ! video/x-raw,framerate=30/1)
  local args=(gst-launch-1.0 -q)
  if [ "$mode" = src ]; then
    args+=("${bg[@]}" ! fakesink sync=false)
  else
    args+=(compositor name=mix background=black "max-threads=$threads"
      sink_0::xpos=0 sink_0::ypos=0 sink_0::zorder=0)
    for ((k = 0; k < n; k++)); do
      p=sink_$((k + 1))
      args+=("$p::xpos=${SEAT_X[k]}" "$p::ypos=${SEAT_Y[k]}" "$p::zorder=$((k + 1))"
        "$p::alpha=$ALPHA")
    done
    args+=(! "video/x-raw,format=I420,width=$OUT_W,height=$OUT_H,framerate=30/1"
      ! fakesink sync=false "${bg[@]}" ! mix.sink_0)
  fi
  for ((k = 0; k < n; k++)); do
    args+=(filesrc "location=$BENCH_INPUTS/clip$((k % CLIPS)).yuv" "blocksize=$clip_bytes"
      "num-buffers=$frames" ! rawvideoparse "width=$IN_W" "height=$IN_H" format=i420
      framerate=30/1 !)
    if [ "$mode" = src ]; then
      args+=(fakesink sync=false)
    else
      args+=(videocrop "left=$CROP_X" "right=$((IN_W - CROP_W - CROP_X))" "top=$CROP_Y"
        "bottom=$((IN_H - CROP_H - CROP_Y))" ! videoscale method=bilinear
        ! "video/x-raw,width=$SEAT_W,height=$SEAT_H" ! "mix.sink_$((k + 1))")
    fi
  done
  quote "${args[@]}"
}

peer_command() {
  local peer=$1 n=$2 frames=$3 mode=${4:-full}
  case $mode in full | src) ;; *) die "mode is full or src, not $mode" ;; esac
  case $peer in
    ffmpeg | ffmpeg-t1 | ffmpeg-xstack) ffmpeg_command "$peer" "$n" "$frames" "$mode" ;;
    gst | gst-t1) gst_command "$peer" "$n" "$frames" "$mode" ;;
    *) die "unknown peer '$peer' (peers: $ALL_PEERS)" ;;
  esac
  echo
}

# ---------------------------------------------------------------------------------------------
# Measurement

header() {
  local model
  model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  echo "# bench-peers $(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -n) kernel=$(uname -r) cpus=$(nproc)"
  echo "# cpu: ${model:-unknown}"
  echo "# $(ffmpeg -version 2>/dev/null | head -1)"
  echo "# $(gst-launch-1.0 --version 2>/dev/null | sed -n 2p)"
  echo "# $(hyperfine --version 2>/dev/null)"
  echo "# runs=$RUNS alpha=$ALPHA frames=$F_SHORT,$F_LONG inputs=$BENCH_INPUTS"
}

# check_args PEER N: refuses what measure could not run, before anything is installed.
check_args() {
  case " $ALL_PEERS " in *" $1 "*) ;; *) die "unknown peer '$1' (peers: $ALL_PEERS)" ;; esac
  case $2 in '' | *[!0-9]* | 0) die "N must be a positive number, not '$2'" ;; esac
  if ! [[ $F_SHORT =~ ^[0-9]+$ && $F_LONG =~ ^[0-9]+$ ]] || ((F_SHORT < 1 || F_SHORT >= F_LONG)); then
    die "need 0 < F_SHORT < F_LONG"
  fi
  if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then die "RUNS must be at least 1"; fi
}

# A fresh folder under WORK (made by main, removed on exit).
workdir() { mktemp -d "$WORK/XXXXXX"; }

load1() { cut -d' ' -f1 /proc/loadavg; }

# measure PEER N: times the full pipeline and the input path alone at F_SHORT and F_LONG output
# frames with hyperfine (one warm-up run, RUNS timed runs each) and prints one line.
measure() {
  local peer=$1 n=$2 dir l0 l1 mode f
  dir=$(workdir)
  for mode in full src; do
    for f in "$F_SHORT" "$F_LONG"; do
      { echo "exec timeout $BENCH_TIMEOUT \\"; peer_command "$peer" "$n" "$f" "$mode"; } >"$dir/$mode-$f.sh"
    done
    # Fail early and visibly, not inside hyperfine.
    local rc=0
    bash "$dir/$mode-$F_SHORT.sh" || rc=$?
    ((rc != 124)) || die "$peer N=$n ($mode): timed out after ${BENCH_TIMEOUT}s (BENCH_TIMEOUT)"
    ((rc == 0)) || die "$peer N=$n ($mode) failed: $(tail -n 1 "$dir/$mode-$F_SHORT.sh")"
  done
  l0=$(load1)
  hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$dir/times.json" \
    "bash $dir/full-$F_SHORT.sh" "bash $dir/full-$F_LONG.sh" \
    "bash $dir/src-$F_SHORT.sh" "bash $dir/src-$F_LONG.sh" >/dev/null ||
    die "$peer N=$n: a timed run failed (killed after ${BENCH_TIMEOUT}s? see BENCH_TIMEOUT)"
  l1=$(load1)
  local fig
  # Per output frame, steady state: the long run's cost minus the short run's, divided by the
  # frames between them. CPU: hyperfine's mean user+sys; wall clock: the medians.
  fig=$(jq -r --argjson df $((F_LONG - F_SHORT)) '
    def per_frame(i; j): (.[j] - .[i]) / $df * 1000;
    [.results[] | .user + .system] as $cpu | [.results[] | .median] as $wall
    | ($cpu | per_frame(0; 1)) as $c | ($cpu | per_frame(2; 3)) as $cs
    | ($wall | per_frame(0; 1)) as $w | ($wall | per_frame(2; 3)) as $ws
    | [$c, $c - $cs, $cs, $w - $ws, $w, $ws] | @tsv' "$dir/times.json")
  # shellcheck disable=SC2086 # six numbers
  printf 'peer=%s n=%s alpha=%s runs=%s frames=%s,%s cpu_ms_per_frame=%.2f comp_cpu_ms_per_frame=%.2f src_cpu_ms_per_frame=%.2f ms_per_frame=%.2f e2e_ms_per_frame=%.2f src_ms_per_frame=%.2f load1=%s..%s\n' \
    "$peer" "$n" "$ALPHA" "$RUNS" "$F_SHORT" "$F_LONG" $fig "$l0" "$l1"
}

# ---------------------------------------------------------------------------------------------
# The memory-bandwidth floor: the bytes one output frame must move at least (read the
# background and every seat's crop, write the output), over the single-thread read and write
# bandwidth of large buffers (DRAM, not cache) measured by a small C program.

floor() {
  local ns=("$@") dir cc
  ((${#ns[@]})) || read -r -a ns <<<"$NS"
  cc=$(command -v cc || command -v gcc || true)
  [ -n "$cc" ] || die "the floor needs a C compiler (apt-get install gcc)"
  dir=$(workdir)
  cat >"$dir/bw.c" <<'EOF'
/* Single-thread read and write bandwidth of one large buffer, best of several passes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const size_t bytes = (size_t)512 << 20, words = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(bytes);
    if (!buf) return 1;
    memset(buf, 1, bytes); /* fault the pages in */
    double best_read = 0, best_write = 0;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t = now();
        uint64_t a = 0, b = 0, c = 0, d = 0;
        for (size_t i = 0; i < words; i += 4) {
            a += buf[i]; b += buf[i + 1]; c += buf[i + 2]; d += buf[i + 3];
        }
        sink += a + b + c + d;
        double r = bytes / (now() - t);
        t = now();
        memset(buf, pass, bytes);
        double w = bytes / (now() - t);
        if (r > best_read) best_read = r;
        if (w > best_write) best_write = w;
    }
    printf("%.3f %.3f\n", best_read / 1e9, best_write / 1e9);
    return (int)(sink & 0); /* keep the reads */
}
EOF
  "$cc" -O3 -march=native -o "$dir/bw" "$dir/bw.c"
  local read_gbps write_gbps n
  read -r read_gbps write_gbps < <("$dir/bw")
  for n in "${ns[@]}"; do
    awk -v n="$n" -v r="$read_gbps" -v w="$write_gbps" \
      -v frame=$((OUT_W * OUT_H * 3 / 2)) -v crop=$((CROP_W * CROP_H * 3 / 2)) 'BEGIN {
      rd = frame + n * crop
      printf "floor n=%d threads=1 read_bytes=%d write_bytes=%d read_GBps=%.1f write_GBps=%.1f floor_ms_per_frame=%.3f\n",
        n, rd, frame, r, w, (rd / r + frame / w) / 1e6 }'
  done
}

# ---------------------------------------------------------------------------------------------

main() {
  local cmd=${1:-}
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-peers.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  case $cmd in
    '' | -h | --help | help)
      usage
      ;;
    peers)
      tr ' ' '\n' <<<"$ALL_PEERS"
      ;;
    print)
      (($# >= 4)) || die "usage: print PEER N FRAMES [full|src]"
      peer_command "$2" "$3" "$4" "${5:-full}"
      ;;
    inputs)
      ensure_tools
      prepare_inputs
      echo "$BENCH_INPUTS"
      ;;
    floor)
      shift
      header
      floor "$@"
      ;;
    all)
      local n p
      for n in $NS; do
        for p in $PEERS; do check_args "$p" "$n"; done
      done
      ensure_tools
      prepare_inputs
      header
      for n in $NS; do
        for p in $PEERS; do measure "$p" "$n"; done
      done
      ;;
    *)
      (($# == 2)) || die "usage: $0 PEER N | all | print PEER N FRAMES [full|src] | inputs | floor [N...] | peers"
      check_args "$1" "$2"
      ensure_tools
      prepare_inputs
      header
      measure "$1" "$2"
      ;;
  esac
}

main "$@"
