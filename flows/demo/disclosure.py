"""The demo county's 行政执法公示 (flows/disclosure.py): the enforcement items (行政执法事项) are marked for disclosure,
and so are the 重大执法决定 items, so the public page lists their closed cases; two townships have withheld one
case each with a reason, and one more was withheld and released again, so the review page shows the full record.
Deterministic: the same history gives the same choices (cases picked by their place in id order, decisions timed
from their closure)."""

from datetime import timedelta

from sqlalchemy import select

from chuishao.flows import disclosure as dis
from chuishao.flows.demo.county import CATALOG, TOWNSHIPS
from chuishao.flows.demo.legal import MAJOR_ITEMS
from chuishao.models.cases import Case

WITHHOLD_REASONS = (
    "当事人为未成年人，处理结果涉及个人隐私，依据《政府信息公开条例》第十五条不予公开",
    "案件涉及企业商业秘密（生产工艺和客户信息），经乡镇研究不予公示",
)
WITHHELD_THEN_RELEASED = ("处理结果中含有当事人家庭住址描述，待核实脱敏效果后再公示",
                          "已核实公示内容只显示到村，不含个人信息，恢复公示")


async def add_disclosure(svc, demo) -> None:
    """Mark the demo's enforcement items and its 重大执法决定 items (flows/demo/legal.py: HJ07 大额罚款, JS05 强制拆除,
    SC04 吊销许可证 — major decisions are disclosed by rule) for disclosure and record the townships' decisions on
    three closed cases (by their township liaison, a few working hours after closure, never after the demo's `now`)."""
    codes = [i.code for i in CATALOG if i.enforcement] + [i.code for i in MAJOR_ITEMS]
    await dis.set_disclosed_items(svc.db, codes)
    async with svc.db.read() as s:
        rows = (await s.execute(select(Case.id, Case.township_id, Case.closed_at)
                                .where(Case.status == dis.CLOSED, Case.category.in_(codes))
                                .order_by(Case.id))).all()
    prefix = {demo.units[t.code]["id"]: t.prefix for t in TOWNSHIPS if t.code in demo.units}
    picked, townships = [], set()
    for row in rows[len(rows) // 4:]:  # past the oldest quarter; one case per township
        if row.township_id in prefix and row.township_id not in townships:
            picked.append(row)
            townships.add(row.township_id)
        if len(picked) == 3:
            break
    for n, row in enumerate(picked):
        liaison = demo.actors[f"{prefix[row.township_id]}_liaison"]
        at = min(row.closed_at + timedelta(hours=2), demo.now)
        reasons = [WITHHOLD_REASONS[n]] if n < len(WITHHOLD_REASONS) else list(WITHHELD_THEN_RELEASED)
        for k, reason in enumerate(reasons):
            await dis.decide(svc.db, row.id, liaison, k == 0, {"reason": reason}, min(at + timedelta(days=k), demo.now))
    demo.log(f"行政执法公示 disclosure: {len(codes)} 个公示事项 items, {len(rows)} 件已结案 closed cases, "
             f"{min(len(picked), len(WITHHOLD_REASONS))} 件不予公示 withheld")
