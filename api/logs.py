"""Secrets never appear in logs (docs/access.md#secrets): credentials are cut out of every log record of the process.

What is redacted (the name stays, the value becomes `[redacted]`):
- query and form values whose name mentions a token, key, secret, password, signature, auth, credential or
  session (`/api/v1/ws?token=…`, `/open311/v2/requests.json?api_key=…`), wherever they appear in a line;
- `Authorization:` / `Proxy-Authorization:` header values and any `Bearer …` credential;
- JSON-style `"password": "…"` pairs and header-style `X-Api-Key: …` values;
- the password in a URL's user info (`postgresql://user:…@host`).

`install()` puts `RedactSecrets` in front of every log record: it wraps the log record factory, so a record is
cleaned when it is made, whichever logger makes it (uvicorn's access and error loggers, httpx, websockets,
Prefect, ours) and whatever handlers a later logging configuration installs (uvicorn and Prefect both
reconfigure logging; a filter on a handler or logger they replace would be lost). The filter is also an ordinary
logging.Filter, usable in an operator's own logging configuration."""

import logging
import re
from collections.abc import Mapping

MARK = "[redacted]"
_WORDS = r"(?:token|key|secret|passw(?:or)?d?|pwd|signature|auth|credential|session)"
_PATTERNS = [
    # name=value in a query string, a form body or plain text
    re.compile(rf"(?P<k>(?:^|(?<=[?&;\s,\"'(]))[\w.\-\[\]%]*{_WORDS}[\w.\-\[\]%]*=)(?P<v>[^&;\s\"'#,)]+)", re.I),
    # Authorization: Bearer xyz / authorization='Basic xyz'
    re.compile(r"(?P<k>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|digest|token)\s+)?)"
               r"(?P<v>[^\s\"',;]+)", re.I),
    re.compile(r"(?P<k>\bbearer\s+)(?P<v>[\w\-.~+/]+=*)", re.I),
    # "password": "xyz" (JSON, Python reprs)
    re.compile(rf"(?P<k>[\"'][\w\-]*{_WORDS}[\w\-]*[\"']\s*:\s*[\"'])(?P<v>[^\"']+)", re.I),
    # X-Api-Key: xyz
    re.compile(r"(?P<k>\b[\w\-]*(?:api-?key|token|secret)[\w\-]*\s*:\s+)(?P<v>[^\s\"',;]+)", re.I),
    # scheme://user:password@host
    re.compile(r"(?P<k>\b[a-z][a-z0-9+.\-]*://[^\s/:@]*:)(?P<v>[^\s/@]+)(?=@)", re.I),
]


# every pattern above needs one of these in the text; an ASCII line with none (most access-log lines) is left at
# once (in other text re.I also matches letters such as a long s (ſ) for "s", so the patterns run)
_NEEDED = ("token", "key", "secret", "passw", "pwd", "signature", "auth", "credential", "session", "bearer", "://")


def redact(text: str) -> str:
    """`text` with every credential value replaced by [redacted]."""
    if text.isascii():
        lowered = text.lower()
        if not any(word in lowered for word in _NEEDED):
            return text
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m["k"] + MARK if m["v"] != MARK else m[0], text)
    return text


def _clean(value):
    """A log argument with credentials redacted. Numbers stay numbers (a %d needs them); any other object is
    replaced by its redacted text only when that text held a credential (httpx logs URL objects)."""
    if value is None or isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return cleaned if cleaned != text or isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites a record's message, arguments and traceback text without credentials; never drops a record.
    When cleaning the arguments is enough, the message and the number and order of arguments stay (uvicorn's
    access formatter unpacks them); otherwise the record becomes its redacted, formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            full = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: logging reports it itself, untouched
            return True
        if redact(full) != full:
            args = record.args
            if isinstance(args, Mapping):
                args = {k: _clean(v) for k, v in args.items()}
            elif isinstance(args, tuple):
                args = tuple(_clean(a) for a in args)
            try:
                enough = bool(args) and isinstance(record.msg, str) and _safe(record.msg % args)
            except (TypeError, ValueError, KeyError):
                enough = False
            if enough:
                record.args = args
            else:  # the credential sits in the message itself, or spans message and arguments
                record.msg, record.args = redact(full), ()
        if record.exc_info and not record.exc_text:
            # formatters reuse exc_text when it is set, so the traceback is printed redacted
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _safe(text: str) -> bool:
    return redact(text) == text


_FILTER = RedactSecrets()


def install() -> None:
    """Clean every log record of this process from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_secrets", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory.redacts_secrets = True
    logging.setLogRecordFactory(factory)
