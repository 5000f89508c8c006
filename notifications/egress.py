"""Where the server may send outbound HTTP (webhooks, the SMS gateway): the destination policy.

Rule (docs/access.md#outbound-calls): outbound addresses never reach loopback, link-local or private ranges unless the
admin allows a range. A URL passes when it is http(s), carries no user name or password, spells its host as a DNS name
or a canonical IP address, and every address that host resolves to is a public unicast address or lies in a range the
admin allows (setting `egress`: {"allowed_ranges": ["10.20.0.0/16", ...]}, e.g. a county intranet receiver). Unspecified
(0.0.0.0, ::) and multicast addresses are refused even inside an allowed range.
IPv4-mapped, 6to4 and NAT64 addresses are judged by the IPv4 address they carry.

Checked when a webhook is saved and again at each delivery (DNS answers and the admin's ranges change). A
delivery resolves once, checks every address, then connects to a checked address itself, with the name in
the Host header and in TLS SNI (so the certificate is still verified against the name): a DNS answer that
changes between check and connect cannot redirect it. Redirects are not followed, and proxy variables from the
environment are ignored (a proxy would connect on our behalf to addresses we never checked); SSL_CERT_FILE and
SSL_CERT_DIR still name the certificate authorities trusted (an intranet receiver's own CA)."""

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import httpx

from chuishao.models.db import Database
from chuishao.models.settings_table import Setting

SETTING_KEY = "egress"
MAX_RANGES = 100

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# a last label like "1" or "0x7f": inet_aton would read the name as an IP address (127.1, 2130706433, 0x7f.1)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"),)


class EgressError(Exception):
    """A URL the server will not call; `zh` and `en` say why."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


class Refused(EgressError):
    """The destination policy refuses the URL (permanent: sending again will not help)."""


class Unresolved(EgressError):
    """The host name did not resolve (may be temporary)."""


def _kind(ip: IPAddress) -> tuple[str, str] | None:
    """What kind of non-public address `ip` is, in Chinese and English; None for a public unicast address."""
    if ip.is_loopback:
        return "本机回环地址", "a loopback address"
    if ip.is_link_local:
        return "链路本地地址（含云主机元数据地址）", "a link-local address (cloud metadata included)"
    if ip.is_reserved:
        return "保留地址", "a reserved address"
    if ip.is_private or getattr(ip, "is_site_local", False):
        return "内网地址", "a private address"
    if not ip.is_global:
        return "非公网地址", "not a public address"
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64 well-known prefix), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_ranges(values: Iterable[str]) -> list[IPNetwork]:
    """CIDR strings → networks. Raises Refused naming the first bad one (host bits set count as bad)."""
    nets = []
    for v in values:
        try:
            nets.append(ipaddress.ip_network(v.strip(), strict=True))
        except ValueError:
            raise Refused(f"“{v}”不是有效的网段（应写成如 10.20.0.0/16 的 CIDR 形式，主机位为 0）",
                          f"'{v}' is not a valid CIDR range (write it like 10.20.0.0/16, host bits zero)") from None
    if len(nets) > MAX_RANGES:
        raise Refused(f"网段最多 {MAX_RANGES} 个", f"at most {MAX_RANGES} ranges")
    return nets


@functools.cache
def _default_tls() -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=True)  # the CA variables only; the client itself ignores proxies


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


class Egress:
    """The destination policy with the admin's allowed ranges. `resolver(host, port)` answers the addresses
    of a name (default: the system resolver); `verify` the TLS context (default: certifi's authorities, or
    SSL_CERT_FILE / SSL_CERT_DIR when set)."""

    def __init__(self, allowed: Iterable[str | IPNetwork] = (), resolver: Resolver | None = None,
                 dns_timeout: float = 5.0, verify: ssl.SSLContext | None = None):
        self.allowed = [a if not isinstance(a, str) else parse_ranges([a])[0] for a in allowed]
        self.resolver, self.dns_timeout = resolver or _system_resolver, dns_timeout
        self.verify = verify

    @classmethod
    async def load(cls, db: Database, **kw) -> "Egress":
        return cls(await allowed_ranges(db), **kw)

    def refusal(self, ip: IPAddress) -> tuple[str, str] | None:
        """Why `ip` may not be called ((zh, en)), or None when it may."""
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            why = self.refusal(embedded)
            if why is None:
                return None
            return f"{ip} 即 IPv4 地址 {embedded}：{why[0]}", f"{ip} stands for {embedded}: {why[1]}"
        if ip.is_unspecified:
            return f"{ip} 是未指定地址，不能作为通知目标", f"{ip} is an unspecified address"
        if ip.is_multicast:
            return f"{ip} 是组播地址，不能作为通知目标", f"{ip} is a multicast address"
        if any(ip.version == net.version and ip in net for net in self.allowed):
            return None
        kind = _kind(ip)
        if kind is None:
            return None
        return (f"{ip} 是{kind[0]}，不允许作为通知目标（如确需发往内网，请管理员放行该网段）",
                f"{ip} is {kind[1]}; notifications may not be sent there unless an admin allows its range")

    def target(self, url: str) -> httpx.URL:
        """Parse and check the URL's form (scheme, no user info, host spelling) and any IP literal in it.
        Raises Refused."""
        try:
            u = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise Refused("地址格式不正确", "not a valid URL") from None
        if u.scheme not in ("http", "https"):
            raise Refused("只允许 http:// 或 https:// 地址", "only http:// and https:// addresses are allowed")
        if u.userinfo:
            raise Refused("地址不能包含用户名或密码（@ 前的部分）",
                          "the address may not carry a user name or password (the part before @)")
        host = u.raw_host.decode("ascii", "replace").lower()
        if not host:
            raise Refused("地址缺少主机名", "the address has no host")
        literal = _ip_literal(host)
        if literal is not None:
            why = self.refusal(literal)
            if why:
                raise Refused(*why)
            return u
        name = host[:-1] if host.endswith(".") else host
        labels = name.split(".")
        if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
            raise Refused(f"主机名“{host}”不合法", f"'{host}' is not a valid host name")
        if _NUMERIC_LABEL.match(labels[-1]):
            raise Refused(f"“{host}”不是标准的 IP 地址写法（请写成 203.0.113.7 这样的四段十进制）",
                          f"'{host}' is not a standard IP address spelling (write it like 203.0.113.7)")
        return u

    async def addresses(self, u: httpx.URL) -> list[IPAddress]:
        """Every address the URL's host stands for, each checked. Raises Refused if any one is refused (a
        name with one internal address among public ones is refused), Unresolved if the name has none."""
        host = u.raw_host.decode("ascii").lower()
        literal = _ip_literal(host)
        if literal is not None:
            found = [literal]
        else:
            port = u.port or (443 if u.scheme == "https" else 80)
            try:
                async with asyncio.timeout(self.dns_timeout):
                    answers = await self.resolver(host, port)
            except (OSError, TimeoutError, UnicodeError):
                answers = []
            found = list(dict.fromkeys(ipaddress.ip_address(a.split("%")[0]) for a in answers))
            if not found:
                raise Unresolved(f"无法解析主机名“{host}”", f"the host name '{host}' does not resolve")
        for ip in found:
            why = self.refusal(ip)
            if why:
                if literal is None:
                    why = (f"主机名“{host}”指向的地址不可用：{why[0]}",
                           f"the host name '{host}' resolves to an address that may not be called: {why[1]}")
                raise Refused(*why)
        return found

    async def check(self, url: str) -> None:
        """The save-time check: form and every resolved address. Raises Refused or Unresolved."""
        await self.addresses(self.target(url))

    async def post(self, url: str, *, timeout: float, headers: dict | None = None, content: bytes | None = None,
                   json: object = None) -> int:
        """POST to `url` through the policy and answer the status code (the body is never read, so a huge
        answer costs nothing). Connects to a checked address, trying the next one if a connection fails.
        Raises Refused, Unresolved, or httpx.HTTPError."""
        u = self.target(url)
        found = await self.addresses(u)
        sent_headers = {**(headers or {}), "Host": httpx.Request("POST", u).headers["Host"]}
        by_name = _ip_literal(u.raw_host.decode("ascii").lower()) is None
        extensions = {"sni_hostname": u.raw_host.decode("ascii")} if by_name and u.scheme == "https" else {}
        failure: httpx.HTTPError | None = None
        verify = self.verify or _default_tls()
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False, verify=verify) as client:
            for ip in found:
                try:
                    async with client.stream("POST", u.copy_with(host=str(ip)), headers=sent_headers,
                                             content=content, json=json, extensions=extensions) as r:
                        return r.status_code
                except httpx.ConnectError as err:  # that address is down: try the name's next one
                    failure = err
        raise failure or httpx.ConnectError("no address")


def _ip_literal(host: str) -> IPAddress | None:
    """The IP address a URL host spells, if it is an IP literal. A zone id (fe80::1%eth0) is refused."""
    if ":" in host:
        if "%" in host:
            raise Refused("不允许带区域标识（%）的 IPv6 地址", "IPv6 addresses with a zone id (%) are not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise Refused(f"“{host}”不是有效的 IPv6 地址", f"'{host}' is not a valid IPv6 address") from None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        return None


async def allowed_ranges(db: Database) -> list[str]:
    """The admin's allowed ranges (CIDR strings), [] when never set."""
    async with db.read() as s:
        row = await s.get(Setting, SETTING_KEY)
    return list((row.value if row else {}).get("allowed_ranges", []))


async def set_allowed_ranges(db: Database, values: list[str]) -> list[str]:
    """Replace the admin's allowed ranges; answers them normalised. Raises Refused for a bad range."""
    ranges = list(dict.fromkeys(str(n) for n in parse_ranges(values)))
    async with db.transaction() as s:
        row = await s.get(Setting, SETTING_KEY)
        if row is None:
            s.add(Setting(key=SETTING_KEY, value={"allowed_ranges": ranges}))
        else:
            row.value = {**row.value, "allowed_ranges": ranges}
    return ranges
