"""The entry point of a packaged image: check, record, then become the server.

``python -m modelport.packaging.start [--verify-only] [SERVE-OPTIONS]``

1. Read the manifest of the bundle (``/opt/modelport/package`` in the image).
2. With copied artifacts, recompute every artifact's sha256 and refuse to start (exit 3)
   when one differs from the registered digest: a tampered image never serves. The image
   build runs this step with ``--verify-only``, so a broken copy fails the build too.
3. Record the versions (under their own numbers), their aliases where the registry has
   none yet, the deployment, and the API keys of the mounted keys file in the registry of
   ``MODELPORT_REGISTRY_URI`` (default: SQLite under ``MODELPORT_HOME``, the writable
   volume). With fetched artifacts, check instead that the registry's versions carry the
   packaged sha256; the artifact store checks the bytes again at load.
4. ``exec`` the server (``python -m modelport.serving``) with the pinned references. The
   server replaces this process, so it receives SIGTERM itself and drains; when this
   process is PID 1 and ``tini`` is installed, tini is exec'ed in between to reap zombies
   (elsewhere run the image with ``--init``).

The keys file has one key per line, ``ROLE[,ROLE] KEY`` (``predict mpk_...``); ``#``
starts a comment. Only keys shaped like modelport keys are accepted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from modelport.errors import ArtifactIntegrityError, ConflictError, ModelportError
from modelport.packaging.bundle import Manifest, read_manifest, verify_bundle
from modelport.reference import Reference
from modelport.registry import Registry
from modelport.security.keys import key_id
from modelport.settings import Settings

#: where the image keeps the bundle and where the Kubernetes Secret is mounted
BUNDLE_DIR = Path("/opt/modelport/package")
KEYS_FILE = Path("/etc/modelport/keys/api-keys")
#: exit status of a refused artifact, apart from 1 (any other error) for orchestrators' logs
TAMPERED = 3


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m modelport.packaging.start",
        description="Check a packaged image's artifacts, record them, and start the server; "
        "other options are the server's (python -m modelport.serving --help).",
    )
    cli.add_argument("--bundle", type=Path, default=BUNDLE_DIR, help="the bundle directory")
    cli.add_argument("--keys-file", type=Path, default=KEYS_FILE, help="API keys to accept")
    cli.add_argument(
        "--verify-only", action="store_true", help="check the artifacts' sha256 and exit"
    )
    return cli


def record(manifest: Manifest, bundle: Path, registry: Registry) -> None:
    """Make the registry know what the package serves (idempotent across restarts)."""
    if manifest.artifacts == "copy":
        for version in manifest.versions:
            path = (bundle / manifest.paths[f"{version.name}:{version.version}"]).resolve()
            registry.import_version(version, str(path))
            present = registry.aliases(version.name)
            for alias in version.aliases:
                if alias not in present:  # never move an alias someone else set
                    registry.set_alias(Reference(version.name, version=version.version), alias)
    else:
        for version in manifest.versions:
            stored = registry.get(Reference(version.name, version=version.version))
            if stored.artifact_sha256 != version.artifact_sha256:
                raise ArtifactIntegrityError(
                    f"{version.name}:{version.version} in the registry has sha256 "
                    f"{stored.artifact_sha256[:12]}..., the package was made for "
                    f"{version.artifact_sha256[:12]}...",
                    hint="point MODELPORT_REGISTRY_URI at the registry it was packaged from",
                )
    spec = manifest.deployment
    if spec is not None and registry.deployments.find(spec.name) is None:
        registry.deployments.create(spec, reason="packaged image started")


def read_keys(path: Path) -> list[tuple[list[str], str]]:
    """``(roles, key)`` of every line of the keys file (none when there is no file)."""
    if not path.is_file():
        return []
    keys = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        roles, _, key = text.rpartition(" ")
        if not roles or key_id(key) is None:
            raise ConflictError(
                f"{path} line {number} is not `ROLE[,ROLE] KEY`",
                hint="e.g. `predict mpk_<id>_<secret>`; make keys with `modelport keys create`",
            )
        keys.append(([r.strip() for r in roles.split(",") if r.strip()], key))
    return keys


def record_keys(keys: list[tuple[list[str], str]], registry: Registry) -> None:
    for roles, key in keys:
        identifier = key_id(key)
        assert identifier is not None  # read_keys accepts only well-formed keys
        if registry.keys.lookup(identifier) is None:
            registry.keys.create(roles, key=key, description="from the package's keys file")


def server_command(manifest: Manifest, serve_args: Sequence[str]) -> list[str]:
    """The server process this one becomes, behind tini when it is PID 1 and tini exists."""
    command = [sys.executable, "-m", "modelport.serving", *manifest.refs]
    if manifest.deployment is not None:
        command += ["--deployment", manifest.deployment.name]
    command += list(serve_args)
    tini = shutil.which("tini")
    if os.getpid() == 1 and tini is not None:
        command = [tini, "--", *command]
    return command


def main(argv: Sequence[str] | None = None) -> None:
    # options this entry point does not know are the server's (`docker run IMAGE --workers 2`)
    args, rest = parser().parse_known_args(sys.argv[1:] if argv is None else list(argv))
    serve_args = [a for a in rest if a != "--"]
    try:
        manifest = read_manifest(args.bundle)
        if manifest.artifacts == "copy":
            verify_bundle(manifest, args.bundle)
        if args.verify_only:
            print(
                f"package verified: {', '.join(f'{v.name}:{v.version}' for v in manifest.versions)}"
            )
            return
        settings = Settings()
        registry = Registry(settings)
        try:
            record(manifest, args.bundle, registry)
            record_keys(read_keys(args.keys_file), registry)
        finally:
            registry.close()
    except ArtifactIntegrityError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        sys.exit(TAMPERED)
    except ModelportError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        sys.exit(1)
    command = server_command(manifest, serve_args)
    sys.stdout.flush()
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
