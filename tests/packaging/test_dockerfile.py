"""The Dockerfile, parsed (hadolint is not available here): instructions, stages, user,
what it copies, and that the context holds exactly that."""

from __future__ import annotations

import fnmatch
import json
import re
import sys

from modelport.packaging.dockerfile import BUNDLE, HOME, UID, VENV, ImageSpec, dockerfile
from modelport.packaging.lock import LOCK, WHEELS
from tests.packaging.conftest import Packaged

INSTRUCTIONS = {
    "ARG",
    "FROM",
    "WORKDIR",
    "COPY",
    "RUN",
    "LABEL",
    "ENV",
    "VOLUME",
    "USER",
    "EXPOSE",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "ENTRYPOINT",
    "CMD",
}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        result.append((word, " ".join(rest.split())))
    return result


def test_every_instruction_is_known_and_exec_forms_are_json(packaged: Packaged) -> None:
    parsed = instructions((packaged.out / "Dockerfile").read_text())
    assert {word for word, _ in parsed} <= INSTRUCTIONS
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert parsed[0] == ("ARG", f"BASE_IMAGE=python:{python}-slim-bookworm")  # before any FROM
    for word, rest in parsed:
        if word in {"ENTRYPOINT", "CMD", "VOLUME"}:
            json.loads(rest)  # exec form: signals reach the process, no shell in between
        if word == "HEALTHCHECK":
            json.loads(rest.partition("CMD ")[2])


def test_two_stages_on_the_base_argument_and_a_non_root_user(packaged: Packaged) -> None:
    parsed = instructions((packaged.out / "Dockerfile").read_text())
    froms = [rest for word, rest in parsed if word == "FROM"]
    assert froms == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]
    users = [rest for word, rest in parsed if word == "USER"]
    assert users == [f"{UID}:{UID}"]
    final = parsed[[w for w, _ in parsed].index("FROM", 5) :]
    assert any(w == "COPY" and r.startswith("--from=build") for w, r in final)
    runs = " ".join(r for w, r in parsed if w == "RUN")
    assert "--require-hashes" in runs and "--no-index" in runs
    assert f"{VENV}/bin/python -m modelport.packaging.start --bundle {BUNDLE} --verify-only" in runs
    env = " ".join(r for w, r in parsed if w == "ENV")
    assert f"MODELPORT_HOME={HOME}" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    labels = " ".join(r for w, r in parsed if w == "LABEL")
    for key in ("title", "version", "created", "source", "revision", "description"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_the_context_holds_what_is_copied_and_dockerignore_keeps_the_rest_out(
    packaged: Packaged,
) -> None:
    out = packaged.out
    parsed = instructions((out / "Dockerfile").read_text())
    sources = [r.split()[0] for w, r in parsed if w == "COPY" and not r.startswith("--from")]
    assert sources == [LOCK, f"{WHEELS}/", "package/"]
    for source in sources:
        assert (out / source).exists()
    patterns = [
        line
        for line in (out / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]

    def sent(rel: str) -> bool:  # the last matching pattern wins, as in Docker
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            if (
                fnmatch.fnmatch(rel, body)
                or rel.startswith(body + "/")
                or (
                    fnmatch.fnmatch(rel.rsplit("/", 1)[-1], body.removeprefix("**/"))
                    and body.startswith("**/")
                )
            ):
                included = negated
        return included

    assert sent(LOCK) and sent("package/manifest.json") and sent(f"{WHEELS}/x.whl")
    assert not sent("k8s/deployment.yaml") and not sent("docker-compose.yaml")
    assert not sent("grafana/x.json") and not sent("README.md")


def test_a_pinned_base_is_the_default_argument() -> None:
    base = "python:3.11-slim-bookworm@sha256:" + "a" * 64
    text = dockerfile(ImageSpec("t", "v1", "d", base_image=base))
    assert text.count(f"ARG BASE_IMAGE={base}") == 1
    assert 'org.opencontainers.image.base.name="${BASE_IMAGE}"' in text
