"""Edge export: a self-contained bundle (ONNX model, signature, a numpy+onnxruntime runner)."""
