"""Compiles trained checkpoints to inference engines (ONNX, TensorRT)."""
