#!/usr/bin/env python3
"""Measures framing (issue 16) with MediaPipe's face detector on the composite.

Reads the output of `cargo run --example framing -- MODE OUT.png` (on stdin, or the file given
as the second argument) for the seats' rectangles, and OUT.png (the first argument). For each
seat it runs `mp.solutions.face_detection` (short range) on the seat's crop upscaled 4x (the
short-range detector misses small faces in a whole 1080p frame) and reports: face found, face
height as a fraction of the seat's height, the face centre's horizontal offset from the seat's
centre (fraction of the seat's width), and whether the face box reaches the seat's top edge
(head cut). Then the spread of face heights (largest / smallest; target <= 1.25) and the worst
offset (target <= 0.10).

    models/.venv/bin/python scripts/measure-framing.py target/framing.png < report.txt

With `--json` (after the file arguments) it also prints, as its last line, `JSON ` and one
object: `seats` (per seat: `name`, `found`, and when found `height`, `offset`, `top`, `cut`,
`score`), `found`, `spread` and `worst_offset` (null without faces); tests/framing_faces.rs
reads it.
"""
import json
import re
import sys

import cv2
import mediapipe as mp

UPSCALE = 4


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    as_json = "--json" in sys.argv[1:]
    png = args[0]
    report = open(args[1]).read() if len(args) > 1 else sys.stdin.read()
    image = cv2.imread(png)
    seats = re.findall(r"^(\w+): seat=\d+ rect=(\d+),(\d+),(\d+),(\d+)", report, re.M)
    heights, offsets, found, rows = [], [], 0, []
    with mp.solutions.face_detection.FaceDetection(
        model_selection=0, min_detection_confidence=0.5
    ) as det:
        for name, x, y, w, h in seats:
            x, y, w, h = map(int, (x, y, w, h))
            crop = image[y : y + h, x : x + w]
            big = cv2.resize(crop, (w * UPSCALE, h * UPSCALE), interpolation=cv2.INTER_CUBIC)
            res = det.process(cv2.cvtColor(big, cv2.COLOR_BGR2RGB))
            if not res.detections:
                print(f"{name}: no face")
                rows.append({"name": name, "found": False})
                continue
            best = max(res.detections, key=lambda d: d.score[0])
            box = best.location_data.relative_bounding_box
            found += 1
            fh = box.height
            off = box.xmin + box.width / 2 - 0.5
            cut = box.ymin <= 0.0
            rows.append(
                {
                    "name": name,
                    "found": True,
                    "height": fh,
                    "offset": off,
                    "top": box.ymin,
                    "cut": cut,
                    "score": best.score[0],
                }
            )
            heights.append(fh)
            offsets.append(abs(off))
            print(
                f"{name}: face height {fh:.3f} of the seat, offset {off:+.3f} of its width,"
                f" top {box.ymin:.3f}{' CUT' if cut else ''} (score {best.score[0]:.2f})"
            )
    spread = max(heights) / min(heights) if heights else float("nan")
    worst = max(offsets) if offsets else float("nan")
    print(
        f"faces found {found}/{len(seats)}; spread {spread:.2f} (target <= 1.25);"
        f" worst offset {worst:.3f} (target <= 0.10)"
    )
    if as_json:
        summary = {
            "seats": rows,
            "found": found,
            "spread": spread if heights else None,
            "worst_offset": worst if offsets else None,
        }
        print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
