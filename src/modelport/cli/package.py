"""``modelport package REF|DEPLOYMENT --out DIR``: a container build context, and more."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from modelport.cli.output import console, print_json

EXAMPLE = (
    "Example:\n\n"
    "    modelport package credit-risk@production --out build/credit --k8s --compose\n\n"
    "    buildah bud --format docker -t modelport-credit-risk:v3 build/credit\n\n"
    "    modelport package checkout --out build/checkout --artifacts fetch --json"
)


def package(
    target: Annotated[
        str, typer.Argument(help="a model reference (credit-risk@production) or a deployment")
    ],
    out: Annotated[Path, typer.Option("--out", help="the package directory to write")],
    k8s: Annotated[bool, typer.Option("--k8s", help="also write Kubernetes manifests")] = False,
    compose: Annotated[
        bool, typer.Option("--compose", help="also write docker-compose.yaml for one host")
    ] = False,
    artifacts: Annotated[
        str,
        typer.Option(help="copy: artifacts in the image; fetch: loaded from the registry"),
    ] = "copy",
    base_image: Annotated[
        str | None,
        typer.Option(help="the Dockerfile's default BASE_IMAGE (a tag or name@sha256:...)"),
    ] = None,
    image: Annotated[
        str | None, typer.Option(help="image name:tag [default: modelport-NAME:vN]")
    ] = None,
    modelport_wheel: Annotated[
        Path | None, typer.Option(help="a modelport wheel to install (default: built from source)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace a package written there before")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Write a container build context serving TARGET: a multi-stage Dockerfile (non-root,
    read-only root filesystem, HEALTHCHECK, OCI labels), the dependencies as a wheelhouse
    with a hashed lock, the artifacts with their sha256 checked at build and at start, the
    Grafana dashboards and Prometheus rules; with --k8s Kubernetes manifests, with --compose
    a one-host setup with PostgreSQL, Prometheus and Grafana.
    """
    # imported here: the service pulls in the registry and SQLAlchemy
    from modelport.packaging.context import PackageOptions
    from modelport.packaging.dockerfile import DEFAULT_BASE_IMAGE
    from modelport.registry import Registry
    from modelport.services.packaging import package as run
    from modelport.settings import Settings

    settings = Settings()
    options = PackageOptions(
        kubernetes=k8s,
        compose=compose,
        artifacts=artifacts,  # type: ignore[arg-type]  # the service checks it
        base_image=base_image or DEFAULT_BASE_IMAGE,
        image=image,
        force=force,
        modelport_wheel=modelport_wheel,
    )
    registry = Registry(settings)
    try:
        status = console.status("writing the package (building the wheelhouse)...")
        with contextlib.nullcontext() if as_json else status:
            report = run(registry, settings, target, out, options)
    finally:
        registry.close()
    if as_json:
        print_json(report.to_dict())
        return
    data = report.to_dict()
    console.print(f"package of [bold]{target}[/] written to [bold]{data['out_dir']}[/]")
    for version in data["versions"]:
        console.print(f"  {version['ref']}  sha256 {version['sha256'][:12]}...")
    console.print(f"  {data['wheels']} wheels locked by hash; artifacts: {data['artifacts']}")
    console.print("build it with:")
    for command in data["build"]:
        console.print(f"  {command}")


def attach(app: typer.Typer) -> None:
    """Register ``modelport package`` on the main app."""
    app.command("package", help=(package.__doc__ or "") + "\n\n" + EXAMPLE)(package)
