"""Table objects made without the ORM's per-attribute machinery, for the action path (issue 13).

A SQLModel table class's constructor sets every field through SQLAlchemy's instrumented attributes (change
events, history); on the action path, whose rows are written by Core statements and never go through a
session's unit of work, that is pure cost — about 0.1 ms per object, 4 objects per action. `build` makes an
object from column values as the ORM does for a loaded row; `new` does the same with the class's defaults
filled in, as the constructor would. Neither validates (table models do not validate in their constructor
either).
"""

from typing import Any

from pydantic_core import PydanticUndefined

_DEFAULTS: dict[type, tuple[dict, tuple]] = {}


def build(cls, values: dict) -> Any:
    """An instance of the table class `cls` holding `values` (column name → Python value) as they are: no
    defaults, no validation, no change events."""
    obj = cls._sa_class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def _defaults(cls) -> tuple[dict, tuple]:
    got = _DEFAULTS.get(cls)
    if got is None:
        plain, factories = {}, []
        for name, field in cls.model_fields.items():
            if field.default_factory is not None:
                factories.append((name, field.default_factory))
            elif field.default is not PydanticUndefined:
                plain[name] = field.default
        got = _DEFAULTS[cls] = (plain, tuple(factories))
    return got


def new(cls, **values) -> Any:
    """A new instance of the table class `cls`, as `cls(**values)` would make it (every field's default, then
    `values`), without its cost. A field with no default and no value is left unset (reading it raises
    AttributeError), where the constructor would leave it None: callers name every required field."""
    plain, factories = _defaults(cls)
    fields = dict(plain)
    for name, factory in factories:
        if name not in values:
            fields[name] = factory()
    fields.update(values)
    return build(cls, fields)


_NAMES: dict = {}


def columns(obj) -> dict:
    """The table object's column values (column name → value), read from the instance's own dictionary where
    the values are (built, new or loaded objects), not through the instrumented attributes (a few µs each,
    hundreds per action)."""
    table = obj.__table__
    names = _NAMES.get(table)
    if names is None:
        names = _NAMES[table] = tuple(c.name for c in table.columns)
    d = obj.__dict__
    return {n: d[n] if n in d else getattr(obj, n) for n in names}
