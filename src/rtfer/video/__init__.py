"""RT-FER video analysis: sources, per-frame pipeline, smoothing, change points and the Timeline."""

from rtfer.video.analyze import analyze_video
from rtfer.video.changes import ChangePoint, OnlineChangeDetector, offline_change_points
from rtfer.video.smoothing import OneEuroFilter, ProbabilitySmoother
from rtfer.video.sources import VideoInfo, VideoSource
from rtfer.video.timeline import FrameResult, Timeline

__all__ = [
    "ChangePoint", "FrameResult", "OneEuroFilter", "OnlineChangeDetector", "ProbabilitySmoother", "Timeline",
    "VideoInfo", "VideoSource", "analyze_video", "offline_change_points",
]
