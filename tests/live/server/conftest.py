"""Fixtures for the server tests: a small copy of the real clip, a running server, HTTP helpers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.capture import LoopingVideoSource
from live.pipeline import PipelineConfig
from live.server.app import BackgroundServer, create_app
from live.server.session import SessionManager, SessionSettings
from shared.io.video import VideoWriter, read_frames

SMALL_WIDTH = 272  # the 1080x1920 clip scaled down: MediaPipe still finds the person, decoding stays cheap


@pytest.fixture(scope="session")
def small_clip(real_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real clip (a person dancing) at 272x484, 30 fps: 50 frames, played in a loop by the server."""
    path = tmp_path_factory.mktemp("server") / "small.mp4"
    frames = list(read_frames(real_clip))[::2]  # 60 fps -> 30 fps
    height = round(frames[0].shape[0] * SMALL_WIDTH / frames[0].shape[1] / 2) * 2
    writer = VideoWriter(path, 30.0, (SMALL_WIDTH, height))
    for frame in frames:
        writer.write(cv2.resize(frame, (SMALL_WIDTH, height), interpolation=cv2.INTER_AREA))
    writer.close()
    return path


@pytest.fixture(scope="session")
def clip_rgb(small_clip: Path) -> list[np.ndarray]:
    return list(read_frames(small_clip))


@dataclass
class Running:
    url: str
    manager: SessionManager
    server: BackgroundServer


def start_server(engine, source: Path | None, max_peers: int = 2, token: str | None = None,  # noqa: ANN001
                 max_body: int | None = None, soundtrack: bool = False) -> Running:
    """A server on a free port (port 0), its own source looped when given (its audio sent to
    viewers with `soundtrack`, as `dance-live --serve --source` does)."""
    settings = SessionSettings(max_peers=max_peers, pipeline=PipelineConfig(),
                               soundtrack=source if soundtrack else None)
    open_source = (lambda: LoopingVideoSource(source)) if source is not None else None
    manager = SessionManager(engine, settings, open_source, log=lambda _: None)
    app = create_app(manager, token) if max_body is None else create_app(manager, token, max_body)
    server = BackgroundServer(app)
    return Running(server.start(), manager, server)


@pytest.fixture(scope="module")
def served(tiny_engine, small_clip: Path) -> Iterator[Running]:  # noqa: ANN001
    """The tiny engine served with the small clip as the server's own source, 2 peers at most."""
    tiny_engine.set_plate(None)
    running = start_server(tiny_engine, small_clip, max_peers=2)
    try:
        yield running
    finally:
        running.server.stop()


def http(method: str, url: str, body: bytes | str | dict | list | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict | str]:
    """One request; (status, JSON body or text), for error statuses too."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


SOUND_TONE_AT = 0.8  # the sound clip's tone starts this far into each loop


@pytest.fixture(scope="session")
def sound_clip(clip_rgb: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small clip with a soundtrack: silence, then a 440 Hz tone from 0.8 s to its end (1.67 s)."""
    from tests.tone_video import write_tone_video

    return write_tone_video(tmp_path_factory.mktemp("sound") / "sound.mp4", clip_rgb, 30.0, tone_at=SOUND_TONE_AT)


@pytest.fixture(scope="module")
def served_with_sound(tiny_engine, sound_clip: Path) -> Iterator[Running]:  # noqa: ANN001
    """A server playing the tone clip with its soundtrack (one per test module)."""
    tiny_engine.set_plate(None)
    running = start_server(tiny_engine, sound_clip, max_peers=2, soundtrack=True)
    try:
        yield running
    finally:
        running.server.stop()
