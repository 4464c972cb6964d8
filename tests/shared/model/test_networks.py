import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from shared.errors import DanceError
from shared.model.config import (
    PRESETS,
    DiscriminatorConfig,
    FaceConfig,
    GeneratorConfig,
    ModelConfig,
    get_preset,
)
from shared.model.networks import (
    FaceGenerator,
    GlobalGenerator,
    LocalEnhancer,
    MultiscaleDiscriminator,
    NLayerDiscriminator,
    build_discriminator,
    build_face_discriminator,
    build_generator,
    num_parameters,
)

SMALL_GLOBAL = GeneratorConfig(ngf=8, n_downsample=2, n_blocks=1)
SMALL_LOCAL = dataclasses.replace(SMALL_GLOBAL, local_ngf=4, local_blocks=1, n_local=1)


def _inputs(size: int = 64, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    label = torch.rand(batch, 3, size, size, generator=gen)
    prev = torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
    return label, prev


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# --- generators -----------------------------------------------------------------------------


@pytest.mark.parametrize("config", [SMALL_GLOBAL, SMALL_LOCAL], ids=["global", "local"])
@pytest.mark.parametrize("composite", [False, True])
def test_generator_output_shape_and_range(config: GeneratorConfig, composite: bool) -> None:
    config = dataclasses.replace(config, composite=composite)
    generator = build_generator(config)
    assert isinstance(generator, LocalEnhancer if config.n_local else GlobalGenerator)
    label, prev = _inputs()
    with torch.no_grad():
        out = generator(label, prev)
    assert out.shape == (2, 4 if composite else 3, 64, 64)
    assert config.output_nc == out.shape[1]
    assert out.min() >= -1 and out.max() <= 1
    assert out.std() > 1e-3  # not a constant image


@pytest.mark.parametrize("config", [SMALL_GLOBAL, SMALL_LOCAL], ids=["global", "local"])
def test_generator_uses_previous_frame(config: GeneratorConfig) -> None:
    generator = build_generator(config).eval()
    label, prev = _inputs()
    with torch.no_grad():
        a = generator(label, prev)
        b = generator(label, torch.zeros_like(prev))
        c = generator(label, prev)
    assert torch.equal(a, c)
    assert (a - b).abs().max() > 1e-3


def test_generator_gradient_reaches_previous_frame() -> None:
    # Temporal training backpropagates through y0' into G(x0, 0): prev must be differentiable.
    generator = build_generator(SMALL_GLOBAL)
    label, prev = _inputs(batch=1)
    prev.requires_grad_(True)
    generator(label, prev).mean().backward()
    assert prev.grad is not None and prev.grad.abs().sum() > 0


def test_local_enhancer_loads_global_weights() -> None:
    cfg = SMALL_LOCAL
    global_gen = GlobalGenerator(6, 3, cfg.ngf, cfg.n_downsample, cfg.n_blocks)
    local = LocalEnhancer(SMALL_LOCAL)
    label, prev = _inputs()
    half = lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)  # noqa: E731
    with torch.no_grad():
        expected = global_gen.trunk_features(half(label), half(prev))
        before = local.coarse_features(label, prev)
        head_before = local.head[1].weight.clone()
        local.load_global_state(global_gen.state_dict())
        after = local.coarse_features(label, prev)
    assert expected.shape == (2, SMALL_LOCAL.ngf, 32, 32)
    assert not torch.allclose(before, expected)
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-6)
    assert torch.equal(local.head[1].weight, head_before)  # only the global part is replaced


def test_local_enhancer_accepts_global_stage_with_other_head() -> None:
    # The global head is dropped, so a composite (4-channel) global stage still loads.
    global_gen = build_generator(dataclasses.replace(SMALL_LOCAL.global_part(), composite=True))
    LocalEnhancer(SMALL_LOCAL).load_global_state(global_gen.state_dict())


@pytest.mark.parametrize(
    "state",
    [
        lambda: GlobalGenerator(6, 3, ngf=16, n_downsample=2, n_blocks=1).state_dict(),  # wider
        lambda: GlobalGenerator(6, 3, ngf=8, n_downsample=2, n_blocks=2).state_dict(),  # deeper
        lambda: {
            k: v
            for k, v in GlobalGenerator(6, 3, 8, 2, 1).state_dict().items()
            if k != "trunk.1.weight"
        },
        lambda: LocalEnhancer(SMALL_LOCAL).state_dict(),  # not a global generator at all
    ],
    ids=["wider", "deeper", "missing-key", "local-state"],
)
def test_local_enhancer_rejects_mismatched_state(state) -> None:
    local = LocalEnhancer(SMALL_LOCAL)
    weights = {k: v.clone() for k, v in local.state_dict().items()}
    with pytest.raises(DanceError, match="global generator weights"):
        local.load_global_state(state())
    for key, value in local.state_dict().items():
        assert torch.equal(value, weights[key])  # nothing half-loaded


def test_conv_init_std() -> None:
    generator = build_generator(get_preset("tiny").generator)
    discriminator = build_discriminator(DiscriminatorConfig(ndf=32), input_nc=6)
    for model in (generator, discriminator):
        convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        weights = torch.cat([m.weight.detach().flatten() for m in convs])
        assert abs(weights.std().item() - 0.02) < 0.001
        assert abs(weights.mean().item()) < 0.001
        assert all(torch.count_nonzero(m.bias) == 0 for m in convs)
        norms = [m for m in model.modules() if isinstance(m, nn.InstanceNorm2d)]
        assert norms and not any(list(m.parameters()) for m in norms)  # no affine parameters


def test_face_generator_residual_starts_small() -> None:
    config = FaceConfig(ngf=8, n_downsample=2, n_blocks=1, box_size=32)
    face = FaceGenerator(config)
    plain = GlobalGenerator(6, 3, config.ngf, config.n_downsample, config.n_blocks)
    label, crop = _inputs(size=32)
    with torch.no_grad():
        residual = face(label, crop)
        plain_out = plain(label, crop)
    assert residual.shape == (2, 3, 32, 32)
    assert residual.abs().max() < 0.2
    assert residual.abs().mean() < plain_out.abs().mean() / 5
    assert residual.std() > 0  # not exactly zero: gradients reach the trunk from the first step


def test_num_parameters_counts_trainable() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
    model[1].requires_grad_(False)
    assert num_parameters(model) == 3 * 4 * 9 + 4 + 4 * 2 + 2
    assert num_parameters(model, trainable_only=True) == 3 * 4 * 9 + 4


# --- discriminators -------------------------------------------------------------------------


def test_multiscale_discriminator_pyramid() -> None:
    n_layers, num_D = 2, 3
    discriminator = MultiscaleDiscriminator(input_nc=9, ndf=8, n_layers=n_layers, num_D=num_D)
    x = torch.randn(2, 9, 64, 64)
    outputs = discriminator(x)
    assert len(outputs) == num_D
    for features in outputs:
        assert len(features) == n_layers + 2
        assert features[-1].shape[1] == 1
        assert [f.shape[1] for f in features[:-1]] == [8, 16, 32]
    heights = [features[-1].shape[2] for features in outputs]
    assert heights[0] > heights[1] > heights[2]
    assert outputs[0][0].shape[2:] == (33, 33)  # kernel 4, stride 2, padding 2 on 64


def test_discriminator_channels_capped_at_512() -> None:
    discriminator = NLayerDiscriminator(input_nc=6, ndf=64, n_layers=5)
    features = discriminator(torch.randn(1, 6, 64, 64))
    assert [f.shape[1] for f in features] == [64, 128, 256, 512, 512, 512, 1]
    strides = [m.stride[0] for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert strides == [2, 2, 2, 2, 2, 1, 1]


def test_face_discriminator_single_scale() -> None:
    discriminator = build_face_discriminator(FaceConfig(ndf=8, n_layers=3))
    features = discriminator(torch.randn(1, 6, 32, 32))
    assert len(features) == 5 and features[-1].shape[1] == 1


# --- configs --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_config_round_trip_through_json(name: str) -> None:
    config = get_preset(name)
    variants = [
        config,
        config.global_stage(),
        dataclasses.replace(
            config, generator=dataclasses.replace(config.generator, composite=True)
        ),
    ]
    for variant in variants:
        restored = ModelConfig.from_dict(json.loads(json.dumps(variant.to_dict())))
        assert restored == variant
        assert isinstance(restored.image_size, tuple)
        assert isinstance(restored.generator, GeneratorConfig)


def test_config_from_dict_defaults_and_unknown_fields() -> None:
    restored = ModelConfig.from_dict(
        {"name": "x", "image_size": [256, 128], "generator": {"ngf": 8}, "face": {"box_size": 64}}
    )
    assert restored.generator == GeneratorConfig(ngf=8)
    assert restored.face == FaceConfig(box_size=64)
    assert restored.discriminator == DiscriminatorConfig()
    data = get_preset("tiny").to_dict()
    data["generator"]["n_enhancers"] = 2
    with pytest.raises(ValueError, match="n_enhancers"):
        ModelConfig.from_dict(data)


def test_config_output_channels_follow_composite() -> None:
    assert GeneratorConfig().output_nc == 3
    assert GeneratorConfig(composite=True).output_nc == 4


def test_config_rejects_sizes_the_generator_cannot_restore() -> None:
    with pytest.raises(ValueError, match="divisible by 16"):
        ModelConfig("odd", (200, 120), generator=GeneratorConfig(n_downsample=4))
    with pytest.raises(ValueError, match="divisible by 32"):  # local enhancer halves once more
        ModelConfig("odd", (528, 256), generator=GeneratorConfig(n_downsample=4, n_local=1))
    with pytest.raises(ValueError, match="n_local"):
        GeneratorConfig(n_local=2)


def test_presets() -> None:
    tiny, small, paper = get_preset("tiny"), get_preset("small"), get_preset("paper")
    def sizes(config: ModelConfig) -> tuple[int, ...]:
        g = config.generator
        return (g.ngf, g.n_downsample, g.n_blocks, g.n_local)

    assert tiny.image_size == (256, 256) and sizes(tiny) == (16, 3, 4, 0)
    assert (tiny.discriminator.num_D, tiny.discriminator.n_layers) == (2, 3)
    assert (tiny.face.box_size, tiny.face.ngf) == (64, 16)

    assert small.image_size == (512, 256) and sizes(small) == (32, 4, 6, 0)

    assert paper.image_size == (1024, 512) and sizes(paper) == (64, 4, 9, 1)
    assert (paper.generator.local_ngf, paper.generator.local_blocks) == (32, 3)
    assert paper.discriminator.num_D == 3 and paper.face.box_size == 128
    stage = paper.global_stage()
    assert stage.image_size == (512, 256)
    assert stage.generator.n_local == 0 and stage.generator.ngf == 64
    assert stage.discriminator.num_D == 2
    assert tiny.global_stage() == tiny

    assert all(config.temporal for config in PRESETS.values())
    with pytest.raises(ValueError, match="paper"):
        get_preset("huge")


def test_tiny_preset_builds_runnable_networks() -> None:
    config = get_preset("tiny")
    width, height = config.image_size
    generator = build_generator(config.generator)
    label, prev = _inputs(size=height, batch=1)
    with torch.no_grad():
        assert generator(label, prev).shape == (1, 3, height, width)
        face = FaceGenerator(config.face)
        box = config.face.box_size
        assert face(label[..., :box, :box], prev[..., :box, :box]).shape == (1, 3, box, box)


# --- ONNX -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny-preset", "local-enhancer"])
def test_generator_exports_to_onnx(which: str, tmp_path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    if which == "tiny-preset":
        config, size = get_preset("tiny").generator, get_preset("tiny").image_size[1]
    else:
        config, size = SMALL_LOCAL, 64
    generator = build_generator(config).eval()
    label, prev = _inputs(size=size, batch=1)
    path = tmp_path / "generator.onnx"
    # The new (dynamo) exporter needs onnxscript, which is not installed: use the TorchScript one.
    torch.onnx.export(
        generator,
        (label, prev),
        str(path),
        input_names=["label", "prev"],
        output_names=["frame"],
        opset_version=17,
        dynamo=False,
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"label": label.numpy(), "prev": prev.numpy()})
    with torch.no_grad():
        torch_out = generator(label, prev).numpy()
    assert onnx_out.shape == torch_out.shape
    np.testing.assert_allclose(onnx_out, torch_out, atol=1e-4, rtol=0)


def test_an_exemplar_generator_starts_by_copying_the_warped_exemplar_inside_its_mask() -> None:
    """ExemplarBlend: the network draws RGB, alpha and a blend; inside the exemplar's mask the
    output is mostly the exemplar from the first step, outside it the drawn RGB alone."""
    from shared.model.networks import ExemplarBlend

    config = dataclasses.replace(get_preset("tiny").generator, composite=True, exemplar=True, input_nc=10)
    generator = build_generator(config).eval()
    assert isinstance(generator, ExemplarBlend)
    label = torch.rand(1, 7, 64, 64)
    label[:, 6] = 0.0
    label[:, 6, 16:48, 16:48] = 1.0  # the exemplar covers a square
    with torch.no_grad():
        out = generator(label, torch.zeros(1, 3, 64, 64))
        drawn = generator.inner(label, torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 4, 64, 64)
    exemplar = label[:, 3:6] * 2 - 1
    inside, outside = (slice(None), slice(None), slice(16, 48), slice(16, 48)), (slice(None), slice(None), slice(0, 16), slice(None))
    assert float((out[:, :3][inside] - exemplar[inside]).abs().mean()) < 0.25 * float((drawn[:, :3][inside] - exemplar[inside]).abs().mean())
    assert torch.allclose(out[:, :3][outside], drawn[:, :3][outside]) and torch.equal(out[:, 3], drawn[:, 3])

    local = build_generator(dataclasses.replace(config, n_local=1))
    local.load_global_state(generator.state_dict())  # the local stage starts from the global one
    trunk, copied = generator.inner.trunk.state_dict(), local.inner.global_trunk.state_dict()
    assert trunk.keys() == copied.keys() and all(torch.equal(trunk[k], copied[k]) for k in trunk)
