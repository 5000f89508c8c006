"""Renderers of the monthly bulletin (每月一通报): HTML, PDF, XLSX, JSON and PNG charts.

Every renderer is a pure function of the bulletin dict described in ``flows/reports/SCHEMA.md``: no database,
no network. The heavy libraries (matplotlib, reportlab, openpyxl, jinja2) are imported on first use, so
importing this package is cheap.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chuishao.flows.errors import DomainError

__all__ = [
    "FilesNotWritten",
    "cjk_font_path",
    "render_all",
    "render_charts",
    "render_html",
    "render_format",
    "render_pdf",
    "render_xlsx",
    "write_file",
]

FILES = {"json": "bulletin.json", "html": "bulletin.html", "pdf": "bulletin.pdf", "xlsx": "bulletin.xlsx"}
CHARTS_DIR = "charts"
SCOPED_DIR = "scoped"  # a township's or department's own version, rendered on request (flows/publications.py)
STAGING = ".staging"  # suffix of the folder a bulletin is rendered into before its files replace the published ones
STALE_STAGING_SECONDS = 24 * 3600  # a staging folder this old was left by a process that died: removed


class FilesNotWritten(DomainError):
    """A report's files could not be written (disk full, a directory that is not writable): nothing was published
    or recorded, and the files served before are unchanged (500)."""

    status = 500
    code = "report_files_not_written"


def cjk_font_path() -> Path:
    from chuishao.flows.reports.fonts import cjk_font_path as _find

    return _find()


def render_charts(data: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    from chuishao.flows.reports.charts import render_charts as _render

    return _render(data, out_dir)


def render_html(data: Mapping[str, Any], charts: Mapping[str, str] | None = None) -> str:
    from chuishao.flows.reports.html import render_html as _render

    return _render(data, charts)


def render_pdf(data: Mapping[str, Any], charts: Mapping[str, Path] | None = None) -> bytes:
    from chuishao.flows.reports.pdf import render_pdf as _render

    return _render(data, charts)


def render_xlsx(data: Mapping[str, Any]) -> bytes:
    from chuishao.flows.reports.xlsx import render_xlsx as _render

    return _render(data)


def to_json(data: Mapping[str, Any]) -> str:
    """The bulletin as pretty JSON (Chinese kept readable, keys in the computed order)."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def data_uri(png: Path | bytes) -> str:
    raw = png if isinstance(png, bytes) else Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's (its entries: a rename) contents to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, content: bytes) -> Path:
    """Write through a temporary file of our own, fsync it and rename, so a reader never sees half a bulletin
    (not even after a crash) and two writers of the same file (two requests, two processes) never share the
    temporary one. Raises OSError (the temporary file removed) when the file cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync(path.parent)
    return path


def stored_charts(out_dir: Path) -> dict[str, Path]:
    """The chart PNGs `render_all` wrote under ``out_dir``, by name (none when they are gone)."""
    folder = Path(out_dir) / CHARTS_DIR
    return {p.stem: p for p in sorted(folder.glob("*.png"))} if folder.is_dir() else {}


def render_format(data: Mapping[str, Any], fmt: str, out_dir: Path) -> bytes:
    """One format ("html", "pdf" or "xlsx") of ``data`` as bytes, with the charts already stored under
    ``out_dir`` (they show figures only, so every version of a month's bulletin shares them)."""
    charts = stored_charts(out_dir)
    if fmt == "html":
        return render_html(data, {name: data_uri(p) for name, p in charts.items()}).encode("utf-8", "replace")
    if fmt == "pdf":
        return render_pdf(data, charts)
    if fmt == "xlsx":
        return render_xlsx(data)
    raise ValueError(f"unknown bulletin format {fmt!r}")


def _staging(out_dir: Path) -> Path:
    """A new folder beside ``out_dir`` (same file system, so its files rename into place), after removing the
    ones processes that died left behind a day or more ago."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for old in out_dir.parent.glob(f".{out_dir.name}.*{STAGING}"):
        try:
            if time.time() - old.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another process removed it first
    stage = out_dir.parent / f".{out_dir.name}.{os.getpid()}.{uuid.uuid4().hex}{STAGING}"
    stage.mkdir()
    return stage


def _render_into(data: Mapping[str, Any], stage: Path) -> list[str]:
    """Every file of the bulletin written and fsynced under ``stage``; their paths relative to it, charts
    first (the HTML and PDF are drawn from them)."""
    charts = render_charts(data, stage / CHARTS_DIR)
    for png in charts.values():
        _fsync(png)
    html = render_html(data, {name: data_uri(p) for name, p in charts.items()})
    contents = {"json": to_json(data).encode("utf-8", "replace"), "html": html.encode("utf-8", "replace"),
                "pdf": render_pdf(data, charts), "xlsx": render_xlsx(data)}
    for fmt, content in contents.items():
        write_file(stage / FILES[fmt], content)
    return [f"{CHARTS_DIR}/{p.name}" for p in charts.values()] + [FILES[fmt] for fmt in contents]


def render_all(data: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write bulletin.json, bulletin.html, bulletin.pdf, bulletin.xlsx and charts/*.png into ``out_dir``.

    Returns the paths under the keys ``json``, ``html``, ``pdf``, ``xlsx`` and ``chart_<name>``. The HTML
    embeds the charts as data URIs, so the one file can be served or mailed on its own.

    Every file is first written and fsynced in a staging folder beside ``out_dir``; only when all of them are
    there does each replace its published namesake (a rename: a reader gets the old file or the new one, never
    a missing or half-written one). The caller records the bulletin after this returns, so a record always has
    its files. Raises FilesNotWritten (500) when a file cannot be written (disk full, a directory that is not
    writable): the staging folder is removed and the published files are as they were.
    """
    out_dir = Path(out_dir)
    try:
        stage = _staging(out_dir)
        try:
            names = _render_into(data, stage)
            (out_dir / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
            for name in names:
                os.replace(stage / name, out_dir / name)
            _fsync(out_dir / CHARTS_DIR)
            _fsync(out_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    except OSError as err:
        raise FilesNotWritten(
            f"通报文件未能写入（{err.strerror or err}：{err.filename or out_dir}），未登记，已发布的文件保持不变",
            f"the bulletin's files could not be written ({err.strerror or err}: {err.filename or out_dir}); "
            "nothing was recorded and the published files are unchanged",
            extra={"folder": str(out_dir)}) from err
    shutil.rmtree(out_dir / SCOPED_DIR, ignore_errors=True)  # versions of the bulletin this one replaces
    paths = {fmt: out_dir / name for fmt, name in FILES.items()}
    paths.update({f"chart_{Path(n).stem}": out_dir / n for n in names if n.startswith(CHARTS_DIR)})
    return paths
