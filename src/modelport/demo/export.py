"""The demo's edge step: a version exported as a folder that needs only NumPy and ONNX
Runtime, and its predict.py run as a script on a few rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from modelport.edge.lines import plain_record
from modelport.loaded import load_model
from modelport.registry import Registry
from modelport.services.checking import stored_sample
from modelport.services.exporting import ExportReport, export_edge


def export_edge_bundle(
    registry: Registry, ref: str, out_dir: Path, console: Console
) -> ExportReport:
    """Export ``ref`` into ``out_dir`` (replacing it) and run its predict.py on three kept
    training rows and one bad line, in a subprocess of this interpreter."""
    console.rule("12. Edge: the model as a folder that needs only numpy and onnxruntime")
    console.print(f"  modelport export {ref} --format edge {out_dir}")
    report = export_edge(registry, ref, out_dir, force=True)
    how = "its ONNX graph as it is"
    if report.parity is not None:
        how = (
            f"converted from {report.source_flavor}, parity on {report.parity.rows} rows: "
            f"max diff {report.parity.max_abs_diff:.2g}, "
            f"{report.parity.label_changes:.1%} labels changed"
        )
    console.print(f"  {report.source} → {out_dir}/ ({how})")
    for name, digest in report.files.items():
        size = (out_dir / name).stat().st_size
        console.print(f"    {name:<15} {size:>10,} bytes  sha256 {digest[:12]}…")

    if report.bundle_check is not None:
        check = report.bundle_check
        console.print(
            f"  its predict.py, run on the {check.rows} kept rows: max diff "
            f"{check.max_abs_diff:.2g} from the version, {check.label_changes:.1%} labels changed"
        )
    sample = stored_sample(registry, load_model(registry, ref))
    records = [] if sample is None else sample.head(3).to_dict("records")
    lines = [json.dumps(plain_record(r)) for r in records]
    if records:  # a typo, as a device's client might make: refused by name, the rest answered
        first = next(iter(records[0]))
        typo = {("x" + k if k == first else k): v for k, v in plain_record(records[0]).items()}
        lines.append(json.dumps(typo))
    rows = out_dir.parent / f"{out_dir.name}-rows.jsonl"
    rows.write_text("".join(line + "\n" for line in lines))
    console.print(f"  python {out_dir / 'predict.py'} {rows.name}")
    done = subprocess.run(
        [sys.executable, str(out_dir / "predict.py"), str(rows)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    for line in done.stdout.splitlines():
        console.print(f"    {escape(line[:160])}{'…' if len(line) > 160 else ''}")
    console.print(
        f"  exit status {done.returncode} ({len(records)} rows answered, 1 line refused "
        "by field and line number)"
        if records
        else f"  exit status {done.returncode}"
    )
    return report
