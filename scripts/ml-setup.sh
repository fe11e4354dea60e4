#!/usr/bin/env bash
# Set-up for the ML segmenter's tests and benches (feature `ml`):
#  1. scripts/fetch-model.sh: the two .tflite models from npm, pinned, into models/;
#  2. a Python venv in models/.venv with mediapipe==0.10.21 and scikit-image from PyPI;
#  3. scripts/ml-reference.py: MediaPipe's own masks of astronaut.png into models/reference/.
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
echo "ml-setup: models/ ready"
