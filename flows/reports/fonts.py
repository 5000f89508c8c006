"""The CJK font every format uses: WenQuanYi Micro Hei from Debian's package ``fonts-wqy-microhei``.

The PDF embeds it (so Chinese renders on a machine without it) and the charts draw with it (so there are
no tofu boxes). ``CHUISHAO_CJK_FONT`` may point to another TrueType/OpenType file (.ttf, .otf or .ttc;
the first face of a collection is used).
"""

from __future__ import annotations

import os
import threading
import zlib
from functools import lru_cache
from pathlib import Path

ENV_VAR = "CHUISHAO_CJK_FONT"
DEBIAN_PACKAGE = "fonts-wqy-microhei"
DEFAULT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # Debian / Ubuntu
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),  # Fedora / RHEL (wqy-microhei-fonts)
)
PDF_FONT_NAME = "ChuishaoCJK"

_lock = threading.Lock()


class CJKFontMissing(RuntimeError):
    """No CJK font: the PDF and the charts cannot render Chinese."""


def cjk_font_path() -> Path:
    """Path of the CJK font file; raises ``CJKFontMissing`` (message in Chinese, then English) if absent."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        path = Path(override).expanduser()
        if path.is_file():
            return path
        raise CJKFontMissing(
            f"环境变量 {ENV_VAR} 指定的中文字体文件不存在：{path}。"
            f"请改正该路径，或删除该变量并安装 Debian 软件包 {DEBIAN_PACKAGE}。 / "
            f"The CJK font file named by {ENV_VAR} does not exist: {path}. "
            f"Fix the path, or unset it and install the Debian package {DEBIAN_PACKAGE}."
        )
    for path in DEFAULT_PATHS:
        if path.is_file():
            return path
    raise CJKFontMissing(
        f"未找到中文字体（文泉驿微米黑 {DEFAULT_PATHS[0]}），无法生成含中文的 PDF 和图表。"
        f"请安装 Debian 软件包 {DEBIAN_PACKAGE}（apt-get install -y {DEBIAN_PACKAGE}），"
        f"或设置环境变量 {ENV_VAR} 指向一个中文 TrueType 字体文件。 / "
        f"CJK font not found (WenQuanYi Micro Hei at {DEFAULT_PATHS[0]}), so the PDF and charts cannot show "
        f"Chinese. Install the Debian package {DEBIAN_PACKAGE} (apt-get install -y {DEBIAN_PACKAGE}) "
        f"or set {ENV_VAR} to a CJK TrueType font file."
    )


@lru_cache(maxsize=4)
def _register_pdf_font(path: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = f"{PDF_FONT_NAME}-{zlib.crc32(path.encode()):08x}"
    with _lock:
        if name not in pdfmetrics.getRegisteredFontNames():
            # subfontIndex=0: the first face of a .ttc collection (ignored for a plain .ttf)
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    return name


def pdf_font_name() -> str:
    """Register the CJK font with reportlab (embedded, subset) and return its reportlab name."""
    return _register_pdf_font(str(cjk_font_path()))


@lru_cache(maxsize=4)
def _register_mpl_font(path: str) -> str:
    from matplotlib import font_manager

    with _lock:
        font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=path).get_name()


def mpl_font_family() -> str:
    """Register the CJK font with matplotlib's font manager and return its family name."""
    return _register_mpl_font(str(cjk_font_path()))
