"""Model cost: parameters, size, FLOPs per face and CPU latency per face (ONNX Runtime float32 and, when the
model ships one, its 8-bit graph; PyTorch), and the per-face cost of the test-time views of ``rtfer
evaluate --tta`` (mirror, ten crops; float32 ONNX, batches of 64 faces as evaluate runs them).

    python benchmarks/bench_model.py --weights msfernet-fer2013-7 --out docs/results/model_cost.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rtfer.evaluation.evaluate import engine_probs
from rtfer.runtime.engine import load_engine
from rtfer.runtime.quantize import int8_path
from rtfer.runtime.torch_weights import load_model
from rtfer.runtime.weights import resolve_weights


def per_face_ms(predict, faces: np.ndarray, repeats: int = 20) -> float:
    predict(faces)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            predict(faces)
        best = min(best, (time.perf_counter() - start) / repeats / len(faces) * 1000)
    return round(best, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default="msfernet-fer2013-7")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model, meta = load_model(args.weights)
    size = meta.input_size
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, meta.in_chans, size, size))
    result = {
        "weights": str(args.weights), "model": meta.model, "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "gflops_per_face": round(counter.get_total_flops() / 1e9, 4),
        "file_mb": round(resolve_weights(args.weights).stat().st_size / 1e6, 2),
        "fp32_mb": round(sum(p.numel() for p in model.state_dict().values()) * 4 / 1e6, 2),
    }
    faces = np.random.default_rng(0).integers(0, 256, (64, size, size), dtype=np.uint8)
    int8 = int8_path(resolve_weights(args.weights))
    if int8.is_file():
        result["int8_onnx_mb"] = round(int8.stat().st_size / 1e6, 2)
    for backend in ("onnx", "torch", *(["onnx-int8"] if int8.is_file() else [])):
        engine = load_engine(args.weights, backend)
        result[f"{backend}_ms_per_face_batch1"] = per_face_ms(engine.predict, faces[:1], repeats=100)
        result[f"{backend}_ms_per_face_batch64"] = per_face_ms(engine.predict, faces)
    engine = load_engine(args.weights, "onnx")
    for tta in ("flip", "crops"):
        result[f"onnx_ms_per_face_batch64_tta_{tta}"] = per_face_ms(
            lambda batch, tta=tta: engine_probs(engine, batch, tta=tta, batch_size=64), faces, repeats=5)
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
