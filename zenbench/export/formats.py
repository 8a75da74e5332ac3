"""Registers every built-in export format (one file each)."""

from zenbench.export import onnx, ort, tensorrt, tflite  # noqa: F401
