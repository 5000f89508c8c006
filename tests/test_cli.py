"""The command line an admin uses to set a county up: init, user add, catalog import (CSV and JSON)."""

import json
import os
import subprocess

from fastapi.testclient import TestClient

from chuishao.api.app import create_app
from tests.county import CHUISHAO_CLI


def chuishao(settings, *args):
    env = {**os.environ, "CHUISHAO_DATABASE_URL": settings.url, "CHUISHAO_DATA_DIR": str(settings.data_dir),
           "CHUISHAO_ARGON2_TIME_COST": "1", "CHUISHAO_ARGON2_MEMORY_KIB": "8192"}
    return subprocess.run([*CHUISHAO_CLI, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_init_user_add_and_catalog_import(settings, clock, tmp_path):
    out = chuishao(settings, "init", "--admin-password", "admin-pass-123")
    assert out.returncode == 0, out.stderr
    assert chuishao(settings, "init", "--admin-password", "other-pass-123").returncode == 0  # idempotent
    with TestClient(create_app(settings, clock)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "admin", "password": "admin-pass-123"}).json()
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        for unit in ({"code": "FC", "name": "凤城镇", "kind": "township", "parent": "WS"},
                     {"code": "ZRZY", "name": "自然资源局", "kind": "department", "parent": "WS"},
                     {"code": "ZJJ", "name": "住建局", "kind": "department", "parent": "WS"}):
            assert client.post("/api/v1/units", json=unit, headers=admin).status_code == 201
        added = chuishao(settings, "user", "add", "--username", "zrzy_off9", "--password", "secret-pass-1",
                         "--role", "department_officer", "--unit", "ZRZY", "--certificate-no", "晋执-9",
                         "--certificate-expires", "2028-01-01")
        assert added.returncode == 0, added.stderr
        refused = chuishao(settings, "user", "add", "--username", "x", "--password", "secret-pass-1",
                           "--role", "grid_worker", "--unit", "ZRZY")  # a grid worker belongs to a grid
        assert refused.returncode == 2 and "错误" in refused.stderr
        assert client.post("/api/v1/auth/token", data={"username": "zrzy_off9", "password": "secret-pass-1"}) \
            .status_code == 200

        csv_file = tmp_path / "items.csv"
        limits = '"{""handle"": {""normal"": ""10d""}}"'  # a JSON cell, quoted the CSV way
        csv_file.write_text("code,name,category,lead_unit,assist_units,devolved,enforcement,limits\n"
                            f"LAND01,违法占地,国土/违法占地,ZRZY,ZJJ,,是,{limits}\n"
                            "BAD01,坏事项,其他,NOPE,,,,\n", encoding="utf-8")
        out = chuishao(settings, "catalog", "import", str(csv_file))
        assert out.returncode == 1 and "created 1" in out.stdout and "BAD01" in out.stderr
        json_file = tmp_path / "items.json"
        json_file.write_text(json.dumps([{"code": "ENV01", "name": "秸秆焚烧", "category": "环境/秸秆焚烧",
                                          "lead_unit": "ZJJ"}], ensure_ascii=False), encoding="utf-8")
        assert chuishao(settings, "catalog", "import", str(json_file)).returncode == 0
        again = chuishao(settings, "catalog", "import", str(json_file))
        assert again.returncode == 0 and "skipped 1" in again.stdout
        items = {i["code"]: i for i in client.get("/api/v1/catalog", headers=admin).json()}
        assert set(items) == {"LAND01", "ENV01"}
        assert (items["LAND01"]["assist_units"], items["LAND01"]["enforcement"], items["LAND01"]["limits"]) == (
            ["ZJJ"], True, {"handle": {"normal": "10d"}})
