"""A JPEG cut short is told (OpenCV would decode it half grey); complete pictures of every JPEG
flavour pass, and anything that is not a JPEG is left to its reader."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from shared.errors import DanceError
from shared.io.images import check_picture, jpeg_cut_short
from shared.synthetic.background import render_background


def _jpeg(**flags: int) -> bytes:
    params = [value for pair in flags.items() for value in (getattr(cv2, pair[0]), pair[1])]
    return cv2.imencode(".jpg", render_background((128, 96), seed=1), params)[1].tobytes()


FLAVOURS = {
    "baseline": {},
    "progressive": {"IMWRITE_JPEG_PROGRESSIVE": 1},
    "restart markers": {"IMWRITE_JPEG_RST_INTERVAL": 2},
}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_complete_jpegs_pass_and_every_cut_is_caught(flavour: str) -> None:
    data = _jpeg(**FLAVOURS[flavour])
    assert not jpeg_cut_short(data)
    assert not jpeg_cut_short(data + b"\xff\xda motion photo data a phone appended \xff\xd8")
    cuts = [len(data) * k // 20 for k in range(1, 20)] + [len(data) - 1]
    assert all(jpeg_cut_short(data[:cut]) for cut in cuts)


def test_a_thumbnail_in_the_exif_block_does_not_hide_a_cut() -> None:
    data, thumb = _jpeg(), _jpeg()
    app1 = b"\xff\xe1" + (len(thumb) + 8).to_bytes(2, "big") + b"Exif\0\0" + thumb  # its own scan and end marker
    with_thumb = data[:2] + app1 + data[2:]
    assert not jpeg_cut_short(with_thumb)
    assert jpeg_cut_short(with_thumb[: len(app1) + len(data) // 2])


def test_check_picture_names_the_file_and_leaves_other_files_alone(tmp_path: Path) -> None:
    cut = tmp_path / "back.jpg"
    cut.write_bytes(_jpeg()[:900])
    with pytest.raises(DanceError, match="back.jpg") as err:
        check_picture(cut)
    assert "\n" not in str(err.value)
    for name, data in {"ok.jpg": _jpeg(), "notes.jpg": b"not a picture", "empty.png": b"", "x.mp4": b"\0\0\0\x18ftypisom"}.items():
        (tmp_path / name).write_bytes(data)
        check_picture(tmp_path / name)  # a complete JPEG, or not a JPEG at all: not this check's to refuse
    check_picture(tmp_path / "absent.jpg")
