"""RT-FER video analysis: sources, per-frame pipeline, smoothing, change points and the Timeline."""

from rtfer.video.analyze import analyze_video
from rtfer.video.changes import ChangeDetector, ChangePoint, detect_changes
from rtfer.video.scoring import SubjectScorer
from rtfer.video.smoothing import ExponentialSmoother, LabelHysteresis
from rtfer.video.sources import VideoInfo, VideoSource
from rtfer.video.timeline import FrameResult, Timeline

__all__ = [
    "ChangeDetector", "ChangePoint", "ExponentialSmoother", "FrameResult", "LabelHysteresis", "SubjectScorer",
    "Timeline", "VideoInfo", "VideoSource", "analyze_video", "detect_changes",
]
