"""`--background`: a picture, or a video played in a loop, to composite the puppet over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from shared.errors import DanceError
from shared.io.images import check_picture
from shared.io.video import probe_video, read_frames


class Background:
    """Yields the plate for each output frame; None means "the same as before" (no work to do)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DanceError(f"{self.path}: no such background picture or video")
        check_picture(self.path)  # OpenCV shows a JPEG cut short as a half-grey picture
        bgr = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        self._image = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._frames: Iterator[np.ndarray] | None = None
        self._sent = False
        if self._image is None:
            try:
                probe_video(self.path)
            except DanceError:
                raise DanceError(f"{self.path}: --background must be a picture or a video") from None
            self._frames = read_frames(self.path)

    @property
    def is_video(self) -> bool:
        return self._image is None

    def next(self) -> np.ndarray | None:
        if self._image is not None:
            if self._sent:
                return None
            self._sent = True
            return self._image
        assert self._frames is not None
        frame = next(self._frames, None)
        if frame is None:  # loop the video
            self._frames = read_frames(self.path)
            frame = next(self._frames, None)
        return frame

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()
