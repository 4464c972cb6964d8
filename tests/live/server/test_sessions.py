"""End to end with a Python WebRTC client: viewers, mirrors, both codecs, the peer limit, a killed peer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import aioice.ice
import numpy as np
import pytest
from av import VideoFrame

from live.server.client import LoopTrack, ServerRefused, connect
from tests.live.server.conftest import Running, http

ENGINE_SIZE = (256, 256)  # the tiny preset
RECV_TIMEOUT = 20.0


async def _receive(track, count: int) -> list[VideoFrame]:  # noqa: ANN001 - a MediaStreamTrack
    return [await asyncio.wait_for(track.recv(), RECV_TIMEOUT) for _ in range(count)]


def _wait_for(condition, timeout: float, step: float = 0.1) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _viewer_pipelines() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "viewer-pipeline" and t.is_alive())


def test_a_viewer_receives_the_puppeteered_source_at_the_engine_size_with_increasing_pts(served: Running) -> None:
    async def watch() -> tuple[list[VideoFrame], str | None, dict]:
        async with await connect(served.url, "viewer") as peer:
            frames = await _receive(peer.track, 30)
            return frames, peer.codec, served.manager.stats(peer.session)

    frames, codec, session = asyncio.run(watch())
    assert codec == "VP8"  # the default
    assert all((f.width, f.height) == ENGINE_SIZE for f in frames)
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert session["kind"] == "viewer" and session["stats"]["frames_out"] >= 30 and session["stats"]["poses_found"] > 0
    # the viewer left: its session is closed and, with nobody watching, the shared pipeline stops
    assert _wait_for(lambda: served.manager.peers == 0 and _viewer_pipelines() == 0, 10)


def test_a_viewer_can_ask_for_h264(served: Running) -> None:
    async def watch() -> tuple[list[VideoFrame], str | None]:
        async with await connect(served.url, "viewer", codec="h264") as peer:
            return await _receive(peer.track, 10), peer.codec

    frames, codec = asyncio.run(watch())
    assert codec == "H264"
    assert all((f.width, f.height) == ENGINE_SIZE for f in frames)


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_a_mirror_sends_its_camera_and_gets_puppeteered_frames_back(served: Running, clip_rgb: list[np.ndarray], codec: str) -> None:
    async def mirror() -> tuple[list[VideoFrame], str | None, dict]:
        async with await connect(served.url, "mirror", send=LoopTrack(clip_rgb), codec=codec) as peer:
            frames = await _receive(peer.track, 15)
            return frames, peer.codec, served.manager.stats(peer.session)

    frames, negotiated, session = asyncio.run(mirror())
    assert negotiated == codec.upper()
    assert all((f.width, f.height) == ENGINE_SIZE for f in frames)  # the engine's output, not the camera coming back
    height, width = clip_rgb[0].shape[:2]
    assert session["kind"] == "mirror" and session["source_size"] == (width, height)
    assert session["frames_received"] > 0
    assert session["stats"]["frames_out"] >= 15 and session["stats"]["poses_found"] > 0  # it found the person we sent
    assert _viewer_pipelines() == 0  # a mirror does not start the server's own source
    assert _wait_for(lambda: served.manager.peers == 0, 10)


def test_viewers_share_one_pipeline_one_peer_too_many_is_503_and_a_killed_viewer_leaves_the_other_playing(
    served: Running, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.3)  # notice a vanished peer in ~2 s, not ~30 s
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    victim = subprocess.Popen(
        [sys.executable, "-m", "live.server.client", served.url, "--seconds", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        async def scenario() -> tuple[int, int, int]:
            async with await connect(served.url, "viewer") as survivor:
                await _receive(survivor.track, 5)
                loop = asyncio.get_running_loop()
                line = await asyncio.wait_for(loop.run_in_executor(None, victim.stdout.readline), 60)
                assert line.startswith("session "), line  # the other viewer is connected...
                line = await asyncio.wait_for(loop.run_in_executor(None, victim.stdout.readline), 30)
                assert "frames" in line, line  # ...and playing
                assert served.manager.peers == 2 and _viewer_pipelines() == 1  # two viewers, one pipeline
                with pytest.raises(ServerRefused) as refused:
                    await connect(served.url, "viewer")
                assert refused.value.status == 503 and "peer slots" in refused.value.message

                victim.send_signal(signal.SIGKILL)  # gone without a goodbye
                victim.wait(10)
                after_kill = await _receive(survivor.track, 20)
                status, _ = await loop.run_in_executor(None, http, "GET", served.url + "stats")
                deadline = loop.time() + 15
                while served.manager.peers > 1 and loop.time() < deadline:
                    await _receive(survivor.track, 1)  # keep playing while the server notices
                peers = served.manager.peers
                more = await _receive(survivor.track, 5)
                return len(after_kill) + len(more), status, peers

        received, status, peers = asyncio.run(scenario())
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait()
    assert received == 25 and status == 200
    assert peers == 1  # the killed viewer's session was cleaned up; the survivor's is intact
    assert _wait_for(lambda: served.manager.peers == 0, 10)
