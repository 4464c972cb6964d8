"""A source's soundtrack: spans cut on the video's clock, and muxed beside written frames."""

from pathlib import Path

import av
import numpy as np
import pytest

from shared.io.audio import SourceAudio, audio_chunks, probe_audio, read_audio
from shared.io.video import VideoWriter, probe_video, read_frames, write_video
from tests.tone_video import TONE_HZ, dominant_hz, tone_onset, write_tone_video

FPS = 30.0
FRAME_S = 1 / FPS


def _frames(count: int) -> np.ndarray:
    return np.stack([np.full((48, 64, 3), (7 * i) % 250, np.uint8) for i in range(count)])


@pytest.fixture
def tone_video(tmp_path: Path) -> Path:
    """2 s of video, the tone from 0.7 s."""
    return write_tone_video(tmp_path / "tone.mp4", _frames(60), FPS, tone_at=0.7)


def test_probe_tells_audio_from_none(tone_video: Path, tmp_path: Path) -> None:
    info = probe_audio(tone_video)
    assert info is not None and (info.sample_rate, info.channels) == (44100, 2)
    silent = tmp_path / "silent.mp4"
    write_video(silent, _frames(5), FPS)
    assert probe_audio(silent) is None
    assert read_audio(SourceAudio(silent), 1.0) is None and list(audio_chunks(SourceAudio(silent), 1.0, 48000)) == []
    assert probe_audio(tmp_path / "missing.mp4") is None


@pytest.mark.parametrize("start", [0.0, 0.4, 1.2])
def test_a_span_starts_at_its_media_time_and_lasts_exactly(tone_video: Path, start: float) -> None:
    pcm = read_audio(SourceAudio(tone_video, start), 1.0, rate=48000)
    assert pcm.shape == (48000, 2) and pcm.dtype == np.float32
    assert tone_onset(pcm, 48000) == pytest.approx(max(0.7 - start, 0.0), abs=0.002)
    assert dominant_hz(pcm[-24000:], 48000) == pytest.approx(TONE_HZ, abs=3)
    chunks = list(audio_chunks(SourceAudio(tone_video, start), 1.0, 48000, "mono"))
    assert all(len(c) <= 1024 and c.shape[1] == 1 for c in chunks) and sum(map(len, chunks)) == 48000


def test_silence_fills_where_the_soundtrack_is_missing(tmp_path: Path) -> None:
    """Audio that starts 0.5 s after the first frame and stops at 1.2 s: the span still lines up
    with the video and has its full length."""
    path = write_tone_video(tmp_path / "late.mp4", _frames(60), FPS, tone_at=0.7, audio_delay=0.5, audio_seconds=0.7)
    pcm = read_audio(SourceAudio(path, 0.0), 2.0, rate=48000)
    assert pcm.shape == (96000, 2)
    assert tone_onset(pcm, 48000) == pytest.approx(0.7, abs=FRAME_S)
    assert np.abs(pcm[int(1.3 * 48000):]).max() < 0.01  # after the soundtrack ended: silence


def test_the_writer_muxes_the_soundtrack_cut_to_its_frames(tone_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    writer = VideoWriter(out, FPS, (64, 48))
    for frame in _frames(30):  # 1 s of video, from 0.5 s of the source
        writer.write(frame)
    writer.close(SourceAudio(tone_video, 0.5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "tone.mp4"]  # no partial file left
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        video_s = float(video.duration * video.time_base)
        audio_s = float(audio.duration * audio.time_base)
    assert video_s == pytest.approx(1.0, abs=0.01) and audio_s == pytest.approx(video_s, abs=0.1)
    assert len(list(read_frames(out))) == 30 and probe_video(out).size == (64, 48)
    pcm = read_audio(SourceAudio(out), 1.0, rate=44100)
    assert tone_onset(pcm, 44100) == pytest.approx(0.2, abs=FRAME_S)


def test_a_source_without_audio_gives_video_only(tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    write_video(silent, _frames(5), FPS)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, FPS, (64, 48)) as writer:
        writer.write(_frames(1)[0])
    writer.close(SourceAudio(silent))  # closed already: nothing happens
    writer = VideoWriter(out, FPS, (64, 48))
    writer.write(_frames(1)[0])
    writer.close(SourceAudio(silent))
    with av.open(str(out)) as container:
        assert len(container.streams.video) == 1 and not container.streams.audio
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "silent.mp4"]
