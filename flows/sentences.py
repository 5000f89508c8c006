"""Text for people: joining sentences and clauses that people wrote (notes, reasons, results) with our own,
without doubled or clashing punctuation: "已拆除。" + "核查意见：…" reads "已拆除。核查意见：…",
never "已拆除。。核查意见". Pure.

The rule, for every place that strings messages or notes together (Open311 status notes, refusal messages):
a part that already ends a sentence (。！？.!?…) takes no separator (only the space of a ". " separator); a
part that ends on a clause mark (，、；：,;:) has that mark replaced by the separator; blanks around parts are
trimmed, and empty parts are left out. Also: a user as messages name them (`display_name`).
"""

SENTENCE_ENDS = "。！？.!?…"  # full-width and ASCII; "…" also closes "……"
CLAUSE_ENDS = "，、；：,;:"


def join(*parts: str | None, sep: str = "。") -> str:
    """`parts` joined by `sep` ("。" by default; "；" or ". " elsewhere), never doubling an end mark a part
    already carries. None and blank parts are left out; the last part keeps whatever end it was written with."""
    out = ""
    for part in (p.strip() for p in parts if p is not None):
        if not part:
            continue
        head = out.rstrip(CLAUSE_ENDS)
        if not head:
            out = part
        elif head[-1] in SENTENCE_ENDS:
            out = head + sep[len(sep.rstrip()):] + part  # "。" adds nothing; ". " adds its space
        else:
            out = head + sep + part
    return out


def display_name(username: str, name: str | None) -> str:
    """"张伟（zrzy_officer1）", or the username alone when the user has no other name."""
    return username if name in (None, "", username) else f"{name}（{username}）"
