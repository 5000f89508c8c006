"""`chuishao audit verify`: re-check every case's hash chain and name the first broken entry."""

from dataclasses import dataclass

from sqlalchemy import select

from chuishao.flows.timeline import GENESIS, entry_hash
from chuishao.models.cases import Case
from chuishao.models.db import Database
from chuishao.models.timeline import TimelineEntry


@dataclass
class Break:
    case_id: int
    seq: int
    entry_id: int | None
    reason: str


@dataclass
class AuditReport:
    cases: int
    entries: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


async def verify_chains(db: Database) -> AuditReport:
    cases = entries = 0
    async with db.read() as s:
        heads = dict((await s.execute(select(Case.id, Case.timeline_head))).all())
        stream = await s.stream(select(TimelineEntry).order_by(TimelineEntry.case_id, TimelineEntry.seq))
        current, prev, expected_seq = None, GENESIS, 1
        async for (e,) in stream:
            entries += 1
            if e.case_id != current:
                if current is not None and heads.get(current) != prev:
                    return AuditReport(cases, entries, Break(current, expected_seq, None, "chain head mismatch: "
                                                             "entries after this point were removed"))
                current, prev, expected_seq = e.case_id, GENESIS, 1
                cases += 1
            if e.seq != expected_seq:
                return AuditReport(cases, entries, Break(e.case_id, expected_seq, e.id, "entry missing"))
            if e.prev_hash != prev:
                return AuditReport(cases, entries, Break(e.case_id, e.seq, e.id, "previous hash does not match"))
            digest = entry_hash(prev, case_id=e.case_id, seq=e.seq, at=e.at, actor=e.actor, unit=e.unit,
                                role=e.role, action=e.action, from_state=e.from_state, to_state=e.to_state,
                                payload=e.payload)
            if digest != e.hash:
                return AuditReport(cases, entries, Break(e.case_id, e.seq, e.id, "content does not match its hash"))
            prev, expected_seq = e.hash, expected_seq + 1
        if current is not None and heads.get(current) != prev:
            return AuditReport(cases, entries, Break(current, expected_seq, None,
                                                     "chain head mismatch: entries after this point were removed"))
    return AuditReport(cases, entries, None)
