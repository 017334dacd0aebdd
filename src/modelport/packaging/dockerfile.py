"""The Dockerfile of a package, and its ``.dockerignore``.

Two stages on one base (a build argument, so any registry's or a home-made base works):
``build`` makes a virtual environment from the context's wheelhouse, offline and by hash;
the final stage copies only that environment and the bundle, runs as a non-root user, and
writes nowhere but the declared volume (``MODELPORT_HOME``) and ``/tmp``, so it runs with a
read-only root filesystem. The base is a tag by default; pass a digest
(``--base-image python:3.11-slim-bookworm@sha256:...``) to pin it byte for byte.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

#: the official slim image of this interpreter's Python: the wheelhouse is built for it
DEFAULT_BASE_IMAGE = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim-bookworm"
VENV = "/opt/modelport/venv"
BUNDLE = "/opt/modelport/package"
HOME = "/var/lib/modelport"
PORT = 8080
UID = 10001


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """What the Dockerfile needs to know; labels describe the image to registries."""

    title: str
    version: str
    description: str
    base_image: str = DEFAULT_BASE_IMAGE
    source: str = "https://github.com/modelport/modelport"
    revision: str = ""
    created: str = ""
    modelport_version: str = ""


def _labels(spec: ImageSpec) -> str:
    labels = {
        "org.opencontainers.image.title": spec.title,
        "org.opencontainers.image.version": spec.version,
        "org.opencontainers.image.description": spec.description,
        "org.opencontainers.image.source": spec.source,
        "org.opencontainers.image.revision": spec.revision,
        "org.opencontainers.image.created": spec.created,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.vendor": "modelport",
        "org.opencontainers.image.base.name": "${BASE_IMAGE}",
        "io.modelport.version": spec.modelport_version,
    }
    return " \\\n".join(f'      {k}="{v}"' for k, v in labels.items())


# The health check speaks HTTP with the standard library: slim bases have no curl, and
# importing modelport for a probe every 30 s would cost a second of CPU each time.
_HEALTH = (
    "import os,urllib.request as u;"
    "u.urlopen('http://127.0.0.1:'+os.environ.get('MODELPORT_SERVING__PORT','8080')"
    "+'/v2/health/ready',timeout=4)"
)


def dockerfile(spec: ImageSpec) -> str:
    """The Dockerfile text."""
    return f"""\
# syntax=docker/dockerfile:1
# Built by `modelport package`: {spec.title} {spec.version}.
#   buildah bud --format docker -t {spec.title}:{spec.version} .
#   docker build -t {spec.title}:{spec.version} .
# The base must be a Debian-like image with python3 (+ venv) of the Python that packaged this.
ARG BASE_IMAGE={spec.base_image}

FROM ${{BASE_IMAGE}} AS build
WORKDIR /build
COPY requirements.lock ./
COPY wheels/ ./wheels/
# Offline and by hash: only the wheels locked in requirements.lock are installed.
RUN python3 -m venv {VENV} \\
 && {VENV}/bin/python -m pip install --no-cache-dir --no-index --find-links ./wheels \\
      --require-hashes --only-binary=:all: -r requirements.lock \\
 && {VENV}/bin/python -m compileall -q {VENV}/lib

FROM ${{BASE_IMAGE}}
ARG BASE_IMAGE
LABEL \\
{_labels(spec)}
# A fixed non-root uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid {UID} modelport \\
 && useradd --system --uid {UID} --gid {UID} --home-dir {HOME} --no-create-home \\
      --shell /usr/sbin/nologin modelport \\
 && mkdir -p {HOME} \\
 && chown {UID}:{UID} {HOME}
COPY --from=build {VENV} {VENV}
COPY package/ {BUNDLE}/
# Build-time check: every copied artifact has its registered sha256 (start checks again).
RUN {VENV}/bin/python -m modelport.packaging.start --bundle {BUNDLE} --verify-only
ENV PATH={VENV}/bin:$PATH \\
    PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    HOME={HOME} \\
    MODELPORT_HOME={HOME} \\
    MPLCONFIGDIR=/tmp/matplotlib \\
    TMPDIR=/tmp \\
    MODELPORT_SERVING__HOST=0.0.0.0 \\
    MODELPORT_SERVING__PORT={PORT}
# The only writable places: the registry, logs and cache under MODELPORT_HOME, and /tmp.
VOLUME ["{HOME}", "/tmp"]
USER {UID}:{UID}
WORKDIR {HOME}
EXPOSE {PORT}
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\
  CMD ["{VENV}/bin/python", "-c", "{_HEALTH}"]
# The entry point checks the artifacts, records them, and execs the server (tini when
# installed and PID 1; else run with --init).
ENTRYPOINT ["{VENV}/bin/python", "-m", "modelport.packaging.start", "--bundle", "{BUNDLE}"]
CMD []
"""


def dockerignore() -> str:
    """Only what the Dockerfile copies goes into the build context."""
    return "\n".join(
        [
            "# Only the wheelhouse, the lock and the bundle are sent to the builder.",
            "*",
            "!requirements.lock",
            "!wheels/",
            "!package/",
            "**/__pycache__",
            "**/*.pyc",
            "",
        ]
    )
