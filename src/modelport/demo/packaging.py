"""The demo's packaging step: a package directory for a served version, and how to build it."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from modelport.packaging.context import PackageOptions
from modelport.registry import Registry
from modelport.services.packaging import PackageReport, package


def write_package(registry: Registry, ref: str, out_dir: Path, console: Console) -> PackageReport:
    """Write the package of ``ref`` (with Kubernetes manifests and compose) into ``out_dir``."""
    console.print(f"  modelport package {ref} --out {out_dir} --k8s --compose --force")
    with console.status("  building the wheelhouse (pip download, hashed lock)..."):
        report = package(
            registry,
            registry.settings,
            ref,
            out_dir,
            PackageOptions(kubernetes=True, compose=True, force=True),
        )
    result = report.result
    versions = ", ".join(f"{v.name}:{v.version}" for v in result.manifest.versions)
    console.print(
        f"  {result.out_dir}: Dockerfile ({versions}, sha256 checked at build and start), "
        f"{result.wheels} wheels locked by hash"
    )
    groups = {
        "k8s": "Kubernetes manifests",
        "grafana": "Grafana dashboards",
        "prometheus": "Prometheus rules",
        "compose": "compose service files",
    }
    for folder, what in groups.items():
        count = sum(1 for f in result.files if f.startswith(f"{folder}/"))
        console.print(f"    {folder}/  {count} {what}")
    console.print("  build it with:")
    for command in result.build_commands():
        console.print(f"    {command}")
    console.print(f"    docker compose --project-directory {result.out_dir} up   # one host")
    console.print(f"    kubectl apply -f {result.out_dir}/k8s/deployment.yaml ...   # a cluster")
    return report
