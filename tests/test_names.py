"""Hostile model, alias and deployment names are refused at every entry point, storing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import hypothesis
import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelport
from modelport.cli import app
from modelport.errors import ArtifactError, InvalidArgument, InvalidReference
from modelport.reference import parse, validate_alias, validate_name
from modelport.registry import Registry
from modelport.registry.artifacts import ArtifactStore
from modelport.serving.metadata import v2_reference
from modelport.settings import Settings

HOSTILE = [
    "../x",
    "a/b",
    "x\x00y",
    "..",
    ".hidden",
    "-rf",
    "\uff58",  # full-width x: looks like an ASCII name, is another
    "a" * 300,
    "a\nb",
    "a\\b",
    "a..b",
    "/etc/passwd",
    "C:\\x",
    "a\tb",
    "a\x7fb",
    "\u0430bc",  # Cyrillic a, then ASCII bc
    "name ",
    "",
]
ERRORS = (InvalidReference, InvalidArgument)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(Settings(home=tmp_path / "home", user="tester"))
    yield reg
    reg.close()


def _model() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    return LogisticRegression().fit(frame, (frame["a"] > 0).astype(int)), frame


def _state(registry: Registry, tmp_path: Path) -> tuple[object, ...]:
    """Everything a refused call could have written: records and every file under tmp."""
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    deployments = [d.summary() for d in registry.deployments.all()]
    versions = [(v.ref, v.artifact_uri) for v in registry.search()]
    aliases = [(m.name, m.aliases) for m in registry.list_models()]
    return files, deployments, versions, aliases


@pytest.fixture
def seeded(registry: Registry) -> Registry:
    model, frame = _model()
    modelport.register(model, "good", sample=frame, registry=registry)
    return registry


@pytest.mark.parametrize("name", HOSTILE)
def test_the_validator_refuses_hostile_names_saying_why(name: str) -> None:
    with pytest.raises(InvalidReference) as info:
        validate_name(name)
    assert "invalid model name" in info.value.message
    assert info.value.hint and "ASCII" in info.value.hint
    assert len(info.value.message) < 200  # a 300-character name is cut short in the message
    with pytest.raises(InvalidReference):
        validate_alias(name)
    with pytest.raises(InvalidReference):
        parse(f"{name}:1")


@pytest.mark.parametrize("name", HOSTILE)
def test_register_refuses_hostile_names_and_stores_nothing(
    seeded: Registry, tmp_path: Path, name: str
) -> None:
    model, frame = _model()
    before = _state(seeded, tmp_path)
    with pytest.raises(ERRORS):
        modelport.register(model, name, sample=frame, registry=seeded)
    assert _state(seeded, tmp_path) == before


@pytest.mark.parametrize("name", HOSTILE)
def test_set_alias_refuses_hostile_names_and_aliases(
    seeded: Registry, tmp_path: Path, name: str
) -> None:
    before = _state(seeded, tmp_path)
    with pytest.raises(ERRORS):
        modelport.set_alias(f"{name}:1", "production", registry=seeded)
    with pytest.raises(ERRORS):
        modelport.set_alias("good:1", name, registry=seeded)
    with pytest.raises(ERRORS):
        seeded.remove_alias(name, "production")
    with pytest.raises(ERRORS):
        seeded.rollback(name, "production")
    assert _state(seeded, tmp_path) == before


@pytest.mark.parametrize("name", HOSTILE)
def test_deploy_refuses_hostile_names_and_stores_nothing(
    seeded: Registry, tmp_path: Path, name: str
) -> None:
    before = _state(seeded, tmp_path)
    with pytest.raises(ERRORS) as info:
        modelport.deploy(name, {"good:1": 100}, registry=seeded)
    assert "deployment name" in info.value.message
    with pytest.raises(ERRORS):
        modelport.deploy("checkout", {f"{name}:1": 100}, registry=seeded)
    for call in (seeded.deployments.get, seeded.deployments.remove, seeded.deployments.history):
        with pytest.raises(ERRORS):
            call(name)
    assert _state(seeded, tmp_path) == before


@pytest.mark.parametrize("name", ["../x", "a/b", "-rf", "\uff58"])
def test_the_cli_refuses_hostile_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    for args in (
        ["deploy", "create", name, "--arm", "good:1=100"],
        ["alias", "set", f"{name}:1", "production"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code != 0, result.output
        assert "invalid" in result.output or "No such option" in result.output, result.output
    assert not (tmp_path / "home" / "artifacts").exists()


# parse() drops surrounding whitespace ("name " is "name"), so those are not hostile there
@pytest.mark.parametrize("name", [n for n in HOSTILE if n.strip() == n])
def test_http_paths_refuse_hostile_names(name: str) -> None:
    with pytest.raises(InvalidReference):
        v2_reference(name)
    with pytest.raises(InvalidReference):
        v2_reference(name, "1")


@pytest.mark.parametrize("name", HOSTILE)
def test_the_artifact_store_never_builds_a_path_from_a_hostile_name(
    tmp_path: Path, name: str
) -> None:
    store = ArtifactStore(str(tmp_path / "store"), tmp_path / "cache")
    source = tmp_path / "source"
    source.mkdir()
    (source / "model.bin").write_bytes(b"m")
    with pytest.raises(InvalidReference):
        store.put(source, name)
    assert not (tmp_path / "store").exists()


def test_a_link_planted_in_the_artifact_root_is_not_followed_out(tmp_path: Path) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "m").symlink_to(outside, target_is_directory=True)
    source = tmp_path / "source"
    source.mkdir()
    (source / "model.bin").write_bytes(b"m")
    with pytest.raises(ArtifactError, match="outside the artifact root"):
        ArtifactStore(str(root), tmp_path / "cache").put(source, "m")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["credit-risk", "m.v2_x", "A1", "x" * 128, "model-"])
def test_ordinary_names_still_pass(name: str) -> None:
    assert validate_name(name) == name


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    st.one_of(
        st.text(max_size=140),
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,130}", fullmatch=True),
    )
)
def test_every_accepted_name_is_one_plain_path_component(name: str) -> None:
    try:
        validate_name(name)
    except InvalidReference:
        return
    root = Path("/srv/artifacts")
    assert name.isascii() and name.isprintable() and len(name) <= 128
    assert PurePosixPath(name).parts == (name,) and PureWindowsPath(name).parts == (name,)
    assert (root / name).parent == root and ".." not in name and name[0] not in ".-_"
