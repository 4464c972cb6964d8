import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from shared.errors import DanceError
from trainer.vgg import VGG19_FILENAME, VGG19Features, load_vgg19

# torchvision's vgg19().features: conv layers sit at these indices, max-pools at these.
TORCHVISION_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
TORCHVISION_POOL_INDICES = [4, 9, 18, 27, 36]


@pytest.fixture(scope="module")
def reference_state() -> dict[str, torch.Tensor]:
    """A random-init VGG19 state dict under torchvision's key names, with classifier keys too
    (tiny stand-ins: they must be ignored, and the real ones would be 400 MB)."""
    torch.manual_seed(0)
    state = dict(VGG19Features().state_dict())
    state["classifier.0.weight"] = torch.zeros(2, 2)
    state["classifier.0.bias"] = torch.zeros(2)
    return state


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory, reference_state) -> Path:
    path = tmp_path_factory.mktemp("weights") / "vgg19.pth"
    torch.save(reference_state, path)
    return path


def assert_loaded(model: VGG19Features, state: dict[str, torch.Tensor]) -> None:
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_layout_matches_torchvision_features():
    features = VGG19Features().features
    assert len(features) == 37
    for i, layer in enumerate(features):
        if i in TORCHVISION_CONV_INDICES:
            assert isinstance(layer, nn.Conv2d) and layer.kernel_size == (3, 3)
        elif i in TORCHVISION_POOL_INDICES:
            assert isinstance(layer, nn.MaxPool2d)
        else:
            assert isinstance(layer, nn.ReLU)
    widths = [features[i].out_channels for i in TORCHVISION_CONV_INDICES]
    assert widths == [64, 64, 128, 128] + [256] * 4 + [512] * 8
    expected_keys = {
        f"features.{i}.{p}" for i in TORCHVISION_CONV_INDICES for p in ("weight", "bias")
    }
    assert set(VGG19Features().state_dict()) == expected_keys  # mean/std are not checkpoint keys


def test_outputs_five_relu_activations_halving_in_size():
    vgg = VGG19Features()
    outputs = vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert [o.shape[1] for o in outputs] == [64, 128, 256, 512, 512]
    assert [o.shape[-1] for o in outputs] == [32, 16, 8, 4, 2]
    assert all((o >= 0).all() for o in outputs)  # taken after a ReLU


def test_forward_stops_after_relu5_1():
    vgg = VGG19Features()
    ran: list[int] = []
    for i in (29, 30, 36):
        vgg.features[i].register_forward_hook(lambda *_, i=i: ran.append(i))
    vgg(torch.zeros(1, 3, 32, 32))
    assert ran == [29]


def test_input_is_mapped_from_minus_one_one_to_imagenet_normalisation():
    torch.manual_seed(1)
    vgg = VGG19Features()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = torch.relu(vgg.features[0](((x + 1) / 2 - mean) / std))
    assert torch.allclose(vgg(x)[0], expected, atol=1e-5)
    raw = VGG19Features(normalize=False)
    raw.load_state_dict(vgg.state_dict())
    assert torch.allclose(raw(x)[0], torch.relu(vgg.features[0](x)), atol=1e-5)


def test_network_is_frozen_but_passes_gradients_to_its_input():
    vgg = VGG19Features()
    assert not any(p.requires_grad for p in vgg.parameters())
    assert not vgg.training
    nn.Sequential(vgg).train()  # a parent switching to train mode must not unfreeze it
    assert not vgg.training
    x = torch.zeros(1, 3, 16, 16, requires_grad=True)
    sum(o.sum() for o in vgg(x + 0.3)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_loads_explicit_pth_ignoring_classifier(reference_file, reference_state, tmp_path):
    model = load_vgg19(reference_file, hub_dir=tmp_path / "hub", allow_download=False)
    assert_loaded(model, reference_state)
    assert not any(p.requires_grad for p in model.parameters())


def test_loads_explicit_safetensors(reference_state, tmp_path):
    path = tmp_path / "vgg19.safetensors"
    save_file({k: v.contiguous() for k, v in reference_state.items()}, str(path))
    assert_loaded(load_vgg19(str(path), hub_dir=tmp_path / "hub"), reference_state)


def test_explicit_path_wins_over_hub_cache(reference_file, reference_state, tmp_path):
    other = {k: torch.zeros_like(v) for k, v in reference_state.items()}
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(other, tmp_path / "hub" / "checkpoints" / VGG19_FILENAME)
    assert_loaded(load_vgg19(reference_file, hub_dir=tmp_path / "hub"), reference_state)


def test_missing_explicit_path_is_an_error_even_with_a_hub_cache(reference_file, tmp_path):
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    shutil.copy(reference_file, tmp_path / "hub" / "checkpoints" / VGG19_FILENAME)
    missing = tmp_path / "nope.pth"
    with pytest.raises(DanceError, match="nope.pth"):
        load_vgg19(missing, hub_dir=tmp_path / "hub")


def test_loads_from_hub_cache(reference_file, reference_state, tmp_path):
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    shutil.copy(reference_file, tmp_path / "hub" / "checkpoints" / VGG19_FILENAME)
    unreachable = (tmp_path / "absent" / "vgg19-00000000.pth").as_uri()
    assert_loaded(load_vgg19(hub_dir=tmp_path / "hub", url=unreachable), reference_state)


def test_downloads_into_empty_hub_dir_with_hash_check(reference_file, reference_state, tmp_path):
    prefix = hashlib.sha256(reference_file.read_bytes()).hexdigest()[:8]
    served = tmp_path / "server" / f"vgg19-{prefix}.pth"  # the hash prefix torch hub checks
    served.parent.mkdir()
    shutil.copy(reference_file, served)
    hub = tmp_path / "hub"
    assert_loaded(load_vgg19(hub_dir=hub, url=served.as_uri()), reference_state)
    assert (hub / "checkpoints" / served.name).is_file()  # cached for the next run


def test_download_with_wrong_hash_is_refused(reference_file, tmp_path):
    served = tmp_path / "server" / "vgg19-00000000.pth"
    served.parent.mkdir()
    shutil.copy(reference_file, served)
    with pytest.raises(DanceError, match="download"):
        load_vgg19(hub_dir=tmp_path / "hub", url=served.as_uri())
    assert not (tmp_path / "hub" / "checkpoints" / served.name).exists()


@pytest.mark.parametrize("allow_download", [True, False])
def test_nothing_available_gives_advice(tmp_path, allow_download):
    unreachable = (tmp_path / "absent" / "vgg19-00000000.pth").as_uri()
    with pytest.raises(DanceError) as info:
        load_vgg19(hub_dir=tmp_path / "hub", url=unreachable, allow_download=allow_download)
    message = str(info.value)
    assert "--vgg-weights" in message and "--no-vgg" in message
    assert str(tmp_path / "hub" / "checkpoints" / VGG19_FILENAME) in message


@pytest.mark.parametrize("name", ["bad.pth", "bad.safetensors"])
def test_corrupt_file_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(DanceError, match=name):
        load_vgg19(path, hub_dir=tmp_path / "hub")


def test_corrupt_hub_cache_is_refused_not_skipped(reference_file, tmp_path):
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / VGG19_FILENAME).write_bytes(b"\x00" * 100)
    with pytest.raises(DanceError, match=VGG19_FILENAME):
        load_vgg19(hub_dir=tmp_path / "hub", allow_download=False)


def _leave_marker(path: str) -> None:
    Path(path).write_text("unpickling ran code")


class _Payload:
    """Unpickling this would call _leave_marker: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_leave_marker, (self.marker,))


def test_pickled_objects_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Payload(marker)}, path)
    with pytest.raises(DanceError, match="evil.pth.*pickled"):
        load_vgg19(path, hub_dir=tmp_path / "hub")
    assert not marker.exists()


def test_wrong_shapes_are_refused(reference_state, tmp_path):
    state = dict(reference_state)
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    path = tmp_path / "shapes.pth"
    torch.save(state, path)
    with pytest.raises(DanceError, match="features.0.weight"):
        load_vgg19(path, hub_dir=tmp_path / "hub")


@pytest.mark.parametrize("content", [[torch.zeros(1)], {"features.0.weight": 3}])
def test_non_state_dicts_are_refused(tmp_path, content):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(DanceError, match="not a state dict"):
        load_vgg19(path, hub_dir=tmp_path / "hub")


def test_missing_keys_are_refused(reference_state, tmp_path):
    state = {k: v for k, v in reference_state.items() if not k.startswith("features.34.")}
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(DanceError, match="missing"):
        load_vgg19(path, hub_dir=tmp_path / "hub")
