"""int8 ONNX graphs for CPUs: the convolutions quantized, calibrated on the run's own labels.

On a CPU with 8-bit dot-product instructions (AVX-512 VNNI, AVX-VNNI, ARM dot product),
onnxruntime's quantized convolutions run the tiny body about 1.7x faster than fp32 on one core,
which is what lets live keep up beside MediaPipe on a 2-core machine. The graph quantized is not
the fp32 one but one made for it (export.rewrites.for_int8): its upsamplers are sub-pixel convs,
since onnxruntime has no quantized ConvTranspose. Only the convolutions are quantized (weights per
output channel, int8; activations uint8); instance normalization, the compositing and everything
else that computes stays fp32, and the graph's inputs and outputs stay fp32 tensors. Ops that only
move values (pixel shuffles, pads, slices, concatenations) are moved onto the uint8 tensors
(export.int8_graph): the same function on a quarter of the bytes.

Quantization is not exact, so an int8 graph is judged by how close it stays to the torch model
on real inputs over a whole sequence fed its own output (see export.parity), not by the fp32
parity bound; random inputs lie outside the calibrated ranges and are reported for information.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from export.int8_graph import quantize_before_moves, shuffle_before_dequantize
from export.parity import label_sequence, torch_body
from shared.model.face_residual import crop_faces, face_label_crops
from shared.io.onnxruntime_options import session_options
from shared.runtime.feedback import rollout
from shared.runtime.trained import TrainedModel

INT8_OPS = ("Conv",)  # the upsamplers are convs too in the for_int8 graph (no quantized ConvTranspose exists)
INT8_FRAMES = 24  # real labels run through torch: every other one calibrates, all of them check
INT8_MEAN_TOLERANCE = 0.02  # mean |int8 - torch| over that sequence, fed back (outputs in [-1, 1])


def quantize_int8(src: Path, dst: Path, calibration: list[dict[str, np.ndarray]]) -> None:
    """Write an int8 copy of the fp32 graph `src` to `dst`, its activation ranges (min/max) taken
    from running `src` on the `calibration` feeds."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("int8 quantization needs at least one calibration input")

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds: Iterator[dict[str, np.ndarray]] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notes suggesting pre-processing, which is done here
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(dst),
            Feeds(),
            quant_format=QuantFormat.QOperator,  # QLinearConv: 21 ms for the tiny body on 2 cores, QDQ pairs 24 ms
            op_types_to_quantize=list(INT8_OPS),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibration_providers=["CPUExecutionProvider"],
        )
    model = onnx.load(str(dst))
    shuffle_before_dequantize(model)
    quantize_before_moves(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


@dataclass
class Int8Data:
    """A real label sequence run through the torch model the way live runs it: the body fed its own
    previous frame (zeros first: shared.runtime.feedback.rollout), the face graph fed crops of those frames."""

    body_feeds: list[dict[str, np.ndarray]]
    body_outputs: list[np.ndarray]  # torch's frame for each feed
    face_feeds: list[dict[str, np.ndarray]]
    face_outputs: list[np.ndarray]
    origin: str


@torch.no_grad()
def int8_data(model: TrainedModel, frames: int = INT8_FRAMES) -> Int8Data:
    """`frames` real labels (export.parity.label_sequence) through the torch model, as live runs it."""
    sequence = label_sequence(model, frames)
    plate = model.plate
    data = Int8Data([], [], [], [], sequence.origin)
    steps = rollout(torch_body(model), sequence.labels)
    for label, box, (prev, frame) in zip(sequence.labels, sequence.boxes, steps):
        data.body_feeds.append({"label": label.numpy(), "prev": prev.numpy()} | ({"plate": plate.numpy()} if plate is not None else {}))
        data.body_outputs.append(frame.numpy())
        if model.face_generator is not None:
            crops = {"label_crop": face_label_crops(label, box), "image_crop": crop_faces(frame, box)}
            data.face_feeds.append({name: crop.numpy() for name, crop in crops.items()})
            data.face_outputs.append(model.face_generator(**crops).numpy())
    return data


def sequence_errors(path: Path, feeds: list[dict[str, np.ndarray]], outputs: list[np.ndarray], closed_loop: bool) -> dict[str, float]:
    """Mean and max |graph - torch| over a sequence; with `closed_loop` the graph is fed its own
    previous frame (as live feeds it), so errors that grow frame after frame show."""
    session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    errors, prev = [], None
    for feed, expected in zip(feeds, outputs):
        if closed_loop and prev is not None:
            feed = feed | {"prev": prev}
        got = session.run(None, feed)[0]
        errors.append(np.abs(got - expected))
        prev = got
    stacked = np.stack(errors)
    return {"sequence mean": float(stacked.mean()), "sequence max": float(stacked.max())}
