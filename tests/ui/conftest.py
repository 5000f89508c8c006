"""Browser tests: the real app served by uvicorn on a free port, driven by Playwright in Debian's chromium.

`live` serves a fresh bootstrapped database holding the small test county (tests/county.py); `browser` is
one headless chromium per test module. `phone(browser)` and `desktop(browser)` open contexts of the two sizes
every page must work at. Screenshots go to docs/screenshots/ when CHUISHAO_SCREENSHOTS=1 (to refresh the
committed ones), otherwise to the test's tmp folder.
"""

import os
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from chuishao.api.app import create_app
from chuishao.flows.clock import system_clock
from chuishao.models.config import Settings
from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
from tests.county import PASSWORD, Api, build_county

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
FC_G1_POINT = {"latitude": 37.45, "longitude": 112.05}  # inside grid FC-G1's polygon (tests/county.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    settings: Settings
    api: Api  # the REST API of the same server, for setting up and checking what the pages did

    def login(self, page: Page, username: str, password: str = PASSWORD) -> Page:
        page.goto(self.url + "/")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state("networkidle")
        return page


class Server:
    """uvicorn in a thread of this process, with the app's own lifespan (live feed, deliverer)."""

    def __init__(self, app, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    ws="websockets-sansio", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)


def _in_thread(fn, *args):
    """Run fn outside this thread's event loop (sync Playwright keeps one running in the test's thread)."""
    box = {}
    t = threading.Thread(target=lambda: box.update(value=fn(*args)))
    t.start()
    t.join()
    return box["value"]


def serve(db_url: str, tmp_path: Path, *, county: bool = True):
    settings = _in_thread(bootstrap_settings, db_url, tmp_path, system_clock)
    port = _free_port()
    server = Server(create_app(settings, system_clock), port)
    server.__enter__()
    url = f"http://127.0.0.1:{port}"
    api = Api(httpx.Client(base_url=url, timeout=30), ADMIN_PASSWORD, settings)
    if county:
        build_county(api)
    return server, Live(url, settings, api)


@pytest.fixture
def live(db_url, tmp_path):
    """The app serving the test county, on SQLite and on PostgreSQL."""
    server, lv = serve(db_url, tmp_path)
    yield lv
    lv.api.client.close()
    server.__exit__()


@pytest.fixture
def live_sqlite(tmp_path, sqlite_template):
    """The same on SQLite only, for tests that need not run twice."""
    path = tmp_path / "chuishao.db"
    shutil.copy(sqlite_template, path)
    server, lv = serve(f"sqlite:///{path}", tmp_path)
    yield lv
    lv.api.client.close()
    server.__exit__()


@pytest.fixture(scope="module")
def browser():
    # per module, not per session: sync Playwright keeps an event loop running in this thread while it is
    # open, and other modules' tests call asyncio.run()
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: run ./scripts/system-deps (the test command does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


# `expect(...)` waits as long as actions do (its own default is 5 s): on a CI machine whose two cores also run the
# rest of the suite an htmx answer can take longer than that, and a wait is not a speed assertion
expect.set_options(timeout=15_000)


def _context(browser: Browser, base: dict, **kw) -> BrowserContext:
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **base, **kw)
    ctx.set_default_timeout(15_000)
    return ctx


def phone(browser: Browser, **kw) -> BrowserContext:
    """A mid-range Android phone held upright: 390×844, touch, with its GPS inside grid FC-G1."""
    kw.setdefault("geolocation", FC_G1_POINT)
    kw.setdefault("permissions", ["geolocation"])
    return _context(browser, PHONE, **kw)


def desktop(browser: Browser, **kw) -> BrowserContext:
    return _context(browser, DESKTOP, **kw)


def shot(page: Page, name: str, tmp_path: Path, full_page: bool = True) -> Path:
    """Save a screenshot as docs/screenshots/<name>.png (CHUISHAO_SCREENSHOTS=1) or under tmp_path."""
    folder = SCREENSHOTS if os.environ.get("CHUISHAO_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for v in results.response.get("violations", []):
        if v.get("impact") in ("serious", "critical"):
            targets = [", ".join(n.get("target", [])) for n in v.get("nodes", [])[:3]]
            found.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
    return found


def console_errors(page: Page) -> list[str]:
    """Collect JavaScript errors from now on (every page must load without them)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def on_console(m):
        # a refused form answers 4xx on purpose; chromium logs that as a failed resource, not a script error
        if m.type == "error" and not re.match(r"Failed to load resource: the server responded with a status of 4",
                                              m.text):
            errors.append(m.text)

    page.on("console", on_console)
    return errors
