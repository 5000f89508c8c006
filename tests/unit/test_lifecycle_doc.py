"""docs/lifecycle.md is the transition table as flows/lifecycle_doc.py writes it now."""

from chuishao.flows import lifecycle as lc
from chuishao.flows import lifecycle_doc as doc


def test_docs_lifecycle_md_is_what_the_table_says_now():
    written = doc.PATH.read_text(encoding="utf-8") if doc.PATH.exists() else ""
    assert written == doc.render(), f"docs/lifecycle.md is stale: run `{doc.COMMAND}` and commit the file"


def test_the_page_names_every_action_with_who_and_what_it_requires():
    page = doc.render()
    rows = {line.split("（`")[1].split("`")[0]: line
            for line in page.splitlines() if line.startswith("| ") and "（`" in line}
    for t in lc.TRANSITIONS:
        row = rows[t.action]
        assert row.startswith(f"| {t.label}（`{t.action}`） |")
        assert all(text in row for text in doc.conditions(t))
    assert ("| 退回（`return`） | 已吹哨 | 已退回；争议中 | 部门联络员 "
            "| 本单位是该案件的主办单位；主办单位尚未报到；") in page
    assert ("| 核查（`verify`） | 待核查 | 已结案；办理中 | 网格员、乡镇执法联络员 "
            "| 网格员只能核查本人上报的事件；") in page
    assert "    dispatched --> handling : 报到" in page and "    suspended --> disputed : 恢复" in page
    assert " : 催办" not in page  # records do not move the case: no edge in the diagram


def test_check_says_stale_and_how_to_regenerate(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(doc, "PATH", tmp_path / "lifecycle.md")
    assert doc.main(["--check"]) == 1 and doc.COMMAND in capsys.readouterr().err
    assert doc.main([]) == 0 and doc.main(["--check"]) == 0
