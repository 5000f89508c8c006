"""/docs and /redoc work without internet: every asset comes from this server (api/static/vendor)."""

import re

import pytest

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_outside(client, page):
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"https?://", html), "absolute URL in the page (CDN, Google fonts, favicon)"
    assert "cdn.jsdelivr.net" not in html and "fastapi.tiangolo.com" not in html and "googleapis" not in html
    assert "default-src 'self'" in r.headers["content-security-policy"]  # blocks what the bundles reach for

    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls, "the page references its assets"
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    vendored = [u for u in urls if u.startswith("/static/vendor/")]
    assert vendored, "the UI bundle comes from the vendored copy"
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert CONTENT_TYPES[url[url.rindex("."):]] in asset.headers["content-type"], url
        assert len(asset.content) > 100, url


def test_oauth2_redirect_page(client):
    r = client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "swaggerUIRedirectOauth2" in r.text
