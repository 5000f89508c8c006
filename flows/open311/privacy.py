"""What a public Open311 read may show: requests without their requester's photo, and free text with the phone
numbers, e-mail addresses and ID card numbers in it masked (docs/open311.md)."""

import re

# personal data a description or note may hold: a requester's phone, e-mail or ID card number (身份证号)
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?(1[3-9][0-9])[\s-]?[0-9]{4}[\s-]?([0-9]{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])[(（]?(0[1-9][0-9]{1,2})[)）]?[\s-]?[0-9]{3,4}[\s-]?([0-9]{4})(?![0-9])")
# Chinese input methods often type digits and letters full width (１３８…, ｚｈａｎｇ＠…): fold them (and ＋－＠．)
# first, so the patterns see them; full-width punctuation such as （，） is left as written
_FOLDED = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), 0xFF0B, 0xFF0D, 0xFF20, 0xFF0E]
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in _FOLDED})
_MAIL = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")


def mask_personal(text: str | None) -> str | None:
    """`text` with phone numbers (mobile 138****8000, landline 0358-****4567), e-mail addresses (***@host) and
    ID card numbers (身份证号已隐去) masked: what a public Open311 read may show of free text."""
    if not text:
        return text
    text = text.translate(_FULL_WIDTH)
    text = _ID_CARD.sub("[身份证号已隐去]", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)}", text)
    return _MAIL.sub(lambda m: f"***@{m.group(1)}", text)


def public_view(req: dict) -> dict:
    """A request as a public read shows it. GeoReport v2 defines no private field in a request (its
    requester's contact details are POST-only, and we never show them), but our free text may carry personal
    data: description, status_notes and address are masked (`mask_personal`), and media_url (the requester's
    photo, unreviewed) is left out."""
    out = {**req, "media_url": None}
    for name in ("description", "status_notes", "address"):
        out[name] = mask_personal(out.get(name))
    return out
