"""Viewers hear the server's file source: its audio as a WebRTC track, in step with the video."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from live.capture import Frame
from live.pipeline import OutputFrame
from live.server.client import LoopTrack, connect
from live.server.soundtrack import PACKET_SAMPLES, SAMPLE_RATE, SoundtrackTrack, wants_audio
from live.slots import LatestFrame
from tests.live.server.conftest import Running
from tests.tone_video import TONE_HZ, dominant_hz

FPS = 30.0
STEP = 16  # the ramp below: sample i of the loop holds i // STEP, so each packet says where it was cut


def _output(media_time: float) -> OutputFrame:
    image = np.zeros((8, 8, 3), np.uint8)
    return OutputFrame(image, Frame(image, round(media_time * FPS), media_time, time.perf_counter()), image, False, True, False)


def test_the_audio_follows_the_video_clock_over_drops_stalls_and_loops() -> None:
    """A paced 1 s loop published at 30 fps with dropped frames and a 0.3 s stall of the
    generator: every audio packet is cut where the video is at that moment (within a frame),
    through two wraps of the loop, without a single jump after the first placement."""
    loop = np.repeat((np.arange(SAMPLE_RATE) // STEP).astype(np.int16)[:, None], 2, axis=1)

    async def scenario() -> tuple[list[tuple[float, int]], SoundtrackTrack, list[tuple[float, float]]]:
        handoff: LatestFrame[OutputFrame] = LatestFrame()
        track = SoundtrackTrack(loop, handoff)
        published: list[tuple[float, float]] = []  # (when, media time)

        async def publish() -> None:
            start = time.perf_counter()
            for index in range(int(2.6 * FPS)):
                await asyncio.sleep(max(0.0, start + index / FPS - time.perf_counter()))
                stalled = 1.0 <= index / FPS < 1.3
                if index % 4 == 3 or stalled:  # frames dropped, and the generator stalled
                    continue
                handoff.publish(_output(index / FPS))
                published.append((time.perf_counter(), index / FPS))
            handoff.close()

        played: list[tuple[float, int]] = []
        task = asyncio.ensure_future(publish())
        try:
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().reshape(-1, 2)
                assert len(samples) == PACKET_SAMPLES and frame.sample_rate == SAMPLE_RATE
                played.append((time.perf_counter(), int(samples[0, 0]) * STEP))
        except MediaStreamError:
            pass
        await task
        return played, track, published

    played, track, published = asyncio.run(scenario())
    assert track.readyState == "ended" and len(played) > 100
    errors = []
    for when, position in played:
        before = [media + when - at for at, media in published if at <= when]
        if before:  # the video's media time now: the newest frame's, plus the time since it came
            expected = round(before[-1] * SAMPLE_RATE) % SAMPLE_RATE
            off = min((position - expected) % SAMPLE_RATE, (expected - position) % SAMPLE_RATE)
            errors.append(off / SAMPLE_RATE)
    assert max(errors) < 1 / FPS, max(errors)
    assert track.resyncs == 1


def test_offers_that_can_receive_audio() -> None:
    def offer(direction: str) -> str:
        return ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                f"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na={direction}\r\na=rtpmap:111 opus/48000/2\r\n")

    assert wants_audio(offer("recvonly")) and wants_audio(offer("sendrecv"))
    assert not wants_audio(offer("sendonly")) and not wants_audio(offer("inactive")) and not wants_audio("garbage")



def test_a_viewer_hears_the_source_and_a_mirror_gets_no_audio(served_with_sound: Running, clip_rgb: list) -> None:
    async def scenario() -> tuple[np.ndarray, int, bool]:
        async with await connect(served_with_sound.url, "viewer", audio=True) as viewer:
            assert viewer.audio is not None and viewer.audio.kind == "audio"
            chunks, video = [], 0

            async def watch() -> None:
                nonlocal video
                while True:
                    await viewer.track.recv()
                    video += 1

            watching = asyncio.ensure_future(watch())
            start = time.monotonic()
            while time.monotonic() - start < 4.0:
                frame = await asyncio.wait_for(viewer.audio.recv(), 10)
                chunks.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
                rate = frame.sample_rate
            watching.cancel()
        assert rate == SAMPLE_RATE
        async with await connect(served_with_sound.url, "mirror", send=LoopTrack(clip_rgb[:5]), audio=True) as mirror:
            await asyncio.wait_for(mirror.track.recv(), 30)  # connected, and puppeteered
            mirror_audio = mirror.audio is not None
        return np.concatenate(chunks).astype(np.float32) / 32768, video, mirror_audio

    audio, video_frames, mirror_audio = asyncio.run(scenario())
    assert video_frames > 10  # the video kept coming beside the audio (not a speed test: the machine is shared)
    assert not mirror_audio, "a mirror (the browser's own camera) gets no audio back"
    windows = audio[: len(audio) // 4800 * 4800].reshape(-1, 4800)  # 0.1 s each
    loud = np.abs(windows).max(axis=1) > 0.1
    assert loud.any() and (~loud).any(), "both the tone and the silence before it are heard"
    assert 0.3 < loud.mean() < 0.7  # the tone fills 0.87 s of each 1.67 s loop (from 0.8 s on)
    pitch = np.median([dominant_hz(window, SAMPLE_RATE) for window in windows[loud]])  # a lost packet may blur one
    assert pitch == pytest.approx(TONE_HZ, abs=12)
