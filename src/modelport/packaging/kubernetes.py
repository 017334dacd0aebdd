"""Kubernetes manifests of a package: one object per file under ``k8s/``.

The core set (ConfigMap, Secret, Deployment, Service, PodDisruptionBudget, NetworkPolicy,
HorizontalPodAutoscaler, ServiceMonitor) applies as is. Two files are alternatives, said
in their header comments: ``keda-scaledobject.yaml`` scales on modelport's own request
rate and replaces ``hpa.yaml`` (KEDA makes its own HPA; two autoscalers on one Deployment
fight), and ``kserve-inferenceservice.yaml`` runs the same image as a KServe custom V2
runtime instead of the Deployment and Service.

Graceful termination follows the server's SIGTERM drain: the preStop sleep lets
endpoints drop the pod before SIGTERM arrives, then uvicorn has ``DRAIN_SECONDS`` to finish
in-flight requests and the runtime drains its batchers; the grace period covers both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from modelport.packaging.dockerfile import HOME, PORT, UID
from modelport.settings import DRAIN_SECONDS

PRESTOP_SECONDS = 5
GRACE_SECONDS = PRESTOP_SECONDS + DRAIN_SECONDS + 10
KEYS_MOUNT = "/etc/modelport/keys"


def object_name(text: str) -> str:
    """A DNS-1123 label from a model or deployment name (``Credit_Risk`` -> ``credit-risk``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (name or "model")[:50].rstrip("-")


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """What the manifests need: the image, the names, the settings and the scaling bounds."""

    name: str
    image: str
    #: settings as MODELPORT_ environment variables (the ConfigMap)
    env: dict[str, str] = field(default_factory=dict)
    replicas: int = 2
    min_replicas: int = 2
    max_replicas: int = 10
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "512Mi"
    memory_limit: str = "2Gi"
    #: KEDA scales out above this many requests per second per replica
    requests_per_replica: int = 50
    prometheus_address: str = "http://prometheus-operated.monitoring.svc:9090"
    #: namespaces whose pods may call the server (besides the monitoring namespace)
    client_namespace_label: str = "modelport.io/client"

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "modelport", "app.kubernetes.io/instance": self.name}


def _meta(spec: ClusterSpec, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or spec.name,
        "labels": {**spec.labels, "app.kubernetes.io/managed-by": "modelport-package"},
    }


def configmap(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(spec, f"{spec.name}-settings"),
        "data": dict(sorted(spec.env.items())),
    }


def secret(spec: ClusterSpec) -> dict[str, Any]:
    # A placeholder, never a key: the file is meant to be committed; the header comment
    # says how to create the real one.
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(spec, f"{spec.name}-keys"),
        "type": "Opaque",
        "stringData": {"api-keys": "# ROLE[,ROLE] KEY per line, e.g.: predict mpk_<id>_<secret>\n"},
    }


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def container(spec: ClusterSpec, name: str = "modelport") -> dict[str, Any]:
    return {
        "name": name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": f"{spec.name}-settings"}}],
        # a shared registry's URL holds a password: from the Secret, when it has one
        "env": [
            {
                "name": "MODELPORT_REGISTRY_URI",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": f"{spec.name}-keys",
                        "key": "registry-uri",
                        "optional": True,
                    }
                },
            }
        ],
        # the model loads before live answers: up to 5 minutes before liveness takes over
        "startupProbe": _probe("/v2/health/live", 2, 150),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "readinessProbe": _probe("/v2/health/ready", 5, 2),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
        "resources": {
            "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
            "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "home", "mountPath": HOME},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "keys", "mountPath": KEYS_MOUNT, "readOnly": True},
        ],
    }


def _volumes(spec: ClusterSpec) -> list[dict[str, Any]]:
    return [
        {"name": "home", "emptyDir": {"sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
        {"name": "keys", "secret": {"secretName": f"{spec.name}-keys", "optional": True}},
    ]


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def deployment(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(spec),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": spec.labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": spec.labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": GRACE_SECONDS,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    "containers": [container(spec)],
                    "volumes": _volumes(spec),
                },
            },
        },
    }


def service(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.labels,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(spec),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": spec.labels}},
    }


def network_policy(spec: ClusterSpec) -> dict[str, Any]:
    """Only labelled client namespaces and the monitoring namespace reach the port; the pods
    reach DNS and, for a shared registry, PostgreSQL."""
    port = [{"protocol": "TCP", "port": PORT}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(spec),
        "spec": {
            "podSelector": {"matchLabels": spec.labels},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {spec.client_namespace_label: "true"}
                            }
                        },
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                            }
                        },
                        {"podSelector": {}},
                    ],
                    "ports": port,
                }
            ],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"ports": [{"protocol": "TCP", "port": 5432}]},
            ],
        },
    }


def autoscaler(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def request_rate_query(spec: ClusterSpec) -> str:
    """Requests per second over the instance's pods, from modelport's own counter."""
    # `service` is the label the Prometheus Operator puts on targets of a ServiceMonitor
    return f'sum(rate(modelport_requests_total{{service="{spec.name}"}}[1m]))'


def scaled_object(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": _meta(spec),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicaCount": spec.min_replicas,
            "maxReplicaCount": spec.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "prometheus",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": spec.prometheus_address,
                        "query": request_rate_query(spec),
                        "threshold": str(spec.requests_per_replica),
                    },
                }
            ],
        },
    }


def service_monitor(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(spec),
        "spec": {
            "selector": {"matchLabels": spec.labels},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
        },
    }


def inference_service(spec: ClusterSpec) -> dict[str, Any]:
    """The image as a KServe custom predictor speaking V2 (raw deployment: KEDA works there)."""
    predictor = container(spec, name="kserve-container")
    predictor["ports"] = [{"name": "h1", "containerPort": PORT, "protocol": "TCP"}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        predictor[probe]["httpGet"]["port"] = PORT
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            **_meta(spec),
            "annotations": {
                "serving.kserve.io/deploymentMode": "RawDeployment",
                "serving.kserve.io/autoscalerClass": "hpa",
                "serving.kserve.io/metric": "cpu",
                "serving.kserve.io/targetUtilizationPercentage": "70",
            },
        },
        "spec": {
            "predictor": {
                "minReplicas": spec.min_replicas,
                "maxReplicas": spec.max_replicas,
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "securityContext": _pod_security(),
                "containers": [predictor],
                "volumes": _volumes(spec),
            }
        },
    }


_HEADERS = {
    "secret.yaml": "A placeholder: put the real keys in with\n"
    "#   kubectl create secret generic {name}-keys --from-file=api-keys=./api-keys \\\n"
    "#     [--from-literal=registry-uri=postgresql+psycopg://USER:PASSWORD@HOST/DB]\n"
    "# (lines `ROLE[,ROLE] KEY`, keys from `modelport keys create --json`; registry-uri: a\n"
    "# shared registry, needed with --artifacts fetch). Never commit keys.",
    "hpa.yaml": "CPU autoscaling. Apply this OR keda-scaledobject.yaml, not both.",
    "keda-scaledobject.yaml": "KEDA autoscaling on modelport_requests_total (needs KEDA and a "
    "Prometheus\n# scraping the ServiceMonitor). Use INSTEAD of hpa.yaml: KEDA makes its own HPA.",
    "kserve-inferenceservice.yaml": "The same image as a KServe custom V2 runtime. An "
    "alternative to\n# deployment.yaml + service.yaml + hpa.yaml; needs KServe installed.",
    "servicemonitor.yaml": "Prometheus Operator scraping /metrics (public in the ConfigMap).",
}


def manifests(spec: ClusterSpec) -> dict[str, dict[str, Any]]:
    """File name -> the object it holds."""
    return {
        "configmap.yaml": configmap(spec),
        "secret.yaml": secret(spec),
        "deployment.yaml": deployment(spec),
        "service.yaml": service(spec),
        "pdb.yaml": disruption_budget(spec),
        "networkpolicy.yaml": network_policy(spec),
        "hpa.yaml": autoscaler(spec),
        "keda-scaledobject.yaml": scaled_object(spec),
        "servicemonitor.yaml": service_monitor(spec),
        "kserve-inferenceservice.yaml": inference_service(spec),
    }


def render(filename: str, obj: dict[str, Any], name: str) -> str:
    """The YAML text of one manifest file, with its header comment."""
    header = "# Written by `modelport package`.\n"
    if filename in _HEADERS:
        header += "# " + _HEADERS[filename].format(name=name) + "\n"
    return header + yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)
