"""Online serving: KServe V2 and V1 protocols over one pool of registry models.

>>> from modelport.serving import ServeConfig, create_app, run
>>> run(ServeConfig(refs=("credit-risk@production",), port=8080))  # doctest: +SKIP
"""

from __future__ import annotations

from modelport.runtime.config import BatchConfig, ServeConfig
from modelport.serving.app import create_app
from modelport.serving.server import run

__all__ = ["BatchConfig", "ServeConfig", "create_app", "run"]
