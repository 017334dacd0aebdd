"""Serverless entry points: AWS Lambda through Mangum, over the same app ``modelport serve`` runs.

AWS Lambda (API Gateway REST and HTTP APIs, Lambda Function URLs, ALB): set the
function's handler to ``modelport.serving.serverless.handler``. The first event a
container gets builds the app from the settings tree (the environment: which models in
``MODELPORT_SERVERLESS__REFS``, every serving option as ``MODELPORT_SERVING__...``), and
loads and warms every model once; later events of that container reuse them. Mangum
turns each event into an ASGI request and the answer into the Lambda response shape.

Mangum would run the app's lifespan (loading every model) around *every* event; here it
runs once per container, on the loop Mangum's requests run on: the alias follower polls
while events are answered, the prediction log's writer thread whenever the container is
thawed. Lambda's filesystem is read-only but for /tmp, so set ``MODELPORT_HOME=/tmp/modelport``
and keep the registry elsewhere (``MODELPORT_REGISTRY_URI``, PostgreSQL) and artifacts and
logs on object storage (``MODELPORT_ARTIFACT_URI=s3://...``). When Lambda sends
SIGTERM before reclaiming a container (it does when an extension is registered), the
lifespan shutdown drains the batchers and flushes the prediction log.

Google Cloud Run and Cloud Functions (2nd gen, which run on Cloud Run) start a container
and send HTTP to the port in ``PORT``: there the entry point is ``modelport serve``
itself, which listens on ``PORT`` (:attr:`~modelport.settings.Settings.platform_port`)
and stops gracefully on the SIGTERM Cloud Run sends.

>>> from modelport.serving.serverless import LambdaHandler  # doctest: +SKIP
>>> config = ServeConfig(refs=("credit-risk@production",))   # doctest: +SKIP
>>> handler = LambdaHandler(config, Settings())              # doctest: +SKIP
>>> handler(api_gateway_event, context)["statusCode"]        # doctest: +SKIP
200
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from typing import Any

from modelport.errors import ConfigurationError, MissingExtraError, ModelportError
from modelport.runtime.config import ServeConfig
from modelport.settings import Settings

log = logging.getLogger("modelport.serving")
Message = dict[str, Any]


class Lifespan:
    """The ASGI lifespan of an app, started once and stopped once on one event loop.

    Unlike Mangum's per-event cycle it keeps the app's own exception when startup fails
    (a model that is not in the registry says so, not "lifespan failure").
    """

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.failure: BaseException | None = None
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._replies: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        try:
            await self.app({**scope, "state": {}}, self._inbox.get, self._replies.put)
        except BaseException as exc:  # the app re-raises what failed its startup
            self.failure = exc
        finally:
            await self._replies.put({"type": "lifespan.ended"})

    async def _send(self, kind: str) -> Message:
        await self._inbox.put({"type": f"lifespan.{kind}"})
        return await self._replies.get()

    def start(self) -> None:
        """Run the app's startup (every model loaded and warmed); raise what failed it."""
        self._task = self.loop.create_task(self._run())
        reply = self.loop.run_until_complete(self._send("startup"))
        if reply["type"] != "lifespan.startup.complete":
            self.loop.run_until_complete(self._task)  # the app raises after it answered
            if isinstance(self.failure, ModelportError):
                raise self.failure
            raise ConfigurationError(
                f"the serverless container could not start serving: {self.failure!r}",
                hint="the log above names the model or setting; check "
                "MODELPORT_REGISTRY_URI and MODELPORT_SERVERLESS__REFS",
            ) from self.failure

    def stop(self) -> None:
        """Run the app's shutdown: batchers drained, the prediction log flushed."""
        if self._task is not None and not self._task.done():
            self.loop.run_until_complete(self._send("shutdown"))
            self.loop.run_until_complete(self._task)


class LambdaHandler:
    """A Lambda handler over :func:`~modelport.serving.app.app_for`'s app; models load here.

    ``handler(event, context)`` answers one event. Build one per container: construction is
    the cold start (imports, registry, every model loaded and warmed).
    """

    def __init__(self, config: ServeConfig, settings: Settings) -> None:
        try:
            from mangum import Mangum
        except ImportError as exc:
            raise MissingExtraError("mangum", "serverless") from exc
        from modelport.serving.app import app_for

        started = time.perf_counter()
        self.config = config
        self.app = app_for(config, settings)
        # the lifespan is ours, run once: Mangum's own would reload every model per event
        self._adapter = Mangum(self.app, lifespan="off")  # also sets this thread's loop
        self._lifespan = Lifespan(self.app, asyncio.get_event_loop())
        self._lifespan.start()
        self._closed = False
        #: seconds the cold start took once the modules were imported
        self.start_seconds = time.perf_counter() - started
        log.info("serverless container ready in %.3fs", self.start_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> LambdaHandler:
        """What the settings tree says to serve, with the ``serving`` section's options."""
        config = ServeConfig.from_settings(
            settings,
            tuple(settings.serverless.refs),
            deployments=tuple(settings.serverless.deployments),
        )
        return cls(config, settings)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = self._adapter(event, context)
        return response

    def close(self) -> None:
        """The lifespan shutdown: batchers drained, the prediction log flushed."""
        if not self._closed:
            self._closed = True
            self._lifespan.stop()


_container: LambdaHandler | None = None
_building = threading.Lock()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The AWS Lambda entry point: ``modelport.serving.serverless.handler``."""
    return container()(event, context)


def container() -> LambdaHandler:
    """This container's handler, built from the environment on first use."""
    global _container
    with _building:
        if _container is None:
            _container = LambdaHandler.from_settings(Settings())
            _drain_on_sigterm(_container)
        return _container


def _drain_on_sigterm(built: LambdaHandler) -> None:
    # Lambda's runtime waits for the next event on the main thread with no loop running,
    # which is where a signal handler runs: the lifespan shutdown can run there.
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, _: Any) -> None:
        built.close()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
