"""``EmotionRecognizer``: faces in an image or frame, each with emotion probabilities, label and valence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtfer.errors import DataError
from rtfer.faces import Face, FaceDetector, crop_face
from rtfer.models import model_spec
from rtfer.runtime.engine import load_engine
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.taxonomy import VALENCE3, to_groups, valence


@dataclass
class FaceEmotion:
    """One face and what the model reads in it."""

    face: Face
    probabilities: dict[str, float]
    label: str
    valence: float
    groups: dict[str, float]
    intensity: dict[str, float] | None = None

    def to_dict(self) -> dict:
        x, y, w, h = self.face.box
        return {"box": [x, y, w, h], "track_id": self.face.track_id, "label": self.label,
                "valence": round(self.valence, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "groups": {k: round(v, 4) for k, v in self.groups.items()},
                "intensity": None if self.intensity is None else {k: round(v, 4) for k, v in self.intensity.items()}}


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
        self.alignment = model_spec(self.meta.model).alignment
        self.has_intensity = self.engine.has_intensity
        self.detector = detector or FaceDetector()

    @property
    def landmarks_needed(self) -> int:
        """Landmarks the crop needs: 68 for the landmark crop, else the 5 that level the eyes."""
        return 68 if self.alignment == "landmarks68" else 5

    def crop(self, frame: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(frame, face, self.meta.input_size, self.alignment)

    def classify(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Probabilities (N, K) for face crops already at the model's input size."""
        return self.classify_with_intensity(crops)[0]

    def classify_with_intensity(self, crops: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities (N, K) and, when the model has the head, intensities (N, K) in [0, 1]."""
        crops = np.asarray(crops) if len(crops) else np.zeros((0, self.meta.input_size, self.meta.input_size))
        return self.engine.predict_with_intensity(crops)

    def results(self, faces: list[Face], probs: np.ndarray, intensity: np.ndarray | None = None
                ) -> list[FaceEmotion]:
        """Package faces with their probabilities, valence, group probabilities and intensities."""
        groups = to_groups(probs, self.labels) if len(probs) else probs
        values = valence(probs, self.labels) if len(probs) else probs
        levels = intensity if intensity is not None else [None] * len(faces)
        return [FaceEmotion(face, dict(zip(self.labels, map(float, p), strict=True)),
                            self.labels[int(np.argmax(p))], float(v),
                            dict(zip(VALENCE3.labels, map(float, g), strict=True)),
                            None if i is None else dict(zip(self.labels, map(float, i), strict=True)))
                for face, p, v, g, i in zip(faces, probs, values, groups, levels, strict=True)]

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
        return self.results(faces, *self.classify_with_intensity([self.crop(image, face) for face in faces]))
