"""A registry with a small real model (and a deployment), and one package written from it.

The package (with its wheelhouse: about half a minute of pip) is written once per session
and shared by the tests that read it; tests that change a package copy it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.deployments.spec import Arm, DeploymentSpec
from modelport.packaging.context import PackageOptions
from modelport.registry import Registry
from modelport.services.packaging import PackageReport, package
from modelport.settings import Settings


@dataclass
class Packaged:
    settings: Settings
    X: np.ndarray
    model: LogisticRegression
    report: PackageReport

    @property
    def out(self) -> Path:
        return self.report.result.out_dir


def register_numeric(settings: Settings) -> tuple[np.ndarray, LogisticRegression]:
    """``numeric`` versions 1 and 2 (``production`` -> 2), and deployment ``checkout``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    first = LogisticRegression(C=0.1).fit(X, y)
    second = LogisticRegression(C=1.0).fit(X, y)
    registry = Registry(settings)
    try:
        modelport.register(first, "numeric", sample=X, registry=registry)
        modelport.register(second, "numeric", sample=X, registry=registry)
        registry.set_alias("numeric:2", "production")
        spec = DeploymentSpec("checkout", (Arm("numeric@production", 90), Arm("numeric:1", 10)))
        registry.deployments.create(spec)
    finally:
        registry.close()
    return X, second


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    root = tmp_path_factory.mktemp("packaged")
    settings = Settings(home=root / "home", user="tester")
    X, model = register_numeric(settings)
    registry = Registry(settings)
    try:
        report = package(
            registry,
            settings,
            "numeric@production",
            root / "out",
            PackageOptions(kubernetes=True, compose=True),
        )
    finally:
        registry.close()
    return Packaged(settings, X, model, report)
