from pathlib import Path

import numpy as np
import pytest

from shared.errors import DanceError
from shared.io.video import VideoWriter, probe_video, read_frames, write_video


def _gradient_frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    width, height = size
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    return [np.stack([x + 0 * y, y + 0 * x, np.full((height, width), 10.0 * i)], -1).astype(np.uint8) for i in range(count)]


@pytest.mark.parametrize("codecs, expected", [(("libx264", "mpeg4"), "libx264"), (("no-such-codec",), "mp4v")])
def test_write_then_read_round_trip(tmp_path: Path, codecs: tuple[str, ...], expected: str) -> None:
    frames = _gradient_frames(12, (64, 48))
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=25, size=(64, 48), codecs=codecs) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.codec == expected
    info = probe_video(path)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(25, rel=1e-3)
    decoded = list(read_frames(path))
    assert len(decoded) == 12
    assert np.abs(decoded[5].astype(int) - frames[5].astype(int)).mean() < 6
    assert not list(tmp_path.glob(".*partial*")), "the temporary file must be renamed away"


def test_file_appears_only_when_closed(tmp_path: Path) -> None:
    path = tmp_path / "late.mp4"
    writer = VideoWriter(path, fps=10, size=(32, 32))
    writer.write(np.zeros((32, 32, 3), np.uint8))
    assert not path.exists()
    writer.close()
    assert path.exists() and len(list(read_frames(path))) == 1


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    count = write_video(tmp_path / "odd.mp4", _gradient_frames(3, (33, 21)), fps=10)
    assert count == 3
    assert probe_video(tmp_path / "odd.mp4").size == (34, 22)


def test_max_frames(tmp_path: Path) -> None:
    write_video(tmp_path / "v.mp4", _gradient_frames(8, (32, 32)), fps=10)
    assert len(list(read_frames(tmp_path / "v.mp4", max_frames=3))) == 3


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DanceError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(DanceError, match="not a readable video"):
        probe_video(text)
    with pytest.raises(DanceError, match="folder"):
        probe_video(tmp_path)


def test_video_without_frames_is_refused(tmp_path: Path) -> None:
    import av

    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 32, 32
        container.start_encoding()  # writes the header: a real mp4 with a stream and no frames
    assert empty.stat().st_size > 0
    with pytest.raises(DanceError, match="no video frames"):
        probe_video(empty)


def test_a_writer_closed_without_a_frame_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    VideoWriter(path, 30.0, (64, 64)).close()
    assert list(tmp_path.iterdir()) == []
