"""/docs and /redoc served from the vendored copies in api/static/vendor — county networks have no internet.

FastAPI's own docs pages load Swagger UI and ReDoc from cdn.jsdelivr.net, a favicon from fastapi.tiangolo.com and
fonts from Google. The app turns those off (docs_url=None, redoc_url=None), mounts api/static at /static and calls
install_offline_docs(app). The pages also carry a Content-Security-Policy that allows only this origin, so nothing the
bundles might reach for (ReDoc's sidebar draws the Redocly logo from cdn.redoc.ly) leaves the browser.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse

SWAGGER_UI = "vendor/swagger-ui-dist-5.35.0"
REDOC = "vendor/redoc-2.5.4"
FAVICON = "favicon.svg"

# Swagger UI and FastAPI's page script run inline and style inline; ReDoc runs its search index in a blob: worker.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'self'")


def _offline(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CSP
    return response


def install_offline_docs(app: FastAPI, static_prefix: str = "/static") -> None:
    """Add /docs, /docs/oauth2-redirect and /redoc, loading everything from `static_prefix` on this server."""
    if not app.openapi_url:
        return
    static_prefix = static_prefix.rstrip("/")
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def root(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")  # behind a proxy that strips a path prefix

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui_html(request: Request) -> HTMLResponse:
        static = root(request) + static_prefix
        return _offline(get_swagger_ui_html(
            openapi_url=root(request) + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{static}/{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{static}/{FAVICON}",
            oauth2_redirect_url=root(request) + redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            # validatorUrl: never send the schema to validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        ))

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _offline(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc_html(request: Request) -> HTMLResponse:
        static = root(request) + static_prefix
        return _offline(get_redoc_html(
            openapi_url=root(request) + app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{static}/{REDOC}/redoc.standalone.js",
            redoc_favicon_url=f"{static}/{FAVICON}",
            with_google_fonts=False,
        ))
