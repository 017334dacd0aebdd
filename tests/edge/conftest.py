"""One exported bundle of the credit Pipeline (ColumnTransformer + OneHotEncoder), shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import modelport
from modelport.registry import Registry
from modelport.services.exporting import export_edge
from modelport.settings import Settings
from tests.optimization.test_conversion import mixed_frame, mixed_pipeline


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    """(registry holding credit:1, the bundle's directory)."""
    root = tmp_path_factory.mktemp("edge")
    registry = Registry(Settings(home=root / "home", user="tester"))
    frame, labels = mixed_frame()
    modelport.register(mixed_pipeline().fit(frame, labels), "credit", sample=frame,
                       registry=registry)  # fmt: skip
    export_edge(registry, "credit:1", root / "bundle")
    yield registry, root / "bundle"
    registry.close()


@pytest.fixture
def bundle(exported: tuple[Registry, Path]) -> Path:
    return exported[1]


@pytest.fixture
def rows() -> pd.DataFrame:
    return mixed_frame(rows=20, seed=1)[0]
