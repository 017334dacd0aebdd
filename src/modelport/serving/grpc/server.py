"""Start and stop the gRPC server inside the HTTP server's process and event loop.

One runtime, one event loop: the ``grpc.aio`` server is started by the app's lifespan
after the runtime has loaded every model, and stopped (in-flight calls finish within the
grace period) before the runtime drains its batchers. grpcio is an optional extra, imported
here and only when ``--grpc-port`` is given.

With ``--workers N`` every worker binds the same port with SO_REUSEPORT and the kernel
spreads the connections, as it does for HTTP; one worker binds it exclusively, so a port
already in use is an error at start, not a silent share.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.errors import ConfigurationError, MissingExtraError

if TYPE_CHECKING:
    from modelport.runtime.service import ServingRuntime

#: seconds in-flight calls get to finish when the server stops
GRACE_SECONDS = 10.0


def _grpc() -> Any:
    try:
        import grpc  # type: ignore[import-untyped]
        from google.protobuf import message  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise MissingExtraError("grpcio", "grpc") from None
    return grpc


def address(host: str, port: int) -> str:
    """``host:port`` as gRPC wants it (an IPv6 address in brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


async def start(runtime: ServingRuntime) -> Any:
    """A started ``grpc.aio.Server`` on ``runtime.config.grpc_port``; stop it with :func:`stop`."""
    grpc = _grpc()
    from modelport.serving.grpc.service import InferenceServicer, Unimplemented, method_handlers

    config = runtime.config
    assert config.grpc_port is not None
    server = grpc.aio.server(
        options=[
            # the HTTP body limit, for the same request over gRPC (larger: RESOURCE_EXHAUSTED)
            ("grpc.max_receive_message_length", config.max_body_bytes),
            ("grpc.so_reuseport", 1 if config.workers > 1 else 0),
        ]
    )
    server.add_generic_rpc_handlers((method_handlers(InferenceServicer(runtime)), Unimplemented()))
    where = address(config.host, config.grpc_port)
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            credentials = grpc.ssl_server_credentials(
                [(Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())]
            )
            bound = server.add_secure_port(where, credentials)
        else:
            bound = server.add_insecure_port(where)
    except RuntimeError as exc:
        bound, reason = 0, str(exc)
    else:
        reason = "the address is in use or cannot be bound"
    if not bound:
        raise ConfigurationError(
            f"cannot serve gRPC on {where}: {reason}",
            hint="pick a free port for --grpc-port (and a host this machine has)",
        )
    await server.start()
    return server


async def stop(server: Any) -> None:
    """Refuse new calls, let in-flight ones finish (within the grace period), then stop."""
    await server.stop(GRACE_SECONDS)
