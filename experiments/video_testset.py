"""A small video test set from the shared clips, for ``rtfer evaluate-video`` (issue 14).

    python experiments/video_testset.py --out /tmp/video-testset
    rtfer evaluate-video /tmp/video-testset [--baseline-from neutral] [--json]

Stretches of one expression, chosen by looking at the frames, are written as frame folders (25 or 30 fps as
in the clip) under ``<emotion>/``. Five clips from three people; no training faces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

#: (clip, start s, end s, emotion)
STRETCHES = [("liveportrait_driving_d0", 0.0, 0.7, "neutral"), ("liveportrait_driving_d0", 1.0, 2.5, "happy"),
             ("liveportrait_driving_d18", 0.0, 2.0, "neutral"), ("liveportrait_driving_d18", 2.2, 3.0, "surprise"),
             ("liveportrait_source_s18", 0.0, 9.4, "neutral")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for clip, start, stop, emotion in STRETCHES:
        capture = cv2.VideoCapture(str(args.shared / "media" / "videos" / f"{clip}.mp4"))
        fps = capture.get(cv2.CAP_PROP_FPS)
        folder = args.out / emotion / f"{clip.removeprefix('liveportrait_')}_{start:g}-{stop:g}s"
        folder.mkdir(parents=True, exist_ok=True)
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok or index / fps > stop:
                break
            if index / fps >= start:
                cv2.imwrite(str(folder / f"{index:05d}.png"), frame)
            index += 1


if __name__ == "__main__":
    main()
