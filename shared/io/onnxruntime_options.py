"""The one onnxruntime session setting every ONNX graph in the product runs with (engines, the pose follower,
int8 calibration, export checks)."""

from __future__ import annotations

import onnxruntime as ort
import torch


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """The onnxruntime settings measured fastest for these conv nets on a CPU (bench/generator.py):
    every graph optimization (blocked NCHWc conv layouts, fusions), sequential execution (the graph
    is one chain), and as many intra-op threads as torch uses (`torch.set_num_threads`, one per core
    by default), so one setting governs every backend: live leaves a core to MediaPipe that way.

    Worker threads do not spin while waiting. Spinning makes one session alone about 5% faster on an
    idle machine, but an engine runs two sessions in turn (body, face) beside torch and MediaPipe,
    and spinning threads steal the cores the others compute on. Measured on 2 cores with the tiny
    body graph: two alternating sessions took 65 ms a frame each with spinning, 36 ms without;
    spinning with `session.force_spinning_stop` fixed that (34 ms) but doubled the time as soon as
    another process loaded the machine, where no spinning stayed at its 36 ms.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: the CUDA/TensorRT providers are chatty
    return options
