"""Pages: 通知 (`/notifications`, every role): my notifications newest first, unread marked; mark all read;
open one (marks it read, then goes to its case); and the bell's count (`/notifications/unread.json`, polled by
app.js). The queries are flows/inbox_notes.py's, shared with the REST API."""

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from chuishao.api.web.render import page
from chuishao.api.web.session import WebActor, session_actor
from chuishao.flows import inbox_notes

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
KIND_LABELS = {"transition": "进展", "alert": "预警", "urge": "催办", "supervise": "督办", "checkpoint": "周检点",
               "bulletin": "月通报"}


def _target(note: dict) -> str:
    """Where a notification leads: its case, or the reports page for a checkpoint or bulletin."""
    if note["case_id"]:
        return f"/cases/{note['case_id']}"
    return "/reports"


@router.get("/notifications")
async def notifications(request: Request, who: WebActor, page_no: int = Query(1, alias="page", ge=1, le=100000),
                        unread: bool = False):
    svc = request.app.state.services
    listing = await inbox_notes.list_notes(svc.db, who, unread=unread, page=page_no, page_size=PAGE_SIZE)
    total = await inbox_notes.count_notes(svc.db, who, unread=unread)
    unread_n = total if unread else await inbox_notes.unread_count(svc.db, who)
    for n in listing["items"]:
        n["href"] = f"/notifications/{n['id']}/open"
        n["kind_label"] = KIND_LABELS.get(n["kind"], "通知")
    suffix = "&unread=true" if unread else ""
    return page(request, "notifications/list.html", listing=listing, total=total, unread_n=unread_n,
                only_unread=unread, page_size=PAGE_SIZE, page_url=lambda p: f"/notifications?page={p}{suffix}",
                self_url=f"/notifications?page={page_no}{suffix}")


@router.post("/notifications/read")
async def read_all(request: Request, who: WebActor):
    svc = request.app.state.services
    await inbox_notes.mark_read(svc.db, who, svc.clock(), everything=True)
    return RedirectResponse("/notifications", status_code=303)


@router.get("/notifications/unread.json")
async def unread_json(request: Request):
    who = await session_actor(request)
    if who is None:  # a poll after the session ended: no login page for a script
        return JSONResponse({"error": {"code": "unauthorized", "message": "请先登录 / sign in first"}},
                            status_code=401)
    svc = request.app.state.services
    return JSONResponse({"unread": await inbox_notes.unread_count(svc.db, who)},
                        headers={"Cache-Control": "no-store"})


@router.get("/notifications/{note_id}/open")
async def open_note(request: Request, who: WebActor, note_id: int = Path(ge=1, le=2**31 - 1)):
    """Mark one of my notifications read (someone else's id marks nothing) and go where it points."""
    svc = request.app.state.services
    await inbox_notes.mark_read(svc.db, who, svc.clock(), ids=[note_id])
    note = await inbox_notes.get_note(svc.db, who, note_id)
    return RedirectResponse(_target(note) if note else "/notifications", status_code=303)
