"""The demo's edge step: the bundle written and its predict.py run as a script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

import modelport
from modelport.demo.export import export_edge_bundle
from modelport.registry import Registry
from tests.optimization.test_conversion import mixed_frame, mixed_pipeline


@pytest.mark.integration
def test_the_step_exports_and_shows_the_bundle_answering(
    registry: Registry, tmp_path: Path
) -> None:
    frame, labels = mixed_frame()
    modelport.register(mixed_pipeline().fit(frame, labels), "credit", sample=frame,
                       registry=registry)  # fmt: skip
    console = Console(record=True, width=400)

    report = export_edge_bundle(registry, "credit:1", tmp_path / "edge", console)

    text = console.export_text()
    assert report.source == "credit:1" and (tmp_path / "edge" / "predict.py").is_file()
    answers = [json.loads(m) for m in re.findall(r"^\s+(\{\"prediction.*\})$", text, flags=re.M)]
    expected = modelport.load("credit:1", registry=registry).predict(frame.head(3)).tolist()
    assert [a["prediction"] for a in answers] == expected
    assert '{"line": 4, "error": "line 4: invalid input: \'xincome\'' in text
    assert "did you mean 'income'" in text
    assert "exit status 1" in text and "parity on 300 rows" in text
