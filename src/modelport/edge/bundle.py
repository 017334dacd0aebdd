"""Writing an edge bundle: the ONNX graph, its rules, the runner, a README and a manifest.

The bundle is written into a fresh directory beside ``out`` and moved into place only
when complete, so an interrupted export never leaves a half bundle that looks whole.
``manifest.json`` records the sha256 of every other file; the runner checks the model's
and the rules' before it loads them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from modelport.errors import ConflictError

#: the layout version the runner checks (``FORMAT_VERSION`` in runner.py)
FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
RULES_FILE = "signature.json"
RUNNER_FILE = "predict.py"
README_FILE = "README.md"
MANIFEST_FILE = "manifest.json"

Checked = TypeVar("Checked")


def runner_source() -> str:
    """The text of the runner, copied into every bundle as ``predict.py``."""
    return resources.files("modelport.edge").joinpath("runner.py").read_text(encoding="utf-8")


def refuse_existing(out: Path, *, force: bool) -> None:
    """ConflictError when ``out`` is a file, or a non-empty directory without ``force``."""
    if out.exists() and not out.is_dir():
        raise ConflictError(
            f"{out} exists and is not a directory",
            hint="choose a directory path for the bundle",
        )
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConflictError(
            f"{out} is not empty; the export would replace what is in it",
            hint="choose an empty or new directory, or pass --force to replace its contents",
        )


def write_bundle(
    out: Path,
    model: bytes,
    rules: dict[str, Any],
    manifest: dict[str, Any],
    *,
    force: bool = False,
    verify: Callable[[Path], Checked] | None = None,
) -> tuple[dict[str, str], Checked | None]:
    """Write the bundle into ``out``: file name -> sha256 (the manifest's list), and what
    ``verify`` returned. ``verify`` is called on the complete bundle before it is moved
    into place; when it raises, nothing is written."""
    out = Path(out)
    refuse_existing(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        files = {
            MODEL_FILE: model,
            RULES_FILE: (json.dumps(rules, indent=2) + "\n").encode(),
            RUNNER_FILE: runner_source().encode(),
            README_FILE: readme(rules, str(manifest.get("source", "?"))).encode(),
        }
        for name, content in files.items():
            (staging / name).write_bytes(content)
        digests = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
        document = {
            "format": "modelport-edge",
            "format_version": FORMAT_VERSION,
            **manifest,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "requires": {"python": ">=3.9", "packages": ["numpy", "onnxruntime"]},
            "files": {
                name: {"sha256": digests[name], "bytes": len(content)}
                for name, content in files.items()
            },
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(document, indent=2) + "\n")
        checked = None if verify is None else verify(staging)
        if out.exists():
            shutil.rmtree(out)  # refuse_existing let it through: empty, or --force
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return digests, checked


def readme(rules: dict[str, Any], source: str) -> str:
    """The bundle's README: what it is, the one command, what goes in and comes out."""
    features = rules["features"]
    lines = [f"- `{f['name']}`: {_described(f)}" for f in features[:30]]
    if len(features) > 30:
        lines.append(f"- ... and {len(features) - 30} more (see signature.json)")
    classes = rules["outputs"]["classes"]
    answer = (
        '{"prediction": ..., "probabilities": {"<class>": p, ...}}'
        if classes is not None
        else '{"prediction": ...}'
    )
    return "\n".join(
        [
            f"# {source}, exported by modelport",
            "",
            "Predicts on a machine with Python 3.9+, NumPy and ONNX Runtime only",
            "(`pip install numpy onnxruntime`): no modelport, no scikit-learn, no network.",
            "",
            "```",
            "python predict.py rows.jsonl > predictions.jsonl",
            "```",
            "",
            "Each line of `rows.jsonl` is one JSON object, feature name -> value (`-` reads",
            f"standard input). Each answer is one JSON line, `{answer}`;",
            'a refused line answers `{"line": N, "error": ..., "problems": [...]}` naming each',
            "bad field, the rest are still answered, and the exit status is then 1.",
            "`--threads 0` uses every core (faster on large files; the default of one thread",
            "gives exactly the server's answers).",
            "",
            "Inputs are checked as the modelport server checks them (signature.json): unknown",
            "fields, missing required ones, wrong types, nulls and unknown categories are refused.",
            "",
            *lines,
            "",
            "manifest.json holds the sha256 of every file; predict.py refuses a changed model.",
            "",
        ]
    )


def _described(feature: dict[str, Any]) -> str:
    kind = feature["kind"]
    if kind == "category" and feature["categories"] is not None:
        shown = ", ".join(repr(c) for c in feature["categories"][:8])
        more = ", ..." if len(feature["categories"]) > 8 else ""
        text = f"one of {shown}{more}"
        if feature["unknown_categories"] == "accept":
            text += " (or another)"
    elif kind in ("float", "integer") and feature["min"] is not None:
        text = f"{'a whole number' if kind == 'integer' else 'a number'}, "
        text += f"{feature['min']:g} to {feature['max']:g} in training"
    else:
        text = {"float": "a number", "integer": "a whole number", "boolean": "true or false"}.get(
            kind, "a string"
        )
    return text + ("" if feature["required"] else " (may be null or absent)")
