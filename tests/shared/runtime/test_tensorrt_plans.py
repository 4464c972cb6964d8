"""The TensorRT plan cache's rules, which run everywhere; building and running plans needs a GPU
(tests/export/test_tensorrt.py)."""

from pathlib import Path

from shared.runtime.tensorrt_plans import cached_plan_matches, stamp_plan, tensorrt_cache_key


def test_cache_key_changes_with_gpu_tensorrt_version_model_and_precision() -> None:
    parts = ("NVIDIA H100 sm90", "10.3.0", "ab" * 32, "fp16")
    key = tensorrt_cache_key(*parts)
    assert key == tensorrt_cache_key(*parts)
    for i, other in enumerate(("NVIDIA A10G sm86", "10.4.0", "cd" * 32, "fp32")):
        changed = list(parts)
        changed[i] = other
        assert tensorrt_cache_key(*changed) != key, f"part {i} must be in the key"


def test_a_cached_plan_is_used_only_when_its_stamp_matches(tmp_path: Path) -> None:
    plan = tmp_path / "body.fp16.plan"
    key = tensorrt_cache_key("gpu", "10.0", "ab" * 32, "fp16")
    assert not cached_plan_matches(plan, key), "no plan yet"
    plan.write_bytes(b"serialized engine")
    assert not cached_plan_matches(plan, key), "a plan without a stamp is never trusted"
    stamp_plan(plan, key, {"gpu": "gpu", "tensorrt": "10.0"})
    assert cached_plan_matches(plan, key)
    assert not cached_plan_matches(plan, tensorrt_cache_key("other gpu", "10.0", "ab" * 32, "fp16")), "another GPU rebuilds"
    plan.write_bytes(b"serialized engine, but changed")
    assert not cached_plan_matches(plan, key), "a plan whose bytes changed rebuilds"
