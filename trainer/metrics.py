"""Image-quality numbers for `dance-train eval`, shaped like the paper's ablation table.

Everybody Dance Now reports SSIM and LPIPS on a body crop and on a face crop. We compute SSIM and
PSNR on both crops, an L1 error, and a temporal flicker score (how differently the generated video
moves from the real one), all in plain torch so evaluation needs nothing beyond the training stack.
LPIPS needs pretrained weights we do not ship, so it is optional (see `load_lpips`).

Images are float tensors (N, C, H, W) in [0, 1]; sequences are (T, C, H, W).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from shared.errors import DanceError
from shared.label.facebox import FaceBox

# Wang et al. 2004 constants, for images whose data range is 1.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

# Identical images have infinite PSNR; capping keeps means over frames finite and comparable.
PSNR_CAP_DB = 100.0
_PSNR_MIN_MSE = 10.0 ** (-PSNR_CAP_DB / 10.0)

LPIPS_SKIPPED = "LPIPS skipped: no weights"

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.dim() != 4 or a.shape != b.shape:
        raise ValueError(f"expected two (N, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _gaussian_1d(size: int, sigma: float) -> Tensor:
    """A normalised 1-D Gaussian of odd length size (float64); its outer product is the 2-D window."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_window_size(height: int, width: int) -> int:
    """11, or for crops smaller than that the largest odd size that fits (e.g. 7 for an 8x8 crop).
    The shrunk window keeps sigma 1.5, truncated and renormalised, so values stay comparable."""
    side = min(SSIM_WINDOW, height, width)
    if side < 1:
        raise ValueError(f"cannot compute SSIM on a {width}x{height} image")
    return side if side % 2 == 1 else side - 1


def ssim(a: Tensor, b: Tensor) -> Tensor:
    """Mean SSIM per image, shape (N,), for (N, C, H, W) images in [0, 1].

    Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, data range 1 and
    population (not sample) covariances, computed per channel over the 'valid' region (no padding)
    and averaged over channels and pixels. This matches skimage's
    `structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1, channel_axis=...)`, which filters with 'reflect' padding but then drops the
    5-pixel border the padding touched. Images smaller than 11 pixels use a smaller odd window
    (`ssim_window_size`), where skimage would refuse.

    Computed in float64 (like skimage) with a separable filter; memory is about 40 x C bytes per
    pixel, so pass a few full frames at a time.
    """
    _check_pair(a, b)
    _, c, h, w = a.shape
    size = ssim_window_size(h, w)
    g = _gaussian_1d(size, SSIM_SIGMA).to(a.device)
    x, y = a.double(), b.double()
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # every local moment in one filter pass
    groups = stack.shape[1]
    stack = F.conv2d(stack, g.view(1, 1, 1, size).expand(groups, 1, 1, size), groups=groups)
    stack = F.conv2d(stack, g.view(1, 1, size, 1).expand(groups, 1, size, 1), groups=groups)
    mx, my, mxx, myy, mxy = stack.split(c, dim=1)
    vx, vy, vxy = mxx - mx * mx, myy - my * my, mxy - mx * my
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).to(a.dtype)


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """PSNR in dB per image, shape (N,), for images in [0, 1]; identical images give PSNR_CAP_DB
    (100 dB) instead of +inf."""
    _check_pair(a, b)
    mse = (a.double() - b.double()).pow(2).mean(dim=(1, 2, 3))
    return (-10.0 * torch.log10(mse.clamp_min(_PSNR_MIN_MSE))).to(a.dtype)


def l1_error(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute error per image, shape (N,), in the images' units."""
    _check_pair(a, b)
    return (a - b).abs().mean(dim=(1, 2, 3))


def flicker(fake: Tensor, real: Tensor) -> float:
    """Temporal flicker of a generated sequence against the real one, both (T, C, H, W) in [0, 1]:
    mean over t >= 1 of |(fake[t] - fake[t-1]) - (real[t] - real[t-1])|.

    It compares motion, not appearance: 0 when the fake changes exactly like the real video (even
    if offset by a constant), positive when it jitters or freezes while the real one moves.
    """
    _check_pair(fake, real)
    if fake.shape[0] < 2:
        raise ValueError(f"flicker needs at least 2 frames, got {fake.shape[0]}")
    fake_motion = fake[1:].double() - fake[:-1].double()
    real_motion = real[1:].double() - real[:-1].double()
    return float((fake_motion - real_motion).abs().mean())


def crop_boxes(images: Tensor, boxes: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
    """The face crops of (N, C, H, W) images from (N, 3) rows of x0, y0, size (as stored by
    `shared.label.facebox.face_boxes`), skipping frames whose row is -1 (no face).

    Returns (crops (M, C, size, size), indices (M,) int64 of the frames they came from). All boxes
    must share one size (face boxes are fixed per resolution). With no box at all the crops are
    an empty (0, C, 0, 0) tensor: check `len(indices)` before computing face metrics.
    """
    rows = np.asarray(boxes.cpu() if isinstance(boxes, Tensor) else boxes, np.int64).reshape(-1, 3)
    if images.dim() != 4 or len(rows) != images.shape[0]:
        raise ValueError(f"{len(rows)} boxes for images of shape {tuple(images.shape)}")
    found = [(i, box) for i, row in enumerate(rows) if (box := FaceBox.from_row(row)) is not None]
    indices = torch.tensor([i for i, _ in found], dtype=torch.int64)
    if not found:
        return images.new_zeros((0, images.shape[1], 0, 0)), indices
    sizes = {box.size for _, box in found}
    if len(sizes) != 1:
        raise ValueError(f"face boxes of different sizes {sorted(sizes)} cannot be stacked")
    return torch.stack([box.crop(images[i]) for i, box in found]), indices


def keypoint_box(
    points: np.ndarray, valid: np.ndarray, image_size: tuple[int, int], margin: float = 0.1
) -> Box | None:
    """The body crop of one frame: the bounding box of its valid keypoints (K, 2) in pixels,
    grown by margin x its width (left and right) and x its height (top and bottom), clamped to
    the image (width, height). Returns (x0, y0, x1, y1) with x1, y1 exclusive, so it covers every
    pixel a keypoint falls in; None when no valid point lies inside the image."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    ok = np.asarray(valid, bool).reshape(-1) & np.isfinite(pts).all(axis=1)
    if not ok.any():
        return None
    lo, hi = pts[ok].min(axis=0), pts[ok].max(axis=0)
    pad = margin * (hi - lo)
    w, h = int(image_size[0]), int(image_size[1])
    x0 = min(max(math.floor(lo[0] - pad[0]), 0), w)
    y0 = min(max(math.floor(lo[1] - pad[1]), 0), h)
    x1 = min(max(math.floor(hi[0] + pad[0]) + 1, 0), w)
    y1 = min(max(math.floor(hi[1] + pad[1]) + 1, 0), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def crop_region(images: Tensor, box: Box) -> Tensor:
    """images[..., y0:y1, x0:x1] for a (x0, y0, x1, y1) box that lies inside the image."""
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = images.shape[-2], images.shape[-1]
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ValueError(f"box {box} is empty or outside a {w}x{h} image")
    return images[..., y0:y1, x0:x1]


def crop_resized(images: Tensor, boxes: list[Box], size: tuple[int, int]) -> Tensor:
    """One box per image of (N, C, H, W), each crop resized (bilinear, antialiased) to size
    (width, height) so crops of different shapes batch for `ssim`/`psnr`. Resize the fake and the
    real frames with the same boxes so both sides see the same resampling."""
    if len(boxes) != images.shape[0]:
        raise ValueError(f"{len(boxes)} boxes for {images.shape[0]} images")
    out_hw = (int(size[1]), int(size[0]))
    crops = [
        F.interpolate(crop_region(image, box)[None], size=out_hw, mode="bilinear", align_corners=False, antialias=True)
        for image, box in zip(images, boxes)
    ]
    return torch.cat(crops).clamp(0.0, 1.0)


def load_lpips(weights_path: Path | None) -> None:
    """LPIPS needs pretrained network weights that dancenow does not ship.

    No path: returns None and the caller prints LPIPS_SKIPPED. A missing file is a DanceError.
    The LPIPS network itself is not implemented yet, so an existing file is a DanceError too.
    """
    if weights_path is None:
        return None
    path = Path(weights_path)
    if not path.is_file():
        raise DanceError(
            f"LPIPS needs its pretrained weights, but {path} does not exist; pass an existing file or leave LPIPS out"
        )
    raise DanceError(f"LPIPS is not implemented in dancenow yet (weights {path} were not loaded); leave LPIPS out")


@dataclass
class EvalResult:
    """The numbers for one model on one test video; face metrics are None when no frame had a face box."""

    body_ssim: float
    body_psnr: float
    face_ssim: float | None
    face_psnr: float | None
    flicker: float
    l1: float
    num_frames: int
    lpips: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # header, EvalResult field, number format
    ("body SSIM", "body_ssim", ".5f"),
    ("body PSNR", "body_psnr", ".2f"),
    ("face SSIM", "face_ssim", ".5f"),
    ("face PSNR", "face_psnr", ".2f"),
    ("flicker", "flicker", ".5f"),
    ("L1", "l1", ".5f"),
    ("LPIPS", "lpips", ".5f"),
    ("frames", "num_frames", "d"),
)


def format_cell(value: float | int | None, fmt: str) -> str:
    """A number for a text table; "-" where it is missing (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def text_table(header: list[str], body: list[list[str]]) -> str:
    """Columns padded to fit, the first left-aligned and the rest right-aligned, a rule under the header."""
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(wd) for c, wd in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * wd for wd in widths)
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


def format_table(rows: dict[str, EvalResult]) -> str:
    """A plain-text table like the paper's ablation: one row per model (e.g. "frame-by-frame",
    "temporal", "temporal + face"), "-" where a number is missing."""
    header = ["model", *(title for title, _, _ in _COLUMNS)]
    body = [[name, *(format_cell(getattr(r, field), fmt) for _, field, fmt in _COLUMNS)] for name, r in rows.items()]
    return text_table(header, body)
