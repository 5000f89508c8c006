"""Slow and idle HTTP and WebSocket clients are cut off: a real uvicorn server (api.server.api_config, as
`chuishao serve` runs it) and real sockets. The limits are 2 s here; every check allows 10 s (no timing beyond that)."""

import socket
import threading
import time

import pytest
import uvicorn

from chuishao.api.app import create_app
from chuishao.api.server import api_config, listening_socket
from tests.conftest import test_settings

LIMIT = 2.0
BOUND = 10.0  # generous: "closed well before a client could hold it for long"
WAITING_CAP = 3  # live sockets not yet signed in, per client address


@pytest.fixture
def server(sqlite_template, tmp_path, clock):
    import shutil

    db = tmp_path / "chuishao.db"
    shutil.copy(sqlite_template, db)
    settings = test_settings(f"sqlite:///{db}", tmp_path, http_header_timeout=LIMIT, http_body_timeout=LIMIT,
                             http_body_min_rate=4096, http_keep_alive_timeout=int(LIMIT),
                             ws_auth_timeout=LIMIT, max_unauthenticated_sockets_per_address=WAITING_CAP)
    sock = listening_socket("127.0.0.1", 0)
    srv = uvicorn.Server(api_config(create_app(settings, clock), settings))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield sock.getsockname()[:2]
    srv.should_exit = True
    thread.join(20)
    sock.close()


def _connect(address) -> socket.socket:
    conn = socket.create_connection(address, timeout=BOUND)
    conn.settimeout(0.2)
    return conn


def _closed_within(conn: socket.socket, seconds: float, trickle: bytes = b"", every: float = 1.0) -> tuple[bool, bytes]:
    """Send `trickle` one byte per `every` seconds while reading; (closed by the server?, what it sent)."""
    got, start, sent_at, i = b"", time.monotonic(), 0.0, 0
    while time.monotonic() - start < seconds:
        now = time.monotonic() - start
        if i < len(trickle) and now >= sent_at:
            try:
                conn.sendall(trickle[i:i + 1])
            except OSError:  # the server closed first
                return True, got
            i, sent_at = i + 1, now + every
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def test_headers_sent_one_byte_a_second_are_cut_off(server):
    conn = _connect(server)
    closed, got = _closed_within(conn, BOUND, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100)
    assert closed, "a client trickling its headers kept the connection"
    assert got.startswith(b"HTTP/1.1 408")


def test_a_connection_that_never_sends_a_request_is_closed(server):
    conn = _connect(server)
    closed, got = _closed_within(conn, BOUND)
    assert closed and got.startswith(b"HTTP/1.1 408")


def test_an_upload_at_one_kilobyte_a_second_is_cut_off_with_408(server):
    conn = _connect(server)
    body = b"username=admin&password=" + b"x" * 60_000
    conn.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    got, start, closed, sent = b"", time.monotonic(), False, 0
    while time.monotonic() - start < BOUND and not closed:
        if sent < len(body) and sent < (time.monotonic() - start) * 1024:
            try:
                conn.sendall(body[sent:sent + 256])
            except OSError:
                closed = True
                break
            sent += 256
        try:
            chunk = conn.recv(65536)
            closed = not chunk
            got += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    assert closed, "a 1 kB/s upload was never cut off"
    assert got.startswith(b"HTTP/1.1 408") and b"request_timeout" in got
    assert sent < len(body)


def test_an_idle_kept_alive_connection_is_closed(server):
    conn = _connect(server)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    closed, got = _closed_within(conn, BOUND)
    assert got.startswith(b"HTTP/1.1 200") and closed


def test_prompt_clients_are_not_affected(server):
    """A request whose body arrives at once, and a second request on the same connection, are served."""
    conn = _connect(server)
    body = b"username=admin&password=wrong-password"
    for _ in range(2):
        conn.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        got = b""
        while b"\r\n\r\n" not in got:
            try:
                got += conn.recv(65536)
            except TimeoutError:
                continue
        assert got.startswith(b"HTTP/1.1 401"), got[:200]
        time.sleep(LIMIT / 2)  # a pause shorter than the limits between requests is fine


@pytest.mark.parametrize("head, first, status", [
    (b"POST /nonexistent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", b"{", b"404"),
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", b"{", b"405"),
    (b"POST /api/v1/cases/1/attachments HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
     b"Content-Type: multipart/form-data; boundary=b\r\n", b"not a multipart body\r\n", None),
], ids=["unknown-path", "wrong-method", "malformed-upload"])
def test_an_answer_before_the_body_is_read_closes_the_connection(server, head, first, status):
    """The app answers without reading the whole body; the rest then trickles in a byte a second (faster than
    the keep-alive timeout, which each byte used to restart): the connection still closes."""
    conn = _connect(server)
    conn.sendall(head + b"Content-Length: 200000\r\n\r\n" + first)
    closed, got = _closed_within(conn, BOUND, b"x" * 100)
    assert got.startswith(b"HTTP/1.1 4"), got[:200]
    if status:
        assert got.startswith(b"HTTP/1.1 " + status), got[:200]
    assert b"connection: close" in got.lower()
    assert closed, "a client answered before its body was read held the connection"


WS_UPGRADE = (b"GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def _ws_close_code(got: bytes) -> int | None:
    """The code of the server's close frame (unmasked, opcode 8) in what it sent, if any."""
    at = got.find(b"\r\n\r\n") + 4  # after the 101 answer
    while 0 < at < len(got) - 1:
        opcode, size, head = got[at] & 0x0F, got[at + 1] & 0x7F, 2
        if size == 126:  # a 16-bit length follows (our error frames are longer than 125 bytes)
            size, head = int.from_bytes(got[at + 2:at + 4], "big"), 4
        if opcode == 8 and len(got) >= at + head + 2:
            return int.from_bytes(got[at + head:at + head + 2], "big")
        at += head + size
    return None


def _ws_closed_within(conn: socket.socket, seconds: float, got: bytes = b"") -> tuple[int | None, bytes]:
    """Read until the server's close frame or `seconds`: (its close code or None, what the server sent, after
    `got` that it sent before)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds and _ws_close_code(got) is None:
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        got += chunk
    return _ws_close_code(got), got


def test_a_websocket_that_never_signs_in_is_closed_after_the_sign_in_time(server):
    conn = _connect(server)
    conn.sendall(WS_UPGRADE)
    began = time.monotonic()
    code, got = _ws_closed_within(conn, BOUND)
    assert got.startswith(b"HTTP/1.1 101")
    assert code == 4401 and b"unauthorized" in got
    assert time.monotonic() - began < LIMIT + 3, "the sign-in wait was not the configured one"


def test_websockets_waiting_to_sign_in_are_capped_per_address(server):
    waiting = {_connect(server): b"" for _ in range(WAITING_CAP)}
    for conn in waiting:
        conn.sendall(WS_UPGRADE)
        while b"\r\n\r\n" not in waiting[conn]:
            waiting[conn] += conn.recv(65536)
        assert waiting[conn].startswith(b"HTTP/1.1 101")
    extra = _connect(server)
    extra.sendall(WS_UPGRADE)
    code, got = _ws_closed_within(extra, LIMIT / 2)  # at once, not after the sign-in wait
    assert code == 4429 and b"too_many_sockets" in got
    for conn, got in waiting.items():  # their sign-in time runs out; then the address may open sockets again
        assert _ws_closed_within(conn, BOUND, got)[0] == 4401
    again = _connect(server)
    again.sendall(WS_UPGRADE)
    assert _ws_closed_within(again, BOUND)[0] == 4401
