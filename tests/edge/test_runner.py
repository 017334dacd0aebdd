"""predict.py on lines: answers in order, refusals naming field and line, exit status."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd

import modelport
from modelport.registry import Registry
from tests.edge.bundles import jsonl, run_bundle, runner_of

GOOD = {"income": 52.0, "age": 40, "home": "own"}


def test_every_line_is_answered_in_order(
    exported: tuple[Registry, Path], rows: pd.DataFrame
) -> None:
    registry, bundle = exported
    code, answers, err = run_bundle(bundle, jsonl(rows))
    assert code == 0 and err == ""
    expected = modelport.load("credit:1", registry=registry).predict(rows)
    assert [a["prediction"] for a in answers] == expected.tolist()
    assert all(set(a) == {"prediction", "probabilities"} for a in answers)
    assert all(abs(sum(a["probabilities"].values()) - 1) < 1e-5 for a in answers)


def test_a_bad_line_is_refused_by_field_and_line_and_the_rest_answered(bundle: Path) -> None:
    lines = [
        json.dumps(GOOD),
        json.dumps({**GOOD, "age": "forty"}),
        "",  # blank lines are skipped, but counted
        json.dumps({"income": 1.0, "home": "own", "hom": 2}),
        json.dumps(GOOD),
    ]
    code, answers, err = run_bundle(bundle, lines)
    assert code == 1 and "2 line(s) refused" in err
    assert len(answers) == 4
    assert "prediction" in answers[0] and "prediction" in answers[3]
    assert answers[1]["line"] == 2 and answers[1]["error"].startswith("line 2: ")
    assert "'age': expected a whole number, not text ('forty')" in answers[1]["error"]
    assert answers[1]["problems"] == [
        {"field": "age", "kind": "type", "detail": "expected a whole number, not text ('forty')"}
    ]
    assert answers[2]["line"] == 4
    assert [(p["field"], p["kind"]) for p in answers[2]["problems"]] == [
        ("hom", "unknown"),
        ("age", "missing"),
    ]
    assert "did you mean 'home'" in answers[2]["error"]
    assert answers[2]["hint"] == "expected features: income, age, home"


def test_lines_that_are_not_records_are_refused(bundle: Path) -> None:
    lines = [
        '{"income": NaN, "age": 40, "home": "own"}',  # not JSON, though Python would read it
        "{not json",
        '"just text"',
        "[52.0, 40]",
        '[52.0, 40, "own"]',  # a row in signature order is read as the server reads it
    ]
    code, answers, _ = run_bundle(bundle, lines)
    assert code == 1
    assert [a.get("line") for a in answers] == [1, 2, 3, 4, None]
    assert "NaN is not a JSON number" in answers[0]["error"]
    assert "not valid JSON" in answers[1]["error"]
    assert "expected a JSON object" in answers[2]["error"]
    assert "3 values in the order income, age, home" in answers[3]["error"]
    assert answers[4]["prediction"] in ("good", "bad")


def test_an_unseen_category_is_accepted_where_the_encoder_copes(
    exported: tuple[Registry, Path],
) -> None:
    registry, bundle = exported
    unseen = {**GOOD, "home": "houseboat"}  # OneHotEncoder(handle_unknown="ignore")
    code, answers, _ = run_bundle(bundle, [json.dumps(unseen)])
    expected = modelport.load("credit:1", registry=registry).predict([unseen])
    assert code == 0 and answers[0]["prediction"] == expected[0]


def test_order_holds_across_batches(bundle: Path) -> None:
    module = runner_of(bundle)
    module.BATCH_ROWS = 7
    lines = [json.dumps({**GOOD, "age": i if i % 5 else "x"}) for i in range(1, 40)]
    out = io.StringIO()
    code = module.main(["-"], stdin=io.StringIO("\n".join(lines)), stdout=out, stderr=io.StringIO())
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1 and len(answers) == 39
    assert [a["line"] for a in answers if "error" in a] == list(range(5, 40, 5))
    single = run_bundle(bundle, [lines[0]])[1][0]
    assert answers[0] == single


def test_a_rows_file_is_read_by_its_path(bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    out = io.StringIO()
    code = runner_of(bundle).main([str(path)], stdout=out, stderr=io.StringIO())
    assert code == 0 and "prediction" in json.loads(out.getvalue())
    err = io.StringIO()
    code = runner_of(bundle).main([str(tmp_path / "missing.jsonl")], stderr=err)
    assert code == 2 and "cannot read" in err.getvalue()


def test_a_changed_model_is_refused(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    with (copy / "model.onnx").open("ab") as graph:
        graph.write(b"\0")
    err = io.StringIO()
    code = runner_of(copy).main(["-"], stdin=io.StringIO(json.dumps(GOOD)), stderr=err)
    assert code == 2
    assert "model.onnx does not match manifest.json" in err.getvalue()
    assert "export the model again" in err.getvalue()


def test_bytes_that_are_not_utf8_or_json_refuse_their_line_only(
    bundle: Path, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    good = json.dumps(GOOD).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\n" + b'{"home": "\xff"}\n' + deep + b"\n" + good)
    out = io.StringIO()
    code = runner_of(bundle).main([str(path)], stdout=out, stderr=io.StringIO())
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1 and len(answers) == 4
    assert "prediction" in answers[0] and "prediction" in answers[3]  # the BOM is no problem
    assert answers[1]["line"] == 2 and "not UTF-8" in answers[1]["error"]
    assert answers[2]["line"] == 3 and "not valid JSON" in answers[2]["error"]
    piped = io.StringIO()
    code = runner_of(bundle).main(["-"], stdin=io.BytesIO(path.read_bytes()), stdout=piped)  # type: ignore[arg-type]
    assert code == 1 and piped.getvalue() == out.getvalue()
