"""Export defaults the CLIs show in ``--help``, importable without onnx, torch or TensorRT."""

DEFAULT_OPSET = 17
MIN_OPSET = 14  # the attention blocks need opset >= 14 with the TorchScript exporter
ONNX_PARITY_N = 64  # random inputs checked at ONNX export
TRT_PARITY_N = 1024  # random inputs checked per engine: near-ties are common off-distribution, so use many
