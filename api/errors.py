"""Every error leaves as {"error": {"code", "message"}}, Chinese first, English after."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chuishao.flows.errors import DomainError
from chuishao.flows.text import describe, refusal

log = logging.getLogger("chuishao")

HTTP_MESSAGES = {
    401: ("请先登录", "authentication required"),
    403: ("无权执行此操作", "forbidden"),
    404: ("资源不存在", "not found"),
    405: ("不支持的请求方法", "method not allowed"),
    413: ("请求内容过大", "request body too large"),
}
# Starlette's own 400s say what went wrong only in English; these are the ones a client can cause
HTTP_400_ZH = {"Invalid multipart data.": "上传的表单数据格式不正确",
               "Missing boundary in multipart.": "上传的表单缺少分隔符"}


def error_response(status: int, code: str, message: str, extra: dict | None = None, headers=None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **(extra or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI, pages=None) -> None:
    """`pages`: (is_page(request), error_page(request, status, zh_message)) — browser pages get an HTML
    page in Chinese instead of the JSON error shape."""

    def html(request: Request, status: int, zh: str):
        if pages and pages[0](request):
            return pages[1](request, status, zh)
        return None

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        if (page := html(request, exc.status, exc.zh)) is not None:
            return page
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.extra, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if (page := html(request, 422, "请求内容有误，请返回检查后重试")) is not None:
            return page
        if (own := refusal(exc.errors())) is not None:  # a rule with its own message (flows/text.py, dates)
            return error_response(422, own.code, own.message, own.extra)
        zh, en = describe(exc.errors())
        return error_response(422, "validation_error", f"请求内容有误：{zh} / invalid request: {en}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        zh, en = HTTP_MESSAGES.get(exc.status_code, ("请求有误", "bad request"))
        if exc.status_code == 400 and isinstance(exc.detail, str):
            zh = HTTP_400_ZH.get(exc.detail, zh)
        if (page := html(request, exc.status_code, zh)) is not None:
            return page
        if isinstance(exc.detail, str) and exc.detail and exc.status_code not in HTTP_MESSAGES:
            en = exc.detail
        return error_response(exc.status_code, "http_" + str(exc.status_code), f"{zh} / {en}",
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("unhandled error")
        if (page := html(request, 500, "服务器内部错误，请稍后重试")) is not None:
            return page
        return error_response(500, "internal_error", "服务器内部错误 / internal server error")
