"""Settings: one tree of inert data, built once at the entry point and passed down.

Every field can be set from the environment with the ``MODELPORT_`` prefix, nested
sections with ``__``: ``MODELPORT_HOME=/srv/modelport``,
``MODELPORT_REGISTRY_URI=postgresql+psycopg://user@db/modelport``,
``MODELPORT_SERVING__PORT=9000``. A command-line flag overrides the setting it names.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: seconds a stopping server gives in-flight requests to finish (uvicorn's graceful shutdown);
#: the Kubernetes grace period and the worker supervisor are sized from it
DRAIN_SECONDS = 30


class ServingSettings(BaseModel):
    """How ``modelport serve`` serves; each field is also a flag (``--max-batch-size``)."""

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8080, description="TCP port (0: the system picks one).")
    grpc_port: int | None = Field(
        default=None,
        description="Also serve the Open Inference Protocol over gRPC on this port, in the "
        "same process (needs pip install 'modelport[grpc]'); e.g. --grpc-port 8081.",
    )
    workers: int = Field(
        default=1,
        description="Processes sharing the port, forked from one supervisor after the "
        "heavy imports; /metrics of any of them counts all of them.",
    )
    metrics_dir: str | None = Field(
        default=None,
        description="With --workers N: the directory where the workers share their "
        "Prometheus numbers (emptied at start and at exit); default a new temporary one.",
    )
    max_batch_size: int = Field(default=64, description="Requests per model call, at most.")
    max_wait_ms: float = Field(
        default=0.0, description="Wait this long for a fuller batch when idle (0: never)."
    )
    max_queue: int = Field(
        default=2048, description="Queued requests per version before answering 503."
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, description="Larger bodies get 413.")
    poll_interval: float = Field(default=1.0, description="Seconds between checks for alias moves.")
    access_log: bool = Field(default=True, description="JSON access log lines on stdout.")
    log_sample_rate: float = Field(
        default=1.0, description="Share of predictions written to the prediction log (0: off)."
    )
    log_flush_interval: float = Field(
        default=1.0,
        description="Seconds between prediction log writes (at most this much is lost on kill -9).",
    )
    monitor_interval: float = Field(
        default=0.0, description="Seconds between background drift/performance checks (0: off)."
    )
    monitor_window: str = Field(
        default="1h", description="Recent traffic each background check looks at."
    )
    alert_rules: str | None = Field(
        default=None, description="YAML alert rules evaluated after each check."
    )
    auth: bool = Field(
        default=True,
        description="Require an API key or bearer token on every route but /v2/health/* "
        "(--no-auth only on a loopback address).",
    )
    public_metrics: bool = Field(
        default=False, description="Let /metrics be scraped without credentials."
    )
    public_docs: bool = Field(
        default=False,
        description="Let browsers open /docs, /redoc and /openapi.json without credentials.",
    )
    rate_limit: str | None = Field(
        default=None,
        description="Requests per credential (per client address without auth), e.g. 100/s, "
        "6000/min or 100/s,burst=200; beyond it 429 with Retry-After.",
    )
    max_concurrency: int = Field(
        default=0, description="Requests in flight per credential, at most (0: no cap)."
    )
    request_timeout: float = Field(
        default=30.0, description="Seconds before a request is answered 504 (0: no limit)."
    )
    max_rows: int = Field(default=100_000, description="Rows per prediction request, at most.")
    ood_policy: str = Field(
        default="flag",
        description="What to do with a request unlike the training data: flag (log its "
        "out-of-distribution score) or reject (422 naming the features); "
        "--ood-policy NAME=POLICY for one model (repeatable).",
    )
    ood_threshold: float = Field(
        default=0.5,
        description="Out-of-distribution score (share of features out of range or unseen) "
        "above which reject refuses a request and the rows are counted in /metrics.",
    )
    tls_cert: str | None = Field(default=None, description="PEM certificate: serve HTTPS.")
    tls_key: str | None = Field(default=None, description="PEM private key of --tls-cert.")
    jwks: str | None = Field(
        default=None,
        description="Accept bearer JWTs signed by a key of this JWKS file or https URL.",
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` of bearer JWTs.")
    jwt_audience: str | None = Field(default=None, description="Required `aud` of bearer JWTs.")
    jwt_roles_claim: str = Field(
        default="roles",
        description="JWT claim holding the roles (dotted when nested: realm_access.roles).",
    )


class ServerlessSettings(BaseModel):
    """What a serverless container serves (AWS Lambda: ``modelport.serving.serverless``).

    The other serving options are the ``serving`` section's, as for ``modelport serve``.
    """

    refs: list[str] = Field(
        default_factory=list,
        description="References to serve as a JSON list, e.g. '[\"credit-risk@production\"]' "
        "(MODELPORT_SERVERLESS__REFS); none and no deployments: every model.",
    )
    deployments: list[str] = Field(
        default_factory=list,
        description="Deployments to serve as well, a JSON list "
        "(MODELPORT_SERVERLESS__DEPLOYMENTS).",
    )


class Settings(BaseSettings):
    """Where modelport keeps things and how it behaves."""

    model_config = SettingsConfigDict(
        env_prefix="MODELPORT_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    home: Path = Field(
        default=Path("~/.modelport"),
        description="Root for the embedded defaults: registry.db, artifacts/, logs/, cache/.",
    )
    registry_uri: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the registry metadata store; "
        "default sqlite:///<home>/registry.db.",
    )
    artifact_uri: str | None = Field(
        default=None,
        description="Directory or fsspec URL (s3://, gs://, memory://) for artifacts; "
        "default <home>/artifacts.",
    )
    log_uri: str | None = Field(
        default=None,
        description="Directory or fsspec URL for prediction logs and feedback; "
        "default <home>/logs.",
    )
    trust_pickles: bool = Field(
        default=False,
        description="Allow loading pickle/joblib artifacts. Only for artifacts you produced.",
    )
    artifact_key: SecretStr | None = Field(
        default=None,
        description="Base64 of a 32-byte AES-256 key: every artifact file written is then "
        "encrypted at rest (AES-256-GCM), and loading it needs the same key. Make one with: "
        'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"',
    )
    user: str | None = Field(
        default=None,
        description="Who is acting, recorded in the audit trail; default the OS user.",
    )
    alert_journal: Path | None = Field(
        default=None,
        description="Every alert that fired and what its actions did (the dedup memory of "
        "every front end); default <home>/alerts.jsonl.",
    )
    monitor_lock: Path | None = Field(
        default=None,
        description="Lock file that lets one server worker at a time run the background "
        "monitor; default <home>/monitor.lock.",
    )
    canary_lock: Path | None = Field(
        default=None,
        description="Lock file that lets one server worker at a time judge canary steps; "
        "default <home>/canary.lock.",
    )
    debug: bool = Field(
        default=False, description="The CLI prints the traceback of an unexpected error."
    )
    serving: ServingSettings = Field(
        default_factory=ServingSettings, description="Defaults of `modelport serve`."
    )
    serverless: ServerlessSettings = Field(
        default_factory=ServerlessSettings, description="What a serverless container serves."
    )
    platform_port: int | None = Field(
        default=None,
        validation_alias="PORT",
        description="The port a platform assigns in PORT (Google Cloud Run, Cloud Functions "
        "2nd gen, Heroku): `modelport serve` listens on it unless MODELPORT_SERVING__PORT "
        "or --port says otherwise.",
    )

    @model_validator(mode="after")
    def _platform_port(self) -> Settings:
        # the platform's PORT is a default: an explicit serving port wins
        if self.platform_port is not None and "port" not in self.serving.model_fields_set:
            self.serving = self.serving.model_copy(update={"port": self.platform_port})
        return self

    def resolved_home(self) -> Path:
        return self.home.expanduser()

    def resolved_registry_uri(self) -> str:
        if self.registry_uri:
            return self.registry_uri
        return f"sqlite:///{self.resolved_home() / 'registry.db'}"

    def resolved_artifact_uri(self) -> str:
        return self.artifact_uri or str(self.resolved_home() / "artifacts")

    def resolved_log_uri(self) -> str:
        return self.log_uri or str(self.resolved_home() / "logs")

    def alert_journal_path(self) -> Path:
        """Every alert that fired, with what its actions did: the dedup memory of all fronts."""
        return (self.alert_journal or self.resolved_home() / "alerts.jsonl").expanduser()

    def monitor_lock_path(self) -> Path:
        return (self.monitor_lock or self.resolved_home() / "monitor.lock").expanduser()

    def canary_lock_path(self) -> Path:
        return (self.canary_lock or self.resolved_home() / "canary.lock").expanduser()

    def cache_dir(self) -> Path:
        return self.resolved_home() / "cache"

    def actor(self) -> str:
        if self.user:
            return self.user
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no passwd entry in some containers
            return "unknown"
