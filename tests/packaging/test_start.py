"""The image's entry point: check, record in the container's registry, become the server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.errors import ArtifactIntegrityError, ConflictError
from modelport.packaging import start
from modelport.packaging.bundle import read_manifest, select, write_bundle
from modelport.registry import Registry
from modelport.security.keys import new_key
from modelport.settings import Settings
from tests.packaging.conftest import Packaged, register_numeric


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    settings = Settings(home=tmp_path / "source", user="tester")
    register_numeric(settings)
    registry = Registry(settings)
    try:
        write_bundle(registry, select(registry, "checkout"), tmp_path / "bundle", "copy")
    finally:
        registry.close()
    return tmp_path / "bundle"


def test_versions_keep_their_numbers_and_aliases_in_a_fresh_registry(
    bundle: Path, tmp_path: Path
) -> None:
    manifest = read_manifest(bundle)
    registry = Registry(Settings(home=tmp_path / "container", user="container"))
    try:
        start.record(manifest, bundle, registry)
        start.record(manifest, bundle, registry)  # a restart with the same volume
        assert registry.get("numeric@production").version == 2
        stored = registry.get("numeric:1")
        assert stored.artifact_sha256 == manifest.versions[1].artifact_sha256
        # the registry loads it from the bundle and checks the sha256 on the way
        assert registry.artifacts.fetch(stored.artifact_uri, stored.artifact_sha256).is_dir()
        deployment = registry.deployments.get("checkout")
        assert deployment.spec.refs() == ["numeric:2", "numeric:1"]
        assert [v.version for v in registry.list_versions("numeric")] == [1, 2]
    finally:
        registry.close()


def test_another_artifact_under_the_same_number_is_a_conflict(bundle: Path, tmp_path: Path) -> None:
    manifest = read_manifest(bundle)
    settings = Settings(home=tmp_path / "other", user="tester")
    register_numeric(Settings(home=tmp_path / "other", user="tester"))
    registry = Registry(settings)
    try:
        with pytest.raises(ConflictError, match="another artifact"):
            start.record(manifest, bundle, registry)
    finally:
        registry.close()


def test_fetch_mode_refuses_a_registry_whose_version_differs(tmp_path: Path) -> None:
    source = Settings(home=tmp_path / "a", user="tester")
    register_numeric(source)
    registry = Registry(source)
    try:
        manifest = write_bundle(registry, select(registry, "numeric:1"), tmp_path / "b", "fetch")
        start.record(manifest, tmp_path / "b", registry)  # the registry it came from: fine
    finally:
        registry.close()
    registry = Registry(Settings(home=tmp_path / "c", user="tester"))
    try:
        X = np.random.default_rng(1).normal(size=(50, 4))
        other = LogisticRegression().fit(X, (X[:, 2] > 0).astype(int))
        modelport.register(other, "numeric", sample=X, registry=registry)  # numeric:1, not ours
        with pytest.raises(ArtifactIntegrityError, match="packaged"):
            start.record(manifest, tmp_path / "b", registry)
    finally:
        registry.close()


def test_keys_of_the_keys_file_are_accepted_once(tmp_path: Path) -> None:
    _, key = new_key()
    path = tmp_path / "api-keys"
    path.write_text(f"# comment\npredict,feedback {key}\n\n")
    keys = start.read_keys(path)
    assert keys == [(["predict", "feedback"], key)]
    registry = Registry(Settings(home=tmp_path / "h", user="tester"))
    try:
        start.record_keys(keys, registry)
        start.record_keys(keys, registry)
        listed = registry.keys.list()
        assert len(listed) == 1
        assert set(listed[0].roles) == {"predict", "feedback"}
    finally:
        registry.close()
    path.write_text("predict not-a-key\n")
    with pytest.raises(ConflictError, match="line 1"):
        start.read_keys(path)
    assert start.read_keys(tmp_path / "absent") == []


def test_the_server_command_serves_the_pinned_references(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    command = start.server_command(manifest, ["--workers", "2"])
    assert command[1:3] == ["-m", "modelport.serving"]
    assert command[-4:] == ["--deployment", "checkout", "--workers", "2"]


def _run_start(bundle: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport.packaging.start", "--bundle", str(bundle), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(home: Path) -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src, "MODELPORT_HOME": str(home)}


def test_a_tampered_bundle_exits_3_before_anything_starts(bundle: Path, tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    assert _run_start(bundle, env, "--verify-only").returncode == 0
    manifest = read_manifest(bundle)
    victim = next(p for p in (bundle / manifest.paths["numeric:2"]).iterdir() if p.is_file())
    victim.write_bytes(b"tampered" + victim.read_bytes())
    result = _run_start(bundle, env)
    assert result.returncode == start.TAMPERED, result.stderr
    assert "numeric:2" in result.stderr and "refusing" in result.stderr
    assert not (tmp_path / "home" / "registry.db").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.integration
def test_the_entry_point_serves_a_prediction_from_the_package(
    packaged: Packaged, tmp_path: Path
) -> None:
    """The fallback of the image build: the package's entry point in a venv, with a key."""
    bundle = tmp_path / "package"
    shutil.copytree(packaged.out / "package", bundle)
    _, key = new_key()
    keys = tmp_path / "api-keys"
    keys.write_text(f"predict {key}\n")
    port = _free_port()
    env = {**_env(tmp_path / "home"), "MODELPORT_SERVING__PORT": str(port)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport.packaging.start",
            "--bundle",
            str(bundle),
            "--keys-file",
            str(keys),
            "--host",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        ready = False
        for _ in range(600):
            if process.poll() is not None:
                break
            try:
                ready = httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready:
                break
            time.sleep(0.1)
        assert ready, process.stdout.read() if process.poll() is not None else "not ready"
        rows = packaged.X[:3].tolist()
        answer = httpx.post(
            f"{url}/v1/models/numeric:predict",
            json={"instances": rows},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == packaged.model.predict(packaged.X[:3]).tolist()
        refused = httpx.post(f"{url}/v1/models/numeric:predict", json={"instances": rows})
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0
