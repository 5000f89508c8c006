"""Attachments on disk, addressed by their SHA-256 (the same photo uploaded twice is stored once)."""

import hashlib
import os
import re
import tempfile
from pathlib import Path

from fastapi import UploadFile

from chuishao.flows.errors import DomainError, Invalid
from chuishao.flows.text import clean


class TooLarge(DomainError):
    status = 413
    code = "too_large"


SAFE_NAME = re.compile(r"[^/\\]{1,200}")
MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}(\s*;[\x20-\x7e]*)?")


def safe_filename(name: str | None) -> str:
    """Refuse anything that is not a plain file name: no paths, no '..', no leading dot, and the one text rule
    for short text (flows/text.py: NFC, no control, bidirectional or other invisible characters, one line)."""
    try:
        name = clean(name or "", "filename")
    except Invalid as err:
        raise Invalid(err.zh, err.en, code="bad_filename", extra=err.extra) from None
    if not SAFE_NAME.fullmatch(name) or ".." in name or name.startswith("."):
        raise Invalid("文件名不合法", "file name must be a plain name without paths", code="bad_filename")
    return name


def safe_content_type(value: str | None) -> str:
    """The part's declared media type, if it is one (`type/subtype; params`, printable ASCII, <= 100 chars)."""
    if not value:
        return "application/octet-stream"
    if len(value) > 100 or not MEDIA_TYPE.fullmatch(value):
        raise Invalid("附件类型不合法", "the file's Content-Type is not a media type", code="bad_content_type")
    return value


class ContentStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise Invalid("无效的内容标识", "invalid content hash")
        return self.root / sha256[:2] / sha256

    async def save(self, upload: UploadFile, limit: int) -> tuple[str, int]:
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(256 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"附件超过 {limit // (1024 * 1024)} MB 上限",
                                       f"attachment exceeds the {limit} byte limit")
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise Invalid("附件为空", "empty file")
            sha = digest.hexdigest()
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return sha, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
