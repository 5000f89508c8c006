"""Possible duplicates' scoring (flows/duplicates.py), no database: bigrams of Chinese titles, similarity, the
radius boundary, the order of candidates."""

import math
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from chuishao.flows.duplicates import Probe, Rules, bounding_box, check_rules, grams, score, similarity
from chuishao.flows.errors import Invalid

LAT, LON = 37.45, 112.05
M_PER_DEG = math.pi * 6371008.8 / 180


def row(id, title, category="LAND01", metres_north=None, status="reported"):
    lat = None if metres_north is None else LAT + metres_north / M_PER_DEG
    return SimpleNamespace(id=id, title=title, status=status, category=category, township_id=1, lat=lat,
                           lon=None if lat is None else LON, created_at=datetime(2026, 11, 16, tzinfo=UTC))


def test_bigrams_keep_letters_digits_and_chinese_and_drop_punctuation():
    assert grams("东街12号！") == {"东街", "街1", "12", "2号"}
    assert grams("Ａ区") == {"a区"}  # NFKC folds full-width letters
    assert grams("。") == set() and grams("路") == {"路"}


@pytest.mark.parametrize("a, b, expected", [
    ("东街12号院内新建砖房", "【12345】东街12号院私建砖房", 7 / 16),
    ("西河村河道有人倒垃圾", "西河村河道乱倒垃圾", 6 / 11),
    ("刘胡兰村南地焚烧秸秆", "刘胡兰村南地焚烧秸秆", 1.0),
])
def test_similar_chinese_titles(a, b, expected):
    assert similarity(a, b) == pytest.approx(expected)


def test_different_problems_in_the_same_village_are_not_similar():
    assert similarity("西河村河道乱倒垃圾", "西河村秸秆焚烧") < 0.2
    assert similarity("", "西河村") == 0.0


def test_the_radius_bounds_the_same_item_only():
    probe = Probe("村南新修院墙", "LAND01", LAT, LON)
    rows = [row(1, "甲", metres_north=199.99), row(2, "乙", metres_north=200.01), row(3, "丙", "MKT01", 5)]
    assert [c.id for c in score(probe, rows, Rules(200, 0.4))] == [1]
    assert [c.id for c in score(probe, rows, Rules(201, 0.4))] == [1, 2]


def test_near_ones_come_first_by_distance_then_similar_ones_by_similarity_and_the_probe_is_never_offered():
    probe = Probe("东街12号院内新建砖房", "LAND01", LAT, LON, id=9)
    rows = [row(1, "东街12号院内新建砖房"), row(2, "东街12号院私建砖房"), row(3, "其他", metres_north=150),
            row(4, "另一件", metres_north=20), row(9, "东街12号院内新建砖房", metres_north=0)]
    assert [c.id for c in score(probe, rows, Rules())] == [4, 3, 1, 2]
    top = score(probe, rows, Rules())[0]
    assert top.near and not top.similar and round(top.distance_m) == 20


def test_the_bounding_box_holds_the_circle():
    la0, la1, lo0, lo1 = bounding_box(LAT, LON, 200)
    assert la1 - LAT > 200 / M_PER_DEG and LON - lo0 > 200 / (M_PER_DEG * math.cos(math.radians(LAT)))


def test_settings_out_of_bounds_are_refused_naming_the_field():
    with pytest.raises(Invalid) as e:
        check_rules(5, 0.4)
    assert e.value.extra["field"] == "radius_m"
    with pytest.raises(Invalid) as e:
        check_rules(200, float("nan"))
    assert e.value.extra["field"] == "min_similarity"
    assert check_rules(200, 0.4) == Rules(200.0, 0.4)
