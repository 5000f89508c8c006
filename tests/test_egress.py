"""Outbound calls reach allowed destinations only (docs/access.md#outbound-calls, issue 10): webhooks and the SMS
gateway never reach loopback, link-local, private, multicast or otherwise non-public addresses unless the admin allows a
range; checked when a webhook is saved and again at each delivery, which connects to the address it checked. Against
real local HTTP servers."""

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from chuishao.notifications.channels import DeliveryFailed, Message, WebhookChannel
from chuishao.notifications.egress import Egress, Refused
from tests import test_notifications
from tests.test_notifications import allow_loopback, eventually

receiver = test_notifications.receiver  # the real local HTTP receivers, as a fixture here too

REFUSED = [
    ("http://127.0.0.1:8080/hook", "回环"),
    ("http://localhost:4200/api/v1/hook", "回环"),  # a name that resolves to loopback
    ("http://[::1]/", "回环"),
    ("http://169.254.169.254/latest/meta-data/", "链路本地"),  # cloud metadata
    ("http://[fe80::1]/", "链路本地"),
    ("http://10.0.0.5/", "内网"),
    ("http://172.16.3.4/", "内网"),
    ("http://192.168.1.1/", "内网"),
    ("http://[fc00::1]/", "内网"),
    ("http://100.64.0.1/", "非公网"),  # carrier-grade NAT
    ("http://240.0.0.1/", "保留"),
    ("http://255.255.255.255/", "保留"),
    ("http://224.0.0.1/", "组播"),
    ("http://[ff02::1]/", "组播"),
    ("http://0.0.0.0:4200/", "未指定"),
    ("http://[::]/", "未指定"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),  # IPv4-mapped
    ("http://[2002:7f00:1::]/", "127.0.0.1"),  # 6to4
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),  # NAT64
    ("http://2130706433/", "IP 地址写法"),  # 127.0.0.1 in decimal
    ("http://0x7f.0.0.1/", "IP 地址写法"),  # hex
    ("http://127.1/", "IP 地址写法"),  # short form
    ("http://0177.0.0.1/", "格式"),  # octal
    ("http://evil@127.0.0.1/", "用户名"),
    ("http://user:pw@8.8.8.8/", "用户名"),
    ("http://8.8.8.8\\@127.0.0.1/", "用户名"),
    ("ftp://8.8.8.8/", "http"),
    ("file:///etc/passwd", "http"),
    ("gopher://8.8.8.8:70/", "http"),
    ("http://[fe80::1%25eth0]/", "区域"),
    ("http://no-such-host.invalid/", "无法解析"),
]


@pytest.mark.parametrize("url,why", REFUSED, ids=[u for u, _ in REFUSED])
def test_a_webhook_to_an_internal_or_disguised_address_is_refused_on_save(county, url, why):
    me = county.as_("gw_fc1")  # any user: a grid worker included
    r = me.put("/api/v1/me/channels/webhook", json={"address": url})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert message.startswith("webhook 地址不可用") and why in message
    assert me.get("/api/v1/me/channels").json() == []  # nothing saved


def test_a_public_address_is_accepted(county):
    me = county.as_("gw_fc1")
    for url in ("http://8.8.8.8/hook", "https://[2606:4700:4700::1111]:8443/hook"):
        r = me.put("/api/v1/me/channels/webhook", json={"address": url})
        assert r.status_code == 200, r.text
        assert me.get("/api/v1/me/channels").json()[0]["address"] == url


def test_only_the_admin_allows_a_range_and_it_lets_that_range_through(county):
    api = county
    me = api.as_("disp_fc")
    assert me.put("/api/v1/settings/egress", json={"allowed_ranges": ["10.0.0.0/8"]}).status_code == 403
    assert me.get("/api/v1/settings/egress").status_code == 403
    admin = api.as_("admin")
    for bad in (["10.20.0.1/16"], ["intranet"], ["10.20.0.0/33"]):
        r = admin.put("/api/v1/settings/egress", json={"allowed_ranges": bad})
        assert r.status_code == 422 and "网段" in r.json()["error"]["message"], r.text
    assert admin.get("/api/v1/settings/egress").json() == {"allowed_ranges": []}  # refusals changed nothing

    assert me.put("/api/v1/me/channels/webhook", json={"address": "http://10.20.3.4/hook"}).status_code == 422
    r = admin.put("/api/v1/settings/egress", json={"allowed_ranges": ["10.20.0.0/16", "fd00::/8"]})
    assert r.json() == {"allowed_ranges": ["10.20.0.0/16", "fd00::/8"]}
    assert me.put("/api/v1/me/channels/webhook", json={"address": "http://10.20.3.4/hook"}).status_code == 200
    assert me.put("/api/v1/me/channels/webhook", json={"address": "http://[fd12::7]/hook"}).status_code == 200
    assert me.put("/api/v1/me/channels/webhook", json={"address": "http://10.21.0.1/hook"}).status_code == 422
    # an allowed range never opens the unspecified address or multicast
    admin.put("/api/v1/settings/egress", json={"allowed_ranges": ["0.0.0.0/0"]})
    for url in ("http://0.0.0.0/", "http://224.0.0.1/"):
        assert me.put("/api/v1/me/channels/webhook", json={"address": url}).status_code == 422


def test_an_sms_channel_takes_a_phone_number_not_a_url(county):
    r = county.as_("gw_fc1").put("/api/v1/me/channels/sms", json={"address": "http://127.0.0.1:4200/api"})
    assert r.status_code == 422


def _deliveries(api, **params):
    return api.as_("admin").get("/api/v1/deliveries", params=params).json()


def test_a_delivery_the_policy_refuses_now_fails_at_once_with_the_reason(county, clock, receiver):
    """Saved while the admin allowed loopback; the range is withdrawn before the event: nothing is sent, the
    delivery is failed after one attempt with the reason, and it is not retried."""
    api = county
    hook = receiver()
    allow_loopback(api)
    assert api.as_("zrzy_liaison").put("/api/v1/me/channels/webhook", json={"address": hook.url}).status_code == 200
    api.as_("admin").put("/api/v1/settings/egress", json={"allowed_ranges": []})
    api.to_dispatched("LAND01")
    failed = eventually(lambda: _deliveries(api, state="failed"))
    assert failed and failed[0]["attempts"] == 1 and "回环" in failed[0]["last_error"]
    clock.advance(seconds=3600)
    api.report()  # another commit wakes the deliverer
    time.sleep(2.5)
    assert _deliveries(api, state="failed")[0]["attempts"] == 1 and hook.requests == []


def test_the_sms_gateway_passes_the_policy_at_delivery(tmp_path, db_url, clock, receiver):
    from fastapi.testclient import TestClient

    from chuishao.api.app import create_app
    from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
    from tests.county import Api, build_county

    gateway = receiver()  # on 127.0.0.1: refused until the admin allows it
    settings = bootstrap_settings(db_url, tmp_path, clock, sms_gateway_url=gateway.url, sms_gateway_key="k-1")
    with TestClient(create_app(settings, clock)) as client:
        api = Api(client, ADMIN_PASSWORD, settings)
        build_county(api)
        assert api.as_("zrzy_liaison").put("/api/v1/me/channels/sms",
                                           json={"address": "13800000000"}).status_code == 200
        api.to_dispatched("LAND01")
        failed = eventually(lambda: _deliveries(api, state="failed"))
        assert failed and failed[0]["channel"] == "sms" and "sms gateway" in failed[0]["last_error"]
        assert "回环" in failed[0]["last_error"] and gateway.requests == []
        allow_loopback(api)  # the operator's local gateway: the admin allows its range
        api.to_dispatched("LAND01")
        assert eventually(lambda: gateway.requests)
    assert gateway.requests[0][0]["Authorization"] == "Bearer k-1"


class Server:
    """A real HTTP(S) server on `host`:`port` that records requests and answers `status` (+ `headers`)."""

    def __init__(self, host="127.0.0.1", port=0, status=200, headers=None, tls: ssl.SSLContext | None = None):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    made = []

    def make(**kw):
        made.append(Server(**kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _answers(*rounds):
    """A DNS that answers each round's addresses in turn (the last one from then on): a rebinding name."""
    asked = []

    async def resolve(host, port):
        asked.append(host)
        return list(rounds[min(len(asked), len(rounds)) - 1])

    return resolve, asked


def test_a_delivery_connects_to_the_address_it_checked_not_a_later_dns_answer(servers):
    good = servers(host="127.0.0.1")
    evil = servers(host="127.0.0.2", port=good.port)  # loopback too, but outside the allowed /32
    resolve, asked = _answers(["127.0.0.1"], ["127.0.0.2"])
    egress = Egress(["127.0.0.1/32"], resolver=resolve)
    status = asyncio.run(egress.post(f"http://hooks.example:{good.port}/in", timeout=5, content=b"{}"))
    assert status == 200 and asked == ["hooks.example"]  # resolved once
    assert len(good.requests) == 1 and evil.requests == []
    assert good.requests[0][0]["Host"] == f"hooks.example:{good.port}"  # the receiver still sees its name


def test_a_name_with_one_refused_address_among_public_ones_is_refused(servers):
    resolve, _ = _answers(["8.8.8.8", "127.0.0.1"])
    with pytest.raises(Refused, match="127.0.0.1"):
        asyncio.run(Egress(resolver=resolve).post("http://hooks.example/in", timeout=5, content=b"{}"))


def test_a_redirect_is_not_followed(servers):
    inner = servers()
    outer = servers(status=307, headers={"Location": f"http://127.0.0.1:{inner.port}/"})
    channel = WebhookChannel()
    message = Message(1, "t", "t", {})
    with pytest.raises(DeliveryFailed, match="answered 307"):
        asyncio.run(channel.send(f"http://127.0.0.1:{outer.port}/", "s" * 43, message, Egress(["127.0.0.1/32"])))
    assert len(outer.requests) == 1 and inner.requests == []


def _tls_for(name: str):
    """A test CA and a server certificate for `name`, made with `cryptography`: (server context, CA pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def cert(subject, key, issuer, issuer_key, ca, san=None):
        now = dt.datetime.now(dt.UTC)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chuishao test CA")])
    ca = cert(ca_name, ca_key, ca_name, ca_key, True)
    leaf = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key, ca_name, ca_key, False,
                [x509.DNSName(name)])
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()  # noqa: E731
    return (leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())), pem(ca)


def test_https_to_the_checked_address_still_verifies_the_certificate_against_the_name(servers, tmp_path):
    chain, ca = _tls_for("hooks.example")
    (tmp_path / "server.pem").write_bytes(chain)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "server.pem")
    https = servers(tls=server_tls)
    trust = ssl.create_default_context(cadata=ca)
    resolve, _ = _answers(["127.0.0.1"])
    egress = Egress(["127.0.0.1/32"], resolver=resolve, verify=trust)
    assert asyncio.run(egress.post(f"https://hooks.example:{https.port}/in", timeout=5, content=b"{}")) == 200
    assert https.requests[0][0]["Host"] == f"hooks.example:{https.port}"
    # the same server under another name: its certificate does not match, so nothing is sent
    with pytest.raises(httpx.ConnectError, match="(?i)certificate|hostname"):
        asyncio.run(egress.post(f"https://other.example:{https.port}/in", timeout=5, content=b"{}"))
    assert len(https.requests) == 1


@pytest.mark.parametrize("embedded", ["::ffff:10.1.2.3", "2002:a01:203::1", "64:ff9b::a01:203"])
def test_an_ipv6_address_carrying_an_ipv4_one_is_judged_by_it(embedded):
    ip = ipaddress.ip_address(embedded)
    assert Egress().refusal(ip) is not None
    assert Egress(["10.1.0.0/16"]).refusal(ip) is None
