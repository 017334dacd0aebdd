"""modelport: the last mile for ML models.

Register, version and alias models; load them with input validation; serve,
score in batch and monitor them. The public API is what ``__all__`` lists.
"""

from modelport import errors
from modelport.api import drift, list_models, load, register, search, set_alias
from modelport.loaded import LoadedModel
from modelport.reference import Reference
from modelport.reference import parse as parse_reference
from modelport.registry import ModelVersion, Registry
from modelport.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "LoadedModel",
    "ModelVersion",
    "Reference",
    "Registry",
    "Settings",
    "__version__",
    "drift",
    "errors",
    "list_models",
    "load",
    "parse_reference",
    "register",
    "search",
    "set_alias",
]
