"""The guard in front of every HTTP route: credentials, roles, limits and the request timeout.

A pure ASGI middleware, because the prediction routes bypass FastAPI (a dependency would
never run for them) and because a refusal should cost as little as possible. Per request it
looks up the role the route needs (:func:`modelport.security.routes.required_role`, deny by
default), asks the access control for the principal (401), checks its role and model scope
(403), spends one request of its rate and takes a concurrency slot (429 with Retry-After),
and answers 504 when the app has not answered within the request timeout (one sweeper task
per event loop enforces the deadlines, see :meth:`Guard._within_timeout`).
``/v2/health/*`` and KServe V1's ``GET /`` skip all of it: orchestrators probe them without
credentials, often.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from modelport.errors import ModelportError, RateLimited, RequestTimeout, Unauthenticated
from modelport.security.keys import Role
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
        #: nothing to check per request: no credentials asked, no limits
        self._open = not access.enabled and access.rates is None and access.concurrency is None
        self.state = getattr(app, "state", None)  # the FastAPI app's, for tests and tools
        self._routes: dict[tuple[str, str], tuple[Role | None, str | None]] = {}
        self._deadlines: dict[asyncio.Task[Any], float] = {}  # in-flight request -> deadline
        self._expired: set[asyncio.Task[Any]] = set()  # cancelled by the sweeper
        self._sweeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan: never under a request's deadline
            # a new event loop (a restart, each TestClient): its first request starts a sweeper
            self._sweeper, self._deadlines, self._expired = None, {}, set()
            await self.app(scope, receive, send)
            return
        if self._open:  # nothing to check: auth off on loopback, no limits
            await (self.app if self.timeout is None else self._within_timeout)(scope, receive, send)
            return
        path: str = scope["path"]
        if path in _PROBES:  # exact paths only: /v2/health/../x is judged like any other
            await self.app(scope, receive, send)
            return
        access = self.access
        route = self._routes.get((scope["method"], path))
        if route is None:
            route = self._route(scope["method"], path)
        role, model = route
        slot = None
        if role is not None:
            client = scope["client"][0] if scope.get("client") else None
            try:
                credential = credential_of(scope["headers"])
                principal = access.remembered(credential)
                if principal is None:
                    principal = await access.authenticate(credential, client)
                access.authorize(principal, role, model, client)
                access.admit(principal, client)
                slot = access.enter(principal, client)
            except ModelportError as exc:
                await _refuse(exc, send)
                return
            scope.setdefault("state", {})["principal"] = principal.id
        try:
            if self.timeout is None:
                await self.app(scope, receive, send)
            else:
                await self._within_timeout(scope, receive, send)
        finally:
            if slot is not None:
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
        # One sweeper task per event loop cancels the requests past their deadline, instead
        # of a timer per request: asyncio.timeout schedules and cancels a timer handle per
        # call, which costs about 20 us per request at 10k req/s with a 30 s timeout (the
        # loop's heap fills with cancelled handles); a dictionary entry costs 0.1 us.
        task = asyncio.current_task()
        if task is None:  # not in a task (cannot happen under an ASGI server)
            await self.app(scope, receive, send)
            return
        if self._sweeper is None:  # the first request of this event loop (see __call__)
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), name="request-timeouts"
            )
        self._deadlines[task] = time.monotonic() + self.timeout  # type: ignore[operator]
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # a cancellation that is not ours (shutdown, a client gone)
            task.uncancel()
            # RuntimeError: half an answer was sent already, the connection just ends
            with contextlib.suppress(RuntimeError):
                await _refuse(
                    RequestTimeout(
                        f"no answer within the request timeout of {self.timeout:g} s",
                        hint="retry later; the server is busy or the model is slow",
                    ),
                    send,
                )
        finally:
            self._deadlines.pop(task, None)
            self._expired.discard(task)

    async def _sweep(self) -> None:
        tick = min(1.0, max(0.01, (self.timeout or 1.0) / 10))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for task, deadline in list(self._deadlines.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()


async def _refuse(exc: ModelportError, send: Send) -> None:
    headers = [_JSON]
    if isinstance(exc, Unauthenticated):
        headers.append((b"www-authenticate", b'Bearer realm="modelport"'))
    if isinstance(exc, RateLimited):
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    await send({"type": "http.response.start", "status": int(exc.status), "headers": headers})
    await send({"type": "http.response.body", "body": error_body(exc)})


__all__ = ["Guard"]
