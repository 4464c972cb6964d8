import dataclasses

import numpy as np

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from export.rewrites import (AccurateInstanceNorm, PhasePackedConv, PhaseUpsampleHead, SpaceToDepthStem, SubPixelConvTranspose, for_export, for_int8,
                             space_to_depth, stride_one_weight)
from shared.model.config import get_preset
from shared.model.networks import FaceGenerator, build_generator


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
    assert kinds.count(SpaceToDepthStem) == 1 and kinds.count(PhaseUpsampleHead) == 1 and PhasePackedConv not in kinds
    assert kinds.count(SubPixelConvTranspose) == config.generator.n_downsample - 1 and nn.ConvTranspose2d not in kinds
    assert AccurateInstanceNorm not in kinds and nn.InstanceNorm2d in kinds
    width, height = config.image_size
    label, prev = torch.rand(1, 3, height, width), torch.rand(1, 3, height, width) * 2 - 1
    with torch.no_grad():
        assert (rewritten(label, prev) - body(label, prev)).abs().max() <= 1e-4
    assert type(body.trunk[0]) is nn.ReflectionPad2d, "the original is left as it was"


def test_stride_one_weight_over_space_to_depth_is_the_stride_two_conv() -> None:
    torch.manual_seed(5)
    x, weight = torch.randn(2, 3, 14, 10), torch.randn(4, 3, 8, 8)
    expected = F.conv2d(x, weight, stride=2)
    got = F.conv2d(space_to_depth(x), stride_one_weight(weight))
    assert got.shape == expected.shape and (got - expected).abs().max() <= 1e-4
    with pytest.raises(ValueError, match="even size"):
        stride_one_weight(torch.randn(4, 3, 7, 7))


def test_space_to_depth_exports_as_onnx_space_to_depth(tmp_path) -> None:  # noqa: ANN001
    import onnx
    import onnxruntime as ort

    class Unshuffle(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return space_to_depth(x)

    x = torch.randn(1, 5, 6, 8)
    path = tmp_path / "s2d.onnx"
    torch.onnx.export(Unshuffle(), (x,), str(path), input_names=["x"], opset_version=17, dynamo=False)
    assert [node.op_type for node in onnx.load(str(path)).graph.node] == ["SpaceToDepth"]
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    assert np.array_equal(got, space_to_depth(x).numpy())


@pytest.mark.parametrize("exemplar", [False, True])
def test_for_int8_keeps_the_local_enhancers_function(exemplar: bool) -> None:
    """The local branch's last upsampler joins the head; the global trunk inside is left whole."""
    torch.manual_seed(7)
    generator = get_preset("tiny").generator
    config = dataclasses.replace(generator, n_local=1, composite=True, exemplar=exemplar, input_nc=(7 if exemplar else 3) + 3)
    body = build_generator(config).eval()
    rewritten = for_int8(body)
    assert [type(m) for m in rewritten.modules()].count(PhaseUpsampleHead) == 1
    label, prev = torch.rand(1, 7 if exemplar else 3, 64, 64), torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert (rewritten(label, prev) - body(label, prev)).abs().max() <= 1e-4


@pytest.mark.parametrize(("channels", "height", "width"), [(8, 16, 12), (3, 4, 10)])
def test_phase_upsample_head_computes_upsampler_norm_relu_and_head(channels: int, height: int, width: int) -> None:
    torch.manual_seed(6)
    upsample, norm = nn.ConvTranspose2d(2 * channels, channels, 3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(channels)
    head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(channels, 5, 7))
    x = torch.randn(2, 2 * channels, height, width)
    with torch.no_grad():
        expected = head(F.relu(norm(upsample(x))))
        got = PhaseUpsampleHead(upsample, norm, head[0], head[1])(x)
    assert got.shape == expected.shape == (2, 5, 2 * height, 2 * width)
    assert (got - expected).abs().max() <= 1e-4
    with pytest.raises(ValueError, match="reflection pad of 3"):
        PhaseUpsampleHead(upsample, norm, nn.ReflectionPad2d(1), nn.Conv2d(channels, 5, 3))
