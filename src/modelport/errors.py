"""The one error hierarchy of modelport.

Every error says what was wrong and what to do about it, and carries the HTTP
status the web layer answers with. Only the web layer turns errors into
responses; this module imports nothing from a web framework.

    ModelportError
    ├── InvalidArgument               400  an argument that cannot work
    ├── ConfigurationError            500  settings that cannot work
    ├── MissingExtraError             500  an optional library is not installed
    ├── InvalidReference              400  a model reference that does not parse
    ├── NotFoundError                 404
    │   ├── ModelNotFound
    │   ├── VersionNotFound
    │   ├── AliasNotFound
    │   └── DeploymentNotFound
    ├── RegistryError                 500  the metadata store failed
    │   └── RegistryUnavailable       503
    ├── ConflictError                 409  the change contradicts what is stored
    ├── ArtifactError                 500
    │   ├── ArtifactMissing
    │   └── ArtifactIntegrityError         sha256 mismatch: the artifact was changed
    ├── UntrustedArtifactError        403  loading would unpickle without trust
    ├── FlavorError                   400  no flavor for this object / flavor failed
    ├── ValidationError               422  input does not match the signature
    │   └── OutOfDistribution                  unlike training, and the model's policy rejects it
    ├── PredictionError               500  the model failed on valid input
    │   └── NonFinitePrediction       422  the model's output on this input is inf or NaN
    ├── PayloadTooLarge               413
    ├── UnsupportedEncoding           415  a Content-Encoding the server cannot decode
    ├── ModelNotReady                 503
    ├── Overloaded                    503  a bounded queue is full
    ├── Unauthenticated               401  no credentials, or credentials that do not verify
    ├── PermissionDenied              403  verified, but not allowed this route or model
    ├── RateLimited                   429  the key's rate limit is spent (Retry-After says when)
    ├── RequestTimeout                504  the answer took longer than the request timeout
    └── DataError                     400  an input file or data set cannot be read
        └── ModelFileError                     a file handed to register is not a readable model
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ModelportError(Exception):
    """Base of every error modelport raises on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "modelport_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return data


class InvalidArgument(ModelportError):
    """An argument has a value that cannot work (a metric that is not a number, ...)."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_argument"


class ConfigurationError(ModelportError):
    code = "configuration_error"


class MissingExtraError(ModelportError):
    code = "missing_extra"

    def __init__(self, library: str, extra: str) -> None:
        super().__init__(
            f"the optional library '{library}' is not installed",
            hint=f"install it with: pip install 'modelport[{extra}]'",
        )
        self.library = library
        self.extra = extra


class InvalidReference(ModelportError):
    """A model reference such as ``name:3`` or ``name@production`` does not parse."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_reference"


class NotFoundError(ModelportError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class ModelNotFound(NotFoundError):
    code = "model_not_found"


class VersionNotFound(NotFoundError):
    code = "version_not_found"


class AliasNotFound(NotFoundError):
    code = "alias_not_found"


class DeploymentNotFound(NotFoundError):
    code = "deployment_not_found"


class CanaryNotFound(NotFoundError):
    code = "canary_not_found"


class RegistryError(ModelportError):
    code = "registry_error"


class RegistryUnavailable(RegistryError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "registry_unavailable"


class ConflictError(ModelportError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class ArtifactError(ModelportError):
    code = "artifact_error"


class ArtifactMissing(ArtifactError):
    code = "artifact_missing"


class ArtifactIntegrityError(ArtifactError):
    code = "artifact_integrity"


class UntrustedArtifactError(ModelportError):
    status = HTTPStatus.FORBIDDEN
    code = "untrusted_artifact"


class FlavorError(ModelportError):
    status = HTTPStatus.BAD_REQUEST
    code = "flavor_error"


class ValidationError(ModelportError):
    """Input does not match a signature. ``problems`` lists every bad field."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "invalid_input"

    def __init__(self, problems: list[FieldProblem], *, hint: str | None = None) -> None:
        self.problems = problems
        summary = "; ".join(p.describe() for p in problems[:20])
        if len(problems) > 20:
            summary += f"; and {len(problems) - 20} more"
        super().__init__(f"invalid input: {summary}", hint=hint)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["problems"] = [p.to_dict() for p in self.problems]
        return data


class OutOfDistribution(ValidationError):
    """Input unlike the training data (out of range, unseen), refused by the model's policy.

    Its problems name each offending feature; valid by the signature, so only a model
    served with ``--ood-policy NAME=reject`` raises it.
    """

    code = "out_of_distribution"


class FieldProblem:
    """One bad field: which, what kind of problem, and a message naming the fix."""

    __slots__ = ("detail", "field", "kind", "rows")

    def __init__(self, field: str, kind: str, detail: str, rows: list[int] | None = None) -> None:
        self.field = field
        self.kind = kind  # unknown | missing | type | category | null | shape | out_of_distribution
        self.detail = detail
        self.rows = rows

    def describe(self) -> str:
        where = ""
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = "" if len(self.rows) <= 5 else f" and {len(self.rows) - 5} more"
            where = f" (rows {shown}{more})"
        return f"'{self.field}': {self.detail}{where}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "kind": self.kind, "detail": self.detail}
        if self.rows is not None:
            out["rows"] = self.rows[:100]
        return out

    def __repr__(self) -> str:
        return f"FieldProblem({self.field!r}, {self.kind!r}, {self.detail!r})"


class PredictionError(ModelportError):
    """The model itself failed on input that passed validation: a fault of the model."""

    code = "prediction_failed"


class NonFinitePrediction(PredictionError):
    """The model's output on these rows is infinite or NaN, so there is no answer to give.

    422, not 500: the input passed validation, but it holds values so extreme that the
    model's arithmetic overflows (a linear model on rows of 1e308). The server is fine
    and the same input will fail again; the client can fix it by sending values in the
    range the model was trained on. ``rows`` are indexes into the request's rows.
    """

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "non_finite_prediction"

    def __init__(self, rows: list[int], *, output: str = "prediction") -> None:
        self.rows = rows
        self.output = output
        shown = ", ".join(str(r) for r in rows[:10])
        more = "" if len(rows) <= 10 else f" and {len(rows) - 10} more"
        super().__init__(
            f"the model's {output} is not a finite number (infinite or NaN) for rows {shown}{more}",
            hint="the input values are too extreme for the model's arithmetic (an overflow); "
            "send values in the range the model was trained on",
        )

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["rows"] = self.rows[:100]
        return data


class PayloadTooLarge(ModelportError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class UnsupportedEncoding(ModelportError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_encoding"


class ModelNotReady(ModelportError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "model_not_ready"


class Overloaded(ModelportError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "overloaded"


class Unauthenticated(ModelportError):
    """Missing or bad credentials. The message never says whether a key exists."""

    status = HTTPStatus.UNAUTHORIZED
    code = "unauthenticated"


class PermissionDenied(ModelportError):
    """The credentials verified but their roles or model scope do not cover the request."""

    status = HTTPStatus.FORBIDDEN
    code = "permission_denied"


class RateLimited(ModelportError):
    """The caller's rate or concurrency limit is spent; ``retry_after`` seconds until it is not."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class RequestTimeout(ModelportError):
    status = HTTPStatus.GATEWAY_TIMEOUT
    code = "request_timeout"


class DataError(ModelportError):
    status = HTTPStatus.BAD_REQUEST
    code = "data_error"


class ModelFileError(DataError):
    """A file handed to ``register`` cannot be read as the model its name says it is."""

    code = "invalid_model_file"


class OptimizationError(ModelportError):
    """A model cannot be converted, compressed or exported as asked."""

    status = HTTPStatus.BAD_REQUEST
    code = "optimization_failed"


class UnsupportedModel(OptimizationError):
    """No converter or compression applies to this kind of model: said, never guessed."""

    code = "unsupported_model"


class ParityError(OptimizationError):
    """An optimized model disagrees with its original past the tolerance; nothing registered."""

    code = "parity_failed"
