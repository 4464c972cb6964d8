"""Poses: the keypoint schema, MediaPipe's estimator, the ONNX follower, the person lock, smoothing, framing and the live tracker."""
