"""Pictures given on the command line, checked before use.

OpenCV decodes a JPEG that was cut short (a killed copy, a partial download) without a word: the
missing rows come out grey, and the picture would be used as is. A complete JPEG ends with an
end-of-image marker after its last scan, which `jpeg_cut_short` looks for by walking the file's
segments (so a thumbnail inside the EXIF block, or data a phone appends after the picture, does not
fool it).
"""

from __future__ import annotations

from pathlib import Path

from shared.errors import DanceError

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_RESTARTS = range(0xD0, 0xD8)  # RST0-RST7: inside a scan, no length


def _scan_end(data: bytes, start: int) -> int:
    """The index of the marker that ends the entropy-coded data from `start` (-1: none). Inside a
    scan a 0xFF byte is followed by 0x00 (a stuffed byte), a restart marker or more 0xFF fill."""
    at = start
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            return -1
        following = data[at + 1]
        if following == 0x00 or following in _RESTARTS or following == 0xFF:
            at += 1
            continue
        return at


def jpeg_cut_short(data: bytes) -> bool:
    """True for a JPEG (it starts with FF D8) whose end-of-image marker never comes."""
    if data[:2] != bytes((0xFF, _SOI)):
        return False
    at = 2
    while at + 2 <= len(data):
        if data[at] != 0xFF:
            return True  # not a marker where one must be: damaged
        marker = data[at + 1]
        if marker == _EOI:
            return False
        if marker == 0xFF or marker in _RESTARTS:
            at += 1 if marker == 0xFF else 2
            continue
        if at + 4 > len(data):
            return True
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == _SOS:
            at = _scan_end(data, at)
            if at < 0:
                return True
    return True


def check_picture(path: str | Path) -> None:
    """A DanceError naming `path` when it is a JPEG cut short; anything else is left to its reader
    (a file that is not a picture at all is that reader's to refuse)."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            if stream.read(2) != bytes((0xFF, _SOI)):
                return
            data = b"\xff\xd8" + stream.read()
    except OSError:
        return
    if jpeg_cut_short(data):
        raise DanceError(f"{path}: a JPEG picture that was cut short (truncated); give a complete copy")
