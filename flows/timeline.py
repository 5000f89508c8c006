"""The tamper-evident timeline: canonical payloads and the SHA-256 chain."""

import hashlib
import json
from datetime import UTC, datetime

GENESIS = "0" * 64


def canonical(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, *, case_id: int, seq: int, at: datetime, actor: str, unit: str | None,
               role: str, action: str, from_state: str | None, to_state: str | None, payload: str) -> str:
    """Hash of one entry, covering every stored field and the previous entry's hash."""
    material = json.dumps(
        [prev_hash, case_id, seq, at.astimezone(UTC).isoformat(), actor, unit, role, action,
         from_state, to_state, payload],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()
