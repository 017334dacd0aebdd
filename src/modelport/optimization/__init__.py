"""Optimization: convert a version to a faster runtime, compress it, check its parity.

``modelport optimize`` (the service in :mod:`modelport.services.optimization`) builds
candidates (an ONNX conversion, quantized, pruned or distilled models), checks each
against the original on the rows kept at registration (:mod:`modelport.training_sample`),
measures their speed at the batch sizes that matter, and registers the one that passes.
"""
