"""`chuishao catalog import FILE`: catalog items from CSV or JSON, each checked like POST /catalog."""

import csv
import json
from pathlib import Path

from chuishao.flows.admin import AdminService
from chuishao.flows.errors import Conflict, DomainError, Invalid

TRUE = {"1", "true", "yes", "y", "是", "x"}


def read_items(path: Path) -> list[dict]:
    """The items of a CSV (header code,name,category[,lead_unit,…]) or JSON (a list of objects) file.
    Raises Invalid when the file has neither shape."""
    try:
        return _read_items(path)
    except (ValueError, KeyError) as err:  # JSONDecodeError is a ValueError; KeyError: a missing CSV column
        raise Invalid(f"目录文件格式有误：{err}", f"cannot read the catalog file: {err}") from None


def _read_items(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise Invalid("JSON 须为事项对象的数组", "the JSON must be a list of item objects")
        return items
    rows = []
    for row in csv.DictReader(text.splitlines()):
        item = {k: (v or "").strip() for k, v in row.items() if k}
        out = {"code": item["code"], "name": item["name"], "category": item["category"]}
        if item.get("lead_unit"):
            out["lead_unit"] = item["lead_unit"]
        out["assist_units"] = [u for u in item.get("assist_units", "").replace(";", " ").split() if u]
        out["devolved"] = item.get("devolved", "").lower() in TRUE
        out["enforcement"] = item.get("enforcement", "").lower() in TRUE
        out["major"] = item.get("major", "").lower() in TRUE
        out["disclose"] = (item.get("disclose") or item.get("公示") or "").lower() in TRUE  # 行政执法公示
        if item.get("limits"):
            out["limits"] = json.loads(item["limits"])
        rows.append(out)
    return rows


async def import_items(svc: AdminService, path: Path) -> tuple[int, int, list[str]]:
    """Returns (created, skipped as existing, errors)."""
    created = skipped = 0
    problems = []
    for n, item in enumerate(read_items(path), start=1):
        try:
            await svc.create_item(item)
            created += 1
        except Conflict:
            skipped += 1
        except DomainError as err:
            problems.append(f"row {n} ({item.get('code')}): {err.message}")
    return created, skipped, problems
