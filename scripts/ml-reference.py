#!/usr/bin/env python3
"""Reference person-probability maps from MediaPipe's own selfie segmenter (mediapipe==0.10.21).

Runs MediaPipe's legacy SelfieSegmentation solution (its own graph, runtime and bundled
weights, which equal the npm package's to 5e-5) on scikit-image's public-domain
astronaut.png, for both models, at each model's native input size so that MediaPipe's
pre- and post-processing resizes are identities. Writes into OUT_DIR (git-ignored):

  astronaut_256x256.png, astronaut_256x144.png   the exact RGB inputs (8-bit)
  general_256x256.f32, landscape_256x144.f32     MediaPipe's probability maps, row-major
                                                 little-endian f32, width x height values

Usage: scripts/ml-reference.py OUT_DIR [--time N]   (scripts/ml-setup.sh makes the venv and
runs it). With --time N, also prints MediaPipe's CPU ms per mask (process CPU time over N
more calls of its own graph, pre- and post-processing included) for comparison with
`together segment --repeat N`.
"""
import time
import os
import sys

import numpy as np
from PIL import Image
from skimage import data
import mediapipe as mp


def main() -> None:
    args = sys.argv[1:]
    repeat = 0
    if "--time" in args:
        i = args.index("--time")
        repeat = int(args[i + 1])
        del args[i : i + 2]
    out = args[0] if args else "models/reference"
    os.makedirs(out, exist_ok=True)
    astronaut = data.astronaut()  # 512x512 RGB uint8
    # General model: the whole portrait scaled to 256x256.
    general = np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.BILINEAR))
    # Landscape model: the central 16:9 band (rows 112..400, face and shoulders) at 256x144.
    band = astronaut[112:400, :, :]
    landscape = np.asarray(Image.fromarray(band).resize((256, 144), Image.BILINEAR))
    for model_selection, name, rgb in ((0, "general", general), (1, "landscape", landscape)):
        h, w, _ = rgb.shape
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        Image.fromarray(rgb).save(os.path.join(out, f"astronaut_{w}x{h}.png"))
        with mp.solutions.selfie_segmentation.SelfieSegmentation(
            model_selection=model_selection
        ) as seg:
            mask = seg.process(rgb).segmentation_mask
            if repeat:
                start = time.process_time()
                for _ in range(repeat):
                    seg.process(rgb)
                ms = (time.process_time() - start) * 1000.0 / repeat
                print(f"ml-reference: mediapipe {name} {w}x{h} cpu_ms_per_mask={ms:.3f}")
        mask = np.asarray(mask, dtype="<f4")
        if mask.shape != (h, w):
            sys.exit(f"unexpected mask shape {mask.shape} for {name}, want {(h, w)}")
        mask.tofile(os.path.join(out, f"{name}_{w}x{h}.f32"))
        print(f"ml-reference: {name} {w}x{h} mean={mask.mean():.4f} person={np.mean(mask > 0.5):.3f}")


if __name__ == "__main__":
    main()
