"""Video tasks: keyframe tracks interpolated per frame, frames decoded once and cached.

``interpolation`` is pure; ``decode`` needs PyAV (``pip install 'ml-data[video]'``), imported on
first use; ``frames`` caches decoded frames by the video's content and frame number.
"""
