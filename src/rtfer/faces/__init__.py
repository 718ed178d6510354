"""Faces in real frames: detection, landmarks, alignment/cropping and tracking."""

from rtfer.faces.align import align, align_landmarks, crop_face, eye_angle, eye_centers
from rtfer.faces.detect import Face, FaceDetector, as_gray, detect_faces
from rtfer.faces.track import FaceTracker, iou, pick_subject

__all__ = [
    "Face", "FaceDetector", "FaceTracker", "align", "align_landmarks", "as_gray", "crop_face", "detect_faces",
    "eye_angle",
    "eye_centers", "iou", "pick_subject",
]
