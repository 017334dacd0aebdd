"""The manifests: core kinds against the Kubernetes schemas, CRDs structurally.

``kubernetes-validate`` ships the core API's JSON schemas (strict: unknown fields are
errors). It has none for CRDs, and neither KEDA, the Prometheus Operator nor KServe is
installed here to give theirs, so ScaledObject, ServiceMonitor and InferenceService are
checked against the fields their CRD reference documents require, written out below; the
InferenceService's container is a core Container, so it goes through the core schema too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelport.packaging import kubernetes
from modelport.packaging.dockerfile import HOME, PORT, UID
from modelport.runtime.config import ServeConfig
from modelport.serving import server
from modelport.settings import DRAIN_SECONDS
from tests.packaging.conftest import Packaged

kubernetes_validate = pytest.importorskip("kubernetes_validate")
CORE = {
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "HorizontalPodAutoscaler",
}
VERSION = "1.30.0"


def _objects(out: Path) -> dict[str, dict[str, Any]]:
    files = sorted((out / "k8s").glob("*.yaml"))
    return {p.name: yaml.safe_load(p.read_text()) for p in files}


def test_every_core_object_validates_against_the_kubernetes_schema(packaged: Packaged) -> None:
    objects = _objects(packaged.out)
    kinds = {obj["kind"] for obj in objects.values()}
    assert kinds >= CORE
    assert {"ScaledObject", "ServiceMonitor", "InferenceService"} <= kinds
    for obj in objects.values():
        if obj["kind"] in CORE:
            kubernetes_validate.validate(obj, VERSION, strict=True)


def test_the_validator_catches_a_broken_deployment(packaged: Packaged) -> None:
    """The check above can fail: an unknown field is refused."""
    broken = _objects(packaged.out)["deployment.yaml"]
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_probes_termination_and_security_follow_the_server(packaged: Packaged) -> None:
    deployment = _objects(packaged.out)["deployment.yaml"]
    pod = _pod(deployment)
    (container,) = pod["containers"]
    assert container["image"] == packaged.report.result.image
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["ports"][0]["containerPort"] == PORT
    # the grace period covers the preStop sleep and the server's whole drain
    drain = server.uvicorn_options(ServeConfig(refs=("m",)))["timeout_graceful_shutdown"]
    assert drain == DRAIN_SECONDS
    prestop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > prestop + drain
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["runAsUser"] == UID and security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    assert not security["allowPrivilegeEscalation"]
    assert {"requests", "limits"} <= set(container["resources"])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {HOME, "/tmp", kubernetes.KEYS_MOUNT} <= mounts  # the only writable places


def test_names_and_selectors_line_up(packaged: Packaged) -> None:
    objects = _objects(packaged.out)
    deployment = objects["deployment.yaml"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    for name in ("service.yaml", "pdb.yaml", "networkpolicy.yaml", "servicemonitor.yaml"):
        spec = objects[name]["spec"]
        selector = spec.get("selector", spec.get("podSelector"))
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), name
    env = _pod(deployment)["containers"][0]["envFrom"][0]["configMapRef"]["name"]
    assert env == objects["configmap.yaml"]["metadata"]["name"]
    secret = next(v for v in _pod(deployment)["volumes"] if "secret" in v)["secret"]["secretName"]
    assert secret == objects["secret.yaml"]["metadata"]["name"]
    for name in ("hpa.yaml", "keda-scaledobject.yaml"):
        assert objects[name]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    config = objects["configmap.yaml"]["data"]
    assert config["MODELPORT_SERVING__HOST"] == "0.0.0.0"
    assert config["MODELPORT_SERVING__PUBLIC_METRICS"] == "true"
    assert all(key.startswith("MODELPORT_") for key in config)


def test_the_secret_holds_no_key(packaged: Packaged) -> None:
    text = (packaged.out / "k8s" / "secret.yaml").read_text()
    assert re.search(r"mpk_[0-9a-f]{12}_", text) is None
    assert "kubectl create secret" in text


def test_keda_scales_on_modelports_request_counter(packaged: Packaged) -> None:
    scaled = _objects(packaged.out)["keda-scaledobject.yaml"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    # required by the ScaledObject CRD: scaleTargetRef.name and triggers[].type/metadata
    assert spec["scaleTargetRef"]["name"]
    assert spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    metadata = trigger["metadata"]
    assert set(metadata) >= {"serverAddress", "query", "threshold"}
    assert all(isinstance(v, str) for v in metadata.values())  # the CRD types them as strings
    assert "modelport_requests_total" in metadata["query"]
    metrics_source = Path(server.__file__).parent.parent / "runtime" / "metrics.py"
    assert '"modelport_requests_total"' in metrics_source.read_text()


def test_the_service_monitor_scrapes_the_service_port(packaged: Packaged) -> None:
    objects = _objects(packaged.out)
    monitor = objects["servicemonitor.yaml"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    (endpoint,) = monitor["spec"]["endpoints"]
    ports = {p["name"] for p in objects["service.yaml"]["spec"]["ports"]}
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"


def test_the_inference_service_is_a_custom_v2_runtime_on_the_image(packaged: Packaged) -> None:
    isvc = _objects(packaged.out)["kserve-inferenceservice.yaml"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    predictor = isvc["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"  # the name KServe expects of a custom one
    assert container["image"] == packaged.report.result.image
    # the predictor's container is a core Container: validate it inside a Pod
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "isvc"},
        "spec": {
            "containers": predictor["containers"],
            "volumes": predictor["volumes"],
            "securityContext": predictor["securityContext"],
        },
    }
    kubernetes_validate.validate(pod, VERSION, strict=True)


def test_object_names_are_dns_labels() -> None:
    assert kubernetes.object_name("Credit_Risk.v2") == "credit-risk-v2"
    assert kubernetes.object_name("___") == "model"
    assert len(kubernetes.object_name("x" * 80)) <= 50
