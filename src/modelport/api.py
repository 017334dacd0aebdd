"""The Python API: each function is an entry point that builds its settings once
(from the environment, ``MODELPORT_*``) unless given them, and passes them down.

For many calls in a row, build one :class:`~modelport.registry.Registry` and
pass it as ``registry=`` to avoid reconnecting each time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from modelport.loaded import LoadedModel, load_model
from modelport.reference import Reference
from modelport.registration import register_model
from modelport.registry import AliasEvent, ModelInfo, ModelVersion, Registry
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.monitoring.drift import DriftConfig, DriftReport
    from modelport.registry.deployments import Deployment


@contextlib.contextmanager
def _registry(registry: Registry | None, settings: Settings | None) -> Iterator[Registry]:
    if registry is not None:
        yield registry
        return
    owned = Registry(settings or Settings())
    try:
        yield owned
    finally:
        owned.close()


def register(
    model: Any,
    name: str,
    *,
    sample: Any | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    parent: int | str | None = None,
    training_data: Any | None = None,
    flavor: str | None = None,
    serialization: str | None = None,
    allow_unknown_categories: bool = False,
    labels: Any | None = None,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> ModelVersion:
    """Register ``model`` as the next version of ``name``.

    The flavor is detected from the object (scikit-learn, XGBoost, LightGBM,
    ONNX, a Python callable). With a ``sample`` of the training input, the
    signature and the reference profile for drift are inferred from it; a classifier's
    training ``labels`` (for the rows of ``sample``) become the prior that the monitor's
    feedback check compares ground truth with.

    >>> import modelport
    >>> v = modelport.register(clf, "credit-risk", sample=X_train,
    ...                        metrics={"auc": 0.91}, tags={"team": "risk"})  # doctest: +SKIP
    >>> v.version                                                               # doctest: +SKIP
    1
    """
    with _registry(registry, settings) as reg:
        return register_model(
            reg,
            model,
            name,
            sample=sample,
            metrics=metrics,
            tags=tags,
            description=description,
            parent=parent,
            training_data=training_data,
            flavor=flavor,
            serialization=serialization,
            allow_unknown_categories=allow_unknown_categories,
            labels=labels,
        )


def load(
    ref: str | Reference,
    *,
    trusted: bool | None = None,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> LoadedModel:
    """Load ``name``, ``name:3`` or ``name@alias``; its ``predict`` validates input.

    >>> model = modelport.load("credit-risk@production")  # doctest: +SKIP
    >>> model.predict([{"income": 52000, "home_ownership": "rent", ...}])  # doctest: +SKIP
    """
    with _registry(registry, settings) as reg:
        return load_model(reg, ref, trusted=trusted)


def set_alias(
    ref: str | Reference,
    alias: str,
    *,
    reason: str | None = None,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> AliasEvent:
    """Point ``alias`` (e.g. ``production``) at a version; the move is audited.

    >>> modelport.set_alias("credit-risk:2", "production", reason="better AUC")  # doctest: +SKIP
    """
    with _registry(registry, settings) as reg:
        return reg.set_alias(ref, alias, reason=reason)


def deploy(
    name: str,
    arms: Mapping[str, float],
    *,
    sticky: str | None = None,
    shadows: Mapping[str, float] | None = None,
    reason: str | None = None,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> Deployment:
    """Create or change deployment ``name``: arms with weights, a sticky key, shadows.

    Clients call a deployment like a model (``/v1/models/checkout:predict``); running
    servers started with ``--deployment`` follow changes without a restart.

    >>> modelport.deploy(  # doctest: +SKIP
    ...     "checkout",
    ...     {"credit-risk@production": 90, "credit-risk:3": 10},
    ...     sticky="header:X-User-Id",
    ...     shadows={"credit-risk:4": 50},
    ... )
    """
    from modelport.deployments.spec import Arm, DeploymentSpec, Shadow, parse_sticky

    spec = DeploymentSpec(
        name,
        tuple(Arm(ref, float(weight)) for ref, weight in arms.items()),
        None if sticky is None else parse_sticky(sticky),
        tuple(Shadow(ref, float(percent)) for ref, percent in (shadows or {}).items()),
    )
    with _registry(registry, settings) as reg:
        if reg.deployments.find(name) is None:
            return reg.deployments.create(spec, reason=reason)
        return reg.deployments.set(spec, reason=reason)


def list_models(
    *, registry: Registry | None = None, settings: Settings | None = None
) -> list[ModelInfo]:
    """Every registered model with its latest version and aliases."""
    with _registry(registry, settings) as reg:
        return reg.list_models()


def search(
    text: str | None = None,
    *,
    tags: dict[str, str] | None = None,
    flavor: str | None = None,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> list[ModelVersion]:
    """Versions whose model name contains ``text``, carrying all ``tags``, of ``flavor``."""
    with _registry(registry, settings) as reg:
        return reg.search(text, tags=tags, flavor=flavor)


def drift(
    reference: Any,
    current: Any,
    *,
    config: DriftConfig | None = None,
    categorical: list[str] | tuple[str, ...] = (),
) -> DriftReport:
    """Drift between two data sets (DataFrames), no server or registry needed.

    Per-feature tests (KS, PSI, Wasserstein; chi-square, Jensen-Shannon; missing
    rate; unseen categories), corrected for testing many features, with effect
    sizes so that large samples do not alarm on trivial differences.

    >>> report = modelport.drift(train_df, last_week_df)  # doctest: +SKIP
    >>> report.to_dict()["drifted_features"]              # doctest: +SKIP
    ['annual_income', 'purpose']
    """
    from modelport.monitoring.drift import compare  # SciPy only when drift is asked for

    return compare(reference, current, config, categorical=categorical)
