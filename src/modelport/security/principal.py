"""Who a request comes from, once its credentials verified: a key or a token's subject.

A principal is what the rest of the server sees of a credential: an id for the audit trail
(never the secret), the roles it holds and the models it is scoped to. Keys and identity
provider tokens both become one, so the checks after authentication are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelport.security.keys import ROLES, Role

Kind = Literal["key", "token", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``models`` empty: every model and deployment."""

    id: str
    kind: Kind
    roles: frozenset[Role]
    models: frozenset[str] = frozenset()
    #: unix seconds after which the credential no longer holds (None: no expiry)
    expires_at: float | None = None

    def can(self, role: Role) -> bool:
        """``admin`` holds every role; the others only themselves."""
        return role in self.roles or "admin" in self.roles

    def may_use(self, model: str | None) -> bool:
        """A scoped principal reaches only its models; routes without a model are unscoped."""
        return model is None or not self.models or model in self.models

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


#: what every request is when the server runs with ``--no-auth`` (on loopback only)
ANONYMOUS = Principal("anonymous", "anonymous", frozenset(ROLES))
