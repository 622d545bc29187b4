"""Video tasks: keyframe tracks interpolated per frame, frames decoded once and cached.

``interpolation`` is pure; ``decode`` needs PyAV (``pip install 'ml-data[video]'``), imported on
first use; ``frame_cache`` keeps decoded frames in the shared cache by the video's content and
frame number. :func:`frames` is the entry point for an ML backend that predicts on video frames.
"""

from ml_data.video.decode import VideoInfo
from ml_data.video.frame_cache import FrameCache, frames

__all__ = ["FrameCache", "VideoInfo", "frames"]
