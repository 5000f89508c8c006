"""Point-in-polygon for resolving a reported point to its grid (GeoJSON: [lon, lat] order)."""

import math


def _in_ring(lon: float, lat: float, ring: list) -> bool:
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i][0], ring[i][1]
        x2, y2 = ring[(i + 1) % n][0], ring[(i + 1) % n][1]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_cross:
                inside = not inside
    return inside


def _in_polygon(lon: float, lat: float, rings: list) -> bool:
    # first ring is the outline, the rest are holes
    return bool(rings) and _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, h) for h in rings[1:])


def contains(geometry: dict, lon: float, lat: float) -> bool:
    if geometry.get("type") == "Feature":
        geometry = geometry.get("geometry") or {}
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return _in_polygon(lon, lat, coords)
    if kind == "MultiPolygon":
        return any(_in_polygon(lon, lat, poly) for poly in coords)
    return False


def _lon_lat(point) -> bool:
    """A real WGS84 position: two finite numbers (not booleans) within range."""
    if not isinstance(point, list) or len(point) < 2:
        return False
    lon, lat = point[0], point[1]
    if any(isinstance(c, bool) or not isinstance(c, int | float) for c in (lon, lat)):
        return False
    try:
        return math.isfinite(float(lon)) and math.isfinite(float(lat)) and -180 <= lon <= 180 and -90 <= lat <= 90
    except OverflowError:
        return False


def valid_polygon(geometry: dict) -> bool:
    try:
        if geometry.get("type") == "Feature":
            geometry = geometry["geometry"]
        polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        if geometry["type"] not in ("Polygon", "MultiPolygon"):
            return False
        return all(len(ring) >= 4 and all(_lon_lat(p) for p in ring) for poly in polys for ring in poly)
    except (KeyError, TypeError, IndexError):
        return False
