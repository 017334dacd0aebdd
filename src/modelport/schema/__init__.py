"""Signatures: what a model takes and returns, inferred from a sample, enforced on every call."""

from modelport.schema.signature import FeatureSpec, OutputSpec, Signature, infer_signature
from modelport.schema.validation import validate

__all__ = ["FeatureSpec", "OutputSpec", "Signature", "infer_signature", "validate"]
