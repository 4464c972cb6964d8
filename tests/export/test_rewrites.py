import dataclasses

import pytest
import torch
from torch import nn

from export.rewrites import AccurateInstanceNorm, PhasePackedConv, SpaceToDepthStem, SubPixelConvTranspose, for_export, for_int8
from shared.model_config import get_preset
from shared.networks import FaceGenerator, build_generator


@pytest.mark.parametrize(("in_ch", "out_ch", "kernel", "size"), [(16, 4, 7, 262), (16, 3, 7, 70), (5, 2, 3, 10)])
def test_phase_packed_conv_computes_the_conv(in_ch: int, out_ch: int, kernel: int, size: int) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(in_ch, out_ch, kernel)
    nn.init.normal_(conv.bias, 0.0, 0.5)  # a non-zero bias must land on every phase
    x = torch.randn(2, in_ch, size, size + 2)
    packed = PhasePackedConv(conv)
    with torch.no_grad():
        expected, got = conv(x), packed(x)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-5
    assert packed.weight.shape == (4 * out_ch, in_ch, kernel + 1, kernel + 1)


def test_phase_packed_conv_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="stride-1"):
        PhasePackedConv(nn.Conv2d(8, 3, 3, stride=2))
    with pytest.raises(ValueError, match="stride-1"):
        PhasePackedConv(nn.Conv2d(8, 3, 3, padding=1))
    with pytest.raises(ValueError, match="even"):
        PhasePackedConv(nn.Conv2d(8, 3, 3))(torch.zeros(1, 8, 9, 10))


def test_for_export_packs_the_image_heads_and_keeps_the_function() -> None:
    torch.manual_seed(1)
    config = get_preset("tiny")
    body = build_generator(dataclasses.replace(config.generator, composite=True)).eval()
    face = FaceGenerator(config.face).eval()
    for model, size in ((body, 256), (face, config.face.box_size)):
        rewritten = for_export(model)
        kinds = [type(m) for m in rewritten.modules()]
        assert kinds.count(PhasePackedConv) == 1, "only the image head has so few output channels"
        assert nn.InstanceNorm2d not in kinds and AccurateInstanceNorm in kinds
        assert any(type(m) is nn.InstanceNorm2d for m in model.modules()), "the original is left as it was"
        label, prev = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size) * 2 - 1
        with torch.no_grad():
            assert (rewritten(label, prev) - model(label, prev)).abs().max() <= 1e-5


@pytest.mark.parametrize(("in_ch", "out_ch", "height", "width"), [(32, 16, 8, 8), (3, 5, 7, 10)])
def test_sub_pixel_upsampler_computes_the_transposed_conv(in_ch: int, out_ch: int, height: int, width: int) -> None:
    torch.manual_seed(2)
    upsample = nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1)
    nn.init.normal_(upsample.bias, 0.0, 0.5)
    x = torch.randn(2, in_ch, height, width)
    with torch.no_grad():
        expected, got = upsample(x), SubPixelConvTranspose(upsample)(x)
    assert got.shape == expected.shape == (2, out_ch, 2 * height, 2 * width)
    assert (got - expected).abs().max() <= 1e-5


def test_sub_pixel_upsampler_refuses_other_transposed_convs() -> None:
    for other in (nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1), nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1)):
        with pytest.raises(ValueError, match="output_padding=1"):
            SubPixelConvTranspose(other)


@pytest.mark.parametrize(("in_ch", "mid_ch", "out_ch", "height", "width"), [(6, 16, 32, 32, 48), (3, 5, 7, 10, 6)])
def test_space_to_depth_stem_computes_stem_norm_relu_and_downsampling(in_ch: int, mid_ch: int, out_ch: int, height: int, width: int) -> None:
    torch.manual_seed(4)
    layers = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_ch, mid_ch, 7), nn.InstanceNorm2d(mid_ch), nn.ReLU(),
                           nn.Conv2d(mid_ch, out_ch, 3, stride=2, padding=1))
    for conv in (layers[1], layers[4]):
        nn.init.normal_(conv.bias, 0.0, 0.5)
    x = torch.randn(2, in_ch, height, width)
    stem = SpaceToDepthStem(layers[0], layers[1], layers[2], layers[4])
    with torch.no_grad():
        expected, got = layers(x), stem(x)
    assert got.shape == expected.shape == (2, out_ch, height // 2, width // 2)
    assert (got - expected).abs().max() <= 1e-4


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_for_int8_rewrites_stem_upsamplers_and_head_and_keeps_the_function(preset: str) -> None:
    torch.manual_seed(3)
    config = get_preset(preset)
    body = build_generator(dataclasses.replace(config.generator, composite=True)).eval()
    rewritten = for_int8(body)
    kinds = [type(m) for m in rewritten.modules()]
    assert kinds.count(SpaceToDepthStem) == 1 and kinds.count(PhasePackedConv) == 2  # the head, and the stem's own conv
    assert kinds.count(SubPixelConvTranspose) == config.generator.n_downsample and nn.ConvTranspose2d not in kinds
    assert AccurateInstanceNorm not in kinds and nn.InstanceNorm2d in kinds
    width, height = config.image_size
    label, prev = torch.rand(1, 3, height, width), torch.rand(1, 3, height, width) * 2 - 1
    with torch.no_grad():
        assert (rewritten(label, prev) - body(label, prev)).abs().max() <= 1e-4
    assert type(body.trunk[0]) is nn.ReflectionPad2d, "the original is left as it was"
