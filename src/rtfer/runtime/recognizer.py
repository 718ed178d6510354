"""``EmotionRecognizer``: faces in an image or frame, each with emotion probabilities, label and valence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtfer.errors import DataError
from rtfer.faces import Face, FaceDetector, align
from rtfer.runtime.engine import load_engine
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.taxonomy import VALENCE3, group_valence, to_groups


@dataclass
class FaceEmotion:
    """One face and what the model reads in it."""

    face: Face
    probabilities: dict[str, float]
    label: str
    valence: float
    groups: dict[str, float]

    def to_dict(self) -> dict:
        x, y, w, h = self.face.box
        return {"box": [x, y, w, h], "track_id": self.face.track_id, "label": self.label,
                "valence": round(self.valence, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "groups": {k: round(v, 4) for k, v in self.groups.items()}}


class EmotionRecognizer:
    """Detect faces and classify their emotion, like ``fer.FER().detect_emotions``.

    >>> recognizer = EmotionRecognizer()                 # the shipped default model, ONNX Runtime
    >>> for result in recognizer.predict(frame_bgr):     # or a path to an image file
    ...     print(result.face.box, result.label, result.valence)
    """

    def __init__(self, weights: str | Path = DEFAULT_MODEL, backend: str = "auto",
                 detector: FaceDetector | None = None):
        self.engine = load_engine(weights, backend)
        self.meta = self.engine.meta
        self.labels = tuple(self.meta.labels)
        self.detector = detector or FaceDetector()

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        return align(frame, face, size=self.meta.input_size)

    def classify(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Probabilities (N, K) for face crops already at the model's input size."""
        crops = np.asarray(crops) if len(crops) else np.zeros((0, self.meta.input_size, self.meta.input_size))
        return self.engine.predict(crops)

    def results(self, faces: list[Face], probs: np.ndarray) -> list[FaceEmotion]:
        """Package faces with their probabilities, valence and group probabilities."""
        groups = to_groups(probs, self.labels) if len(probs) else probs
        values = group_valence(groups) if len(probs) else probs
        return [FaceEmotion(face, dict(zip(self.labels, map(float, p), strict=True)),
                            self.labels[int(np.argmax(p))], float(v),
                            dict(zip(VALENCE3.labels, map(float, g), strict=True)))
                for face, p, v, g in zip(faces, probs, values, groups, strict=True)]

    def predict(self, image: np.ndarray | str | Path, faces: list[Face] | None = None) -> list[FaceEmotion]:
        """Every face in ``image`` (largest first) with its emotion; ``[]`` when there is no face."""
        if isinstance(image, str | Path):
            path = Path(image)
            if not path.is_file():
                raise DataError(f"image not found: {path}")
            data = np.fromfile(path, dtype=np.uint8)
            decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
            if decoded is None:
                raise DataError(f"{path}: not a readable image")
            image = decoded
        faces = self.detector(image) if faces is None else faces
        if not faces:
            return []
        return self.results(faces, self.classify([self.crop(image, face) for face in faces]))
