#!/usr/bin/env bash
# Seeds the `ml_model` fuzz target's corpus (corpus/ml_model, git-ignored) from the real
# selfie models: each model whole, cut short at several lengths, and with single bytes
# overwritten at spread-out offsets (tables, vtables, shapes, weights). The models come from
# scripts/fetch-model.sh (pinned by version and SHA-256), never from the repository.
#
#   fuzz/seed-ml.sh            then   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --features ml ml_model
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
models="$root/models"
"$root/scripts/fetch-model.sh" "$models" >/dev/null
out="$here/corpus/ml_model"
mkdir -p "$out"

for m in "$models"/selfie_segmentation.tflite "$models"/selfie_segmentation_landscape.tflite; do
  name="$(basename "$m" .tflite)"
  size="$(stat -c %s "$m")"
  cp "$m" "$out/$name"
  for cut in 8 64 512 4096 $((size / 4)) $((size / 2)) $((size - 1)); do
    head -c "$cut" "$m" > "$out/$name.cut$cut"
  done
  for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
    # Offsets spread over the file, denser near the start (the root table and vtables) and
    # the end (the subgraph, tensors and operators follow the weights in these files).
    for off in $((k * 4)) $((k * 97)) $((size - k * 613)); do
      cp "$m" "$out/$name.set$off"
      printf '\xff' | dd of="$out/$name.set$off" bs=1 seek="$off" conv=notrunc status=none
    done
  done
done
echo "seed-ml: $(ls "$out" | wc -l) seeds in $out"
