"""Artifacts encrypted at rest (MODELPORT_ARTIFACT_KEY): sealed on disk, checked on load."""

from __future__ import annotations

import base64
import io
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

import modelport
from modelport.errors import ArtifactError, ArtifactIntegrityError, ConfigurationError
from modelport.registry import Registry
from modelport.registry.artifacts import ArtifactStore, directory_sha256
from modelport.registry.encryption import HEADER_SIZE, ArtifactCipher
from modelport.settings import Settings

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
MARKER = b"a-string-that-must-not-be-readable-on-disk"


def _settings(home: Path, key: str | None) -> Settings:
    return Settings(home=home, user="tester", artifact_key=SecretStr(key) if key else None)


def _sample() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"income": rng.normal(50, 10, 60), "years": rng.integers(0, 30, 60)})
    return frame, (frame["income"] > 50).to_numpy().astype(int)


def _register(settings: Settings, name: str = "credit") -> modelport.ModelVersion:
    from sklearn.linear_model import LogisticRegression

    frame, target = _sample()
    model = LogisticRegression().fit(frame, target)
    return modelport.register(model, name, sample=frame, settings=settings)


def _artifact_files(settings: Settings) -> list[Path]:
    root = Path(settings.resolved_artifact_uri())
    return sorted(p for p in root.rglob("*") if p.is_file())


def _clear_cache(settings: Settings) -> None:
    shutil.rmtree(settings.cache_dir(), ignore_errors=True)


def test_register_and_load_with_a_key_round_trips(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", KEY)
    version = _register(settings)
    frame, _ = _sample()
    loaded = modelport.load("credit", settings=settings)
    from sklearn.linear_model import LogisticRegression

    expected = LogisticRegression().fit(frame, _sample()[1]).predict(frame)
    assert list(loaded.predict(frame)) == list(expected)
    files = _artifact_files(settings)
    assert files, "the artifact store holds the model's files"
    for path in files:
        data = path.read_bytes()
        assert data.startswith(b"\x89MPSEAL\n")
        assert b"PK\x03\x04" not in data  # the skops zip's header
        assert b"sklearn" not in data and b"LogisticRegression" not in data
    # the registered digest is the plaintext's, and the cached plaintext matches it
    cached = settings.cache_dir() / f"{version.artifact_sha256}.{_key_id(KEY)}"
    assert directory_sha256(cached)[0] == version.artifact_sha256
    assert stat.S_IMODE(cached.stat().st_mode) == 0o700


def _key_id(key: str) -> str:
    cipher = ArtifactCipher.from_setting(SecretStr(key))
    assert cipher is not None
    return cipher.key_id.hex()


def test_loading_without_the_key_fails_naming_the_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _register(_settings(home, KEY))
    modelport.load("credit", settings=_settings(home, KEY))  # leaves a decrypted copy cached
    with pytest.raises(ArtifactError) as info:
        modelport.load("credit", settings=_settings(home, None))
    assert "MODELPORT_ARTIFACT_KEY" in info.value.message
    assert "is not set" in info.value.message
    assert not isinstance(info.value, ArtifactIntegrityError)


def test_loading_with_another_key_fails_naming_the_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _register(_settings(home, KEY))
    with pytest.raises(ArtifactError) as info:
        modelport.load("credit", settings=_settings(home, OTHER_KEY))
    assert "MODELPORT_ARTIFACT_KEY" in info.value.message
    assert "another key" in info.value.message
    assert not isinstance(info.value, ArtifactIntegrityError)
    assert KEY not in str(info.value) and OTHER_KEY not in str(info.value)


def test_a_tampered_ciphertext_fails_authentication(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", KEY)
    _register(settings)
    # the model file, not the training sample kept beside it
    (path,) = [p for p in _artifact_files(settings) if p.suffix != ".parquet"]
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + 100] ^= 0x01
    path.write_bytes(bytes(data))
    _clear_cache(settings)
    with pytest.raises(ArtifactIntegrityError, match="fails authentication"):
        modelport.load("credit", settings=settings)
    assert not any(settings.cache_dir().iterdir())  # the half-decrypted copy is gone


def test_plain_and_encrypted_artifacts_coexist(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plain = _register(_settings(home, None))
    sealed = _register(_settings(home, KEY))
    frame, _ = _sample()
    for ref in (plain.ref, sealed.ref):
        assert len(modelport.load(ref, settings=_settings(home, KEY)).predict(frame)) == 60
    assert len(modelport.load(plain.ref, settings=_settings(home, None)).predict(frame)) == 60
    with pytest.raises(ArtifactError, match="MODELPORT_ARTIFACT_KEY"):
        modelport.load(sealed.ref, settings=_settings(home, None))


def test_the_key_comes_from_the_environment_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_ARTIFACT_KEY", KEY)
    settings = Settings(home=tmp_path / "home")
    assert settings.artifact_key is not None
    assert settings.artifact_key.get_secret_value() == KEY
    assert KEY not in repr(settings) and KEY not in settings.model_dump_json()
    registry = Registry(settings)
    try:
        assert registry.artifacts.cipher is not None
        assert KEY not in repr(registry.artifacts.cipher)
    finally:
        registry.close()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"short").decode(), "5 bytes long"),
        (base64.b64encode(os.urandom(64)).decode(), "64 bytes long"),
        ("", "0 bytes long"),
    ],
)
def test_a_bad_key_is_a_configuration_error_with_a_hint(
    tmp_path: Path, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        Registry(Settings(home=tmp_path / "home", artifact_key=SecretStr(value)))
    assert problem in info.value.message
    assert "MODELPORT_ARTIFACT_KEY" in info.value.message
    assert info.value.hint and "os.urandom(32)" in info.value.hint
    if value:
        assert value not in str(info.value)


def _store(root: str, cache: Path, key: str | None) -> ArtifactStore:
    cipher = ArtifactCipher.from_setting(SecretStr(key) if key is not None else None)
    return ArtifactStore(root, cache, cipher=cipher)


def _directory(tmp_path: Path) -> tuple[Path, str]:
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (source / "a.bin").write_bytes(MARKER * 1000)
    (source / "sub" / "b.json").write_bytes(b'{"b": "' + MARKER + b'"}')
    (source / "empty").write_bytes(b"")
    return source, directory_sha256(source)[0]


def test_files_cannot_be_swapped_within_an_artifact(tmp_path: Path) -> None:
    store = _store(str(tmp_path / "store"), tmp_path / "cache", KEY)
    source, sha = _directory(tmp_path)
    root = Path(store.put(source, "m"))
    a, b = root / "a.bin", root / "sub" / "b.json"
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    with pytest.raises(ArtifactIntegrityError, match="fails authentication"):
        store.fetch(str(root), sha)


def test_a_remote_store_is_encrypted_too(tmp_path: Path) -> None:
    import fsspec

    root = "memory://modelport-encryption-test/art"
    store = _store(root, tmp_path / "cache", KEY)
    source, sha = _directory(tmp_path)
    uri = store.put(source, "m")
    fs = fsspec.filesystem("memory")
    stored = [fs.cat_file(path) for path in fs.find(uri)]
    assert len(stored) == 3 and all(MARKER not in data for data in stored)
    local = store.fetch(uri, sha)
    assert (local / "a.bin").read_bytes() == MARKER * 1000
    assert (local / "empty").read_bytes() == b""
    with pytest.raises(ArtifactError, match="MODELPORT_ARTIFACT_KEY is not set"):
        _store(root, tmp_path / "cache", None).fetch(uri, sha)
    fs.rm(uri, recursive=True)


def _seal(cipher: ArtifactCipher, data: bytes, path: str = "f") -> bytes:
    out = io.BytesIO()
    cipher.seal(io.BytesIO(data), out, path)
    return out.getvalue()


def _open(cipher: ArtifactCipher, sealed: bytes, path: str = "f") -> bytes:
    source, out = io.BytesIO(sealed), io.BytesIO()
    cipher.open(source.read(HEADER_SIZE), source, out, path, "test://artifact")
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20])
def test_sealing_round_trips_across_segment_boundaries(size: int) -> None:
    cipher = ArtifactCipher(bytes(32))
    data = os.urandom(size)
    sealed = _seal(cipher, data)
    assert _open(cipher, sealed) == data
    assert _seal(cipher, data) != sealed  # a fresh nonce per file


def test_truncated_extended_or_moved_files_fail_authentication() -> None:
    cipher = ArtifactCipher(bytes(32))
    sealed = _seal(cipher, os.urandom(2 << 20))  # two full segments
    segment = (1 << 20) + 16
    cut = sealed[: HEADER_SIZE + segment]  # ends at a segment boundary
    for damaged in (cut, sealed + sealed[HEADER_SIZE:], sealed[:-1]):
        with pytest.raises(ArtifactIntegrityError):
            _open(cipher, damaged)
    with pytest.raises(ArtifactIntegrityError):
        _open(cipher, sealed, path="another/path")


def test_an_unknown_format_version_is_a_clear_error(tmp_path: Path) -> None:
    store = _store(str(tmp_path / "store"), tmp_path / "cache", KEY)
    source, sha = _directory(tmp_path)
    root = Path(store.put(source, "m"))
    data = bytearray((root / "a.bin").read_bytes())
    data[8] = 99
    (root / "a.bin").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="format 99"):
        store.fetch(str(root), sha)


def test_batch_scoring_passes_the_key_to_its_workers(tmp_path: Path) -> None:
    from modelport.batch import score

    settings = _settings(tmp_path / "home", KEY)
    _register(settings)
    frame, _ = _sample()
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, index=False)
    summary = score("credit", source, tmp_path / "out.parquet", workers=2, settings=settings)
    assert summary.rows_scored == 60


@pytest.mark.integration
@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_scores_an_encrypted_model_without_shipping_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (17+)")
    import modelport.batch.spark as engine
    from modelport.batch import score
    from modelport.batch.spark import spark_session

    shipped_keys: list[object] = []
    real_scorer = engine._scorer

    def scorer(shipped: Any) -> Any:  # what the broadcast carries, seen on the driver
        shipped_keys.append(shipped[2].settings["artifact_key"])
        return real_scorer(shipped)

    monkeypatch.setattr(engine, "_scorer", scorer)

    settings = _settings(tmp_path / "home", KEY)
    _register(settings)
    frame, _ = _sample()
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, index=False)
    from pyspark.sql import SparkSession

    owned = SparkSession.getActiveSession() is None
    # another test's session may be running: use it (a different master is refused)
    session = spark_session("local[1]" if owned else None)
    try:
        summary = score(
            "credit",
            source,
            tmp_path / "out.parquet",
            engine="spark",
            settings=settings,
            spark=session,
        )
    finally:
        if owned:
            session.stop()
    assert summary.rows_scored == 60
    assert shipped_keys == [None]
