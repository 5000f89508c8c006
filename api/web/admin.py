"""Pages: the admin's (管理员) — units, users, the catalog and township overrides, the working calendar, Open311
api keys and the scorecard weights (docs/access.md#actions). Every page takes `WebAdmin`: anyone else gets the 403 page.

Each form is checked here field by field (so the error sits beside its field, in words that say how to fix
it), then handed to the same service the REST API uses; success answers 303 to the page that shows the
result with a confirmation notice (`?done=…`).
"""

import calendar as monthcal
import json
import re
from datetime import date, datetime, time
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData, UploadFile

from chuishao.api.limits import check_json, check_text
from chuishao.api.live import sessions_ended
from chuishao.api.routes.open311 import open311
from chuishao.api.web.render import page
from chuishao.api.web.session import WebAdmin
from chuishao.flows import bulletin
from chuishao.flows.admin import CLOCKS, ROLE_UNIT_KINDS, weak_password
from chuishao.flows.calendar import FIRST_DAY, LAST_DAY, parse_hhmm
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.clocks import DEFAULT_LIMITS, SPEC_RE, limit_set_by
from chuishao.flows.errors import DomainError, NotFound
from chuishao.models import vocabulary as vocab
from chuishao.models.org import ROLES

router = APIRouter(include_in_schema=False, prefix="/admin")

SECTIONS = [  # (path, label, what it keeps)
    ("/admin", "概览", "各项数量与待处理事项"),
    ("/admin/units", "单位", "县、乡镇、网格、县直部门、乡镇执法队"),
    ("/admin/users", "用户", "账号、角色、所属单位、执法证"),
    ("/admin/catalog", "事项清单", "主办协办单位、时限、一乡镇一清单"),
    ("/admin/calendar", "工作日历", "节假日、调休上班、每日工作时段"),
    ("/admin/api-keys", "接入密钥", "12345 热线等平台的 Open311 接入"),
    ("/admin/scorecard", "考核权重", "月度通报部门考核的权重与红黑榜门槛"),
    ("/admin/disclosure", "执法公示", "行政执法公示的期限与公示事项"),
]
CLOCK_LABELS = vocab.CLOCK_LABELS
# the weights form names the rating as what it is (the township's rating of the department), not as a score
WEIGHT_LABELS = {**vocab.METRIC_LABELS, "rating": "部门评价（一哨一考核）"}
KEY_SOURCES = ("hotline", "open311", "public", "township", "county", "inspection")
CODE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
KEY_NAME_RE = re.compile(r"^[\w.\-]{1,48}$")
DAY_KIND_LABELS = {"holiday": "节假日", "workday": "调休上班", "weekend": "周末", "normal": "工作日"}
DONE = {  # ?done=… → the confirmation notice; `{0}` is the `what` parameter
    "unit": "已新建单位 {0}。",
    "user": "已新建用户 {0}，现在可以用该账号登录。",
    "user_saved": "已保存用户 {0} 的修改。",
    "deactivated": "已停用用户 {0}：此人已登录的页面和应用立即退出，不能再登录。",
    "password": "已重置用户 {0} 的密码：此人已登录的页面和应用立即退出，请用新密码登录。",
    "reactivated": "已恢复用户 {0}，该账号可以重新登录。",
    "item": "已新增事项 {0}。",
    "override": "已保存{0}的本乡镇清单。",
    "day": "已修改 {0}。",
    "imported": "已导入 {0} 年放假安排，未到期的时限已按新日历重算。",
    "hours": "已保存每日工作时段，未到期的时限已按新时段重算。",
    "revoked": "已停用接入密钥 {0}，使用该密钥的请求将被拒绝。",
    "public_reads_on": "已开启 Open311 公开查询：不带密钥的查询只返回经 Open311 提交的服务请求的公开字段。",
    "public_reads_off": "已关闭 Open311 公开查询：查询须提供接入密钥。",
    "scorecard": "已保存考核权重，下次生成月度通报时生效。",
}


# ---- helpers --------------------------------------------------------------------------------------------
def _done(path: str, done: str, what: str = "", **query) -> RedirectResponse:
    q = {k: v for k, v in {**query, "done": done, "what": what}.items() if v not in (None, "")}
    return RedirectResponse(f"{path}?{urlencode(q)}", status_code=303)


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done")
    if done not in DONE:
        return None
    return DONE[done].format(request.query_params.get("what", "")[:80])


def _render(request: Request, template: str, status_code: int = 200, **ctx):
    return page(request, template, status_code=status_code, sections=SECTIONS, notice=_notice(request), **ctx)


def _today(request: Request) -> date:
    return request.app.state.services.clock().astimezone(LOCAL_TZ).date()


class Form:
    """A posted form read field by field; every problem lands in `errors` under the field's name."""

    def __init__(self, data: FormData):
        self.data = data
        self.errors: dict[str, str] = {}

    def text(self, name: str, label: str, *, max_len: int, required: bool = False) -> str:
        value = self.data.get(name)
        value = value.strip() if isinstance(value, str) else ""
        try:
            check_text(value)
        except DomainError:
            self.errors[name] = f"{label}中含有无法保存的字符，请删除后重试"
            return ""
        if required and not value:
            self.errors[name] = f"请填写{label}"
        elif len(value) > max_len:
            self.errors[name] = f"{label}最多 {max_len} 个字"
        return value

    def code(self, name: str, label: str, *, required: bool = True) -> str:
        value = self.text(name, label, max_len=64, required=required)
        if value and not CODE_RE.match(value) and name not in self.errors:
            self.errors[name] = f"{label}只能使用英文字母、数字、下划线、点或连字符"
        return value

    def choice(self, name: str, label: str, options, *, required: bool = True) -> str:
        value = self.text(name, label, max_len=64)
        if value and value not in options:
            self.errors[name] = f"请从列表中选择{label}"
            return ""  # what follows never looks up a value that is not one of the options
        if not value and required and name not in self.errors:
            self.errors[name] = f"请选择{label}"
        return value

    def many(self, name: str) -> list[str]:
        return [v for v in self.data.getlist(name) if isinstance(v, str) and v]

    def day(self, name: str, label: str) -> date | None:
        value = self.text(name, label, max_len=10)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"{label}须为有效日期，如 2027-06-30"
            return None

    def limits(self, prefix: str = "limit") -> dict:
        """The 12 limit fields `limit_<clock>_<urgency>` as `{clock: {urgency: "2h"}}` (blank ones left out)."""
        out: dict[str, dict[str, str]] = {}
        for clock in CLOCKS:
            for urgency in ("normal", "urgent"):
                name = f"{prefix}_{clock}_{urgency}"
                value = self.text(name, "时限", max_len=8).lower().replace(" ", "")
                if not value:
                    continue
                if not SPEC_RE.match(value):
                    self.errors[name] = (f"{CLOCK_LABELS[clock]}{'（紧急）' if urgency == 'urgent' else ''}时限"
                                         "须为数字加单位，如 30m、2h、1d")
                    continue
                out.setdefault(clock, {})[urgency] = value
        return out


async def _form(request: Request) -> Form:
    return Form(await request.form())


def duration_words(spec: str, urgency: str) -> str:
    """'2h' → '2 工作小时' (normal: working time) or '2 小时' (urgent: wall-clock time)."""
    m = SPEC_RE.match(spec or "")
    if not m:
        return spec or "—"
    n, unit = m.groups()
    if urgency == "urgent":
        return f"{n} " + {"m": "分钟", "h": "小时", "d": "天"}[unit]
    return f"{n} " + {"m": "工作分钟", "h": "工作小时", "d": "工作日"}[unit]


def limit_rows(*layers: dict | None) -> list[dict]:
    """Per clock: the limit in force and where it comes from (the first layer that sets it, else the default):
    [{"clock", "label", "normal", "urgent", "normal_text", "urgent_text", "normal_set", "urgent_set"}]."""
    rows = []
    for clock in CLOCKS:
        row = {"clock": clock, "label": CLOCK_LABELS[clock]}
        for urgency in ("normal", "urgent"):
            spec = limit_set_by(clock, urgency, *layers)
            row[urgency + "_set"] = spec is not None
            row[urgency] = spec or DEFAULT_LIMITS[clock][urgency]
            row[urgency + "_text"] = duration_words(row[urgency], urgency)
        rows.append(row)
    return rows


def _kind_words(kinds) -> str:
    return "、".join(vocab.UNIT_KIND_LABELS[k] for k in ("county", "township", "grid", "department", "team")
                    if k in kinds)


def _unit_groups(units: list[dict], kinds=None) -> list[tuple[str, list[dict]]]:
    """Units for a <select>, grouped: the county and its departments, then each township with its team and grids."""
    pick = [u for u in units if kinds is None or u["kind"] in kinds]
    county = [u for u in pick if u["kind"] == "county"]
    depts = [u for u in pick if u["kind"] == "department"]
    groups = []
    if county:
        groups.append(("县", county))
    if depts:
        groups.append(("县直部门", depts))
    for t in (u for u in units if u["kind"] == "township"):
        members = [u for u in pick if u["code"] == t["code"] or (u["parent"] == t["code"] and u["kind"] != "township")]
        if members:
            groups.append((t["name"], members))
    return groups


def _names(units: list[dict]) -> dict[str, str]:
    return {u["code"]: u["name"] for u in units}


def _field_of(err: DomainError, default: str = "_") -> str:
    return {"exists": "code", "unknown_unit": "unit", "role_unit": "unit", "weak_password": "password",
            "self": "role", "last_admin": "role"}.get(err.code, default)


# ---- overview ---------------------------------------------------------------------------------------------
@router.get("")
async def overview(request: Request, who: WebAdmin):
    svc = request.app.state.services
    counts = await svc.admin.overview()
    return _render(request, "admin/overview.html", counts=counts)


# ---- units ------------------------------------------------------------------------------------------------
async def _units_page(request: Request, status_code: int = 200, errors=None, values=None):
    units = await request.app.state.services.admin.unit_tree()
    parents = [u for u in units if u["kind"] in ("county", "township")]
    townships = [{**t, "children": [u for u in units if u["parent"] == t["code"]]}
                 for t in units if t["kind"] == "township"]
    placed = {"county", "department", "township"}
    others = [u for u in units if u["kind"] not in placed and not any(u in t["children"] for t in townships)]
    return _render(request, "admin/units.html", status_code=status_code, units=units, parents=parents,
                   county=[u for u in units if u["kind"] == "county"],
                   departments=[u for u in units if u["kind"] == "department"], townships=townships,
                   others=others, errors=errors or {}, values=values or {"kind": "grid"},
                   kinds=vocab.UNIT_KIND_LABELS, open_code=(values or {}).get("parent"))


@router.get("/units")
async def units_page(request: Request, who: WebAdmin):
    return await _units_page(request)


@router.post("/units")
async def create_unit(request: Request, who: WebAdmin):
    f = await _form(request)
    units = await request.app.state.services.admin.unit_tree()
    by_code = {u["code"]: u for u in units}
    values = {k: f.data.get(k, "") for k in ("code", "name", "kind", "parent", "polygon")}
    code = f.code("code", "单位编码")
    name = f.text("name", "单位名称", max_len=200, required=True)
    kind = f.choice("kind", "单位类型", vocab.UNIT_KIND_LABELS)
    parent = f.choice("parent", "上级单位", by_code, required=kind != "county")
    raw_polygon = f.text("polygon", "网格范围", max_len=200_000)
    body = {"code": code, "name": name, "kind": kind}
    if code and code in by_code:
        f.errors["code"] = f"编码 {code} 已被「{by_code[code]['name']}」使用，请换一个"
    need = {"township": "county", "grid": "township", "department": "county", "team": "township"}.get(kind)
    if kind == "county" and parent:
        f.errors["parent"] = "县级单位没有上级，请留空"
    elif need and parent in by_code and by_code[parent]["kind"] != need:
        f.errors["parent"] = f"{vocab.UNIT_KIND_LABELS[kind]}的上级须为{vocab.UNIT_KIND_LABELS[need]}"
    if parent and kind != "county":
        body["parent"] = parent
    if raw_polygon:
        if kind != "grid":
            f.errors["polygon"] = "只有网格可以填写范围，请清空"
        else:
            try:
                polygon = json.loads(raw_polygon)
                check_json(polygon)
                body["polygon"] = polygon
            except (ValueError, DomainError):
                f.errors["polygon"] = "范围须为 GeoJSON 格式，如 {\"type\": \"Polygon\", \"coordinates\": [...]}"
    if not f.errors:
        try:
            await request.app.state.services.admin.create_unit(body, request.app.state.services.clock())
        except DomainError as err:
            f.errors["polygon" if "polygon" in err.en or "GeoJSON" in err.zh else _field_of(err)] = err.zh
    if f.errors:
        return await _units_page(request, 422, f.errors, values)
    return _done("/admin/units", "unit", name)


# ---- users ------------------------------------------------------------------------------------------------
ROLE_HINTS = {role: f"须属于{_kind_words(kinds)}" for role, kinds in ROLE_UNIT_KINDS.items()}


def _cert_status(user: dict, today: date) -> str | None:
    if not user.get("certificate_expires"):
        return None
    return "expired" if date.fromisoformat(user["certificate_expires"]) < today else "valid"


@router.get("/users")
async def users_page(request: Request, who: WebAdmin, unit: str = "", role: str = "", status: str = "",
                     q: str = "", page_no: int = 1):
    svc = request.app.state.services
    units = await svc.admin.unit_tree()
    codes = _names(units)
    unit = unit if unit in codes else ""
    role = role if role in ROLES else ""
    active = {"active": True, "inactive": False}.get(status)
    q = q.strip()[:50]
    page_no = max(1, min(page_no, 100_000))
    found = await svc.admin.find_users(unit=unit or None, role=role or None, active=active, q=q or None,
                                       page=page_no, page_size=50)
    today = _today(request)
    for u in found["items"]:
        u["cert_status"] = _cert_status(u, today)
    query = {"unit": unit, "role": role, "status": status if active is not None else "", "q": q}

    def url(n: int) -> str:
        return "/admin/users?" + urlencode({**{k: v for k, v in query.items() if v}, "page_no": n})

    return _render(request, "admin/users.html", found=found, groups=_unit_groups(units), query=query, url=url,
                   roles=ROLES)


async def _user_form(request: Request, template: str, status_code: int = 200, **ctx):
    units = await request.app.state.services.admin.unit_tree()
    return _render(request, template, status_code=status_code, groups=_unit_groups(units), roles=ROLES,
                   role_hints=ROLE_HINTS, **ctx)


def _check_user_fields(f: Form, units: dict[str, dict], *, with_identity: bool) -> dict:
    """The user form's fields as the service's body; problems into `f.errors`."""
    body: dict = {}
    if with_identity:
        body["username"] = f.code("username", "用户名")
        password = f.data.get("password")
        password = password if isinstance(password, str) else ""
        reason = weak_password(password, body["username"])
        if not password:
            f.errors["password"] = "请设置初始密码"
        elif len(password) > 128:
            f.errors["password"] = "密码最多 128 位"
        elif reason:
            f.errors["password"] = reason
        body["password"] = password
    body["name"] = f.text("name", "姓名", max_len=100, required=True)
    body["role"] = f.choice("role", "角色", ROLES)
    body["unit"] = f.choice("unit", "所属单位", units)
    if body["role"] and body["unit"] in units and "unit" not in f.errors:
        kind = units[body["unit"]]["kind"]
        if kind not in ROLE_UNIT_KINDS[body["role"]]:
            f.errors["unit"] = (f"{vocab.ROLE_LABELS[body['role']]}{ROLE_HINTS[body['role']]}，"
                                f"「{units[body['unit']]['name']}」是{vocab.UNIT_KIND_LABELS[kind]}")
    body["certificate_no"] = f.text("certificate_no", "执法证号", max_len=64) or None
    expires = f.day("certificate_expires", "执法证有效期")
    body["certificate_expires"] = expires.isoformat() if expires else None
    if body["certificate_no"] and not expires and "certificate_expires" not in f.errors:
        f.errors["certificate_expires"] = "填写了执法证号，请同时填写有效期"
    if expires and not body["certificate_no"]:
        f.errors["certificate_no"] = "填写了有效期，请同时填写执法证号"
    phone = f.text("phone", "手机号码", max_len=32)
    if phone and not re.fullmatch(r"[0-9+\- ]{5,32}", phone):
        f.errors["phone"] = "手机号码只能包含数字、空格、+ 或 -"
    body["phone"] = phone or None
    email = f.text("email", "电子邮箱", max_len=200)
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        f.errors["email"] = "电子邮箱格式不正确，如 name@example.cn"
    body["email"] = email or None
    return body


USER_FIELDS = ("username", "name", "role", "unit", "certificate_no", "certificate_expires", "phone", "email")


@router.get("/users/new")
async def new_user_page(request: Request, who: WebAdmin):
    return await _user_form(request, "admin/user_new.html", errors={}, values={})


@router.post("/users")
async def create_user(request: Request, who: WebAdmin):
    svc = request.app.state.services
    f = await _form(request)
    units = {u["code"]: u for u in await svc.admin.unit_tree()}
    body = _check_user_fields(f, units, with_identity=True)
    if body["username"] and "username" not in f.errors:
        try:  # said beside the field together with any other problem, not only once the rest is right
            existing = (await svc.admin.get_user(body["username"]))["username"]  # whatever its letter case
            other = f"：已有用户 {existing}（用户名不区分大小写）" if existing != body["username"] else ""
            f.errors["username"] = f"用户名 {body['username']} 已被使用{other}，请换一个"
        except NotFound:
            pass
    if not f.errors:
        try:
            await svc.admin.create_user(body, svc.clock())
        except DomainError as err:
            f.errors["username" if err.code == "exists" else _field_of(err)] = err.zh
    if f.errors:
        values = {k: f.data.get(k, "") for k in USER_FIELDS}
        order = ["username", "password", *USER_FIELDS]  # the summary lists them as the form does
        errors = dict(sorted(f.errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))
        return await _user_form(request, "admin/user_new.html", 422, errors=errors, values=values)
    return _done("/admin/users", "user", body["username"], q=body["username"])


async def _user_page(request: Request, username: str, status_code: int = 200, errors=None, values=None):
    svc = request.app.state.services
    user = await svc.admin.get_user(username)
    user["cert_status"] = _cert_status(user, _today(request))
    return await _user_form(request, "admin/user_edit.html", status_code, user=user, errors=errors or {},
                            values=values or user)


@router.get("/users/{username}/edit")
async def user_page(request: Request, who: WebAdmin, username: str):
    return await _user_page(request, username)


@router.post("/users/{username}/edit")
async def update_user(request: Request, who: WebAdmin, username: str):
    svc = request.app.state.services
    user = await svc.admin.get_user(username)
    f = await _form(request)
    units = {u["code"]: u for u in await svc.admin.unit_tree()}
    body = _check_user_fields(f, units, with_identity=False)
    if not f.errors:
        try:
            await svc.admin.update_user(username, body, svc.clock(), by=who.username)
            sessions_ended(request.app)
        except DomainError as err:
            f.errors[_field_of(err)] = err.zh
    if f.errors:
        values = {**user, **{k: f.data.get(k, "") for k in USER_FIELDS if k != "username"}}
        return await _user_page(request, username, 422, f.errors, values)
    return _done(f"/admin/users/{username}/edit", "user_saved", username)


@router.get("/users/{username}/active")
async def user_active_reloaded(who: WebAdmin, username: str):
    return RedirectResponse(f"/admin/users/{quote(username)}/edit", status_code=303)


@router.post("/users/{username}/active")
async def set_user_active(request: Request, who: WebAdmin, username: str):
    svc = request.app.state.services
    f = await _form(request)
    active = f.data.get("active") == "1"
    try:
        await svc.admin.set_active(username, active, svc.clock(), by=who.username)
        sessions_ended(request.app)
    except NotFound:
        raise
    except DomainError as err:
        return await _user_page(request, username, 422, {"active": err.zh})
    return _done(f"/admin/users/{username}/edit", "reactivated" if active else "deactivated", username)


@router.get("/users/{username}/password")
async def user_password_reloaded(who: WebAdmin, username: str):
    return RedirectResponse(f"/admin/users/{quote(username)}/edit", status_code=303)


@router.post("/users/{username}/password")
async def reset_password(request: Request, who: WebAdmin, username: str):
    """Set a new password (the one policy, `flows.admin.password_problem`); the user's sessions end at once.
    Resetting one's own password ends one's own sessions too: the admin signs in again with it."""
    svc = request.app.state.services
    f = await _form(request)
    password = f.data.get("new_password")
    password = password if isinstance(password, str) else ""
    try:
        await svc.admin.set_password(username, {"password": password}, svc.clock())
        sessions_ended(request.app)
    except NotFound:
        raise
    except DomainError as err:
        return await _user_page(request, username, 422, {"new_password": err.zh if password else "请输入新密码"})
    return _done(f"/admin/users/{username}/edit", "password", username)


# ---- catalog ----------------------------------------------------------------------------------------------
def _receivers(units: list[dict]) -> list[tuple[str, list[dict]]]:
    return _unit_groups(units, kinds=("department", "team"))


@router.get("/catalog")
async def catalog_page(request: Request, who: WebAdmin, q: str = "", page_no: int = 1):
    svc = request.app.state.services
    q = q.strip()[:50]
    page_no = max(1, min(page_no, 100_000))
    found = await svc.admin.find_items(q=q or None, page=page_no, page_size=20)
    for item in found["items"]:
        item["limit_rows"] = limit_rows(item["limits"])
    names = _names(await svc.admin.unit_tree())

    def url(n: int) -> str:
        return "/admin/catalog?" + urlencode({**({"q": q} if q else {}), "page_no": n})

    return _render(request, "admin/catalog.html", found=found, names=names, q=q, url=url)


async def _item_form(request: Request, status_code: int = 200, errors=None, values=None):
    units = await request.app.state.services.admin.unit_tree()
    values = values or {}
    return _render(request, "admin/item_new.html", status_code=status_code, errors=errors or {},
                   values=values, receivers=_receivers(units),
                   departments=[u for u in units if u["kind"] == "department"],
                   limit_rows=limit_rows(), assists=set(values.get("assist_units", [])))


@router.get("/catalog/new")
async def new_item_page(request: Request, who: WebAdmin):
    return await _item_form(request)


@router.post("/catalog")
async def create_item(request: Request, who: WebAdmin):
    svc = request.app.state.services
    f = await _form(request)
    units = {u["code"]: u for u in await svc.admin.unit_tree()}
    depts = {c for c, u in units.items() if u["kind"] == "department"}
    body = {
        "code": f.code("code", "事项编码"),
        "name": f.text("name", "事项名称", max_len=200, required=True),
        "category": f.text("category", "类别", max_len=200, required=True),
        "devolved": f.data.get("devolved") == "1",
        "enforcement": f.data.get("enforcement") == "1",
        "major": f.data.get("major") == "1",
        "disclose": f.data.get("disclose") == "1",
        "limits": f.limits(),
    }
    lead = f.choice("lead_unit", "主办单位", depts, required=False)
    assists = f.many("assist_units")
    if lead:
        body["lead_unit"] = lead
    elif not body["devolved"] and "lead_unit" not in f.errors:
        f.errors["lead_unit"] = "非赋权乡镇的事项须指定主办单位"
    if any(a not in depts for a in assists):
        f.errors["assist_units"] = "请从列表中选择协办单位"
    elif lead and lead in assists:
        f.errors["assist_units"] = "主办单位不必再选为协办单位"
    body["assist_units"] = assists
    if not f.errors:
        try:
            await svc.admin.create_item(body)
        except DomainError as err:
            f.errors["code" if err.code == "exists" else "_"] = (f"事项编码 {body['code']} 已存在，请换一个"
                                                               if err.code == "exists" else err.zh)
    if f.errors:
        values = {**{k: f.data.get(k, "") for k in ("code", "name", "category", "lead_unit", "devolved",
                                                     "enforcement", "major", "disclose")},
                  "assist_units": assists, **{k: v for k, v in f.data.items() if k.startswith("limit_")}}
        return await _item_form(request, 422, f.errors, values)
    return _done(f"/admin/catalog/{body['code']}/townships", "item", body["name"])


async def _item_page(request: Request, code: str, township: str = "", status_code: int = 200, errors=None,
                     values=None):
    svc = request.app.state.services
    item = await svc.admin.get_item(code)
    units = await svc.admin.unit_tree()
    names = _names(units)
    townships = [u for u in units if u["kind"] == "township"]
    township = township if township in names else ""
    by_township = {o["township"]: o for o in item["overrides"]}
    for o in item["overrides"]:
        o["limit_rows"] = [r for r in limit_rows(o["limits"]) if r["normal_set"] or r["urgent_set"]]
    current = by_township.get(township)
    if values is None:
        values = {"township": township}
        if current:
            values |= {"lead_unit": current["lead_unit"] or "",
                       "assist_mode": "inherit" if current["assist_units"] is None else "custom",
                       "assist_units": current["assist_units"] or []}
            for clock, per in (current["limits"] or {}).items():
                for urgency, spec in per.items():
                    values[f"limit_{clock}_{urgency}"] = spec
    values.setdefault("assist_mode", "inherit")
    return _render(request, "admin/item.html", status_code=status_code, item=item, names=names,
                   townships=townships, township=township, current=current, errors=errors or {}, values=values,
                   item_limits=limit_rows(item["limits"]), receivers=_receivers(units),
                   departments=[u for u in units if u["kind"] == "department"],
                   assists=set(values.get("assist_units") or []))


@router.get("/catalog/{code}/townships")
async def item_page(request: Request, who: WebAdmin, code: str, township: str = ""):
    return await _item_page(request, code, township)


@router.post("/catalog/{code}/townships")
async def set_override(request: Request, who: WebAdmin, code: str):
    svc = request.app.state.services
    item = await svc.admin.get_item(code)
    f = await _form(request)
    units = {u["code"]: u for u in await svc.admin.unit_tree()}
    townships = {c for c, u in units.items() if u["kind"] == "township"}
    receivers = {c for c, u in units.items() if u["kind"] in ("department", "team")}
    township = f.choice("township", "乡镇", townships)
    lead = f.choice("lead_unit", "主办单位", receivers, required=False)
    if lead and units[lead]["kind"] == "team" and township and units[lead]["parent"] != township:
        f.errors["lead_unit"] = f"「{units[lead]['name']}」是其他乡镇的执法队，请选本乡镇的执法队或县直部门"
    mode = f.choice("assist_mode", "协办单位设置", ("inherit", "custom"))
    assists = f.many("assist_units")
    if mode == "custom" and any(a not in receivers for a in assists):
        f.errors["assist_units"] = "请从列表中选择协办单位"
    limits = f.limits()
    body = {"lead_unit": lead or None, "assist_units": assists if mode == "custom" else None,
            "limits": limits or None}
    if not f.errors:
        try:
            await svc.admin.set_override(code, township, body)
        except DomainError as err:
            f.errors["lead_unit" if "执法队" in err.zh else "_"] = err.zh
    if f.errors:
        values = {"township": township, "lead_unit": lead, "assist_mode": mode or "inherit", "assist_units": assists,
                  **{k: v for k, v in f.data.items() if k.startswith("limit_")}}
        return await _item_page(request, code, township, 422, f.errors, values)
    return _done(f"/admin/catalog/{code}/townships", "override",
                 f"{item['name']}（{units[township]['name']}）", township=township)


# ---- calendar ---------------------------------------------------------------------------------------------
def _months(days: list[dict], year: int) -> list[dict]:
    by_date = {d["date"]: d for d in days}
    return [{"month": m, "weeks": [[by_date.get(date(year, m, n)) if n else None for n in week]
                                   for week in monthcal.Calendar(firstweekday=0).monthdayscalendar(year, m)]}
            for m in range(1, 13)]


async def _calendar_page(request: Request, year: int | None = None, day: str = "", status_code: int = 200,
                         errors=None, values=None):
    svc = request.app.state.services
    today = _today(request)
    year = year if year and 2000 <= year <= 2100 else today.year
    view = await svc.cases.calendar.year_view(year, svc.clock())
    picked = None
    try:
        picked_date = date.fromisoformat(day) if day else None
    except ValueError:
        picked_date = None
    if picked_date and picked_date.year == year:
        picked = next(d for d in view["days"] if d["date"] == picked_date)
    counts = {k: sum(1 for d in view["days"] if d["kind"] == k) for k in ("holiday", "workday")}
    hours = [[a, "00:00" if b == "24:00" else b] for a, b in view["hours"]]  # a time field cannot show 24:00
    return _render(request, "admin/calendar.html", status_code=status_code, view=view, year=year,
                   months=_months(view["days"], year), today=today, picked=picked, counts=counts,
                   errors=errors or {}, values=values or {}, hours=hours + [["", ""]] * (3 - len(hours)),
                   weekdays="一二三四五六日", kind_labels=DAY_KIND_LABELS)


@router.get("/calendar")
async def calendar_page(request: Request, who: WebAdmin, year: int | None = None, day: str = ""):
    return await _calendar_page(request, year, day[:10])


@router.post("/calendar/days")
async def set_day(request: Request, who: WebAdmin):
    svc = request.app.state.services
    f = await _form(request)
    day = f.day("day", "日期")
    if day is None and "day" not in f.errors:
        f.errors["day"] = "请先在日历上点选一天"
    elif day and not FIRST_DAY <= day <= LAST_DAY:
        f.errors["day"] = f"日期须在 {FIRST_DAY} 至 {LAST_DAY} 之间"
    kind = f.choice("kind", "这一天的安排", ("holiday", "workday", "default"))
    name = f.text("name", "名称", max_len=100)
    if f.errors:
        return await _calendar_page(request, day.year if day else None, day.isoformat() if day else "", 422,
                                    f.errors, {"kind": kind, "name": name})
    await svc.cases.calendar.set_day(day, None if kind == "default" else kind, name or None, svc.clock())
    label = f"{day.month}月{day.day}日" + {"holiday": "为节假日", "workday": "为调休上班",
                                           "default": "为常规安排（周一至周五上班）"}[kind]
    return _done("/admin/calendar", "day", label, year=str(day.year), day=day.isoformat())


MAX_SCHEDULE_BYTES = 512 * 1024


@router.post("/calendar/import")
async def import_year(request: Request, who: WebAdmin, year: int | None = None):
    svc = request.app.state.services
    f = await _form(request)
    upload = f.data.get("schedule")
    result = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        f.errors["schedule"] = "请选择国务院办公厅放假安排文件（CSV 或 JSON）"
    else:
        raw = await upload.read(MAX_SCHEDULE_BYTES + 1)
        if len(raw) > MAX_SCHEDULE_BYTES:
            f.errors["schedule"] = "文件过大（最多 512 KB），请确认选择的是放假安排文件"
        else:
            try:
                text = raw.decode("utf-8-sig")
                check_text(text)
                result = await svc.cases.calendar.import_year(text, upload.filename.lower(), svc.clock())
            except UnicodeDecodeError:
                f.errors["schedule"] = "文件须为 UTF-8 编码的 CSV 或 JSON"
            except DomainError as err:
                f.errors["schedule"] = err.zh
    if f.errors:
        return await _calendar_page(request, year, "", 422, f.errors)
    return _done("/admin/calendar", "imported", str(result["year"]), year=str(result["year"]))


@router.post("/calendar/hours")
async def set_hours(request: Request, who: WebAdmin, year: int | None = None):
    svc = request.app.state.services
    f = await _form(request)
    windows: list[tuple[time, time]] = []
    for i in range(3):
        a = f.text(f"start{i}", "开始时间", max_len=5)
        b = f.text(f"end{i}", "结束时间", max_len=5)
        if not a and not b:
            continue
        try:
            windows.append((parse_hhmm(a), parse_hhmm(b, end=True)))  # an end of 00:00 or 24:00: midnight
        except ValueError:
            f.errors[f"hours{i}"] = f"第 {i + 1} 个时段须填写开始和结束时间，如 09:00 和 12:00"
    if not windows and not f.errors:
        f.errors["hours0"] = "请至少填写一个工作时段"
    if not f.errors:
        for i, (a, b) in enumerate(windows):
            if a >= b:
                f.errors[f"hours{i}"] = f"第 {i + 1} 个时段的结束时间须晚于开始时间"
            elif i and windows[i - 1][1] > a:
                f.errors[f"hours{i}"] = f"第 {i + 1} 个时段须在上一个时段结束之后开始"
    if not f.errors:
        try:
            await svc.cases.calendar.set_hours(windows, svc.clock())
        except DomainError as err:
            f.errors["hours0"] = err.zh
    if f.errors:
        return await _calendar_page(request, year, "", 422, f.errors)
    return _done("/admin/calendar", "hours", year=str(year or ""))


@router.get("/calendar/days")
@router.get("/calendar/import")
@router.get("/calendar/hours")
async def calendar_form_reloaded(who: WebAdmin, year: int | None = None):
    """A form answered with its errors leaves the browser on the form's address: reloading it shows the page."""
    return RedirectResponse("/admin/calendar" + (f"?year={year}" if year else ""), status_code=303)


# ---- api keys ---------------------------------------------------------------------------------------------
async def _keys_page(request: Request, status_code: int = 200, errors=None, values=None, issued=None):
    svc = request.app.state.services
    keys = await open311(request).keys.list_keys()
    units = await svc.admin.unit_tree()
    for k in keys:
        k["created"] = datetime.fromisoformat(k["created_at"]) if k.get("created_at") else None
    return _render(request, "admin/api_keys.html", status_code=status_code, keys=keys, names=_names(units),
                   groups=_unit_groups(units, kinds=("county", "township", "department")),
                   townships=[u for u in units if u["kind"] == "township"], errors=errors or {},
                   values=values or {"source": "hotline", "townships": []}, issued=issued, sources=KEY_SOURCES,
                   open311=await open311(request).keys.settings())


@router.get("/api-keys")
async def keys_page(request: Request, who: WebAdmin):
    return await _keys_page(request)


@router.post("/api-keys")
async def create_key(request: Request, who: WebAdmin):
    svc = request.app.state.services
    f = await _form(request)
    units = {u["code"]: u for u in await svc.admin.unit_tree()}
    name = f.text("name", "密钥名称", max_len=48, required=True)
    if name and not KEY_NAME_RE.match(name) and "name" not in f.errors:
        f.errors["name"] = "密钥名称只能使用字母、数字、下划线、点或连字符，如 hotline-12345"
    unit = f.choice("unit", "受理单位", units)
    townships = f.many("townships")
    if not townships:
        f.errors["townships"] = "请至少选择一个可上报的乡镇"
    elif any(t not in units or units[t]["kind"] != "township" for t in townships):
        f.errors["townships"] = "请从列表中选择乡镇"
    source = f.choice("source", "案件来源", KEY_SOURCES)
    issued = None
    if not f.errors:
        try:
            issued = await open311(request).keys.create_key({"name": name, "unit": unit, "townships": townships,
                                                        "source": source}, svc.clock())
        except DomainError as err:
            f.errors["name" if err.code == "exists" else "_"] = (f"已有名为 {name} 的密钥，请换一个名称"
                                                                 if err.code == "exists" else err.zh)
    if f.errors:
        return await _keys_page(request, 422, f.errors, {"name": name, "unit": unit, "townships": townships,
                                                         "source": source})
    # the secret is shown on this answer only (never in a URL or a redirect): it is not kept anywhere
    return await _keys_page(request, 201, issued=issued)


@router.post("/api-keys/public-reads")
async def set_public_reads(request: Request, who: WebAdmin):
    """Open311 public reads on (`public_reads=true`) or off (anything else): flows/open311/keys.Open311Keys."""
    on = (await _form(request)).data.get("public_reads") == "true"
    await open311(request).keys.set_settings({"public_reads": on})
    return _done("/admin/api-keys", "public_reads_on" if on else "public_reads_off")


@router.post("/api-keys/{name}/revoke")
async def revoke_key(request: Request, who: WebAdmin, name: str):
    await open311(request).keys.revoke_key(name[:48])
    return _done("/admin/api-keys", "revoked", name[:48])


# ---- scorecard --------------------------------------------------------------------------------------------
async def _scorecard_page(request: Request, status_code: int = 200, errors=None, values=None):
    kept = await bulletin.scorecard_settings(request.app.state.services.db)
    definitions = dict(bulletin.DEFINITIONS)
    values = values or {**kept["weights"], "list_min_whistles": kept["list_min_whistles"]}
    return _render(request, "admin/scorecard.html", status_code=status_code, kept=kept, values=values,
                   errors=errors or {}, labels=WEIGHT_LABELS, default_min=bulletin.MIN_WHISTLES_FOR_LISTS,
                   hints={k: f"默认 {bulletin.DEFAULT_WEIGHTS[k]}。{definitions.get(vocab.METRIC_LABELS[k], '')}"
                          for k in WEIGHT_LABELS})


def _int(f: Form, name: str, label: str, low: int, high: int) -> int | None:
    value = f.text(name, label, max_len=6, required=True)
    if name in f.errors:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        f.errors[name] = f"{label}须为 {low}–{high} 之间的整数"
        return None
    return int(value)


@router.get("/scorecard")
async def scorecard_page(request: Request, who: WebAdmin):
    return await _scorecard_page(request)


@router.post("/scorecard")
async def set_scorecard(request: Request, who: WebAdmin):
    svc = request.app.state.services
    f = await _form(request)
    weights = {k: _int(f, k, label, 0, 100) for k, label in WEIGHT_LABELS.items()}
    min_whistles = _int(f, "list_min_whistles", "红黑榜最少接哨数", 0, 10000)
    if not f.errors and not any(weights.values()):
        f.errors["_"] = "权重不能全为 0：至少一项须大于 0"
    if not f.errors:
        try:
            await bulletin.set_scorecard(svc.db, weights, min_whistles)
        except DomainError as err:
            f.errors["_"] = err.zh
    if f.errors:
        values = {k: f.data.get(k, "") for k in [*WEIGHT_LABELS, "list_min_whistles"]}
        return await _scorecard_page(request, 422, f.errors, values)
    return _done("/admin/scorecard", "scorecard")
