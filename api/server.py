"""The HTTP server under the API (uvicorn), with what uvicorn lacks for slow or idle clients.

uvicorn 0.54 closes a kept-alive connection that stays idle after a response (`timeout_keep_alive`), but
arms no timer before a request's headers are complete: a client that opens a connection and sends nothing,
or one byte a second, holds it for ever. `HeaderTimeoutProtocol` gives every request `header_timeout`
seconds from the connection's opening (or from the next request's first byte) to finish its headers, then
answers 408 and closes. Body read timeouts live in the ASGI middleware (api.limits.BodyLimit).
"""

import copy
import json
import socket

import uvicorn
import uvicorn.config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chuishao.models.config import Settings

TIMEOUT_BODY = json.dumps({"error": {"code": "request_timeout", "message": "请求发送过慢，已超时 / request timed out"}},
                          ensure_ascii=False).encode()
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                    b"content-length: " + str(len(TIMEOUT_BODY)).encode() + b"\r\n\r\n" + TIMEOUT_BODY)


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus `header_timeout` (seconds; None: no limit), read by HeaderTimeoutProtocol.
    A module-level class, so that the config pickles into worker processes."""

    def __init__(self, app, *, header_timeout: float | None = None, **kwargs):
        super().__init__(app, http=HeaderTimeoutProtocol, **kwargs)
        self.header_timeout = header_timeout


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request line and headers."""

    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = getattr(config, "header_timeout", None)
        self._header_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:  # the first byte of a request, e.g. the next one on a kept-alive connection
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.header_timeout and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port the way uvicorn would, before anything slow starts, so that a port in use
    is found at once. Raises OSError (errno EADDRINUSE when the port is taken)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # worker processes serve from it
    return sock


# uvicorn's logging, less its "Started server process" lines (both servers of `chuishao serve` share its
# loggers, and our own progress lines say what started); the access log stays on stdout
API_LOGGING = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
API_LOGGING["loggers"]["uvicorn.error"]["level"] = "WARNING"


def api_config(app, settings: Settings, **kwargs) -> ServerConfig:
    """The API's server settings: the timeouts for slow and idle clients come from `settings`."""
    return ServerConfig(app, header_timeout=settings.http_header_timeout,
                        timeout_keep_alive=settings.http_keep_alive_timeout,
                        ws_per_message_deflate=False,  # events are ~400 bytes: compressing each costs more
                        log_config=API_LOGGING, **kwargs)
