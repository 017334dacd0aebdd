"""Security on a real server process: keys made by the CLI, HTTPS, bearer JWTs from a JWKS
file, refusal to serve a public address without auth, no secret in anything written, and
``modelport doctor``."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import modelport
from modelport.settings import Settings
from tests.serving.conftest import start_server, stop_server

pytestmark = pytest.mark.integration
ISSUER, AUDIENCE = "https://idp.example", "modelport"
BODY = {"instances": [[1.0, 2.0]]}


def double(batch: np.ndarray) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)[:, 0] * 2


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("secure") / "home"
    settings = Settings(home=home, user="tester")
    modelport.register(
        double, "m", sample=np.random.default_rng(0).normal(size=(20, 2)), settings=settings
    )
    return home


def cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        env={**os.environ, "MODELPORT_HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_key(home: Path, *args: str) -> dict[str, object]:
    made = cli(home, "keys", "create", *args, "--json")
    assert made.returncode == 0, made.stderr
    data: dict[str, object] = json.loads(made.stdout)
    assert {"id", "key"} <= set(data)
    return data


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    path = tmp_path_factory.mktemp("idp") / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return key, path


def token(key: rsa.RSAPrivateKey, roles: list[str], **claims: object) -> str:
    now = int(time.time())
    payload = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "roles": roles,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def secure_server(
    home: Path, idp: tuple[rsa.RSAPrivateKey, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ssl.SSLContext, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(directory)
    log = directory / "server.log"
    server = start_server(
        home,
        log,
        "m",
        "--auth",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--jwks",
        str(idp[1]),
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--poll-interval",
        "0.2",
        tls_ca=cert,
    )
    try:
        yield server.url, ssl.create_default_context(cafile=str(cert)), log
    finally:
        stop_server(server)


def test_keys_over_https_and_no_secret_in_anything_written(
    home: Path, secure_server: tuple[str, ssl.SSLContext, Path]
) -> None:
    url, context, log = secure_server
    predict = make_key(home, "--role", "predict")
    secret = str(predict["key"])
    with httpx.Client(verify=context) as client:
        ok = client.post(f"{url}/v1/models/m:predict", json=BODY, headers={"X-API-Key": secret})
        assert ok.status_code == 200, ok.text
        assert ok.json()["predictions"] == [2.0]
        bearer = {"Authorization": f"Bearer {secret}"}
        assert client.post(f"{url}/v1/models/m:predict", json=BODY, headers=bearer).is_success
        assert client.post(f"{url}/v1/models/m:predict", json=BODY).status_code == 401
        forbidden = client.post(f"{url}/api/feedback", json=[], headers=bearer)
        assert forbidden.status_code == 403  # a predict key may not send feedback
        wrong = secret[:-3] + "xyz"
        assert (
            client.post(f"{url}/v1/models/m:predict", json=BODY, headers={"X-API-Key": wrong})
        ).status_code == 401
    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port does not answer
        httpx.get(url.replace("https", "http") + "/v2/health/live", timeout=5)
    # the secret half of the key is nowhere: not in the log, the registry, the prediction log
    time.sleep(0)  # (the files are read as they are; nothing to wait for)
    needle = secret.split("_", 2)[2].encode()  # the secret may hold "_" itself
    written = [p for p in home.rglob("*") if p.is_file()] + [log]
    assert written
    for path in written:
        assert needle not in path.read_bytes(), path
    keys = cli(home, "keys", "list", "--json")
    assert keys.returncode == 0 and needle.decode() not in keys.stdout


def test_bearer_jwts_from_the_identity_provider(
    idp: tuple[rsa.RSAPrivateKey, Path], secure_server: tuple[str, ssl.SSLContext, Path]
) -> None:
    url, context, _ = secure_server
    key = idp[0]
    predict_url = f"{url}/v1/models/m:predict"
    with httpx.Client(verify=context) as client:

        def status(tok: str, path: str = predict_url) -> int:
            return client.post(
                path, json=BODY, headers={"Authorization": f"Bearer {tok}"}
            ).status_code

        assert status(token(key, ["predict"])) == 200
        assert status(token(key, ["predict"]), f"{url}/api/feedback") == 403
        assert status(token(key, ["predict"], aud="someone-else")) == 401
        assert status(token(key, ["predict"], iss="https://evil.example")) == 401
        assert status(token(key, ["predict"], exp=int(time.time()) - 3600)) == 401
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert status(token(other, ["predict"])) == 401  # signed by someone else
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        body = (
            base64.urlsafe_b64encode(
                json.dumps({"sub": "mallory", "roles": ["admin"], "exp": 2**31}).encode()
            )
            .rstrip(b"=")
            .decode()
        )
        assert status(f"{header}.{body}.") == 401  # alg: none


def test_a_public_address_without_auth_does_not_start(home: Path) -> None:
    for command in (
        [sys.executable, "-m", "modelport", "serve", "m", "--host", "0.0.0.0", "--no-auth"],
        [sys.executable, "-m", "modelport.serving", "m", "--host", "0.0.0.0", "--no-auth"],
    ):
        result = subprocess.run(
            command,
            env={**os.environ, "MODELPORT_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1
        assert "without authentication" in result.stderr
        assert "modelport keys create" in result.stderr


def test_doctor_judges_the_posture(home: Path) -> None:
    fine = cli(home, "doctor", "--json")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert json.loads(fine.stdout)["verdict"] in ("ok", "warn")
    risky = cli(home, "doctor", "--json", env={"MODELPORT_TRUST_PICKLES": "1"})
    assert risky.returncode == 1
    findings = json.loads(risky.stdout)["findings"]
    assert any(f["topic"] == "pickles" and f["level"] == "danger" for f in findings)
    public = cli(
        home,
        "doctor",
        "--json",
        env={"MODELPORT_SERVING__HOST": "0.0.0.0", "MODELPORT_SERVING__AUTH": "false"},
    )
    assert public.returncode == 1
