"""Which face crop suits the FER2013-trained models best on whole photos? (issue 4)

    python benchmarks/crop_strategies.py --weights RUN_OR_NAME [--data ../shared/datasets/faces-in-the-wild]

Detects the largest face in every photo once, then scores the model on the same photos with each crop
strategy. The labels are noisy, so only the differences between strategies mean something.
Writes a JSON report with --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtfer.data.readers import decode_gray, scan_emotion_folders
from rtfer.evaluation.metrics import classification_report
from rtfer.faces import FaceDetector, align, align_landmarks
from rtfer.faces.photos import detect_in_photo
from rtfer.runtime.predict import predict_probs
from rtfer.runtime.torch_weights import load_model


def strategies(size: int) -> dict:
    def resize(photo, face):
        import cv2

        return cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)

    table = {"whole photo (no detection)": resize}
    for margin in (0.1, 0.3, 0.5):
        table[f"square, margin {margin}, unaligned"] = \
            lambda p, f, m=margin: align(p, f, size=size, rotate=False, margin=m)
        table[f"square, margin {margin}, eyes levelled"] = lambda p, f, m=margin: align(p, f, size=size, margin=m)
    table["68-landmark crop (seed 2 rule)"] = lambda p, f: align_landmarks(p, f.landmarks, size=size)
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", default="../shared/datasets/faces-in-the-wild")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model, meta = load_model(args.weights)
    detector = FaceDetector()
    photos, faces, labels, no_face = [], [], [], 0
    for name, files in scan_emotion_folders(Path(args.data)).items():
        if name not in meta.labels:
            continue
        for path in tqdm(files, desc=name, leave=False):
            photo = decode_gray(path, None)
            found = detect_in_photo(photo, detector) if photo is not None else []
            if not found:
                no_face += 1
                continue
            photos.append(photo)
            faces.append(found[0])
            labels.append(meta.labels.index(name))
    labels = np.array(labels)
    results = {"weights": str(args.weights), "photos_with_face": len(photos), "photos_without_face": no_face,
               "strategies": {}}
    for name, crop in strategies(meta.input_size).items():
        crops = np.stack([crop(p, f) for p, f in zip(photos, faces, strict=True)])
        report = classification_report(labels, predict_probs(model, meta, crops).argmax(1), meta.labels)
        results["strategies"][name] = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
    print(f"{len(photos)} photos with a face ({no_face} without), model {args.weights}")
    print("| crop | accuracy | macro-F1 |\n|---|---|---|")
    for name, scores in results["strategies"].items():
        print(f"| {name} | {scores['accuracy']:.4f} | {scores['macro_f1']:.4f} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
