"""The serving runtime: served-model pool, batchers, routing, deployments, canaries, and the
prediction pipeline.

Every transport (the HTTP app in :mod:`modelport.serving`, later gRPC and streams) stands on
one :class:`~modelport.runtime.service.ServingRuntime`. Importing this package is cheap
(the CLI reads :class:`ServeConfig` from it); the pool and its libraries load on use.
"""

from __future__ import annotations

from modelport.runtime.config import BatchConfig, ServeConfig

__all__ = ["BatchConfig", "ServeConfig"]
