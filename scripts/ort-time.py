#!/usr/bin/env python3
"""onnxruntime's own CPU time per mask on the ONNX model `together segment --onnx-out` writes.

The peer figure for the `ort` and `tract` backends: the same graph, the same shared library
(the PyPI onnxruntime wheel that scripts/ml-setup.sh installs into models/.venv), one
intra-op thread, run from Python. Process CPU time over N runs after one warm-up run.

Usage: models/.venv/bin/python scripts/ort-time.py MODEL.onnx IMAGE.png [N]
Prints: ort-time: onnxruntime VERSION WxH cpu_ms_per_mask=X
"""
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model, image = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    _, h, w, _ = sess.get_inputs()[0].shape
    rgb = np.asarray(Image.open(image).convert("RGB").resize((w, h), Image.BILINEAR))
    x = (rgb.astype(np.float32) / 255.0)[None, ...]
    sess.run(None, {"input": x})
    start = time.process_time()
    for _ in range(n):
        sess.run(None, {"input": x})
    ms = (time.process_time() - start) * 1000.0 / n
    print(f"ort-time: onnxruntime {ort.__version__} {w}x{h} cpu_ms_per_mask={ms:.3f}")


if __name__ == "__main__":
    main()
