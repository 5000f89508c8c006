"""Who is acting, and which cases they may see (docs/access.md#scope). Pure: no I/O."""

from dataclasses import dataclass

GRID_WORKER = "grid_worker"
DISPATCHER = "township_dispatcher"
TOWNSHIP_LIAISON = "township_liaison"
DEPT_LIAISON = "department_liaison"
DEPT_OFFICER = "department_officer"
SUPERVISOR = "county_supervisor"
LEGAL_REVIEWER = "legal_reviewer"  # 法制审核员: reviews major enforcement decisions (重大执法决定法制审核)
ADMIN = "admin"
INTEGRATOR = "integrator"  # not a user role: an Open311 API key acting for its intake unit (12345 热线)

TOWNSHIP_ROLES = frozenset({DISPATCHER, TOWNSHIP_LIAISON})
DEPARTMENT_ROLES = frozenset({DEPT_LIAISON, DEPT_OFFICER})
COUNTY_ROLES = frozenset({SUPERVISOR, ADMIN})


# the unit kinds whose legal reviewers review for the whole county (司法局 is a department); a reviewer of a
# township unit (its 司法所) reviews for that township
REVIEWS_COUNTY = ("county", "department")


def reviews_township(actor: "Actor", township_id: int | None) -> bool:
    """Whether a legal reviewer's scope (法制审核范围) covers a case of `township_id`: a reviewer at the county
    or a county department (司法局, no township) covers the whole county; one at a township unit (the
    township's 司法所) covers that township (docs/access.md#legal-review)."""
    return actor.township_id is None or actor.township_id == township_id


@dataclass(frozen=True)
class Actor:
    id: int | None  # None for an integrator (an API key), which is no user
    username: str
    role: str
    unit_id: int
    unit_code: str
    township_id: int | None  # the township of a township, grid or team unit

    def sees(self, case, whistles) -> bool:
        """Whether this actor may see the case at all (403 otherwise)."""
        if self.role in COUNTY_ROLES:
            return True
        if self.role == GRID_WORKER:
            return case.reporter_id == self.id
        if self.role in TOWNSHIP_ROLES:
            return case.township_id == self.township_id
        if self.role in DEPARTMENT_ROLES:
            return any(w.unit_id == self.unit_id for w in whistles)
        if self.role == LEGAL_REVIEWER:  # the major decisions (sent to legal review at least once) in scope
            return bool(case.major) and reviews_township(self, case.township_id)
        return False

    def sees_event(self, event: dict) -> bool:
        """The same rule for a live event, from the scope the event carries."""
        if self.role in COUNTY_ROLES:
            return True
        if event.get("case_id") is None:  # a checkpoint for one township or unit, or a bulletin for all
            if (event.get("payload") or {}).get("everyone"):
                return self.role != GRID_WORKER
            if self.role in TOWNSHIP_ROLES:
                return event.get("township_id") == self.township_id
            return self.role in DEPARTMENT_ROLES and self.unit_id in (event.get("unit_ids") or ())
        if self.role == GRID_WORKER:
            return event.get("reporter_id") == self.id
        if self.role in TOWNSHIP_ROLES:
            return event.get("township_id") == self.township_id
        if self.role in DEPARTMENT_ROLES:
            return self.unit_id in (event.get("unit_ids") or ())
        if self.role == LEGAL_REVIEWER:
            major = (event.get("payload") or {}).get("major")  # flows/audience.py marks a major decision's events
            return bool(major) and reviews_township(self, event.get("township_id"))
        return False
