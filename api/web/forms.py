"""Action forms generated from the action bodies (flows/lifecycle.BODIES), not written by hand per action.

Three steps, all driven by each body model's JSON schema (field types, bounds, choices, required = no default):

- `fields_of(action)`: what each field is (text, integer, yes/no, one of a few words, a list of codes);
- `parse(action, form)`: the posted form → the action's body dict, converted by field type and validated by the
  same model the REST API uses; errors come back as Chinese messages per field (`FormErrors`);
- `build(action, case, hints, …)`: the form to show — widget, label and hint (models/vocabulary.FIELD_LABELS),
  choices (Chinese labels, or the case's own choices from flows/case_hints) and current values.
"""

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from chuishao.flows import lifecycle as lc
from chuishao.flows.case_hints import CERT_STATUS_LABELS, CaseHints
from chuishao.flows.cases import CODE_RE
from chuishao.models import vocabulary as vocab

IGNORED = frozenset({"csrftoken", "version"})  # posted with every form; not part of any body
TEXTAREAS = frozenset({"reason", "result", "note"})
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")  # no database stores a NUL; surrogates have no UTF-8 form
INT_RE = re.compile(r"[+-]?\d{1,12}")
OMIT = object()  # a posted field that stays out of the body (empty and optional)

BOOL_LABELS = {"passed": ("通过", "不通过")}
ENUM_LABELS = {"outcome": vocab.OUTCOME_LABELS, "satisfaction": vocab.SATISFACTION_LABELS,
               "urgency": vocab.URGENCY_LABELS}
ATTACHED = "附件已上传"  # the message after an upload (not an action of the table)


def done_label(action: str | None) -> str | None:
    """The message shown once `action` is done (its row's form.done), or None."""
    if action == "attach":
        return ATTACHED
    t = lc.BY_ACTION.get(action or "")
    return t.form.done if t else None


@dataclass(frozen=True)
class Spec:
    """One field of an action body, as its model defines it."""

    name: str
    kind: str  # str / int / bool / enum / list
    required: bool
    label: str
    hint: str | None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None  # characters (text) or items (list)
    options: tuple[str, ...] = ()  # enum values

    @property
    def picks(self) -> bool:
        """The user picks rather than types (the wording of "missing" differs)."""
        return self.kind in ("bool", "enum", "list") or self.name in ("category", "lead_unit", "into", "rating")


@functools.cache
def fields_of(action: str) -> tuple[Spec, ...]:
    """The fields of `action`'s body in model order. Raises KeyError for an unknown action."""
    schema = lc.BODIES[action].model_json_schema()
    required = set(schema.get("required", ()))
    specs = []
    for name, prop in schema.get("properties", {}).items():
        t = next(v for v in prop.get("anyOf", [prop]) if v.get("type") != "null")
        label, hint = lc.BY_ACTION[action].form.fields.get(name) or vocab.FIELD_LABELS.get(name, (name, None))
        common = {"name": name, "required": name in required, "label": label, "hint": hint}
        if "enum" in t:
            specs.append(Spec(kind="enum", options=tuple(t["enum"]), **common))
        elif t.get("type") == "integer":
            specs.append(Spec(kind="int", minimum=t.get("minimum"), maximum=t.get("maximum"), **common))
        elif t.get("type") == "boolean":
            specs.append(Spec(kind="bool", **common))
        elif t.get("type") == "array":
            specs.append(Spec(kind="list", max_length=t.get("maxItems"), **common))
        else:
            specs.append(Spec(kind="str", max_length=t.get("maxLength"), **common))
    return tuple(specs)


# ---- posted form → body -----------------------------------------------------------------------
class FormErrors(Exception):
    """The form cannot become a body: `errors` maps field name (or "_" for the whole form) to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def grouped(form) -> dict[str, list]:
    """A posted form (starlette FormData, a mapping of name → value or list of values, or (name, value)
    pairs) as name → list of values, in posting order."""
    if hasattr(form, "multi_items"):
        pairs: Iterable = form.multi_items()
    elif isinstance(form, Mapping):
        pairs = [(k, x) for k, v in form.items() for x in (v if isinstance(v, list | tuple) else [v])]
    else:
        pairs = form
    out: dict[str, list] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def _case_ref(value: str) -> int | str:
    """`into`: a case number as people write it (CS20261116000042) or the case id (42)."""
    v = value.strip().upper().replace(" ", "")
    m = CODE_RE.match(v)
    if m:
        return int(m.group(1)) if len(m.group(1)) <= 10 else v
    return int(v) if INT_RE.fullmatch(v) else value


def _convert(spec: Spec, raw: list) -> tuple[object, str | None]:
    """(value, None), (OMIT, None) or (None, message) for one posted field."""
    if any(not isinstance(v, str) for v in raw):
        return None, f"{spec.label}不接受文件"
    if any(BAD_CHARS.search(v) for v in raw):
        return None, f"{spec.label}含有无法保存的字符，请删除后重试"
    if spec.kind == "list":
        # the form posts an empty value with every list, so "none ticked" arrives as an empty list
        return list(dict.fromkeys(v.strip() for v in raw if v.strip())), None
    given = [v for v in raw if v.strip()]
    if len({v.strip() for v in given}) > 1:
        return None, f"{spec.label}只能填写或选择一项"
    if not given:
        return OMIT, None  # optional: left out; required: the model reports it missing
    value = given[0]
    if spec.kind == "str":
        return (value if spec.name in TEXTAREAS else value.strip()), None
    value = value.strip()
    if spec.kind == "int":
        if spec.name == "into":
            ref = _case_ref(value)
            return (ref, None) if isinstance(ref, int) else (None, "请填写案件编号（CS 开头）或案件 ID")
        if not INT_RE.fullmatch(value):
            return None, f"{spec.label}须为整数"
        return int(value), None
    if spec.kind == "bool":
        if value in ("true", "false"):
            return value == "true", None
        return None, f"请选择{spec.label}"
    return value, None  # enum: the model checks the choice


def parse(action: str, form) -> dict:
    """The posted `form` as `action`'s body dict, validated by the body model (flows/lifecycle.BODIES).

    Fields convert by the model's types: integers, true/false, lists (every value of the name), text; an empty
    optional field is left out. Raises FormErrors with a Chinese message per field: unknown fields, bad types,
    missing required fields, text too long, numbers out of range, a choice not offered, and the web-only rule
    that a failed verification says why. Raises KeyError for an unknown action."""
    specs = {s.name: s for s in fields_of(action)}
    posted = grouped(form)
    errors: dict[str, str] = {}
    unknown = [k for k in posted if k not in specs and k not in IGNORED]
    if unknown:
        errors["_"] = f"表单含有未知字段：{'、'.join(unknown)}，请刷新页面后重试"
    body: dict = {}
    for name, spec in specs.items():
        if name not in posted:
            continue
        value, message = _convert(spec, posted[name])
        if message:
            errors[name] = message
        elif value is not OMIT:
            body[name] = value
    try:
        lc.BODIES[action].model_validate({k: v for k, v in body.items() if k not in errors})
    except ValidationError as exc:
        for name, message in translate(exc, specs).items():
            errors.setdefault(name, message)
    if errors:
        raise FormErrors(errors)
    return body


def translate(exc: ValidationError, specs: Mapping[str, Spec]) -> dict[str, str]:
    """pydantic's errors as one Chinese message per field ("_" for the form as a whole)."""
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = e.get("loc") or ()
        name = str(loc[0]) if loc else "_"
        spec = specs.get(name)
        if spec is None:
            out.setdefault("_", f"表单含有未知字段：{name}，请刷新页面后重试")
            continue
        out.setdefault(name, _message(e, spec, in_list=len(loc) > 1))
    return out


def _message(e: dict, spec: Spec, in_list: bool) -> str:
    t, ctx, label = e.get("type", ""), e.get("ctx") or {}, spec.label
    if "zh" in ctx:  # a rule with its own message, naming the field (flows/text.py, the date range)
        return ctx["zh"]
    if in_list:
        return f"{label}中有无效的选项，请重新选择"
    if t == "missing" or t == "string_too_short":
        return f"请选择{label}" if spec.picks else f"请填写{label}"
    if t == "string_too_long":
        n = len(e.get("input") or "")
        return f"{label}不能超过 {ctx.get('max_length')} 个字（现有 {n} 个字）"
    if t == "too_long":
        return f"{label}最多选择 {ctx.get('max_length')} 项"
    if t == "string_pattern_mismatch":
        return f"{label}格式不正确，请从列表中选择"
    if t in ("greater_than_equal", "greater_than"):
        return f"{label}不能小于 {ctx.get('ge', ctx.get('gt'))}"
    if t in ("less_than_equal", "less_than"):
        return f"{label}不能大于 {ctx.get('le', ctx.get('lt'))}"
    if t.startswith("int_"):
        return f"{label}须为整数"
    if t in ("literal_error", "enum"):
        return f"请从给出的选项中选择{label}"
    if t.startswith("bool_"):
        return f"请选择{label}"
    if t.startswith("string_"):
        return f"{label}须为文字"
    return f"{label}填写有误，请检查"


# ---- the form to show -------------------------------------------------------------------------
@dataclass
class Choice:
    value: str
    label: str
    detail: str = ""  # a second line: a certificate, a candidate case's number and status
    flags: dict = field(default_factory=dict)


@dataclass
class Field:
    spec: Spec
    widget: str  # textarea / input / number / radio / checkbox / select / checkboxes / category / officers / merge
    value: list[str]
    error: str | None = None
    choices: list[Choice] = field(default_factory=list)
    groups: list[tuple[str, list[Choice]]] = field(default_factory=list)  # category: 大类 → items
    blank: str | None = None  # the first, empty option of a select

    def __getattr__(self, name):  # name, label, hint, required, minimum, … from the spec
        if name == "spec":
            raise AttributeError(name)
        return getattr(self.spec, name)

    @property
    def first(self) -> str:
        return self.value[0] if self.value else ""

    def has(self, value) -> bool:
        return str(value) in self.value


@dataclass
class ActionForm:
    action: str
    label: str  # the action's name (lifecycle.ACTION_LABELS)
    submit: str
    danger: bool
    intro: str | None
    fields: list[Field]
    errors: dict[str, str]  # field → message; "_" for the whole form
    error: str | None = None  # a refusal from the service (a rule, a conflict)
    is_open: bool = False

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _widget(spec: Spec) -> str:
    special = {"category": "category", "lead_unit": "select", "assist_units": "checkboxes",
               "officers": "officers", "into": "merge"}
    if spec.name in special:
        return special[spec.name]
    if spec.name == "outcome" and not spec.required:
        return "select"  # a correction (核查): the blank option keeps the proposed outcome
    if spec.kind == "str":
        return "textarea" if spec.name in TEXTAREAS else "input"
    if spec.kind == "int":
        small = spec.minimum is not None and spec.maximum is not None and spec.maximum - spec.minimum < 10
        return "radio" if small else "number"
    if spec.kind == "bool" and not spec.required:
        return "checkbox"  # ticked or left out, e.g. 重大执法决定 on the feedback form
    if spec.kind in ("bool", "enum"):
        return "radio"
    return "checkboxes"


def _distance(m: float | None) -> str:
    if m is None:
        return ""
    return f"相距 {m:.0f} 米" if m < 1000 else f"相距 {m / 1000:.1f} 公里"


def _choices(spec: Spec, case: dict, hints: CaseHints) -> tuple[list[Choice], list, str | None]:
    """(choices, groups, blank option) for one field."""
    name = spec.name
    if spec.kind == "bool":
        yes, no = BOOL_LABELS.get(name, ("是", "否"))
        return [Choice("true", yes), Choice("false", no)], [], None
    if spec.kind == "enum":
        labels = ENUM_LABELS.get(name, {})
        blank = None
        if name == "outcome" and not spec.required:
            proposed = case.get("outcome")
            blank = f"不更正（维持部门反馈：{labels.get(proposed, proposed)}）" if proposed else "不更正"
        return [Choice(v, labels.get(v, v)) for v in spec.options], [], blank
    if name == "rating":
        top = spec.maximum
        return [Choice(str(i), f"{i}" + (" 最好" if i == top else "")) for i in
                range(spec.minimum, spec.maximum + 1)], [], None
    if name == "category":
        groups: dict[str, list[Choice]] = {}
        for item in hints.catalog:
            groups.setdefault(item.group, []).append(Choice(item.code, item.name, item.category))
        return [], list(groups.items()), "请选择事项类别"
    if name in ("lead_unit", "assist_units"):
        units = [Choice(u.code, u.name, "本乡镇执法队" if u.kind == "team" else "") for u in hints.units]
        blank = "请选择主办单位"
        if name == "lead_unit" and hints.routed_lead:
            blank = None  # preselected by routing
        return units, [], blank if name == "lead_unit" else None
    if name == "officers":
        out = []
        for o in hints.officers:
            cert = (f"执法证 {o.certificate_no}" + (f"，有效期至 {o.certificate_expires:%Y-%m-%d}"
                                                     if o.certificate_expires else "")) if o.certificate_no else ""
            detail = " · ".join(x for x in (vocab.ROLE_LABELS.get(o.role, o.role), cert) if x)
            shown = o.name if o.name and o.name != o.username else o.username
            label = shown + (f"（{o.username}）" if shown != o.username else "")
            out.append(Choice(o.username, label, detail, {"valid": o.valid, "status": o.status,
                                                           "status_label": CERT_STATUS_LABELS[o.status]}))
        return out, [], None
    if name == "into":
        out = []
        for c in hints.merge:
            bits = [c.code, lc.STATE_LABELS.get(c.status, c.status), _distance(c.distance_m),
                    "同一事项" if c.same_item else ""]
            out.append(Choice(c.code, c.title, " · ".join(b for b in bits if b),
                              {"shared": "、".join(c.shared)}))
        return out, [], None
    return [], [], None


def _defaults(action: str, case: dict, hints: CaseHints) -> dict[str, list[str]]:
    """What a fresh form shows: the case's current values, and the routed units for a dispatch."""
    if action == "accept":
        return {"category": [case["category"]] if case.get("category") else [], "urgency": [case["urgency"]]}
    if action == "dispatch":
        return {"lead_unit": [hints.routed_lead] if hints.routed_lead else [],
                "assist_units": list(hints.routed_assists)}
    return {}


def build(action: str, case: dict, hints: CaseHints, *, values: dict[str, list] | None = None,
          errors: dict[str, str] | None = None, error: str | None = None, is_open: bool = False) -> ActionForm:
    """The form for `action` on `case` (CaseService.get's dict). `values`: what the user posted (grouped),
    kept when the form comes back with errors; otherwise the defaults. `errors`: per field; `error`: a
    refusal from the service, shown at the top of the form."""
    errors = dict(errors or {})
    defaults = _defaults(action, case, hints)
    fields = []
    for spec in fields_of(action):
        if values is not None:
            value = [v for v in values.get(spec.name, []) if isinstance(v, str)]
        else:
            value = defaults.get(spec.name, [])
        choices, groups, blank = _choices(spec, case, hints)
        fields.append(Field(spec, _widget(spec), value, errors.get(spec.name), choices, groups, blank))
    look = lc.BY_ACTION[action].form
    return ActionForm(action, lc.ACTION_LABELS[action], look.submit, look.danger, look.intro, fields, errors, error,
                      is_open or bool(errors) or bool(error))
