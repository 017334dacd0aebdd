"""The bundle's files: what each holds, the manifest's digests, a runner for Python 3.9+."""

from __future__ import annotations

import ast
import hashlib
import json
import pkgutil
import re
import sys
from pathlib import Path

import modelport.edge
from modelport.edge import bundle as bundle_module
from modelport.edge import runner, runner_source
from modelport.registry import Registry

FILES = ["README.md", "manifest.json", "model.onnx", "predict.py", "signature.json"]


def test_the_bundle_holds_exactly_its_files(bundle: Path) -> None:
    assert sorted(p.name for p in bundle.iterdir()) == FILES


def test_the_manifest_names_the_source_and_every_file_digest(
    exported: tuple[Registry, Path],
) -> None:
    registry, bundle = exported
    manifest = json.loads((bundle / "manifest.json").read_text())
    version = registry.get("credit:1")
    assert manifest["source"] == "credit:1" and manifest["source_flavor"] == "sklearn"
    assert manifest["source_sha256"] == version.artifact_sha256
    assert manifest["format_version"] == runner.FORMAT_VERSION == bundle_module.FORMAT_VERSION
    assert manifest["converted"] and manifest["parity"]["passed"]
    assert manifest["requires"]["packages"] == ["numpy", "onnxruntime"]
    assert sorted(manifest["files"]) == [f for f in FILES if f != "manifest.json"]
    for name, entry in manifest["files"].items():
        content = (bundle / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def test_the_signature_holds_the_versions_rules(exported: tuple[Registry, Path]) -> None:
    registry, bundle = exported
    document = json.loads((bundle / "signature.json").read_text())
    stored = registry.get("credit:1").signature
    assert stored is not None
    assert [f["name"] for f in document["features"]] == ["income", "age", "home"]
    for mine, theirs in zip(document["features"], stored["inputs"], strict=True):
        for key in ("name", "kind", "dtype", "nullable", "categories", "min", "max"):
            assert mine[key] == theirs[key], key
        assert mine["required"] is not theirs["nullable"]
    home = document["features"][2]
    assert home["categories"] == ["mortgage", "own", "rent"]
    assert home["unknown_categories"] == "accept"  # the OneHotEncoder ignores new ones
    assert document["outputs"] == {"kind": "class", "classes": ["bad", "good"], "has_proba": True}


def test_the_readme_gives_one_command(bundle: Path) -> None:
    text = (bundle / "README.md").read_text()
    blocks = re.findall(r"```\n(.*?)```", text, flags=re.S)
    assert blocks == ["python predict.py rows.jsonl > predictions.jsonl\n"]
    assert "credit:1" in text and "pip install numpy onnxruntime" in text
    assert "`home`: one of 'mortgage', 'own', 'rent' (or another)" in text


def test_predict_py_is_the_runner(bundle: Path) -> None:
    assert (bundle / "predict.py").read_text() == runner_source()
    assert runner_source() == Path(runner.__file__).read_text()


def test_the_runner_is_python_3_9_and_imports_only_numpy_and_onnxruntime() -> None:
    tree = ast.parse(runner_source(), feature_version=(3, 9))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").partition(".")[0])
        elif isinstance(node, ast.Call):  # 3.10+ keywords that parse on 3.9 but fail there
            assert not {k.arg for k in node.keywords} & {"strict", "slots", "kw_only"}
    foreign = {name for name in imported if name not in sys.stdlib_module_names}
    assert foreign == {"numpy", "onnxruntime"}


def test_the_package_exports_what_it_lists() -> None:
    exported = {n for n in dir(modelport.edge) if not n.startswith("_")}
    modules = {m.name for m in pkgutil.iter_modules(modelport.edge.__path__)}
    assert set(modelport.edge.__all__) == exported - modules
