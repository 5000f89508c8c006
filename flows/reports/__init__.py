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
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
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


def cjk_font_path() -> Path:
    from flows.reports.fonts import cjk_font_path as _find

    return _find()


def render_charts(data: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    from flows.reports.charts import render_charts as _render

    return _render(data, out_dir)


def render_html(data: Mapping[str, Any], charts: Mapping[str, str] | None = None) -> str:
    from flows.reports.html import render_html as _render

    return _render(data, charts)


def render_pdf(data: Mapping[str, Any], charts: Mapping[str, Path] | None = None) -> bytes:
    from flows.reports.pdf import render_pdf as _render

    return _render(data, charts)


def render_xlsx(data: Mapping[str, Any]) -> bytes:
    from flows.reports.xlsx import render_xlsx as _render

    return _render(data)


def to_json(data: Mapping[str, Any]) -> str:
    """The bulletin as pretty JSON (Chinese kept readable, keys in the computed order)."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def data_uri(png: Path | bytes) -> str:
    raw = png if isinstance(png, bytes) else Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def write_file(path: Path, content: bytes) -> Path:
    """Write through a temporary file of our own and rename, so a reader never sees half a bulletin and two
    writers of the same file (two requests, two processes) never share the temporary one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
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


def render_all(data: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write bulletin.json, bulletin.html, bulletin.pdf, bulletin.xlsx and charts/*.png into ``out_dir``.

    Returns the paths under the keys ``json``, ``html``, ``pdf``, ``xlsx`` and ``chart_<name>``. The HTML
    embeds the charts as data URIs, so the one file can be served or mailed on its own.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / SCOPED_DIR, ignore_errors=True)  # versions of the bulletin this one replaces
    charts = render_charts(data, out_dir / CHARTS_DIR)
    paths: dict[str, Path] = {}
    paths["json"] = write_file(out_dir / FILES["json"], to_json(data).encode("utf-8", "replace"))
    html = render_html(data, {name: data_uri(p) for name, p in charts.items()})
    paths["html"] = write_file(out_dir / FILES["html"], html.encode("utf-8", "replace"))
    paths["pdf"] = write_file(out_dir / FILES["pdf"], render_pdf(data, charts))
    paths["xlsx"] = write_file(out_dir / FILES["xlsx"], render_xlsx(data))
    paths.update({f"chart_{name}": p for name, p in charts.items()})
    return paths
