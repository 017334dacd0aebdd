"""HTML reports: the distributions behind the plots, the page, and the page in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import modelport
from modelport.demo.data import FEATURES, credit_data
from modelport.monitoring.distributions import categorical_distribution, numeric_distribution
from modelport.monitoring.drift import compare
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.profile import build_profile
from modelport.monitoring.results import MonitorReport
from modelport.predictions.reader import PredictionLogReader
from modelport.presentation.html import drift_html, monitor_html, write_html
from modelport.registry import Registry
from modelport.settings import Settings
from tests.monitoring.test_monitor import log_traffic

SMALL = ["annual_income", "employment_years", "purpose", "age"]
IMAGE = re.compile(r'<img alt="([^"]+)" src="data:image/png;base64,[A-Za-z0-9+/=]{500,}"')


def images(page: str) -> list[str]:
    return IMAGE.findall(page)


def test_numeric_distribution_is_a_density_on_the_reference_bins() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=5000)})
    profile = build_profile(reference).features["x"]
    same = numeric_distribution(profile, rng.normal(size=5000))
    widths = np.subtract(same["right"], same["left"])
    assert np.sum(np.multiply(same["reference"], widths)) == pytest.approx(1.0)
    assert len(same["left"]) <= 27  # ~25 bins, plus at most one on each side
    shifted = numeric_distribution(profile, rng.normal(loc=-10, size=1000))
    assert shifted["below"] == 1.0 and shifted["above"] == 0.0
    widths = np.subtract(shifted["right"], shifted["left"])
    assert np.sum(np.multiply(shifted["current"], widths)) == pytest.approx(1.0)
    assert shifted["left"][0] < profile.min and shifted["reference"][0] == 0.0
    assert shifted["view"][0] < -9
    assert numeric_distribution(profile, np.full(3, np.nan)) is None


def test_categorical_distribution_flags_new_categories_and_sums_the_rest() -> None:
    reference = pd.DataFrame({"c": [f"k{i:02d}" for i in range(30)] * 10})
    profile = build_profile(reference).features["c"]
    data = categorical_distribution(profile, ["k00"] * 50 + ["new"] * 10, max_bars=10)
    assert data["categories"][-1] == "(rest)" and "new" in data["categories"]
    new = data["categories"].index("new")
    assert data["unseen"][new] and not any(
        flag for i, flag in enumerate(data["unseen"]) if i != new
    )
    assert sum(data["reference"]) == pytest.approx(1.0)
    assert sum(data["current"]) == pytest.approx(1.0)
    assert data["current"][new] == pytest.approx(10 / 60)


def drift_page(features: list[str], n: int = 3000) -> str:
    reference = credit_data(n, seed=1)[features]
    current = credit_data(n, seed=2, shift=True)[features]
    report = compare(reference, current)
    return drift_html(report, reference, current, subtitle="ref.parquet vs cur.parquet")


def test_drift_page_is_self_contained_with_verdict_table_and_plots() -> None:
    page = drift_page(SMALL)
    assert page.startswith("<!DOCTYPE html>")
    assert "Drift detected" in page and "new: crypto" in page
    assert sorted(images(page)) == sorted(f"distribution of {f}" for f in SMALL)
    for feature in SMALL:
        assert f"<b>{feature}</b>" in page  # a row of the drift table
    assert page.count('<tr class="drift">') == 3  # income, purpose, employment years
    # nothing is fetched: no scripts, no external stylesheets, fonts or images
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "url(" not in page


def test_no_drift_page_says_so() -> None:
    reference = credit_data(2000, seed=1)[["age", "region"]]
    current = credit_data(2000, seed=2)[["age", "region"]]
    page = drift_html(compare(reference, current), reference, current)
    assert "No drift" in page and "Drift detected" not in page


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A three-feature classifier with traffic over three hours: v1 as trained, v2 shifted."""
    settings = Settings(home=tmp_path_factory.mktemp("html") / "home", user="tester")
    features = ["annual_income", "employment_years", "purpose"]
    data = credit_data(3000, seed=3)
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("n", "passthrough", ["annual_income"]),
                        ("c", OneHotEncoder(handle_unknown="ignore"), ["purpose"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    ).fit(data[features], data["default"])
    for _ in range(2):
        modelport.register(model, "small", sample=data[features], settings=settings)
    log_traffic(settings, model, "small", 1, credit_data(900, seed=4), features=features)
    log_traffic(
        settings, model, "small", 2, credit_data(900, seed=5, shift=True), features=features
    )
    registry = Registry(settings)
    yield {"registry": registry, "reader": PredictionLogReader(settings.resolved_log_uri())}
    registry.close()


def small_report(world: dict[str, Any], target: str) -> MonitorReport:
    return run_monitor(world["registry"], world["reader"], target)


def test_monitor_page_has_every_section_and_plot_per_version(
    small_world: dict[str, Any],
) -> None:
    page = monitor_html(small_report(small_world, "small"))
    assert "Monitoring: small" in page and "Drift detected</b> in small:2" in page
    for heading in ("Drift by feature", "Drift over time", "Performance over time", "Traffic"):
        assert page.count(heading) == 2  # once per version
    per_version = [
        "drift over time",
        "performance over time",
        "traffic",
        "distribution of annual_income",
        "distribution of employment_years",
        "distribution of purpose",
    ]
    found = images(page)
    assert len(found) == 12
    assert found[:3] == per_version[:3] and sorted(found[:6]) == sorted(per_version)
    assert sorted(found[6:]) == sorted(per_version)


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(page: Path, png: Path, profile: Path) -> None:
    browser = _chromium()
    assert browser is not None
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1280,2400",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    return int((np.abs(pixels[..., :3].astype(int) - colour).max(axis=-1) <= tolerance).sum())


@pytest.mark.integration
@pytest.mark.skipif(_chromium() is None, reason="needs Chromium: apt-get install chromium")
def test_reports_render_in_a_real_browser(small_world: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image

    pages = {
        "drift": drift_page(FEATURES, n=5000),
        "monitor": monitor_html(small_report(small_world, "small")),
    }
    for name, text in pages.items():
        html_path = write_html(text, tmp_path / f"{name}.html")
        assert len(images(html_path.read_text())) >= 6
        png = tmp_path / f"{name}.png"
        screenshot(html_path, png, tmp_path / f"chrome-{name}")
        assert png.exists() and png.stat().st_size > 50_000
        pixels = np.asarray(Image.open(png).convert("RGB"))
        assert pixels.shape[:2] == (2400, 1280)
        colours = np.unique(pixels.reshape(-1, 3), axis=0)
        assert len(colours) > 1000, f"{name}: the screenshot looks blank"
        # the plots were drawn: the current (orange) and drift (red) colours are on screen
        assert _near(pixels, (240, 140, 0)) > 500, f"{name}: no current-data plot visible"
        assert _near(pixels, (224, 49, 49)) > 200, f"{name}: no drift highlight visible"
