"""``modelport doctor``: the security posture of this configuration, judged."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.cli.output import console, print_json, table

_STYLE = {"ok": "green", "warn": "yellow", "danger": "bold red"}


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Check the security posture: auth, bind address, TLS, pickle trust, encryption, limits.

    Judges the settings `modelport serve` would start with (MODELPORT_SERVING__HOST,
    MODELPORT_TRUST_PICKLES, MODELPORT_ARTIFACT_KEY, ...) and the keys in the registry.
    Exits 1 when a setting is dangerous (e.g. no auth on a public address, trusted
    pickles), so it can gate a deployment pipeline.

    Example:

        modelport doctor

        MODELPORT_SERVING__HOST=0.0.0.0 modelport doctor --json
    """
    from modelport.registry import Registry
    from modelport.security.posture import worst
    from modelport.services.posture import doctor as findings_of
    from modelport.settings import Settings

    settings = Settings()
    registry = Registry(settings)
    try:
        findings = findings_of(settings, registry)
    finally:
        registry.close()
    verdict = worst(findings)
    if as_json:
        print_json({"verdict": verdict, "findings": [f.to_dict() for f in findings]})
    else:
        rows = [
            [f.topic, f"[{_STYLE[f.level]}]{f.level}[/]", f.message, f.hint or ""] for f in findings
        ]
        table("security posture", ["topic", "level", "finding", "what to do"], rows, console)
        console.print(f"verdict: [{_STYLE[verdict]}]{verdict}[/]")
    if verdict == "danger":
        raise typer.Exit(1)


def attach(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
