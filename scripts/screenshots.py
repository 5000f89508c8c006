"""Build the demo county in a temporary data directory, serve it, and photograph each main page as the
role that uses it, at phone and desktop size. Usage: scripts/screenshots [--out docs/screenshots]."""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "chuishao2026"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}

# (name, user, path or a callable(base, api) -> path, sizes)
PAGES = [
    ("login", None, "/", ("phone", "desktop")),
    ("report", "fc_g1", "/report", ("phone",)),
    ("mine", "fc_g1", "/mine", ("phone",)),
    ("inbox", "fc_dispatcher", "/inbox", ("phone", "desktop")),
    ("cases", "supervisor", "/cases?alert=overdue", ("desktop",)),
    ("case-feedback", "fc_liaison", "case:feedback", ("phone", "desktop")),
    ("case-dispatched", "zrzy_liaison", "case:dispatched", ("phone",)),
    ("dashboard", "supervisor", "/dashboard", ("phone", "desktop")),
    ("reports", "supervisor", "/reports", ("desktop",)),
    ("admin", "admin", "/admin", ("desktop",)),
    ("admin-calendar", "admin", "/admin/calendar", ("desktop",)),
    ("admin-users", "admin", "/admin/users", ("desktop",)),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find_case(base: str, user: str, status: str) -> str:
    """A case of `status` the user can see, with the longest timeline shown well: the newest one."""
    with httpx.Client(base_url=base) as c:
        token = c.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD}).json()["access_token"]
        page = c.get("/api/v1/cases", params={"status": status, "page_size": 5},
                     headers={"Authorization": f"Bearer {token}"}).json()
    return f"/cases/{page['items'][0]['id']}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="chuishao-shots-"))
    env = {**os.environ, "CHUISHAO_DATA_DIR": str(data)}
    env.pop("CHUISHAO_DATABASE_URL", None)
    venv = Path(sys.executable).parent
    print("• 生成演示数据 building the demo county …", flush=True)
    subprocess.run([str(venv / "chuishao"), "demo", "--reset"], env=env, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(venv / "uvicorn"), "--factory", "chuishao.api.app:create_app", "--host", "127.0.0.1",
                               "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            for name, user, path, sizes in PAGES:
                if path.startswith("case:"):
                    path = _find_case(base, user, path.split(":")[1])
                for size in sizes:
                    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                              **(PHONE if size == "phone" else DESKTOP))
                    page = ctx.new_page()
                    if user:
                        page.goto(base + "/")
                        page.fill("#f-username", user)
                        page.fill("#f-password", PASSWORD)
                        page.click("button[type=submit]")
                        page.wait_for_load_state("networkidle")
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(600)  # charts finish their entry animation
                    target = out / f"{name}-{size}.png"
                    page.screenshot(path=str(target), full_page=size == "desktop")  # a phone shows its first screen
                    print(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}", flush=True)
                    ctx.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
