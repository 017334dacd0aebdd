"""The guard in front of every HTTP route: credentials, roles, limits and the request timeout.

A pure ASGI middleware, because the prediction routes bypass FastAPI (a dependency would
never run for them) and because a refusal should cost as little as possible. Per request it
looks up the role the route needs (:func:`modelport.security.routes.required_role`, deny by
default), asks the access control for the principal (401), checks its role and model scope
(403), spends one request of its rate and takes a concurrency slot (429 with Retry-After),
and answers 504 when the app has not started its response within the request timeout.
``/v2/health/*`` and KServe V1's ``GET /`` skip all of it: orchestrators probe them without
credentials, often.
"""

from __future__ import annotations

import asyncio
import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.errors import ModelportError, RateLimited, RequestTimeout, Unauthenticated
from modelport.security.keys import Role
from modelport.security.principal import Principal
from modelport.security.routes import model_of, required_role
from modelport.services.access import AccessControl, credential_of
from modelport.serving.protocols.common import error_body

_JSON = (b"content-type", b"application/json")
_PROBES = frozenset({"/", "/v2/health/live", "/v2/health/ready"})
_ROUTES_REMEMBERED = 4096


class Guard:
    """Wraps the app: every request is authenticated, authorised and limited first."""

    def __init__(
        self,
        app: ASGIApp,
        access: AccessControl,
        *,
        public_metrics: bool = False,
        public_docs: bool = False,
        request_timeout: float = 0.0,
    ) -> None:
        self.app = app
        self.access = access
        self.public_metrics = public_metrics
        self.public_docs = public_docs
        self.timeout = request_timeout if request_timeout > 0 else None
        self.state = getattr(app, "state", None)  # the FastAPI app's, for tests and tools
        self._routes: dict[tuple[str, str], tuple[Role | None, str | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # the lifespan
            return
        path: str = scope["path"]
        if path in _PROBES:  # exact paths only: /v2/health/../x is judged like any other
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else None
        access = self.access
        route = self._routes.get((scope["method"], path))
        if route is None:
            route = self._route(scope["method"], path)
        role, model = route
        slot = None
        try:
            principal: Principal | None = None
            if role is not None:
                credential = credential_of(scope["headers"])
                principal = access.remembered(credential)
                if principal is None:
                    principal = await access.authenticate(credential, client)
                access.authorize(principal, role, model, client)
                access.admit(principal, client)
                slot = access.enter(principal, client)
                state = scope.setdefault("state", {})
                state["principal"] = principal.id
        except ModelportError as exc:
            await _refuse(exc, send)
            return
        try:
            if self.timeout is None:
                await self.app(scope, receive, send)
            else:
                await self._within_timeout(scope, receive, send)
        finally:
            access.leave(slot)

    def _route(self, method: str, path: str) -> tuple[Role | None, str | None]:
        """The role and model of a route, remembered: a client calls few routes, often."""
        if len(self._routes) >= _ROUTES_REMEMBERED:
            self._routes.clear()  # bounded, whatever paths a hostile client makes up
        role = required_role(
            method, path, public_metrics=self.public_metrics, public_docs=self.public_docs
        )
        route = (role, model_of(path))
        self._routes[(method, path)] = route
        return route

    async def _within_timeout(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, receive, send_noting_start)
        except TimeoutError:
            if started:  # half an answer was sent: nothing to do but end the connection
                raise
            await _refuse(
                RequestTimeout(
                    f"no answer within the request timeout of {self.timeout:g} s",
                    hint="retry later; the server is busy or the model is slow",
                ),
                send,
            )


async def _refuse(exc: ModelportError, send: Send) -> None:
    headers = [_JSON]
    if isinstance(exc, Unauthenticated):
        headers.append((b"www-authenticate", b'Bearer realm="modelport"'))
    if isinstance(exc, RateLimited):
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    await send({"type": "http.response.start", "status": int(exc.status), "headers": headers})
    await send({"type": "http.response.body", "body": error_body(exc)})


__all__ = ["Guard"]
