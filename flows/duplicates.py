"""Possible duplicates (疑似重复): open cases that may be the same problem as a report being written or a case
waiting for acceptance — the same catalog item (事项) near the point, or a similar title.

- Near: great-circle distance (haversine, `case_hints.distance_m`) within the radius in the settings table
  (`possible_duplicates.radius_m`, default 200 m), for the same catalog item only.
- Similar: Jaccard similarity of the titles' character bigrams (two-character sequences of letters, digits and
  Chinese characters after NFKC and lower-casing), at least `min_similarity` (default 0.4). Chinese has no spaces
  and most words are two characters, so bigrams catch "新建砖房" in "院内新建砖房" and "私自新建砖房" whatever
  the order of the phrases; an edit distance (difflib, rapidfuzz's ratio) is thrown by reordering and by the
  hotline's "【12345】" prefix, and needs no dependency to do better. Any item, so a report not yet classified
  still finds its twin.

Only cases the caller may see are offered: the candidate queries go through the case list's scope
(`CaseService._scope`, the SQL form of `Actor.sees` in flows/access.py) — a grid worker sees their own reports,
a township its township's, a department the cases whistled to it.

`grams`, `similarity` and `score` are pure; `DuplicateFinder` reads (two bounded queries, no writes).
"""

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import select

from chuishao.flows import lifecycle as lc
from chuishao.flows.access import Actor
from chuishao.flows.case_hints import distance_m
from chuishao.flows.cases import CaseService, case_code
from chuishao.flows.errors import Invalid
from chuishao.flows.settings import read_setting, write_setting
from chuishao.models.cases import Case

SETTING_KEY = "possible_duplicates"
DEFAULT_RADIUS_M = 200.0
DEFAULT_MIN_SIMILARITY = 0.4
RADIUS_BOUNDS = (10.0, 5000.0)
SIMILARITY_BOUNDS = (0.1, 1.0)
TITLE_POOL = 300  # newest open cases in scope whose titles are compared
SHOWN = 8
METRES_PER_DEGREE = 111_320.0  # of latitude; a bounding box before the exact distance


@dataclass(frozen=True)
class Probe:
    """What a duplicate is looked for: a case (its id left out of the answer) or a report being written."""

    title: str
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    id: int | None = None


@dataclass(frozen=True)
class Rules:
    radius_m: float = DEFAULT_RADIUS_M
    min_similarity: float = DEFAULT_MIN_SIMILARITY


@dataclass(frozen=True)
class Candidate:
    id: int
    code: str
    title: str
    status: str
    status_label: str
    category: str | None
    township_id: int
    same_item: bool
    distance_m: float | None  # metres, when both carry a point
    similarity: float  # 0..1, Jaccard of title bigrams
    near: bool  # same item within the radius
    similar: bool  # similarity at or above the threshold


def grams(text: str) -> set[str]:
    """Character bigrams of `text`: NFKC, lower case, letters/digits/Chinese only (punctuation and spaces
    dropped); a one-character text is its own gram."""
    chars = "".join(ch for ch in unicodedata.normalize("NFKC", text or "").lower() if ch.isalnum())
    if len(chars) < 2:
        return {chars} if chars else set()
    return {chars[i:i + 2] for i in range(len(chars) - 1)}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity (|A∩B| / |A∪B|) of the two titles' bigrams, 0..1; 0 when either is empty."""
    ga, gb = grams(a), grams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def score(probe: Probe, rows: Iterable, rules: Rules, limit: int = SHOWN) -> list[Candidate]:
    """The rows (id, title, status, category, township_id, lat, lon, created_at) that are possible duplicates of
    `probe`: same item within `rules.radius_m` metres, or title similarity ≥ `rules.min_similarity`. Best first:
    near ones by distance, then by similarity; at most `limit`. The probe's own id is never offered."""
    mine = grams(probe.title)
    found = []
    for r in {r.id: r for r in rows}.values():
        if r.id == probe.id:
            continue
        dist = None
        if None not in (probe.lat, probe.lon, r.lat, r.lon):
            dist = distance_m(probe.lat, probe.lon, r.lat, r.lon)
        same_item = bool(probe.category) and r.category == probe.category
        near = same_item and dist is not None and dist <= rules.radius_m
        theirs = grams(r.title)
        sim = len(mine & theirs) / len(mine | theirs) if mine and theirs else 0.0
        similar = sim >= rules.min_similarity
        if not (near or similar):
            continue
        c = Candidate(r.id, case_code(r), r.title, r.status, lc.STATE_LABELS.get(r.status, r.status), r.category,
                      r.township_id, same_item, dist, round(sim, 3), near, similar)
        found.append(((not near, dist if near else 0.0, -sim, -r.id), c))
    found.sort(key=lambda x: x[0])
    return [c for _, c in found[:limit]]


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) holding every point within `radius_m` metres (a little more)."""
    dlat = radius_m / METRES_PER_DEGREE * 1.01
    dlon = radius_m / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat)))) * 1.01
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def check_rules(radius_m: float, min_similarity: float) -> Rules:
    """The settings, or Invalid (422) naming the field when out of bounds."""
    lo, hi = RADIUS_BOUNDS
    if not (isinstance(radius_m, int | float) and math.isfinite(radius_m) and lo <= radius_m <= hi):
        raise Invalid(f"查重半径须在 {lo:.0f}–{hi:.0f} 米之间", f"radius_m must be within {lo:.0f}..{hi:.0f} metres",
                      extra={"field": "radius_m"})
    lo, hi = SIMILARITY_BOUNDS
    if not (isinstance(min_similarity, int | float) and math.isfinite(min_similarity) and lo <= min_similarity <= hi):
        raise Invalid(f"标题相似度阈值须在 {lo}–{hi} 之间", f"min_similarity must be within {lo}..{hi}",
                      extra={"field": "min_similarity"})
    return Rules(float(radius_m), float(min_similarity))


class DuplicateFinder:
    """Possible duplicates over the case tables, in the caller's scope. Reads only."""

    def __init__(self, cases: CaseService):
        self.cases = cases
        self.db = cases.db

    async def rules(self) -> Rules:
        """The stored radius and threshold, the defaults where never set."""
        value = await read_setting(self.db, SETTING_KEY) or {}
        return Rules(float(value.get("radius_m", DEFAULT_RADIUS_M)),
                     float(value.get("min_similarity", DEFAULT_MIN_SIMILARITY)))

    async def set_rules(self, radius_m: float, min_similarity: float) -> Rules:
        """Store new settings (admin). Raises Invalid for values out of bounds."""
        rules = check_rules(radius_m, min_similarity)
        await write_setting(self.db, SETTING_KEY, asdict(rules))
        return rules

    async def find(self, actor: Actor, probe: Probe, township_id: int | None = None) -> tuple[Rules, list[Candidate]]:
        """Open cases `actor` may see that may duplicate `probe`: those of the probe's item in the radius's
        bounding box, and the newest TITLE_POOL open ones (of `township_id` when given) for titles."""
        rules = await self.rules()
        cols = select(Case.id, Case.title, Case.status, Case.category, Case.township_id, Case.lat, Case.lon,
                      Case.created_at)
        base = self.cases._scope(cols, actor).where(Case.status.in_(sorted(lc.OPEN_STATES)))
        if probe.id is not None:
            base = base.where(Case.id != probe.id)
        rows = []
        async with self.db.read() as s:
            if probe.category and probe.lat is not None and probe.lon is not None:
                la0, la1, lo0, lo1 = bounding_box(probe.lat, probe.lon, rules.radius_m)
                rows += (await s.execute(base.where(Case.category == probe.category, Case.lat.between(la0, la1),
                                                    Case.lon.between(lo0, lo1)))).all()
            if probe.title:
                pool = base if township_id is None else base.where(Case.township_id == township_id)
                rows += (await s.execute(pool.order_by(Case.id.desc()).limit(TITLE_POOL))).all()
        return rules, score(probe, rows, rules)

    async def for_case(self, case_id: int, actor: Actor, now) -> tuple[dict, Rules, list[Candidate]]:
        """Possible duplicates of one case (its own township's cases for titles), as the case page's dispatcher
        sees them before acceptance. Raises NotFound/Forbidden like CaseService.get."""
        case = await self.cases.get(case_id, actor, now)
        async with self.db.read() as s:
            township = await self.cases.units.by_code(s, case["township"]) if case["township"] else None
        rules, found = await self.find(actor, Probe(case["title"], case["category"], case["lat"], case["lon"],
                                                    case["id"]), township.id if township else None)
        return case, rules, found

    async def for_report(self, actor: Actor, *, title: str = "", category: str | None = None,
                         lat: float | None = None, lon: float | None = None, township: str | None = None
                         ) -> tuple[Rules, list[Candidate]]:
        """Possible duplicates of a report being written (report time). `township`: a township code narrowing the
        title comparison (the caller's own township when not given). Raises Invalid (422) for a point missing
        one coordinate or out of range, an unknown township, or nothing to compare (no title and no point)."""
        if (lat is None) != (lon is None):
            raise Invalid("位置须同时给出纬度和经度", "give both lat and lon, or neither", extra={"field": "lat"})
        if lat is not None and not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
                                    and -180 <= lon <= 180):
            raise Invalid("坐标无效", "lat/lon out of range", extra={"field": "lat"})
        title = (title or "").strip()
        if not title and not (category and lat is not None):
            raise Invalid("请给出标题，或事项类别和位置", "give a title, or a category and a point",
                          extra={"field": "title"})
        township_id = actor.township_id
        if township:
            async with self.db.read() as s:
                t = await self.cases.units.by_code(s, township)
            if t is None or t.kind != "township":
                raise Invalid(f"乡镇 {township} 不存在", f"unknown township '{township}'", code="unknown_unit")
            township_id = t.id
        return await self.find(actor, Probe(title, category or None, lat, lon), township_id)

    def view(self, c: Candidate) -> dict:
        """A candidate as the API and pages show it: distance in whole metres, the township's code."""
        return {"id": c.id, "code": c.code, "title": c.title, "status": c.status, "status_label": c.status_label,
                "category": c.category, "township": self.cases.units.code(c.township_id), "same_item": c.same_item,
                "distance_m": None if c.distance_m is None else round(c.distance_m), "similarity": c.similarity,
                "near": c.near, "similar": c.similar}

    def answer(self, rules: Rules, found: list[Candidate]) -> dict:
        """{radius_m, min_similarity, items: [candidate view]} — the API's answer and the partials' context."""
        return {"radius_m": rules.radius_m, "min_similarity": rules.min_similarity,
                "items": [self.view(c) for c in found]}
