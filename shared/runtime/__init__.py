"""Running a trained model: the engine protocol and its backends (torch, onnxruntime, TensorRT), the manifest, trained runs, the feedback rollout."""
