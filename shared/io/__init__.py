"""Files in and out: video, checked images, image <-> tensor conversion, atomic writes, onnxruntime options, native log silencing. Imports nothing else of shared/ but errors."""
