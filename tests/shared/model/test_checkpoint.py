"""Checkpoint format: round trips, atomic saves, refused pickles, run folder, optimizer state."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from shared.model.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    CheckpointStore,
    load_checkpoint,
    load_module_state,
    load_optimizer_state,
    optimizer_state_tensors,
    save_checkpoint,
)
from shared.errors import DanceError
from shared.model.config import DiscriminatorConfig, GeneratorConfig, get_preset
from shared.model.networks import build_discriminator, build_generator

SMALL_GEN = GeneratorConfig(ngf=4, n_downsample=1, n_blocks=1)


def _groups(seed: float = 0.0) -> dict[str, dict[str, torch.Tensor]]:
    return {
        "generator": {"w": torch.full((2, 3), seed), "b": torch.arange(3, dtype=torch.float32)},
        "optimizer.g": {"state.0.step": torch.tensor(seed)},
    }


def _assert_same_groups(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for group in a:
        assert a[group].keys() == b[group].keys(), group
        for name in a[group]:
            x, y = a[group][name], b[group][name]
            assert x.dtype == y.dtype and x.shape == y.shape, f"{group}.{name}"
            assert torch.equal(x, y), f"{group}.{name}"


def _assert_one_line_refusal(err: pytest.ExceptionInfo, path: Path) -> None:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_of_real_networks_and_info(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = build_generator(SMALL_GEN)
    discriminator = build_discriminator(DiscriminatorConfig(ndf=4, n_layers=1, num_D=1), 9)
    groups = {
        "generator": generator.state_dict(),
        "discriminator": discriminator.state_dict(),
        "empty": {},
    }
    info = {"model": get_preset("tiny").to_dict(), "step": 12, "loss": 0.25, "note": None}
    path = tmp_path / "ckpt.safetensors"

    save_checkpoint(path, groups, info)
    loaded, loaded_info = load_checkpoint(path)

    _assert_same_groups(loaded, groups)
    assert loaded_info == info
    header = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    marker = json.loads(header["__metadata__"]["dancenow"])
    assert marker["format"] == FORMAT and marker["format_version"] == FORMAT_VERSION
    assert "generator.head.1.weight" in header  # prefixed keys, as the format promises

    only, _ = load_checkpoint(path, groups=["discriminator"])
    assert list(only) == ["discriminator"]
    with pytest.raises(DanceError, match="face_generator"):
        load_checkpoint(path, groups=["face_generator"])


def test_dtypes_shapes_views_and_tied_weights_survive(tmp_path: Path) -> None:
    base = torch.randn(4, 5)
    tied = nn.Linear(5, 5)
    tensors = {
        "f32": base,
        "f16": torch.randn(2, 3, 4).half(),
        "i64": torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4),
        "scalar": torch.tensor(7.5),
        "flag": torch.tensor([True, False]),
        "transposed": base.t(),  # non-contiguous view of f32's memory
        "row": base[1],  # contiguous view of the same memory
        "tied_a": tied.weight,  # same Parameter twice, as with tied weights
        "tied_b": tied.weight,
    }
    path = tmp_path / "dtypes.safetensors"
    save_checkpoint(path, {"g": tensors}, {})
    loaded, info = load_checkpoint(path)
    assert info == {}
    _assert_same_groups(loaded, {"g": {k: v.detach() for k, v in tensors.items()}})


def test_overlapping_group_names_and_reserved_info_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prefix"):
        save_checkpoint(tmp_path / "a.safetensors", {"opt": {}, "opt.g": {}}, {})
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "b.safetensors", {"g": {}}, {"format_version": 3})
    assert list(tmp_path.iterdir()) == []


# --- atomicity --------------------------------------------------------------------------------


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run")
    store.save(1, _groups(1.0), {"step": 1})
    save_checkpoint(tmp_path / "run" / "extra.safetensors", _groups(), {})
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["extra.safetensors", "latest.json", "step-00000001.safetensors"]


def test_crash_during_save_keeps_previous_checkpoint_and_pointer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CheckpointStore(tmp_path)
    first = store.save(1, _groups(1.0), {"step": 1})
    pointer_before = (tmp_path / "latest.json").read_text()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        store.save(2, _groups(2.0), {"step": 2})
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", first.name]
    assert (tmp_path / "latest.json").read_text() == pointer_before
    assert store.latest() == first
    groups, info = store.load_latest()
    assert info == {"step": 1}
    assert torch.equal(groups["generator"]["w"], torch.full((2, 3), 1.0))


def test_leftovers_of_a_killed_save_are_removed_and_nothing_else(tmp_path: Path) -> None:
    """SIGKILL mid-save skips `atomic_write`'s cleanup: its temporary folder stays until the next run."""
    store = CheckpointStore(tmp_path)
    first = store.save(1, _groups(1.0), {"step": 1})
    killed = [tmp_path / ".step-00000002.safetensors.ab12cd.tmp", tmp_path / ".latest.json.x9y8z7.tmp"]
    killed[0].mkdir()
    (killed[0] / ".tmpQzwQ8j").write_bytes(b"half a checkpoint: safetensors' own temporary file")
    killed[1].write_bytes(b"half a pointer (an older version's temporary file)")
    kept = [tmp_path / "notes.tmp", tmp_path / ".other.file.tmp"]  # not the store's: left alone
    for path in kept:
        path.write_bytes(b"mine")
    assert sorted(store.remove_leftovers()) == sorted(killed)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, "latest.json", *(p.name for p in kept)])
    assert store.latest() == first
    assert CheckpointStore(tmp_path / "absent").remove_leftovers() == []


# --- refusing files that are not ours -----------------------------------------------------------


class _Payload:
    """Unpickling this creates `marker`: proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (open, (str(self.marker), "w"))


def test_pickled_files_are_refused_without_running_code(tmp_path: Path) -> None:
    # The payload is live: plain unpickling does create its marker.
    probe = tmp_path / "probe-marker"
    pickle.loads(pickle.dumps(_Payload(probe))).close()
    assert probe.exists()

    marker = tmp_path / "marker"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"generator.w": _Payload(marker)}))
    with pytest.raises(DanceError, match="not a dancenow checkpoint.*pickled") as err:
        load_checkpoint(evil)
    _assert_one_line_refusal(err, evil)

    torch_pt = tmp_path / "model.pt"
    torch.save({"evil": _Payload(marker), "w": torch.ones(2)}, torch_pt)
    with pytest.raises(DanceError, match="not a dancenow checkpoint"):
        load_checkpoint(torch_pt)
    plain_pt = tmp_path / "weights.pt"
    torch.save(nn.Linear(2, 2).state_dict(), plain_pt)
    with pytest.raises(DanceError, match="not a dancenow checkpoint"):
        load_checkpoint(plain_pt)
    assert not marker.exists()


def test_corrupt_missing_and_foreign_files_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, _groups(3.0), {"step": 3})
    data = good.read_bytes()

    cases = {
        "truncated": data[: len(data) // 2],
        "header-only": data[:8],
        "empty": b"",
        "garbage": bytes(range(256)) * 4,
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(content)
        with pytest.raises(DanceError, match="not a dancenow checkpoint") as err:
            load_checkpoint(bad)
        _assert_one_line_refusal(err, bad)

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.ones(2)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(DanceError, match="format marker") as err:
        load_checkpoint(foreign)
    _assert_one_line_refusal(err, foreign)

    newer = tmp_path / "newer.safetensors"
    blob = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION + 1})
    metadata = {"dancenow": blob, "dancenow_groups": '["g"]'}
    save_file({"g.w": torch.ones(2)}, str(newer), metadata=metadata)
    with pytest.raises(DanceError, match="newer") as err:
        load_checkpoint(newer)
    _assert_one_line_refusal(err, newer)

    with pytest.raises(DanceError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors")


# --- the run folder ---------------------------------------------------------------------------


def test_store_prunes_to_keep_and_never_deletes_the_new_checkpoint(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep=2)
    for step in range(1, 6):
        store.save(step, _groups(float(step)), {"step": step})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == [
        "step-00000004.safetensors",
        "step-00000005.safetensors",
    ]
    assert json.loads((tmp_path / "latest.json").read_text()) == {
        "file": "step-00000005.safetensors",
        "step": 5,
    }

    # Saving an older step (e.g. after resuming from it) keeps the file just written.
    written = store.save(3, _groups(3.0), {"step": 3})
    assert written.exists()
    assert sorted(p.name for p in tmp_path.glob("step-*")) == [
        "step-00000003.safetensors",
        "step-00000005.safetensors",
    ]
    assert store.latest() == written
    assert store.load_latest()[1] == {"step": 3}


def test_latest_falls_back_when_the_pointer_is_missing_stale_or_garbage(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "run", keep=5)
    assert store.latest() is None  # folder does not exist yet
    with pytest.raises(DanceError, match="no checkpoint"):
        store.load_latest()

    for step in (2, 10, 7):
        store.save(step, _groups(float(step)), {"step": step})
    run = tmp_path / "run"
    (run / "step-abc.safetensors").write_bytes(b"x" * 100)  # not a step file
    (run / "step-00000099.safetensors").write_bytes(b"")  # empty: not valid-looking
    newest = run / "step-00000010.safetensors"
    assert store.latest() == run / "step-00000007.safetensors"  # the pointer wins while valid

    (run / "latest.json").unlink()
    assert store.latest() == newest
    (run / "latest.json").write_text(json.dumps({"file": "step-00000042.safetensors", "step": 42}))
    assert store.latest() == newest
    (run / "latest.json").write_text("{ not json")
    assert store.latest() == newest
    assert store.load_latest(groups=["generator"])[1] == {"step": 10}


def test_a_pointer_left_without_checkpoints_is_named_not_taken_for_a_fresh_run(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert store.is_empty()
    store.save(4, _groups(4.0), {"step": 4})
    assert not store.is_empty()
    (tmp_path / "step-00000004.safetensors").unlink()  # the checkpoints are lost, the pointer stays
    assert store.latest() is None and not store.is_empty()
    with pytest.raises(DanceError) as err:
        store.load_latest()
    message = str(err.value)
    assert str(tmp_path / "latest.json") in message and "\n" not in message
    (tmp_path / "latest.json").write_bytes(b"\x00\xff garbage")
    with pytest.raises(DanceError, match="latest.json names no checkpoint"):
        store.require_latest()


# --- optimizer state --------------------------------------------------------------------------


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> None:
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    optimizer.step()


def test_optimizer_state_restores_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    batches = [torch.randn(5, 4) for _ in range(4)]
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.999))
    for x in batches[:3]:
        _step(model, optimizer, x)

    opt_tensors, opt_info = optimizer_state_tensors(optimizer)
    assert {"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step"} <= opt_tensors.keys()
    path = tmp_path / "opt.safetensors"
    groups = {"model": model.state_dict(), "optimizer.g": opt_tensors}
    save_checkpoint(path, groups, {"opt": opt_info})

    groups, info = load_checkpoint(path)
    restored = _model()
    load_module_state(restored, groups["model"])
    restored_opt = torch.optim.Adam(restored.parameters(), lr=1.0)  # lr comes from the checkpoint
    load_optimizer_state(restored_opt, groups["optimizer.g"], info["opt"])
    assert restored_opt.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]

    _step(model, optimizer, batches[3])
    _step(restored, restored_opt, batches[3])
    for a, b in zip(model.parameters(), restored.parameters()):
        assert torch.equal(a, b)


def test_optimizer_state_for_another_model_is_a_dance_error() -> None:
    model = _model()
    optimizer = torch.optim.Adam(model.parameters())
    _step(model, optimizer, torch.randn(3, 4))
    tensors, info = optimizer_state_tensors(optimizer)
    other = nn.Linear(4, 2)
    with pytest.raises(DanceError, match="another model config"):
        load_optimizer_state(torch.optim.Adam(other.parameters()), tensors, info)


# --- module state -----------------------------------------------------------------------------


def test_load_module_state_names_what_does_not_fit() -> None:
    torch.manual_seed(0)
    source = build_generator(SMALL_GEN)
    target = build_generator(SMALL_GEN)
    load_module_state(target, source.state_dict())
    for a, b in zip(source.parameters(), target.parameters()):
        assert torch.equal(a, b)

    wider = build_generator(GeneratorConfig(ngf=8, n_downsample=1, n_blocks=1))
    with pytest.raises(DanceError, match=r"wrong shape.*another model config") as err:
        load_module_state(wider, source.state_dict())
    assert "\n" not in str(err.value)

    deeper = build_generator(GeneratorConfig(ngf=4, n_downsample=1, n_blocks=2))
    with pytest.raises(DanceError, match="missing: .*trunk"):
        load_module_state(deeper, source.state_dict())
    extra = {**source.state_dict(), "bogus.weight": torch.zeros(1)}
    with pytest.raises(DanceError, match="unexpected: bogus.weight"):
        load_module_state(target, extra)
    load_module_state(target, extra, strict=False)  # non-strict ignores the extra key
