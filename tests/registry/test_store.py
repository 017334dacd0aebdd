"""The registry on SQLite and on a real PostgreSQL server (same tests, both backends)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from modelport.errors import (
    AliasNotFound,
    ArtifactIntegrityError,
    ArtifactMissing,
    ConflictError,
    InvalidArgument,
    InvalidReference,
    ModelNotFound,
    VersionNotFound,
)
from modelport.registry import Registry
from modelport.registry.artifacts import directory_sha256
from modelport.settings import Settings


def make_artifact(tmp_path: Path, content: str) -> tuple[Path, str, int]:
    directory = tmp_path / f"art-{abs(hash(content))}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.bin").write_text(content)
    (directory / "sub").mkdir(exist_ok=True)
    (directory / "sub" / "extra.json").write_text('{"k": 1}')
    sha, size = directory_sha256(directory)
    return directory, sha, size


def add(registry: Registry, tmp_path: Path, name: str = "churn", content: str = "v", **kw):
    directory, sha, size = make_artifact(tmp_path, content)
    return registry.create_version(
        name,
        directory,
        flavor="python",
        flavor_options={"file": "model.bin"},
        artifact_sha256=sha,
        artifact_size=size,
        **kw,
    )


def artifact_dirs(settings: Settings, name: str) -> list[Path]:
    root = Path(settings.resolved_artifact_uri()) / name
    return sorted(root.iterdir()) if root.exists() else []


def test_versions_are_numbered_and_resolved(registry: Registry, tmp_path: Path) -> None:
    v1 = add(registry, tmp_path, content="one", metrics={"auc": 0.8}, tags={"team": "a"})
    v2 = add(registry, tmp_path, content="two", parent_version=1, git_sha="a" * 40)
    assert (v1.version, v2.version) == (1, 2)
    assert registry.get("churn").version == 2
    assert registry.get("churn:1").metrics == {"auc": 0.8}
    assert registry.get("churn:1").tags == {"team": "a"}
    assert v2.parent_version == 1 and v2.git_sha == "a" * 40
    assert v1.artifact_sha256 != v2.artifact_sha256
    assert v1.created_by == "tester"
    registry.set_alias("churn:1", "production")
    assert registry.get("churn@production").version == 1
    assert registry.get("churn:1").aliases == ["production"]
    assert registry.resolve("churn@production").version == 1
    [info] = registry.list_models()
    assert (info.name, info.latest_version, info.version_count) == ("churn", 2, 2)
    assert info.aliases == {"production": 1}


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("churn:0", InvalidReference),
        ("churn:x", InvalidReference),
        ("churn@a:1", InvalidReference),
        ("", InvalidReference),
        ("bad name!", InvalidReference),
        ("nope", ModelNotFound),
        ("churn:9", VersionNotFound),
        ("churn@staging", AliasNotFound),
    ],
)
def test_bad_references_name_the_problem(
    registry: Registry, tmp_path: Path, ref: str, error: type[Exception]
) -> None:
    add(registry, tmp_path)
    with pytest.raises(error) as info:
        registry.get(ref)
    assert str(info.value)


def test_unknown_model_lists_known_ones(registry: Registry, tmp_path: Path) -> None:
    add(registry, tmp_path, name="churn")
    with pytest.raises(ModelNotFound) as info:
        registry.get("chrun")
    assert "churn" in (info.value.hint or "")


def test_bad_writes_change_nothing(
    registry: Registry, registry_settings: Settings, tmp_path: Path
) -> None:
    add(registry, tmp_path)
    before = registry.list_versions("churn")
    with pytest.raises(InvalidArgument):
        add(registry, tmp_path, content="x", metrics={"auc": "high"})
    with pytest.raises(VersionNotFound):
        add(registry, tmp_path, content="y", parent_version=7)
    with pytest.raises(InvalidReference):
        add(registry, tmp_path, name="no spaces allowed")
    assert registry.list_versions("churn") == before
    # the artifact of a failed registration is removed again
    assert len(artifact_dirs(registry_settings, "churn")) == 1
    with pytest.raises(VersionNotFound):
        registry.set_alias("churn:5", "production")
    assert registry.history("churn") == []


def test_alias_moves_are_audited_and_rollback_walks_back(
    registry: Registry, tmp_path: Path
) -> None:
    for i in range(3):
        add(registry, tmp_path, content=str(i))
    registry.set_alias("churn:1", "production", reason="first")
    registry.set_alias("churn:2", "staging")
    registry.promote("churn@staging", "production", reason="better")
    registry.set_alias("churn:3", "production")
    assert registry.rollback("churn", "production").to_version == 2
    assert registry.rollback("churn", "production").to_version == 1
    with pytest.raises(ConflictError):
        registry.rollback("churn", "production")
    assert registry.get("churn@production").version == 1
    events = registry.history("churn", "production")
    assert [(e.action, e.from_version, e.to_version) for e in events] == [
        ("set", None, 1),
        ("promote", 1, 2),
        ("set", 2, 3),
        ("rollback", 3, 2),
        ("rollback", 2, 1),
    ]
    assert events[0].reason == "first" and events[0].actor == "tester"
    registry.remove_alias("churn", "staging")
    with pytest.raises(AliasNotFound):
        registry.get("churn@staging")
    assert registry.history("churn", "staging")[-1].action == "remove"
    with pytest.raises(InvalidReference):
        registry.set_alias("churn:1", "latest")


def test_search_by_name_tag_and_flavor(registry: Registry, tmp_path: Path) -> None:
    add(registry, tmp_path, name="churn", content="a", tags={"team": "growth"})
    add(registry, tmp_path, name="credit-risk", content="b", tags={"team": "risk"})
    add(registry, tmp_path, name="credit-risk", content="c", tags={"team": "risk", "stage": "x"})
    assert [str(v.ref) for v in registry.search("credit")] == ["credit-risk:1", "credit-risk:2"]
    assert [str(v.ref) for v in registry.search(tags={"stage": "x"})] == ["credit-risk:2"]
    assert [str(v.ref) for v in registry.search(tags={"team": "growth"})] == ["churn:1"]
    assert registry.search(flavor="onnx") == []
    assert registry.search("%") == []  # LIKE wildcards are literal


def test_tampered_and_missing_artifacts_are_refused(registry: Registry, tmp_path: Path) -> None:
    version = add(registry, tmp_path, content="original")
    path = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    (path / "model.bin").write_text("tampered")
    with pytest.raises(ArtifactIntegrityError):
        registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    other = add(registry, tmp_path, content="second")
    import shutil

    shutil.rmtree(other.artifact_uri)
    with pytest.raises(ArtifactMissing):
        registry.artifacts.fetch(other.artifact_uri, other.artifact_sha256)


def test_remote_artifact_store_is_fetched_into_a_verified_cache(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", artifact_uri="memory://modelport-test/art")
    registry = Registry(settings)
    version = add(registry, tmp_path, content="remote")
    assert version.artifact_uri.startswith("memory://")
    local = registry.artifacts.fetch(version.artifact_uri, version.artifact_sha256)
    assert (local / "model.bin").read_text() == "remote"
    assert local.parent == settings.cache_dir()
    registry.close()


def _register_many(settings: Settings, worker: int, count: int, tmp: str) -> list[int]:
    registry = Registry(settings)
    out = []
    for i in range(count):
        directory, sha, size = make_artifact(Path(tmp) / f"w{worker}", f"{worker}-{i}")
        out.append(
            registry.create_version(
                "shared",
                directory,
                flavor="python",
                flavor_options={},
                artifact_sha256=sha,
                artifact_size=size,
            ).version
        )
    registry.close()
    return out


@pytest.mark.integration
def test_concurrent_writers_get_distinct_versions(
    registry_settings: Settings, tmp_path: Path
) -> None:
    Registry(registry_settings).close()  # schema in place, as after any first use
    workers, each = 4, 6
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        results = pool.starmap(
            _register_many, [(registry_settings, w, each, str(tmp_path)) for w in range(workers)]
        )
    allocated = sorted(v for r in results for v in r)
    assert allocated == list(range(1, workers * each + 1))
    registry = Registry(registry_settings)
    versions = registry.list_versions("shared")
    assert [v.version for v in versions] == allocated
    for v in versions:  # every recorded version has its own intact artifact
        registry.artifacts.fetch(v.artifact_uri, v.artifact_sha256)
    assert len({v.artifact_uri for v in versions}) == workers * each
    registry.close()


@pytest.mark.integration
def test_concurrent_first_use_migrates_once(registry_settings: Settings, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.starmap(
            _register_many, [(registry_settings, w, 2, str(tmp_path)) for w in range(3)]
        )
    assert sorted(v for r in results for v in r) == list(range(1, 7))
