"""The repository explains itself (issue 14): no tracked file points a reader to notes kept outside it (the
product specification's sections, the stack notes, the shared folder beside the checkout), and every pointer
to a page under docs/ — in code comments, docstrings, tests, bench scripts and the pages themselves — names
a tracked page and, when it names a section (`docs/clocks.md#the-sweep`), a section that page has."""

import re
import subprocess
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()  # the one file that must name them
OUTSIDE = re.compile("|".join((
    r"\bSPEC\s*(?:§|Appendix\b|'s\b)",  # "SPEC §5", "SPEC Appendix A", "SPEC's rule"; not a variable named SPEC
    r"STACK[- _]NOTES",
    r"\.\./shared\b",
    r"\bshared/(?:SPEC|STACK|DOMAIN|STYLE|UI-)[\w.-]*",
    r"UI-NOTES",
)))
# a page under docs/ named from anywhere (root-relative, as code comments write it): docs/clocks.md#the-sweep
DOCS_MENTION = re.compile(r"(?<![\w./-])(?:\.\./)?docs/([\w.-]+\.md)(?:#([^\s)`'\",;]+))?")
# a Markdown link to a page of ours, relative to the file it is in: [text](access.md#scope), [x](#the-sweep)
MD_LINK = re.compile(r"\]\(([^)\s:]*?\.md)?(?:#([^)\s]+))?\)")


@cache
def tracked() -> tuple[str, ...]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(p for p in out.stdout.decode("utf-8").split("\0") if p)


def texts():
    """(path, text) of every tracked text file that is still in the working tree."""
    if not tracked():
        pytest.skip("not a git checkout: nothing to say which files belong to the repository")
    for path in tracked():
        try:
            yield path, (ROOT / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # images, fonts; a file deleted but not yet committed


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters of any script, digits, `-` and `_`
    kept), spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: str) -> set[str]:
    """Every anchor a page offers: its headings' (GitHub numbers repeats -1, -2, …) and explicit ids."""
    found, seen = set(), {}
    fenced = False
    for line in page.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    found |= set(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", page))
    return found


def within(folder: Path, link: str) -> str:
    """A relative link from a file in `folder`, as a path from the repository's root ("../x.md" from the root
    leads outside, and is then left as written, which names no tracked file)."""
    target = (ROOT / folder / link).resolve()
    return target.relative_to(ROOT).as_posix() if target.is_relative_to(ROOT) else link


def broken(target: str, anchor: str | None, pages: dict[str, str]) -> str | None:
    if target not in pages:
        return f"{target} is not a tracked file"
    if anchor and anchor not in anchors(pages[target]):
        return f"{target} has no section #{anchor}"
    return None


def test_no_tracked_file_points_outside_the_repository():
    hits = [f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for path, text in texts() if path != SELF for m in OUTSIDE.finditer(text)]
    assert not hits, ("these point to notes outside the repository; point to the docs/ page that carries the "
                      "content instead (or say it in place):\n" + "\n".join(hits))


def test_every_docs_page_named_exists_with_the_section_named():
    files = dict(texts())
    pages = {p: t for p, t in files.items() if p.endswith(".md")}
    problems = []
    for path, text in files.items():
        here = Path(path).parent
        found = [(f"docs/{m.group(1)}", m.group(2), m.start()) for m in DOCS_MENTION.finditer(text)]
        if path.endswith(".md"):
            found += [(within(here, m.group(1)) if m.group(1) else path, m.group(2), m.start())
                      for m in MD_LINK.finditer(text)]
        for target, anchor, at in found:
            why = broken(target, anchor and anchor.rstrip(".:"), pages)
            if why:
                problems.append(f"{path}:{text.count(chr(10), 0, at) + 1}: {why}")
    assert not problems, "pointers to docs/ pages that lead nowhere:\n" + "\n".join(problems)


def test_the_checks_see_what_they_look_for():
    """The patterns catch the references this repository used to carry, and the anchors GitHub makes."""
    for old in ("(SPEC §5)", "SPEC Appendix A wire names", "(see shared/STACK-NOTES.md)", "STACK-NOTES: 2026-09-30",
                "../shared/SPEC.md", "SPEC's enforcement rule"):
        assert OUTSIDE.search(old), old
    for fine in ("SPEC = load_spec()", "specification", "shared_buffers 128MB", "one shared absolute path"):
        assert not OUTSIDE.search(fine), fine
    page = "# Title\n\n## The sweep\n\n## 日志 Logs\n\n```\n## not a heading\n```\n<a id=\"performance-targets\"></a>\n"
    assert anchors(page) == {"title", "the-sweep", "日志-logs", "performance-targets"}
    assert slug("Composite score and rank (综合得分、排名)") == "composite-score-and-rank-综合得分排名"
    m = DOCS_MENTION.search("see (docs/clocks.md#the-sweep), not flows/docs/x.md")
    assert m.groups() == ("clocks.md", "the-sweep") and len(DOCS_MENTION.findall("flows/docs/x.md")) == 0
