"""One rule for the human text we store: titles, descriptions, reasons, names, addresses, file names.

- Normalised silently: Unicode NFC (a decomposed 'é' or a compatibility-free Chinese string typed on another
  system is stored the way every other copy of it is, so search and de-duplication see one spelling), and in
  long text every line break (CR LF, lone CR) becomes LF.
- Refused (422, naming the field and the character) rather than stripped, because removing what a person
  typed changes what they said:
  - control characters (Unicode Cc: C0, DEL, C1 such as U+0085), except LF and TAB in long text;
  - invisible format characters (Cf): bidirectional embeddings, overrides and isolates (U+202A–U+202E,
    U+2066–U+2069), marks (U+200E, U+200F, U+061C), the byte-order mark U+FEFF, zero-width space U+200B,
    word joiner U+2060, soft hyphen U+00AD ...: they reorder or hide what a reader sees ("发票\u202egpj.exe");
  - line and paragraph separators (U+2028, U+2029), unpaired surrogates, noncharacters (U+FFFE, U+FFFF,
    U+FDD0–U+FDEF), and the Hangul filler letters that render as nothing (U+115F, U+1160, U+3164, U+FFA0);
  - in short text (titles, names, addresses, file names) any line break or tab.
- Kept: the joiners that are part of what is written — ZERO WIDTH JOINER U+200D and NON-JOINER U+200C and
  the Mongolian vowel separator U+180E between two visible characters (emoji sequences such as 👨‍👩‍👧,
  Mongolian, Arabic-script Uyghur), and tag characters (U+E0020–U+E007F) after a black flag (subdivision
  flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿). A joiner at either end or beside a space hides nothing useful and is refused.

Text is short (one line) unless marked long: `Annotated[str, ..., LONG]` in a pydantic model; the base action
body (`flows.commands.Body`) applies the rule to every string field of every body, so a new field gets it
without further work. Secrets (fields named `password`, `secret`, `token`, or ending in `_password` ...) are
taken as typed: normalising a password at sign-up but not at sign-in would lock its owner out.
"""

import re
import unicodedata
from typing import Annotated, Any, get_args, get_origin

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from chuishao.flows.errors import Invalid
from chuishao.models.vocabulary import FIELD_LABELS


class _Long:
    """Marker in `Annotated[str, ..., LONG]`: the field is long text (line breaks and tabs allowed)."""

    def __repr__(self) -> str:
        return "LONG"


LONG = _Long()
ERROR_TYPE = "bilingual"  # a pydantic error that carries its own message: ctx {"zh", "en", "code", "field"}

JOINERS = frozenset("\u200c\u200d\u180e")  # ZWNJ, ZWJ, Mongolian vowel separator: allowed inside a word/emoji
BLACK_FLAG = "\U0001f3f4"
TAGS = range(0xE0020, 0xE0080)
FILLERS = frozenset("\u115f\u1160\u3164\uffa0")  # Hangul fillers: letters that render as nothing
SECRET = re.compile(r"(^|_)(password|secret|token)$")
# Chinese names of text fields that are not action-body fields (models/vocabulary.FIELD_LABELS has those)
LABELS = {"title": "标题", "description": "描述", "address": "地址", "address_string": "地址", "name": "名称",
          "category": "大类", "phone": "电话", "email": "电子邮箱", "certificate_no": "执法证号",
          "first_name": "名", "last_name": "姓", "filename": "文件名", "kind": "类型", "day": "日期",
          "device_id": "设备标识", "account_id": "账号标识", "certificate_expires": "执法证有效期",
          "username": "用户名", "password": "密码", "role": "角色", "unit": "单位", "parent": "上级单位",
          "code": "编码", "lat": "纬度", "long": "经度", "lon": "经度", "working_days": "延期工作日数",
          "source": "上报来源", "seed": "随机种子", "scores": "评分", "passed": "是否通过", "page": "页码",
          "page_size": "每页条数", "radius_m": "半径（米）",
          "scores.passed": "评查结论", "scores.note": "评查意见"}
_VISIBLE = ("L", "M", "N", "P", "S")  # categories of characters a joiner may stand between


def label_of(field: str) -> str:
    """The field's Chinese name for messages (the wire name itself when we have none)."""
    if field in FIELD_LABELS:
        return FIELD_LABELS[field][0]
    return LABELS.get(field, field)


def says_something(text: str | None) -> bool:
    """Whether a reason or note holds at least one letter, digit or CJK character (not only punctuation or
    spaces): "。" or "..." tells a department nothing about what to redo."""
    return bool(text) and re.search(r"\w", text) is not None


def _codepoint(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _allowed_joiner(text: str, i: int) -> bool:
    ch = text[i]
    if ord(ch) in TAGS:  # a tag sequence: black flag, tags ..., cancel tag
        j = i
        while j > 0 and ord(text[j - 1]) in TAGS:
            j -= 1
        return j > 0 and text[j - 1] == BLACK_FLAG
    if ch in JOINERS and 0 < i < len(text) - 1:
        before, after = text[i - 1], text[i + 1]
        return (unicodedata.category(before)[0] in _VISIBLE and unicodedata.category(after)[0] in _VISIBLE
                and not before.isspace() and not after.isspace())
    return False


def problem(text: str, *, long: bool = False) -> tuple[str, str, str] | None:
    """What is wrong with already-normalised `text`, or None: (zh, en, code) without the field's name.
    zh/en complete a sentence that starts with the field's name."""
    for i, ch in enumerate(text):
        if ch in "\n\t" and long:
            continue
        if ch in "\n\r" and not long:
            return "不能换行，请写在一行内", "must be a single line (no line breaks)", "line_break"
        cat = unicodedata.category(ch)
        cp = ord(ch)
        bad = (cat in ("Cc", "Cs", "Zl", "Zp") or ch in FILLERS
               or (cp & 0xFFFE) == 0xFFFE or 0xFDD0 <= cp <= 0xFDEF
               or (cat == "Cf" and not _allowed_joiner(text, i)))
        if bad:
            where = _codepoint(ch)
            return (f"含有不可见控制字符 {where}，请删除后重试",
                    f"contains the invisible control character {where}; delete it and try again",
                    "invisible_character")
    return None


def normalize(text: str, *, long: bool = False) -> str:
    """NFC; in long text CR LF and lone CR become LF. Changes nothing a reader can see."""
    text = unicodedata.normalize("NFC", text)
    if long and "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def clean(text: str, field: str, *, long: bool = False, label: str | None = None) -> str:
    """`text` normalised, or Invalid (422, code `invisible_character` or `line_break`, extra {"field"})
    naming the field (`label`, else its Chinese name) and the character: "标题含有不可见控制字符 U+202E ..."."""
    text = normalize(text, long=long)
    found = problem(text, long=long)
    if found:
        zh, en, code = found
        name = label or label_of(field)
        raise Invalid(f"{name}{zh}", f"{field} {en}", code=code, extra={"field": field})
    return text


# ---- pydantic ----------------------------------------------------------------------------------------------
def _marked_long(info) -> bool:
    if any(m is LONG for m in info.metadata):
        return True
    stack = [info.annotation]
    while stack:  # `Annotated[str, LONG] | None` keeps its marker inside the union
        t = stack.pop()
        if get_origin(t) is Annotated and any(m is LONG for m in t.__metadata__):
            return True
        stack.extend(get_args(t))
    return False


def check_field(model: type, field: str, value: Any) -> Any:
    """For a model's field validator: strings (and lists of strings) cleaned by the rule, or a pydantic error
    of type ERROR_TYPE carrying the bilingual message. Secrets pass as typed."""
    if SECRET.search(field):
        return value
    long = _marked_long(model.model_fields[field])
    try:
        if isinstance(value, str):
            return clean(value, field, long=long)
        if isinstance(value, list) and any(isinstance(v, str) for v in value):
            return [clean(v, field, long=long) if isinstance(v, str) else v for v in value]
    except Invalid as err:
        raise as_pydantic(err) from None
    return value


def as_pydantic(err: Invalid) -> PydanticCustomError:
    """A domain refusal raised inside a pydantic validator, keeping its own message."""
    return PydanticCustomError(ERROR_TYPE, "{zh} / {en}", {"zh": err.zh, "en": err.en, "code": err.code,
                                                           "field": err.extra.get("field")})


def refusal(err: ValidationError | list[dict]) -> Invalid | None:
    """The first error in a pydantic (or FastAPI) validation error that carries its own message, as the Invalid
    to raise or answer; None when there is none."""
    for e in err.errors() if isinstance(err, ValidationError) else err:
        ctx = e.get("ctx") or {}
        if e.get("type") == ERROR_TYPE and "zh" in ctx:
            return Invalid(ctx["zh"], ctx["en"], code=ctx.get("code") or "invalid",
                           extra={"field": ctx.get("field")} if ctx.get("field") else None)
    return None


# ---- pydantic's own refusals, worded in Chinese --------------------------------------------------------------
_WHERE = {"body", "query", "path", "header", "cookie"}
_ZH = {  # pydantic error type -> Chinese template ({label} and the error's ctx)
    "missing": "缺少{label}",
    "string_too_long": "{label}最多 {max_length} 个字",
    "too_short": "{label}至少 {min_length} 项",
    "too_long": "{label}最多 {max_length} 项",
    "greater_than_equal": "{label}不能小于 {ge}",
    "less_than_equal": "{label}不能大于 {le}",
    "greater_than": "{label}须大于 {gt}",
    "less_than": "{label}须小于 {lt}",
    "int_type": "{label}须为整数", "int_parsing": "{label}须为整数", "int_from_float": "{label}须为整数",
    "float_type": "{label}须为数字", "float_parsing": "{label}须为数字",
    "bool_type": "{label}须为是（true）或否（false）", "bool_parsing": "{label}须为是（true）或否（false）",
    "string_type": "{label}须为文本",
    "literal_error": "{label}须为以下之一：{expected}", "enum": "{label}须为以下之一：{expected}",
    "extra_forbidden": "不认识的字段 {field}",
    "string_pattern_mismatch": "{label}格式不正确",
    "list_type": "{label}须为列表",
    "json_invalid": "请求内容不是有效的 JSON",
}


def _zh_error(e: dict) -> str:
    loc = [p for p in e.get("loc", ()) if p not in _WHERE]
    field = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
    # a field inside another reads by its parent when that pair has its own name (scores.passed: 评查结论)
    nested = next((f"{p}.{field}" for p in loc if isinstance(p, str) and f"{p}.{field}" in LABELS), None)
    label = LABELS[nested] if nested else label_of(field) if field else "请求内容"
    ctx = e.get("ctx") or {}
    kind = e.get("type", "")
    if kind == "string_too_short":
        return f"{label}不能为空" if ctx.get("min_length") == 1 else f"{label}至少 {ctx.get('min_length')} 个字"
    if kind.startswith(("date", "datetime", "time")):
        return f"{label}须为有效的日期或时间"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{label}须为 JSON 对象"
    if kind in ("literal_error", "enum") and "expected" in ctx:  # "'normal' or 'urgent'" → 'normal'、'urgent'
        ctx = {**ctx, "expected": "、".join(re.findall(r"'[^']*'", str(ctx["expected"]))) or ctx["expected"]}
    template = _ZH.get(kind)
    if template is None:
        return f"{label}不符合要求"
    try:
        return template.format(label=label, field=field, **ctx)
    except (KeyError, IndexError, ValueError):
        return f"{label}不符合要求"


def describe(errors: list[dict], limit: int = 5) -> tuple[str, str]:
    """pydantic's (or FastAPI's) validation errors as one (zh, en) pair: each error in Chinese by its type and
    the field's Chinese name (`label_of`), and in pydantic's own English with the field's path."""
    zh = "；".join(dict.fromkeys(_zh_error(e) for e in errors[:limit]))
    en = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg')}" for e in errors[:limit])
    return zh, en
