"""Pages are Jinja2 templates; this module holds the environment, the filters every page uses (times in
Asia/Shanghai as people say them, labels) and the per-role navigation."""

from datetime import datetime, timedelta
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import (
    ADMIN,
    DEPARTMENT_ROLES,
    DISPATCHER,
    GRID_WORKER,
    LEGAL_REVIEWER,
    SUPERVISOR,
    TOWNSHIP_LIAISON,
    Actor,
)
from chuishao.flows.clock import LOCAL_TZ
from chuishao.models import vocabulary as vocab

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
ENV = TEMPLATES.env
WEEKDAYS = "一二三四五六日"

# alert levels: a word and an icon beside the colour, so colour is never the only signal
ALERT_ICONS = {"warning": "▲", "overdue": "●", "escalated": "⚑"}
ALERT_BADGES = {level: (vocab.ALERT_SHORT_LABELS[level], icon, level) for level, icon in ALERT_ICONS.items()}


def _dt(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(LOCAL_TZ)


def when(value, now: datetime | None = None) -> str:
    """'今天 15:30', '昨天 09:10', '周三 14:00' (this week), '11月28日 15:30', '2025年11月3日' — Asia/Shanghai."""
    dt = _dt(value)
    if dt is None:
        return "—"
    today = (now or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ).date()
    d = dt.date()
    hm = f"{dt:%H:%M}"
    if d == today:
        return f"今天 {hm}"
    if d == today - timedelta(days=1):
        return f"昨天 {hm}"
    if d == today + timedelta(days=1):
        return f"明天 {hm}"
    if abs((d - today).days) < 7 and d.isocalendar()[:2] == today.isocalendar()[:2]:
        return f"周{WEEKDAYS[d.weekday()]} {hm}"
    if d.year == today.year:
        return f"{d.month}月{d.day}日 {hm}"
    return f"{d.year}年{d.month}月{d.day}日 {hm}"


def full_time(value) -> str:
    """'2026-11-16 09:00' in Asia/Shanghai, for timelines and tables."""
    dt = _dt(value)
    return "—" if dt is None else f"{dt:%Y-%m-%d %H:%M}"


def time_left(minutes, urgency: str = "normal") -> str:
    """'剩余 2 个工作小时' / '超期 1 个工作日 3 小时' / urgent (wall clock): '剩余 25 分钟', '超期 2 天 3 小时'.
    `minutes`: working minutes (normal) or wall-clock minutes (urgent), negative when overdue."""
    if minutes is None:
        return ""
    over, m = minutes < 0, abs(int(minutes))
    if urgency == "urgent":
        if m < 60:
            text = f"{m} 分钟"
        elif m < 24 * 60:
            text = f"{m // 60} 小时" + (f" {m % 60} 分" if m % 60 else "")
        else:
            text = f"{m // (24 * 60)} 天" + (f" {m % (24 * 60) // 60} 小时" if m % (24 * 60) >= 60 else "")
    elif m < 60:
        text = f"{m} 个工作分钟"
    elif m < 7 * 60:  # a working day is 7 hours (09:00–12:00, 13:30–17:30)
        text = f"{m // 60} 个工作小时" + (f" {m % 60} 分" if m % 60 else "")
    else:
        days, rest = divmod(m, 7 * 60)
        text = f"{days} 个工作日" + (f" {rest // 60} 小时" if rest >= 60 else "")
    return ("超期 " if over else "剩余 ") + text


ENV.filters.update(
    when=when, full_time=full_time, time_left=time_left,
    state=lambda s: lc.STATE_LABELS.get(s, s),
    action=lambda a: lc.ACTION_LABELS.get(a, a),
    role=lambda r: vocab.ROLE_LABELS.get(r, r),
    source=lambda s: vocab.SOURCE_LABELS.get(s, s),
    urgency=lambda u: vocab.URGENCY_LABELS.get(u, u),
    outcome=lambda o: vocab.OUTCOME_LABELS.get(o, o),
    satisfaction=lambda s: vocab.SATISFACTION_LABELS.get(s, s),
    whistle_role=lambda r: vocab.WHISTLE_ROLE_LABELS.get(r, r),
    whistle_state=lambda s: vocab.WHISTLE_STATE_LABELS.get(s, s),
    unit_kind=lambda k: vocab.UNIT_KIND_LABELS.get(k, k),
    alert_label=lambda a: vocab.ALERT_LABELS.get(a, a),
)
ENV.globals.update(ALERT_BADGES=ALERT_BADGES, STEP_NAMES=vocab.STEP_LABELS, WHISTLE_RETURNED=vocab.WHISTLE_RETURNED)

# (path, label, icon) per role: the 3–5 things each role does, as the bottom tab bar shows them
NAV = {
    GRID_WORKER: [("/report", "上报", "＋"), ("/mine", "我的上报", "☰"), ("/notifications", "通知", "✉")],
    DISPATCHER: [("/inbox", "待办", "✓"), ("/cases", "案件", "☰"), ("/report", "登记", "＋"),
                 ("/dashboard", "看板", "▦"), ("/reports", "通报", "▤"),  # 登记: reports taken by phone (12345)
                 ("/gongshi/review", "公示审核", "☷")],  # 行政执法公示: withhold before publication
    TOWNSHIP_LIAISON: [("/inbox", "待办", "✓"), ("/cases", "案件", "☰"), ("/dashboard", "看板", "▦"),
                       ("/reports", "通报", "▤"), ("/gongshi/review", "公示审核", "☷")],
    SUPERVISOR: [("/inbox", "待办", "✓"), ("/dashboard", "看板", "▦"), ("/cases", "案件", "☰"),
                 ("/reports", "通报", "▤"), ("/case-review", "评查", "☑")],  # 评查: 案卷评查
    ADMIN: [("/admin", "管理", "⚙"), ("/dashboard", "看板", "▦"), ("/cases", "案件", "☰"), ("/reports", "通报", "▤")],
    LEGAL_REVIEWER: [("/inbox", "待办", "✓"), ("/cases", "案件", "☰"), ("/notifications", "通知", "✉"),  # 法制审核
                     ("/reports", "通报", "▤"), ("/case-review/mine", "评查", "☑")],  # 案卷评查
}
for _role in DEPARTMENT_ROLES:
    NAV[_role] = [("/inbox", "待办", "✓"), ("/cases", "案件", "☰"), ("/reports", "通报", "▤")]


def home_of(who: Actor) -> str:
    """Where a user lands after login: the first thing their role does."""
    return NAV.get(who.role, [("/inbox", "", "")])[0][0]


def csrf_token(request: Request) -> str:
    get = request.scope.get("csrftoken")
    return get() if get else ""


def page(request: Request, template: str, status_code: int = 200, **context):
    """Render a page with what the layout needs: the signed-in user, their navigation, the CSRF token, now."""
    who: Actor | None = getattr(request.state, "actor", None)
    svc = request.app.state.services
    base = {
        "me": who,
        "nav": NAV.get(who.role, []) if who else [],
        "csrf": csrf_token(request),
        "now": svc.clock(),
        "path": request.url.path,
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
