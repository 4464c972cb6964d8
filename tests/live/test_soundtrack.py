"""`dance-live --source VIDEO -o OUT`: the output keeps the source's soundtrack, in step with its frames."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from live import cli
from shared.io.audio import SourceAudio, read_audio
from shared.io.video import read_frames
from shared.synthetic.body import SOURCE_BODY
from shared.synthetic.dancer import render_dance
from tests.tone_video import TONE_HZ, dominant_hz, tone_onset, write_tone_video

FPS = 30.0
TONE_AT = 0.8  # seconds into the source



@pytest.fixture(scope="module")
def dancer_with_music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s of the synthetic source dancer; silence, then a 440 Hz tone from 0.8 s."""
    frames, _ = render_dance(SOURCE_BODY, 45, (256, 256), FPS, seed=1)
    return write_tone_video(tmp_path_factory.mktemp("tone") / "dancer.mp4", frames, FPS, tone_at=TONE_AT)


def _durations(path: Path) -> tuple[float, float | None]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        video_s = float(video.duration * video.time_base)
        return video_s, None if audio is None else float(audio.duration * audio.time_base)


@pytest.mark.parametrize("pace", [[], ["--realtime"]], ids=["as-fast-as-possible", "realtime"])
def test_the_output_keeps_the_source_soundtrack_in_step(in_project: Path, dancer_with_music: Path, pace: list[str]) -> None:
    ran = CliRunner().invoke(cli.main, ["--source", str(dancer_with_music), "-o", "me.mp4", *pace])
    assert ran.exit_code == 0, ran.output
    video_s, audio_s = _durations(Path("me.mp4"))
    assert audio_s is not None, "the output has an audio stream"
    assert abs(audio_s - video_s) <= 0.1
    if not pace:
        assert len(list(read_frames("me.mp4"))) == 45 and video_s == pytest.approx(1.5, abs=0.01)
    pcm = read_audio(SourceAudio(Path("me.mp4")), video_s, rate=48000)
    assert tone_onset(pcm, 48000) == pytest.approx(TONE_AT, abs=1 / FPS)  # within one frame
    assert dominant_hz(pcm[int(0.9 * 48000) : int(1.4 * 48000)], 48000) == pytest.approx(TONE_HZ, abs=3)


def test_a_source_without_audio_gives_video_only(in_project: Path, synthetic_video: Path) -> None:
    ran = CliRunner().invoke(cli.main, ["--source", str(synthetic_video), "--max-frames", "5", "-o", "quiet.mp4"])
    assert ran.exit_code == 0, ran.output
    assert _durations(Path("quiet.mp4"))[1] is None
    assert "audio" not in ran.output.lower() and "sound" not in ran.output.lower()
