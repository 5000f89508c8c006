"""The FastAPI application factory."""

import asyncio
import contextlib
import gc
import logging

from fastapi import FastAPI
from sqlalchemy import text

from chuishao.api import errors, metrics, openapi_errors, schemas, web
from chuishao.api.deps import Services
from chuishao.api.docs_offline import install_offline_docs
from chuishao.api.limits import BodyLimit
from chuishao.api.live import Live
from chuishao.api.routes import admin, auth, calendar, cases, duplicates, live, notifications, open311, reports
from chuishao.api.routes import case_review as case_review_routes
from chuishao.api.routes import disclosure as disclosure_routes
from chuishao.api.security import Tokens
from chuishao.flows.admin import AdminService, Passwords
from chuishao.flows.cases import CaseService
from chuishao.flows.clock import Clock, system_clock
from chuishao.flows.units import UnitDirectory
from chuishao.models.config import Settings, get_settings
from chuishao.models.db import Database


def build_services(settings: Settings, clock: Clock) -> Services:
    db = Database(settings.url)
    units = UnitDirectory()
    return Services(
        settings=settings,
        db=db,
        cases=CaseService(db, units),
        admin=AdminService(db, units, Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)),
        tokens=Tokens(settings.secret(), settings.token_minutes),
        clock=clock,
    )


async def _follow_calendar(svc: Services, every: float = 10.0) -> None:
    """Pick up calendar edits made through another process (an import on the CLI, another API worker)."""
    while True:
        await asyncio.sleep(every)
        try:
            await svc.cases.calendar.refresh_if_changed(svc.clock())
        except Exception:  # noqa: BLE001 - a failed check must not end the watcher; the next one retries
            logging.getLogger("chuishao").exception("calendar refresh failed")


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_data_dir()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        from chuishao.api.logs import install as redact_secrets_from_logs

        redact_secrets_from_logs()  # after the server's own logging set-up; see api/logs.py
        app.state.services = svc = build_services(settings, clock or system_clock)
        await svc.cases.calendar.load(svc.clock())
        watcher = asyncio.create_task(_follow_calendar(svc))
        app.state.live = Live(svc.db, settings, svc.clock)
        svc.cases.committed = app.state.live.committed
        app.state.live.start()
        # Everything loaded so far (modules, tables, routes, the OpenAPI models: ~400k objects) lives as long as
        # the process; out of the collector's generations, a full collection no longer walks it on every pass
        # (measured: 92 ms a pass before, a request's p99 with it — bench/RESULTS.md#loop).
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()
        watcher.cancel()
        await app.state.live.stop()
        await app.state.services.db.dispose()

    app = FastAPI(
        title="chuishao 吹哨",
        description="乡镇吹哨、部门报到 — six-step case loop. Errors: {\"error\": {\"code\", \"message\"}}.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served offline from vendored files below
        redoc_url=None,
    )
    errors.install(app, pages=(web.is_page, web.error_page))
    for r in (auth.router, admin.router, cases.router, calendar.router, notifications.router, live.router,
              reports.router):
        app.include_router(r, prefix="/api/v1")
    app.include_router(duplicates.router, prefix="/api/v1")  # 疑似重复 (issue 15)
    app.include_router(case_review_routes.router, prefix="/api/v1")  # 案卷评查 (issue 15)
    app.include_router(disclosure_routes.router, prefix="/api/v1")  # 行政执法公示 (issue 15)
    app.include_router(disclosure_routes.feed_router)  # /disclosures.atom
    app.include_router(open311.router)  # /open311/v2 (GeoReport v2) and /api/v1/api-keys
    app.include_router(metrics.router)  # /metrics (Prometheus), docs/operations.md#metrics
    cases.install_lean(app, "/api/v1")  # an action and a report without FastAPI's machinery (api/lean.py)

    @app.get("/healthz", tags=["health"], response_model=schemas.Health)
    async def healthz():
        async with app.state.services.db.read() as s:
            await s.execute(text("SELECT 1"))
        return {"status": "ok"}

    install_offline_docs(app)
    openapi_errors.install(app)  # every route's error answers in /openapi.json
    schemas.install(app)  # the action bodies' models in /openapi.json
    web.install(app)
    app.add_middleware(web.CSRF, secret=settings.secret())
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, uploads=settings.max_upload_bytes,
                       timeout=settings.http_body_timeout, min_rate=settings.http_body_min_rate)
    return app
