"""``modelport demo``: the whole product on embedded defaults, step by step.

Each capability of modelport appears here; later capabilities add their steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.panel import Panel

from modelport.batch import score
from modelport.demo.data import FEATURES, credit_data
from modelport.demo.export import export_edge_bundle
from modelport.demo.optimization import FOREST, optimize_step
from modelport.demo.packaging import write_package
from modelport.demo.traffic import (
    free_port,
    grpc_infer,
    plain_record,
    running_server,
    send_v1,
    send_v2,
)
from modelport.demo.training import split, train_boosted, train_logistic
from modelport.deployments.canary import CanaryThresholds
from modelport.deployments.spec import Arm, DeploymentSpec, Shadow, parse_sticky
from modelport.errors import ModelportError, ValidationError
from modelport.loaded import load_model
from modelport.monitoring.drift import compare
from modelport.monitoring.monitor import run_monitor
from modelport.monitoring.outliers import logged_share
from modelport.predictions.reader import PredictionLogReader
from modelport.presentation.html import drift_html, monitor_html, write_html
from modelport.presentation.terminal import print_monitor_report
from modelport.registration import register_model
from modelport.registry import Registry
from modelport.security.posture import worst
from modelport.services.alerting import AlertService
from modelport.services.canary import CanaryService
from modelport.services.experiments import deployment_experiment
from modelport.services.posture import doctor
from modelport.settings import Settings

MODEL = "credit-risk"
WINDOW_SECONDS = 5
WINDOW_ROWS = 600
#: per key: the demo's traffic stays within it, a runaway client does not
RATE_LIMIT = "50/s,burst=300"
ALERT_RULES = """\
rules:
  - name: income-drift
    model: credit-risk
    metric: drift.annual_income.psi
    above: 0.1
    cooldown: 1h
    actions: [log]
  - name: new-categories
    model: credit-risk
    metric: drift.*.unseen_share
    above: 0.05
    cooldown: 1h
    actions:
      - log
      - rollback: production
"""


@dataclass
class DemoResult:
    """What the demo did, for tests and for later steps."""

    versions: list[int] = field(default_factory=list)
    production: int | None = None
    output_dir: Path | None = None
    #: the demo's API keys by what they are for: app (predict), labels (feedback), ops (read)
    keys: dict[str, str] = field(default_factory=dict)
    #: the statuses the security step saw: 401, 403 and 429 at least once each
    refusals: dict[int, int] = field(default_factory=dict)
    #: the optimized forest's reference, e.g. credit-forest:2 (None if nothing beat it)
    optimized: str | None = None


def run_demo(settings: Settings, console: Console, *, rows: int = 20_000) -> DemoResult:
    result = DemoResult()
    home = settings.resolved_home()
    result.output_dir = home / "demo"
    result.output_dir.mkdir(parents=True, exist_ok=True)
    console.print(Panel.fit(f"modelport demo — home: {home}", style="bold cyan"))

    console.rule("1. Data")
    data = credit_data(rows, seed=7)
    train, test = split(data)
    sample_path = result.output_dir / "train.parquet"
    train.to_parquet(sample_path, index=False)
    console.print(
        f"{len(data):,} synthetic loan applications, {len(FEATURES)} features, "
        f"default rate {data['default'].mean():.1%}; training sample written to {sample_path}"
    )

    console.rule("2. Train and register two versions")
    registry = Registry(settings)
    try:
        logistic = train_logistic(train, test)
        v1 = register_model(
            registry,
            logistic.model,
            MODEL,
            sample=train[FEATURES],
            metrics=logistic.metrics,
            tags={"algorithm": "logistic_regression", "team": "risk"},
            description="Logistic regression baseline",
            training_data=sample_path,
            # the encoder ignores unseen categories; monitoring reports them instead
            allow_unknown_categories=True,
            labels=train["default"],  # the prior the feedback check holds labels against
        )
        boosted = train_boosted(train, test)
        v2 = register_model(
            registry,
            boosted.model,
            MODEL,
            sample=train[FEATURES],
            metrics=boosted.metrics,
            tags={"algorithm": "hist_gradient_boosting", "team": "risk"},
            description="Gradient boosting challenger",
            parent=v1.version,
            training_data=sample_path,
            allow_unknown_categories=True,
            labels=train["default"],
        )
        result.versions = [v1.version, v2.version]
        for v in (v1, v2):
            console.print(
                f"  {v.ref}  flavor={v.flavor}  auc={v.metrics['auc']}  "
                f"sha256={v.artifact_sha256[:12]}  "
                f"features={len((v.signature or {}).get('inputs', []))}"
                + (f"  parent={v.parent_version}" if v.parent_version else "")
            )

        console.rule("3. Aliases: staging, promote, rollback")
        steps = [
            registry.set_alias(v1.ref, "production", reason="first model"),
            registry.set_alias(v2.ref, "staging", reason="challenger"),
            registry.promote(f"{MODEL}@staging", "production", reason=f"auc {v2.metrics['auc']}"),
            registry.rollback(MODEL, "production", reason="demo: practise the rollback"),
            registry.promote(f"{MODEL}@staging", "production", reason="rollback drill done"),
        ]
        for e in steps:
            console.print(
                f"  {e.action:<8} {e.name}@{e.alias}: "
                f"{e.from_version} → {e.to_version}  ({e.reason})"
            )
        result.production = registry.resolve(f"{MODEL}@production").version

        console.rule("4. Load by alias and predict (input validated against the signature)")
        model = load_model(registry, f"{MODEL}@production")
        applicants = test[FEATURES].head(3).to_dict(orient="records")
        proba = model.predict_proba(applicants)[:, 1]
        for applicant, p in zip(applicants, proba, strict=True):
            console.print(
                f"  income {applicant['annual_income']:>9,.0f}  score {applicant['credit_score']}"
                f"  purpose {applicant['purpose']:<18} → P(default) = {p:.3f}"
            )
        bad = {**applicants[0], "annual_income": "lots", "employment_years": [2]}
        bad.pop("credit_score")
        bad["incme"] = 1
        try:
            model.predict([bad])
        except ValidationError as exc:
            console.print("  A careless request is refused, naming every bad field:")
            for problem in exc.problems:
                console.print(f"    - {problem.describe()}")

        serve_and_monitor(settings, registry, console, result, test)
        batch_step(registry, console, result)
        deployment_step(settings, registry, console, result, test)
        canary_step(settings, registry, console, result, test)
        result.optimized = optimize_step(
            settings, registry, console, train, test, result.keys["app"]
        )
        if result.optimized:
            export_edge_bundle(registry, result.optimized, home / "edge" / FOREST, console)
        console.rule("13. Deploy: a container build context, Kubernetes, Grafana, Prometheus")
        try:
            write_package(registry, f"{MODEL}@production", home / "package" / MODEL, console)
        except ModelportError as exc:
            # the wheelhouse is pip-downloaded: on a machine with no package index this step
            # cannot run, and the rest of the demo stands without it
            console.print(f"  [yellow]package not written:[/] {exc.message} ({exc.hint})")
    finally:
        registry.close()

    console.rule("Done")
    console.print(
        "Try: [bold]modelport models list[/], "
        "[bold]modelport models show credit-risk@production[/],"
        " [bold]modelport history credit-risk[/], "
        f"[bold]modelport monitor {MODEL} --since 1h[/], "
        f"[bold]modelport serve {MODEL}@production[/]"
    )
    return result


def demo_keys(registry: Registry) -> dict[str, str]:
    """Three keys, as a team would make them: the app predicts, a job labels, ops reads."""
    keys = registry.keys
    return {
        "app": keys.create(["predict"], models=[MODEL, "checkout", FOREST], description="demo app")[
            1
        ],
        "labels": keys.create(["feedback"], description="demo labelling job")[1],
        "ops": keys.create(["read"], description="demo dashboards")[1],
    }


def security_checks(client: httpx.Client, url: str, result: DemoResult, console: Console) -> None:
    """What a client without a key, with the wrong key, and with too many requests gets."""
    predict = f"{url}/v1/models/{MODEL}@production:predict"
    anonymous = httpx.post(predict, json={"instances": []})
    console.print(
        f"  no key → HTTP {anonymous.status_code} {anonymous.json()['code']} "
        "(every route but /v2/health needs one)"
    )
    wrong_role = client.post(f"{url}/api/feedback", json=[])
    console.print(
        f"  the app's predict key on /api/feedback → HTTP {wrong_role.status_code} "
        f"{wrong_role.json()['code']}: only a feedback key may send labels"
    )
    limited = None
    statuses: dict[int, int] = {}
    ops = {"X-API-Key": result.keys["ops"]}
    for _ in range(2000):  # a runaway dashboard: its key's burst runs out
        r = client.get(f"{url}/v2/models/{MODEL}", headers=ops)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if r.status_code == 429:
            limited = r
            break
    if limited is not None:
        console.print(
            f"  a runaway dashboard: {statuses.get(200, 0)} reads, then HTTP 429 "
            f"(Retry-After: {limited.headers.get('retry-after')} s); other keys are unaffected"
        )
    for status in (anonymous.status_code, wrong_role.status_code, *statuses):
        result.refusals[status] = result.refusals.get(status, 0) + 1


def protocols_tour(
    client: httpx.Client,
    url: str,
    grpc_port: int,
    result: DemoResult,
    console: Console,
    row: pd.Series,
) -> None:
    """The same model over gRPC, a gzip body, and the Triton views of it."""
    import gzip
    import json

    record = plain_record({str(k): v for k, v in row.to_dict().items()})
    body = {"instances": [record]}
    v1 = client.post(f"{url}/v1/models/{MODEL}@production:predict", json=body).json()
    try:
        value, version = grpc_infer(grpc_port, result.keys["app"], f"{MODEL}@production", record)
        console.print(
            f"  the same applicant over gRPC (KServe V2 ModelInfer, --grpc-port {grpc_port}): "
            f"{value} by {version}; over V1 HTTP: {v1['predictions'][0]}"
        )
    except ImportError:
        console.print("  gRPC: install modelport[grpc] to serve it (--grpc-port)")
    squeezed = client.post(
        f"{url}/v1/models/{MODEL}@production:predict",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    console.print(f"  a gzip-compressed request → HTTP {squeezed.status_code}")
    ops = {"X-API-Key": result.keys["ops"]}
    config = client.get(f"{url}/v2/models/{MODEL}/config", headers=ops).json()
    stats = client.get(f"{url}/v2/models/{MODEL}/stats", headers=ops).json()
    count = sum(s.get("inference_count", 0) for s in stats.get("model_stats", []))
    console.print(
        f"  Triton's views: config (platform {config.get('platform')}, "
        f"{len(config.get('input', []))} inputs, max_batch_size {config.get('max_batch_size')}), "
        f"statistics ({count} inferences so far)"
    )


def _until_next_window(seconds: float) -> None:
    """Start the next phase of traffic in a fresh monitor window."""
    time.sleep(seconds - time.time() % seconds + 0.05)


def serve_and_monitor(
    settings: Settings, registry: Registry, console: Console, result: DemoResult, test: Any
) -> None:
    """Serve, send normal then drifted traffic, post ground truth, monitor, alert."""
    assert result.output_dir is not None
    console.rule("5. Serve over HTTP, secure by default: keys, roles, rate limits")
    result.keys = demo_keys(registry)
    findings = doctor(settings, registry)
    worries = [f"{f.topic}: {f.message}" for f in findings if f.level != "ok"]
    console.print(
        f"  modelport doctor: verdict {worst(findings)}"
        + (f" ({'; '.join(worries[:2])})" if worries else "")
        + " — exits 1 on a dangerous setting, e.g. no auth on a public address"
    )
    for purpose, roles in (("app", "predict"), ("labels", "feedback"), ("ops", "read")):
        console.print(
            f"  modelport keys create --role {roles}"
            + (f" --model {MODEL} --model checkout" if purpose == "app" else "")
            + f"  → {result.keys[purpose][:20]}… (shown once; only a scrypt hash is stored)"
        )
    normal = test.head(WINDOW_ROWS)
    shifted_all = credit_data(WINDOW_ROWS, seed=99, shift=True)
    grpc_port = free_port()
    with (
        running_server(
            settings,
            [f"{MODEL}@production"],
            *("--rate-limit", RATE_LIMIT, "--grpc-port", str(grpc_port)),
        ) as url,
        httpx.Client(headers={"X-API-Key": result.keys["app"]}) as client,
    ):
        console.print(f"  serving {MODEL}@production at {url} (--rate-limit {RATE_LIMIT} per key)")
        console.print(f"  API docs {url}/docs · metrics {url}/metrics · V2 {url}/v2/models/{MODEL}")
        console.print(f"  per batch, {called_on(load_model(registry, f'{MODEL}@production'))}")
        security_checks(client, url, result, console)
        _until_next_window(WINDOW_SECONDS)
        first, second = normal.iloc[::2], normal.iloc[1::2]
        ids = send_v1(client, url, f"{MODEL}@production", first[FEATURES], 10)
        ids += send_v2(client, url, f"{MODEL}@production", second[FEATURES], 10)
        labels = [*first["default"], *second["default"]]
        console.print(
            f"  {len(ids)} ordinary applications: half as V1 records, half as V2 named tensors"
        )
        bad = client.post(
            f"{url}/v1/models/{MODEL}@production:predict",
            json={"instances": [{"age": "forty", "annual_incme": 1}]},
        )
        console.print(
            f"  a careless request → HTTP {bad.status_code}: {bad.json()['error'][:100]}…"
        )
        _until_next_window(WINDOW_SECONDS)
        ids += send_v1(client, url, f"{MODEL}@production", shifted_all[FEATURES], 10)
        labels += list(shifted_all["default"])
        console.print(
            f"  {len(shifted_all)} applications after the market moved: incomes down, "
            "a new 'crypto' loan purpose, more missing employment data"
        )
        feedback = [
            {"prediction_id": pid, "label": int(label)}
            for pid, label in zip(ids, labels, strict=True)
        ]
        answer = client.post(
            f"{url}/api/feedback", json=feedback, headers={"X-API-Key": result.keys["labels"]}
        ).json()
        console.print(
            f"  ground truth posted to /api/feedback: {answer['accepted']} accepted, "
            f"{len(answer['unknown_ids'])} unknown ids"
        )
        protocols_tour(client, url, grpc_port, result, console, shifted_all[FEATURES].iloc[0])
    console.print("  server stopped with SIGTERM: in-flight requests finished, log flushed")
    drifted = PredictionLogReader(settings.resolved_log_uri()).predictions(MODEL)
    console.print(
        "  " + _ood_line(drifted[drifted["prediction_id"].isin(ids[-len(shifted_all) :])])
    )

    console.rule("6. Monitor: drift and live performance from the prediction log")
    reader = PredictionLogReader(settings.resolved_log_uri())
    report = run_monitor(registry, reader, f"{MODEL}@production", window=f"{WINDOW_SECONDS}s")
    print_monitor_report(report, console)
    html = write_html(monitor_html(report), result.output_dir / "monitor.html")
    console.print(f"  HTML report with plots: {html}")
    reference = pd.read_parquet(result.output_dir / "train.parquet")[FEATURES]
    current = shifted_all[FEATURES]
    standalone = compare(reference, current)
    drift_page = write_html(
        drift_html(standalone, reference, current, title="Training data vs drifted traffic"),
        result.output_dir / "drift.html",
    )
    console.print(
        "  standalone check (modelport drift train.parquet current.parquet): "
        f"{len(standalone.drifted_features)} features drifted → {drift_page}"
    )

    console.rule("7. Alert rules act: automatic rollback")
    rules_path = result.output_dir / "alerts.yaml"
    rules_path.write_text(ALERT_RULES)
    alerting = AlertService.from_settings(registry, settings, rules_path)
    # each rule judged on its own window of traffic, as `monitor --rules` and the server do
    fired = alerting.check(MODEL)
    for record in fired:
        done = ", ".join(
            o["action"]
            + (f" → v{o['to_version']}" if "to_version" in o else "")
            + ("" if o.get("ok") else f" failed: {o.get('error')}")
            for o in record["outcomes"]
        )
        console.print(f"  alert [bold]{record['rule']}[/] fired on {record['values']}: {done}")
    if not fired:
        console.print(
            "  no alert fired: no rule crossed its threshold, or it already fired within "
            f"its cooldown (alerts are deduplicated; see {alerting.journal.path})"
        )
    result.production = registry.resolve(f"{MODEL}@production").version
    console.print(
        f"  {MODEL}@production now → version {result.production} "
        "(a running server follows the alias without a restart)"
    )


def called_on(loaded: Any) -> str:
    """How the server calls a model: the fast path its load proved, or its own frame."""
    if loaded.on_mixed_arrays is not None:
        return (
            "the Pipeline is replayed in NumPy on one array of numbers and text "
            "(proven equal to the Pipeline bit for bit on its kept training rows)"
        )
    if loaded.on_arrays is not None:
        return "the model gets one float array (proven equal to its DataFrame's answers)"
    return "the model gets one DataFrame with its training dtypes"


def _ood_line(logged: pd.DataFrame) -> str:
    """What the out-of-distribution score said about the logged rows (flag policy)."""
    if "ood_score" not in logged or logged.empty:
        return "no out-of-distribution scores in the log (the version has no profile)"
    share = logged_share(logged["ood_score"], logged["ood_features"])
    most = ", ".join(f"{name} {count}" for name, count in list(share.features.items())[:3])
    named = int(logged["ood_features"].notna().sum())
    return (
        f"out-of-distribution score (logged per prediction, --ood-policy flag): "
        f"{named / len(logged):.0%} of the drifted rows have a feature unlike training "
        f"({most}); {share.share or 0:.0%} score above {share.threshold:g}, where "
        f"--ood-policy {MODEL}=reject would refuse them with 422"
    )


def batch_step(registry: Registry, console: Console, result: DemoResult) -> None:
    """Score a file of applications; rows that fail validation are set aside with reasons."""
    assert result.output_dir is not None
    console.rule("8. Batch scoring: a file of applications, streamed through the model")
    applications = credit_data(50_000, seed=11).drop(columns="default")
    applications.insert(0, "application_id", range(len(applications)))
    applications["credit_score"] = applications["credit_score"].astype("float64")
    applications.loc[5::10_000, "credit_score"] = np.nan  # required: these rows are rejected
    source = result.output_dir / "applications.parquet"
    applications.to_parquet(source, index=False)
    summary = score(
        f"{MODEL}@production",
        source,
        result.output_dir / "scores.parquet",
        keep=["application_id"],
        overwrite=True,
        registry=registry,
    )
    console.print(
        f"  scored {summary.rows_scored:,} of {summary.rows_read:,} rows "
        f"({summary.rows_per_second:,.0f} rows/s) → {summary.output}"
    )
    console.print(f"  {summary.rows_rejected} rows rejected with their reasons → {summary.rejects}")


def deployment_step(
    settings: Settings, registry: Registry, console: Console, result: DemoResult, test: Any
) -> None:
    """A deployment: 90/10 arms with a sticky key, a shadow, and an A/B report on feedback."""
    assert result.output_dir is not None
    console.rule("9. Deployments: weighted arms, sticky users, a shadow, an A/B report")
    train = pd.read_parquet(result.output_dir / "train.parquet")
    shadow = register_model(
        registry,
        train_logistic(train.tail(4000), test).model,
        MODEL,
        sample=train[FEATURES],
        description="Retrained on recent applications (shadow)",
        allow_unknown_categories=True,
    )
    stable, candidate = f"{MODEL}@production", f"{MODEL}:{result.versions[0]}"
    if registry.resolve(stable).version == result.versions[0]:
        candidate = f"{MODEL}:{result.versions[1]}"
    deployment = registry.deployments
    spec = DeploymentSpec(
        "checkout",
        (Arm(stable, 90), Arm(candidate, 10)),
        parse_sticky("header:X-User-Id"),
        (Shadow(f"{MODEL}:{shadow.version}", 100),),
    )
    if deployment.find("checkout") is None:
        deployment.create(spec, reason="demo: 90/10 with a shadow")
    else:
        deployment.set(spec, reason="demo: 90/10 with a shadow")
    console.print(
        f"  modelport deploy create checkout --arm {stable}=90 --arm {candidate}=10 "
        f"--sticky header:X-User-Id --shadow {MODEL}:{shadow.version}=100"
    )
    rows = test.head(1500)
    answered: dict[str, int] = {}
    feedback = []
    with (
        running_server(settings, [], "--deployment", "checkout") as url,
        httpx.Client(headers={"X-API-Key": result.keys["app"]}) as client,
    ):
        for i, record in enumerate(rows[FEATURES].to_dict(orient="records")):
            user = f"user-{i % 500}"  # 500 users, three applications each
            response = client.post(
                f"{url}/v1/models/checkout:predict",
                json={"instances": [plain_record(record)]},
                headers={"X-User-Id": user},
            )
            response.raise_for_status()
            version = response.headers["x-model-version"]
            answered[version] = answered.get(version, 0) + 1
            pid = response.json()["prediction_ids"][0]
            feedback.append({"prediction_id": pid, "label": int(rows["default"].iloc[i])})
        client.post(
            f"{url}/api/feedback", json=feedback, headers={"X-API-Key": result.keys["labels"]}
        ).raise_for_status()
    shares = ", ".join(f"{v}: {n}" for v, n in sorted(answered.items()))
    console.print(
        f"  {len(rows)} requests from 500 users (each user always gets the same arm): {shares}; "
        f"the shadow {MODEL}:{shadow.version} answered a copy of each, off the response path"
    )
    reader = PredictionLogReader(settings.resolved_log_uri())
    report = deployment_experiment(registry, reader, "checkout").to_dict()
    for arm in report["arms"]:
        metric = "-" if arm["metric"] is None else f"{arm['metric']:.3f}"
        low, high = arm["interval"]["lower"], arm["interval"]["upper"]
        interval = "" if low is None or high is None else f" [{low:.3f}, {high:.3f}]"
        console.print(
            f"  arm {arm['ref']}: {arm['requests']} requests, accuracy {metric}{interval}"
        )
    srm = report["srm_p_value"]
    console.print(
        f"  modelport experiment report checkout: verdict [bold]{report['verdict']}[/] "
        f"(sample-ratio mismatch p = {'-' if srm is None else f'{srm:.3f}'}; the intervals "
        "stay valid however often you look)"
    )


def canary_step(
    settings: Settings, registry: Registry, console: Console, result: DemoResult, test: Any
) -> None:
    """A canary of a deliberately bad version, rolled back by the server with the reason."""
    console.rule("10. A canary of a bad version: judged at every step, rolled back by itself")
    train = pd.read_parquet(result.output_dir / "train.parquet") if result.output_dir else None
    assert train is not None
    flipped = train.assign(default=1 - train["default"])  # learns the opposite: a bad model
    bad = register_model(
        registry,
        train_logistic(flipped, test).model,
        MODEL,
        sample=train[FEATURES],
        description="Trained on flipped labels (the canary's bad candidate)",
        allow_unknown_categories=True,
    )
    thresholds = CanaryThresholds(min_requests=60, min_latency_samples=60, min_predictions=60)
    service = CanaryService(registry)
    service.start("checkout", f"{MODEL}:{bad.version}", (50.0, 100.0), 1.0, thresholds=thresholds)
    console.print(
        f"  modelport canary start checkout --candidate {MODEL}:{bad.version} --steps 50,100 "
        "--interval 1s"
    )
    records = [plain_record(r) for r in test[FEATURES].head(400).to_dict(orient="records")]
    with (
        running_server(settings, [], "--deployment", "checkout", "--poll-interval", "0.2") as url,
        httpx.Client(headers={"X-API-Key": result.keys["app"]}) as client,
    ):
        for i in range(20_000):  # bounded: the server judges the step after 1 s of traffic
            client.post(
                f"{url}/v1/models/checkout:predict",
                json={"instances": [records[i % len(records)]]},
                headers={"X-User-Id": f"canary-user-{i}"},
            )
            if i % 50 == 49 and service.status("checkout").state.status != "running":
                break
    canary = service.status("checkout")
    last = canary.verdicts[-1] if canary.verdicts else {}
    console.print(f"  canary {canary.state.status}: {'; '.join(last.get('reasons', [])) or '-'}")
    arms = registry.deployments.get("checkout").spec.arms
    console.print(
        "  checkout now: "
        + ", ".join(f"{a.ref}={a.weight:g}" for a in arms)
        + " (the stable arm has all the traffic again; the alert journal says why)"
    )
