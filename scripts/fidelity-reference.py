#!/usr/bin/env python3
"""MediaPipe's own selfie masks of every frame of the real-footage clips (issue 15's fidelity).

For each clip in CLIPS_DIR/clips.json (scripts/make-clips.sh), decodes the Y4M clip to RGB with
FFmpeg (BT.601 limited range, as the clips are tagged; bilinear chroma) and runs MediaPipe's
legacy SelfieSegmentation solution (mediapipe==0.10.21, model_selection=0: the general
256x256 model; its graph stretches the whole frame to 256x256 and scales the mask back to the
frame's size) on every frame. Writes OUT_DIR/<clip>.f32: the probability maps at the clip's
size, row-major little-endian f32, frame after frame. A clip whose output is newer than its
Y4M is skipped. Nothing here is committed (footage/ is git-ignored).

Usage: scripts/fidelity-reference.py [CLIPS_DIR [OUT_DIR]]
       (defaults footage/clips and footage/reference; run with models/.venv/bin/python, which
       scripts/ml-setup.sh makes)
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import mediapipe as mp


def frames_rgb(path: str, w: int, h: int) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path,
         "-sws_flags", "bilinear+accurate_rnd+full_chroma_int",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, stdout=subprocess.PIPE).stdout
    n = len(raw) // (w * h * 3)
    return np.frombuffer(raw[: n * w * h * 3], dtype=np.uint8).reshape(n, h, w, 3)


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    clips_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "footage", "clips")
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "footage", "reference")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(clips_dir, "clips.json")) as f:
        clips = json.load(f)["clips"]
    for clip in clips:
        src = os.path.join(clips_dir, clip["file"])
        dst = os.path.join(out_dir, clip["name"] + ".f32")
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            print(f"fidelity-reference: {clip['name']}: up to date")
            continue
        t0 = time.time()
        w, h = clip["width"], clip["height"]
        rgb = frames_rgb(src, w, h)
        if len(rgb) != clip["frames"]:
            sys.exit(f"{src}: {len(rgb)} frames, clips.json says {clip['frames']}")
        masks = np.empty((len(rgb), h, w), dtype="<f4")
        with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
            for i, frame in enumerate(rgb):
                mask = seg.process(np.ascontiguousarray(frame)).segmentation_mask
                if mask.shape != (h, w):
                    sys.exit(f"{clip['name']} frame {i}: mask {mask.shape}, want {(h, w)}")
                masks[i] = mask
        tmp = dst + ".tmp"
        masks.tofile(tmp)
        os.replace(tmp, dst)
        print(f"fidelity-reference: {clip['name']}: {len(rgb)} frames {w}x{h}, "
              f"person {np.mean(masks > 0.5):.3f} of the pixels, {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
