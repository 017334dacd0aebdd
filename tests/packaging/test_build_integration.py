"""Build a generated package for real and serve a prediction from the image.

No image registry is reachable here, so the base is made from Debian packages: a
``debootstrap --variant=minbase`` bookworm with python3 and python3-venv, imported with
``podman import`` (made once and kept as ``localhost/modelport-test-base:bookworm``, so a
session pays for it at most once). The image is built with ``buildah bud --isolation
chroot`` (podman's own runtime refuses on this machine: cgroups in hybrid mode) and its
entry point run with ``buildah run --isolation chroot``, which shares the host's network,
so the test calls the server on a loopback port.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.packaging import start
from modelport.packaging.bundle import read_manifest
from modelport.security.keys import new_key
from tests.packaging.conftest import Packaged

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = "localhost/modelport-test-base:bookworm"
TOOLS = ("buildah", "podman", "debootstrap")


def _run(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args[:3])}... exit {result.returncode}:\n{result.stderr[-3000:]}"
        )
    return result


def debian_mirror() -> str:
    """The first Debian mirror apt uses here (deb822 .sources or a sources.list line)."""
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt").glob("sources.list.d/*.list")]:
        if path.is_file():
            for line in path.read_text().splitlines():
                parts = line.split()
                if parts[:1] == ["deb"] and "security" not in line:
                    return next(p for p in parts[1:] if p.startswith("http"))
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="session")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed (apt-get install buildah podman debootstrap)"
        )
    if _run("podman", "image", "exists", BASE, check=False).returncode == 0:
        return BASE
    root = tmp_path_factory.mktemp("rootfs") / "root"
    _run(
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-venv",
        "bookworm",
        str(root),
        debian_mirror(),
    )
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["podman", "import", "-", BASE],
        stdin=tar.stdout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tar.wait(timeout=600)
    assert imported.returncode == 0, imported.stderr
    shutil.rmtree(root, ignore_errors=True)
    return BASE


def _build(context: Path, base: str, tag: str) -> subprocess.CompletedProcess[str]:
    # --layers: the second build (the tampered one) reuses the dependency stage;
    # --format docker: OCI image configs have no HEALTHCHECK
    return _run(
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        "--format",
        "docker",
        "--build-arg",
        f"BASE_IMAGE={base}",
        "-t",
        tag,
        str(context),
        check=False,
    )


def _image_ids() -> set[str]:
    return set(_run("buildah", "images", "--all", "--quiet", "--no-trunc").stdout.split())


@pytest.fixture(scope="session")
def image(packaged: Packaged, base_image: str) -> Iterator[str]:
    """The package built; at the end of the session every image the builds made (the
    tagged ones and --layers' intermediates, a GB each) is removed again, the base kept."""
    before = _image_ids()
    tag = f"localhost/modelport-test-numeric:{uuid.uuid4().hex[:8]}"
    try:
        built = _build(packaged.out, base_image, tag)
        assert built.returncode == 0, built.stderr[-4000:]
        assert "package verified: numeric:2" in built.stdout
        yield tag
    finally:
        made = sorted(_image_ids() - before)
        if made:
            _run("buildah", "rmi", "--force", *made, check=False)


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = _run("buildah", "from", image).stdout.strip().splitlines()[-1]
    yield name
    _run("buildah", "rm", name, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_image_is_non_root_labelled_and_health_checked(image: str) -> None:
    config = json.loads(_run("buildah", "inspect", "--type", "image", image).stdout)
    docker = config["Docker"]["config"]
    assert docker["User"] == "10001:10001"
    assert docker["Labels"]["org.opencontainers.image.title"] == "modelport-numeric"
    assert docker["Labels"]["org.opencontainers.image.version"] == "v2"
    assert docker["Healthcheck"]["Test"][0] == "CMD"
    assert docker["Entrypoint"][-3:] == [
        "modelport.packaging.start",
        "--bundle",
        start.BUNDLE_DIR.as_posix(),
    ]
    assert "/var/lib/modelport" in docker["Volumes"]


def test_the_built_image_serves_a_prediction(
    packaged: Packaged, container: str, tmp_path: Path
) -> None:
    _, key = new_key()
    keys = tmp_path / "api-keys"
    keys.write_text(f"predict {key}\n")
    keys.chmod(0o644)
    port = _free_port()
    before = tmp_path / "before"
    before.touch()
    time.sleep(1.1)  # mtimes have a resolution of a second on some file systems
    process = subprocess.Popen(
        [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            "-v",
            f"{keys}:{start.KEYS_FILE}:ro",
            "-e",
            f"MODELPORT_SERVING__PORT={port}",
            "-e",
            "MODELPORT_SERVING__HOST=127.0.0.1",
            container,
            "--",
            "/opt/modelport/venv/bin/python",
            "-m",
            "modelport.packaging.start",
            "--bundle",
            start.BUNDLE_DIR.as_posix(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = False
        deadline = time.monotonic() + 300  # a bound on a hung start, not a speed check
        while not ready and process.poll() is None and time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready, (
            "server did not become ready" if process.poll() is None else process.stdout.read()
        )  # type: ignore[union-attr]
        rows = packaged.X[:5].tolist()
        answer = httpx.post(
            f"{url}/v1/models/numeric:predict",
            json={"instances": rows},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == packaged.model.predict(packaged.X[:5]).tolist()
        assert httpx.get(f"{url}/v2/models/numeric", timeout=5).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=60)
    # the server ran as the image's user, not root (the registry it wrote is theirs)
    owner = _run(
        "buildah",
        "run",
        "--isolation",
        "chroot",
        container,
        "--",
        "stat",
        "-c",
        "%u",
        "/var/lib/modelport/registry.db",
    )
    assert owner.stdout.strip() == "10001"
    # read-only-root friendly: nothing in the image's filesystem changed, only the volumes
    # (MODELPORT_HOME, /tmp) and what buildah itself mounts or writes for a run
    assert written_outside_volumes(container, before) == []


#: paths buildah run writes or mounts itself (resolv.conf, hosts, /run, the keys mount)
_RUNTIME = ("/run", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/etc/modelport")


def written_outside_volumes(container: str, since: Path) -> list[str]:
    root = _run("buildah", "mount", container).stdout.strip()
    try:
        found = _run("find", root, "-xdev", "-newer", str(since)).stdout.split()
    finally:
        _run("buildah", "umount", container, check=False)
    changed = [path[len(root) :] or "/" for path in found]
    # a directory holding one of those changes its mtime when the entry is made
    parents = {str(Path(r).parent) for r in _RUNTIME} | {"/"}
    return [p for p in changed if p not in parents and not p.startswith(_RUNTIME)]


def test_a_tampered_artifact_in_the_image_is_refused_at_start(container: str, image: str) -> None:
    manifest_text = _run(
        "buildah",
        "run",
        "--isolation",
        "chroot",
        container,
        "--",
        "cat",
        f"{start.BUNDLE_DIR}/manifest.json",
    ).stdout
    rel = json.loads(manifest_text)["paths"]["numeric:2"]
    # the image's user cannot change it (files are root's)...
    denied = _run(
        "buildah",
        "run",
        "--isolation",
        "chroot",
        container,
        "--",
        "/bin/sh",
        "-c",
        f"echo x >> {start.BUNDLE_DIR}/{rel}/model.skops",
        check=False,
    )
    assert denied.returncode != 0
    # ...and when root does, the entry point refuses to serve it
    _run(
        "buildah",
        "run",
        "--isolation",
        "chroot",
        "--user",
        "0:0",
        container,
        "--",
        "/bin/sh",
        "-c",
        f"echo x >> {start.BUNDLE_DIR}/{rel}/model.skops",
    )
    refused = _run(
        "buildah",
        "run",
        "--isolation",
        "chroot",
        container,
        "--",
        "/opt/modelport/venv/bin/python",
        "-m",
        "modelport.packaging.start",
        "--bundle",
        start.BUNDLE_DIR.as_posix(),
        check=False,
    )
    assert refused.returncode == start.TAMPERED
    assert "refusing to serve" in refused.stdout + refused.stderr


def test_a_tampered_package_fails_the_build(
    packaged: Packaged, base_image: str, image: str, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    shutil.copytree(packaged.out, context)
    manifest = read_manifest(context / "package")
    artifact = context / "package" / manifest.paths["numeric:2"]
    victim = next(p for p in sorted(artifact.iterdir()) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"\0")
    tag = f"localhost/modelport-test-tampered:{uuid.uuid4().hex[:8]}"
    built = _build(context, base_image, tag)  # its layers go with the session's images
    assert built.returncode != 0
    assert "numeric:2" in built.stderr + built.stdout
