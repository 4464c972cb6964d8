"""VGG19 feature extractor for the perceptual (VGG) loss, without torchvision.

The layer layout copies torchvision's `vgg19().features` index for index, so the standard
ImageNet checkpoint `vgg19-dcbb9e9d.pth` loads into it unchanged (its classifier keys are ignored).

Where the weights come from (`load_vgg19`), first match wins:
  1. an explicit file (`--vgg-weights PATH`, `.pth` or `.safetensors`);
  2. torch hub's cache, `<torch.hub.get_dir()>/checkpoints/vgg19-dcbb9e9d.pth`;
  3. a download from download.pytorch.org into that cache (online machines only).
Files are read with `torch.load(weights_only=True)`: a checkpoint is data, never code to unpickle.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file as load_safetensors
from torch import Tensor, nn

from shared.errors import DanceError

VGG19_FILENAME = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILENAME}"

# torchvision's configuration "E": conv widths, "M" = 2x2 max-pool.
_VGG19_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip

# Indices in `features` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
FEATURE_LAYERS: tuple[int, ...] = (1, 6, 11, 20, 29)
FEATURE_CHANNELS: tuple[int, ...] = (64, 128, 256, 512, 512)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _make_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for item in _VGG19_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1))
            layers.append(nn.ReLU(inplace=True))
            in_channels = int(item)
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """Frozen VGG19 returning the relu1_1 .. relu5_1 activations of an image in [-1, 1].

    Input normalisation: the network was trained on ImageNet images in [0, 1] normalised by the
    ImageNet mean/std, so by default we map [-1, 1] -> [0, 1] -> ImageNet-normalised before the
    first conv; the filters then see inputs in the range they were trained on. Note that
    pix2pixHD (and the Everybody Dance Now code built on it) feeds the [-1, 1] tensor to VGG as
    is; `normalize=False` reproduces that exactly.
    """

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.features = _make_features()
        self.normalize = normalize
        # Non-persistent: not part of the checkpoint, but follow the module across devices.
        mean, std = torch.tensor(_IMAGENET_MEAN), torch.tensor(_IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        """Always stays in eval mode: it is a fixed measuring instrument, never trained."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        if self.normalize:
            x = ((x + 1.0) * 0.5 - self.mean) / self.std
        outputs: list[Tensor] = []
        start = 0
        for end in FEATURE_LAYERS:  # run only up to relu5_1; the tail is unused
            for layer in self.features[start : end + 1]:
                x = layer(x)
            outputs.append(x)
            start = end + 1
        return outputs


def _advice(checkpoint: Path) -> str:
    return (
        f"put torchvision's {VGG19_FILENAME} ({VGG19_URL}) at {checkpoint}, "
        "pass --vgg-weights PATH, or train without the VGG loss with --no-vgg"
    )


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _read_state_dict(path: Path) -> Mapping[str, object]:
    """Read a .pth/.safetensors file as plain tensors, refusing pickled code."""
    try:
        if path.suffix == ".safetensors":
            return load_safetensors(str(path), device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise DanceError(
            f"refusing VGG19 weights {path}: it holds pickled Python objects, not just tensors "
            "(use torchvision's state dict file)"
        ) from err
    except Exception as err:  # corrupt, truncated, not a checkpoint at all
        raise DanceError(
            f"cannot read VGG19 weights {path} (corrupt or not a checkpoint): {_first_line(err)}"
        ) from err


def _load_into(model: VGG19Features, state: object, source: str) -> None:
    """Strictly load the `features.*` entries of a torchvision-style state dict into `model`."""
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DanceError(f"VGG19 weights {source} are not a state dict of tensors")
    features = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(features))
    unexpected = sorted(set(features) - set(expected))
    wrong = [k for k in expected if k in features and features[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            details.append(
                f"{len(wrong)} wrong shapes (e.g. {k}: {tuple(features[k].shape)}, "
                f"expected {tuple(expected[k].shape)})"
            )
        raise DanceError(
            f"VGG19 weights {source} do not match torchvision's vgg19: " + "; ".join(details)
        )
    model.load_state_dict(features, strict=True)


def load_vgg19(
    weights_path: str | Path | None = None,
    *,
    hub_dir: Path | None = None,
    url: str = VGG19_URL,
    allow_download: bool = True,
    normalize: bool = True,
) -> VGG19Features:
    """A frozen VGG19Features on the CPU with ImageNet weights (see the module docstring).

    An explicit `weights_path` that is missing or bad is an error, never silently replaced by
    another source. The download uses torch hub with `check_hash=True`: the hash prefix in the
    URL's file name (dcbb9e9d for the standard file) must match the download's SHA-256, and the
    file is cached under the URL's file name so the next run finds it in step 2.
    `hub_dir` replaces `torch.hub.get_dir()` (tests use it to stay away from the user's cache).
    """
    model = VGG19Features(normalize=normalize)

    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise DanceError(f"VGG19 weights file {path} does not exist (given with --vgg-weights)")
        _load_into(model, _read_state_dict(path), str(path))
        return model

    checkpoints = Path(hub_dir if hub_dir is not None else torch.hub.get_dir()) / "checkpoints"
    cached = checkpoints / VGG19_FILENAME
    if cached.is_file():
        _load_into(model, _read_state_dict(cached), str(cached))
        return model

    if not allow_download:
        raise DanceError(f"VGG19 weights not found: {_advice(cached)}")
    try:
        state = torch.hub.load_state_dict_from_url(
            url, model_dir=str(checkpoints), map_location="cpu", progress=True,
            check_hash=True, weights_only=True,
        )  # fmt: skip
    except Exception as err:  # offline, HTTP error, hash mismatch, unreadable download
        raise DanceError(
            f"VGG19 weights not found and the download from {url} failed ({_first_line(err)}): "
            f"{_advice(cached)}"
        ) from err
    _load_into(model, state, url)
    return model
