"""One exported ONNX graph run by onnxruntime, called with torch tensors (see shared.runtime.graph_engine).

On the CPU, torch tensors are handed over as numpy views; on CUDA they are bound in device memory,
on torch's current stream, so nothing crosses to the host and no host sync is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import Tensor

from shared.errors import DanceError
from shared.io.onnxruntime_options import session_options
from shared.runtime.manifest import MANIFEST_NAME, GraphEntry


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def ort_providers(device: torch.device, trt_cache: Path | None = None, fp16: bool = False) -> list[Any]:
    """Execution providers for `device`, fastest first, among those this onnxruntime build has.

    On CUDA the providers run on torch's current stream, so graph outputs are ordered with the
    torch work around them without a host sync. onnxruntime's own TensorRT provider is used only
    with a `trt_cache` folder for its engines (shared.runtime.loading names one per GPU and graph).
    """
    if device.type != "cuda":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    index = device.index if device.index is not None else torch.cuda.current_device()
    stream = str(torch.cuda.current_stream(device).cuda_stream)
    chosen: list[Any] = []
    if "TensorrtExecutionProvider" in available and trt_cache is not None:
        trt_options = {
            "device_id": index,
            "trt_fp16_enable": fp16,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(trt_cache),
            "user_compute_stream": stream,
        }
        chosen.append(("TensorrtExecutionProvider", trt_options))
    if "CUDAExecutionProvider" in available:
        chosen.append(("CUDAExecutionProvider", {"device_id": index, "user_compute_stream": stream}))
    return chosen + ["CPUExecutionProvider"]


def _check_interface(path: Path, session: ort.InferenceSession, entry: GraphEntry) -> None:
    """The graph takes and returns what the manifest says (another graph under this name, say the
    face graph as body.onnx, would otherwise fail at the first frame, deep in the pipeline)."""
    found = {v.name: tuple(v.shape) for v in session.get_inputs()}, {v.name: tuple(v.shape) for v in session.get_outputs()}
    listed = {s.name: s.shape for s in entry.inputs}, {s.name: s.shape for s in entry.outputs}
    if found != listed:
        raise DanceError(f"{path}: its inputs and outputs {found} are not the {entry.role} graph's {listed} from "
                         f"{MANIFEST_NAME}; re-export with `dance-export`")  # fmt: skip


class OrtGraph:
    """One ONNX graph in an onnxruntime session.

    On the CPU, torch tensors are handed over as numpy views (no copy). On CUDA the inputs and a
    fresh output tensor are bound in device memory (IO binding), so nothing crosses to the host
    and a returned frame is never overwritten by a later call.
    """

    def __init__(self, path: Path, entry: GraphEntry, device: torch.device, providers: list[Any] | None = None,
                 threads: int | None = None) -> None:  # fmt: skip
        self.entry = entry
        self.device = device
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads), providers=providers or ort_providers(device))
        except Exception as err:  # onnxruntime has its own exception types (InvalidProtobuf, Fail, ...)
            raise DanceError(f"{path}: onnxruntime cannot load it ({_first_line(err)}); re-export with `dance-export`") from None
        self.providers = self.session.get_providers()
        self.inputs = {spec.name: spec.shape for spec in entry.inputs}
        self.output = entry.outputs[0]
        _check_interface(path, self.session, entry)
        self.bound = device.type == "cuda" and self.providers[0] != "CPUExecutionProvider"
        self._stream = torch.cuda.current_stream(device).cuda_stream if self.bound else None

    def __call__(self, **inputs: Tensor) -> Tensor:
        for name, shape in self.inputs.items():
            if tuple(inputs[name].shape) != shape:
                raise ValueError(f"{name} is {tuple(inputs[name].shape)} but the {self.entry.role} graph takes {shape}")
        if self.bound:
            return self._run_bound(inputs)
        feeds = {name: inputs[name].detach().to("cpu", torch.float32).contiguous().numpy() for name in self.inputs}
        (out,) = self.session.run([self.output.name], feeds)
        return torch.from_numpy(out).to(self.device)

    def _run_bound(self, inputs: dict[str, Tensor]) -> Tensor:
        binding = self.session.io_binding()
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        keep = []  # the bound tensors must outlive the run
        for name in self.inputs:
            tensor = inputs[name].detach().to(self.device, torch.float32).contiguous()
            keep.append(tensor)
            binding.bind_input(name, "cuda", index, np.float32, tuple(tensor.shape), tensor.data_ptr())
        out = torch.empty(self.output.shape, device=self.device, dtype=torch.float32)
        binding.bind_output(self.output.name, "cuda", index, np.float32, tuple(out.shape), out.data_ptr())
        if torch.cuda.current_stream(self.device).cuda_stream != self._stream:
            torch.cuda.current_stream(self.device).synchronize()  # the caller switched streams since loading
        self.session.run_with_iobinding(binding)
        return out
