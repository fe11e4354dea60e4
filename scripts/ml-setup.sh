#!/usr/bin/env bash
# Set-up for the ML segmenter's tests and benches (feature `ml`):
#  1. scripts/fetch-model.sh: the two .tflite models from npm, pinned, into models/;
#  2. a Python venv in models/.venv with mediapipe==0.10.21 and scikit-image from PyPI;
#  3. scripts/ml-reference.py: MediaPipe's own masks of astronaut.png into models/reference/;
#  4. onnxruntime==1.31.1 from PyPI into the same venv (the `ml-ort` backend's shared library).
# Everything lands in models/ (git-ignored). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/fetch-model.sh models

if [[ ! -f models/reference/general_256x256.f32 || ! -f models/reference/landscape_256x144.f32 ]]; then
  if [[ ! -x models/.venv/bin/python ]]; then
    python3 -m venv models/.venv
  fi
  models/.venv/bin/pip install -q --disable-pip-version-check \
    "mediapipe==0.10.21" "scikit-image==0.26.0"
  models/.venv/bin/python scripts/ml-reference.py models/reference
fi
# onnxruntime (pinned) for the `ml-ort` backend and as the timing peer: its wheel ships the
# shared library ort loads (ort 2.0.0-rc.15 targets ONNX Runtime 1.31). Its path goes to
# models/ort-dylib-path, for ORT_DYLIB_PATH.
if [[ ! -x models/.venv/bin/python ]]; then
  python3 -m venv models/.venv
fi
models/.venv/bin/pip install -q --disable-pip-version-check "onnxruntime==1.31.1"
ort_lib="$(models/.venv/bin/python -c 'import glob, os, onnxruntime as o; print(sorted(glob.glob(os.path.join(os.path.dirname(o.__file__), "capi", "libonnxruntime.so.*")))[0])')"
echo "$ort_lib" > models/ort-dylib-path
echo "ml-setup: onnxruntime library: $ort_lib (in models/ort-dylib-path; export ORT_DYLIB_PATH=\"\$(cat models/ort-dylib-path)\")"
echo "ml-setup: models/ ready"
