"""Routing a whistle: explicit choice, then the township's override (一乡镇一清单),
then the township's own team for devolved items (乡镇赋权事项), then the item's default."""

from dataclasses import dataclass

from chuishao.flows.errors import Invalid


@dataclass(frozen=True)
class Route:
    lead_unit_id: int
    assist_unit_ids: tuple[int, ...]


def route(
    *,
    item_code: str,
    item_lead: int | None,
    item_assists: list[int],
    devolved: bool,
    override_lead: int | None,
    override_assists: list[int] | None,
    township_team: int | None,
    explicit_lead: int | None,
    explicit_assists: list[int] | None,
) -> Route:
    lead = explicit_lead or override_lead or (township_team if devolved else None) or item_lead
    if lead is None:
        raise Invalid(
            f"事项「{item_code}」没有配置主办单位，请指定主办单位",
            f"catalog item '{item_code}' has no lead unit for this township; name one",
            code="no_route",
        )
    if explicit_assists is not None:
        assists = explicit_assists
    elif override_assists is not None:
        assists = override_assists
    else:
        assists = item_assists
    seen: list[int] = []
    for unit in assists:
        if unit != lead and unit not in seen:
            seen.append(unit)
    return Route(lead, tuple(seen))
