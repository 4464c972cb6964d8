"""Network sizes as plain dataclasses, plus the named presets (`tiny`, `small`, `paper`).

Checkpoints store `ModelConfig.to_dict()` so a model can be rebuilt without the command line that
trained it. The configs are frozen: presets are shared, and a caller that wants a variant uses
`dataclasses.replace` instead of mutating one in place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from shared.label.channels import EXEMPLAR_NC, IMAGE_NC


@dataclass(frozen=True)
class GeneratorConfig:
    """pix2pixHD generator: a global ResNet generator, optionally wrapped by one local enhancer.

    `ngf` is the width of the global generator; `local_ngf` the width of the enhancer's outer layers
    (only used when `n_local == 1`, where the global part runs at half resolution).
    """

    input_nc: int = 2 * IMAGE_NC  # label (3) + previous output frame (3)
    ngf: int = 64
    n_downsample: int = 4
    n_blocks: int = 9
    local_ngf: int = 32
    local_blocks: int = 3
    n_local: int = 0  # 0 = global generator only, 1 = one local enhancer
    composite: bool = False  # output RGB + alpha (the compositing itself lives in the trainer)
    exemplar: bool = False  # the label carries a warped exemplar (EXEMPLAR_NC more channels; shared/label/exemplar/)
    exemplar_alpha: bool = False  # composite + exemplar: alpha too may follow the exemplar's mask (shared/model/networks.py)

    def __post_init__(self) -> None:
        for name in ("input_nc", "ngf", "n_downsample", "n_blocks", "local_ngf", "local_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_local not in (0, 1):
            raise ValueError(f"GeneratorConfig.n_local must be 0 or 1, got {self.n_local}")
        if self.input_nc != self.label_nc + IMAGE_NC:
            raise ValueError(f"GeneratorConfig.input_nc must be {self.label_nc + IMAGE_NC} (label + previous frame), got {self.input_nc}")

    @property
    def label_nc(self) -> int:
        """Channels of the conditioning: the stick figure (3), plus the warped exemplar when used."""
        return IMAGE_NC + (EXEMPLAR_NC if self.exemplar else 0)

    @property
    def output_nc(self) -> int:
        """3 for RGB; 4 (RGB + alpha) when the generator composites onto a background."""
        return IMAGE_NC + int(self.composite)

    @property
    def total_downsample(self) -> int:
        """Halvings down to the bottleneck; image sides must be divisible by 2**this."""
        return self.n_downsample + self.n_local

    def global_part(self) -> GeneratorConfig:
        """The same generator without the local enhancer (what the global stage trains)."""
        return dataclasses.replace(self, n_local=0)


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Multi-scale PatchGAN: `num_D` discriminators of `n_layers` strided convs each."""

    ndf: int = 64
    n_layers: int = 3
    num_D: int = 2

    def __post_init__(self) -> None:
        for name in ("ndf", "n_layers", "num_D"):
            if getattr(self, name) < 1:
                value = getattr(self, name)
                raise ValueError(f"DiscriminatorConfig.{name} must be >= 1, got {value}")


@dataclass(frozen=True)
class FaceConfig:
    """FaceGAN: a small global generator that predicts a residual for the face crop.

    ngf 32 rather than the body's 64: the crop (128x128 at 1024x512) has 1/32 of the frame's pixels
    and one part to model, so half the width (about a quarter of the parameters and FLOPs) is
    plenty, and the face pass stays cheap next to the body pass at live time.
    """

    ngf: int = 32
    n_downsample: int = 3
    n_blocks: int = 5
    ndf: int = 64
    n_layers: int = 3
    box_size: int = 128  # side of the square face crop, in pixels of the model's image_size

    def __post_init__(self) -> None:
        for name in ("ngf", "n_downsample", "n_blocks", "ndf", "n_layers", "box_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"FaceConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.box_size % (2**self.n_downsample):
            raise ValueError(
                f"FaceConfig.box_size {self.box_size} must be divisible by 2**n_downsample "
                f"({2**self.n_downsample})"
            )


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the networks of one trained model.

    `temporal` only changes training (frame pairs + temporal discriminator): the generator always
    takes (label, previous frame), and a non-temporal model is simply fed zeros as the previous
    frame, exactly like the first frame of a temporal one. That keeps one export signature.
    """

    name: str
    image_size: tuple[int, int]  # (width, height) the generator runs at
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    temporal: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        if len(self.image_size) != 2:
            raise ValueError(f"image_size must be (width, height), got {self.image_size}")
        factor = 2**self.generator.total_downsample
        width, height = self.image_size
        if width % factor or height % factor:
            raise ValueError(
                f"image_size {width}x{height} must be divisible by {factor} "
                f"(2**(n_downsample + n_local)) so the decoder restores the input size"
            )
        if self.face.box_size > min(width, height):
            raise ValueError(f"face box {self.face.box_size} does not fit in {width}x{height}")

    def global_stage(self) -> ModelConfig:
        """The config of the coarse stage that trains first: half resolution, global generator only.

        The discriminator drops to 2 scales (the pix2pixHD global-stage setting) and the face box
        halves with the image so it covers the same part of the body. A global-only config is its
        own global stage.
        """
        if self.generator.n_local == 0:
            return self
        width, height = self.image_size
        return dataclasses.replace(
            self,
            name=f"{self.name}-global",
            image_size=(width // 2, height // 2),
            generator=self.generator.global_part(),
            discriminator=dataclasses.replace(self.discriminator, num_D=2),
            face=dataclasses.replace(self.face, box_size=self.face.box_size // 2),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe nested dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["image_size"] = list(self.image_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`. Missing fields take their defaults; unknown fields are an error."""
        data = dict(data)
        for key, sub_cls in (
            ("generator", GeneratorConfig),
            ("discriminator", DiscriminatorConfig),
            ("face", FaceConfig),
        ):
            if key in data:
                data[key] = _dataclass_from_dict(sub_cls, data[key])
        if "image_size" in data:
            data["image_size"] = tuple(data["image_size"])
        return _dataclass_from_dict(cls, data)


def _dataclass_from_dict(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} fields {unknown}; expected some of {sorted(known)}"
        )
    return cls(**data)


def _build_presets() -> dict[str, ModelConfig]:
    tiny = ModelConfig(
        name="tiny",  # CPU tests and smoke runs
        image_size=(256, 256),
        generator=GeneratorConfig(ngf=16, n_downsample=3, n_blocks=4, local_ngf=8),
        discriminator=DiscriminatorConfig(ndf=32, n_layers=3, num_D=2),
        face=FaceConfig(ngf=16, ndf=32, box_size=64),
    )
    small = ModelConfig(
        name="small",  # the paper's global stage at half the width: a small GPU in hours, not days
        image_size=(512, 256),
        generator=GeneratorConfig(ngf=32, n_downsample=4, n_blocks=6, local_ngf=16),
        discriminator=DiscriminatorConfig(ndf=64, n_layers=3, num_D=2),
        face=FaceConfig(ngf=32, box_size=64),
    )
    paper = ModelConfig(
        name="paper",  # global 512x256 first (global_stage), then the local enhancer at 1024x512
        image_size=(1024, 512),
        generator=GeneratorConfig(ngf=64, n_downsample=4, n_blocks=9, local_ngf=32, n_local=1),
        discriminator=DiscriminatorConfig(ndf=64, n_layers=3, num_D=3),
        face=FaceConfig(ngf=32, box_size=128),
    )
    return {config.name: config for config in (tiny, small, paper)}


PRESETS: dict[str, ModelConfig] = _build_presets()


def get_preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        choices = sorted(PRESETS)
        raise ValueError(f"unknown model preset {name!r}; choose one of {choices}") from None
