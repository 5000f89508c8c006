"""Plain rows for the action path (issue 13): objects that hold a table's column values as ordinary attributes.

A SQLModel table object reads and writes every field through SQLAlchemy's instrumented attributes (change
events, history) and SQLModel's own `__setattr__`; on the action path, whose rows are read and written by Core
statements and never go through a session's unit of work, that is pure cost — hundreds of attribute reads and
dozens of writes per action. `build` makes a plain row of a table class from column values (as loaded); `new`
does the same with the class's defaults filled in, as the constructor would. A plain row is an instance of
`plain(cls)`: a class named as the table class, carrying its `__table__`, with no descriptors, so an attribute
is a dictionary slot. It is not a SQLModel object: it cannot be added to an ORM session (the action path never
does; `columns` reads either kind). Neither validates (table models do not validate in their constructor either).
"""

from typing import Any

from pydantic_core import PydanticUndefined

_DEFAULTS: dict[type, tuple[dict, tuple]] = {}


class Row:
    """Base of the plain row classes (`plain`): attributes are the columns' values, nothing more."""

    __table__: Any

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


_PLAIN: dict[type, type] = {}


def plain(cls) -> type:
    """The plain row class of the SQLModel table class `cls` (made once): named as `cls`, with its `__table__`."""
    got = _PLAIN.get(cls)
    if got is None:
        got = _PLAIN[cls] = type(cls.__name__, (Row,), {"__table__": cls.__table__, "__module__": cls.__module__,
                                                       "__qualname__": f"plain({cls.__qualname__})"})
    return got


def build(cls, values: dict) -> Any:
    """A plain row of the table class `cls` holding `values` (column name → Python value) as they are: no
    defaults, no validation, no change events."""
    obj = object.__new__(_PLAIN.get(cls) or plain(cls))
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
    """A new plain row of the table class `cls` holding what `cls(**values)` would (every field's default, then
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
    """The row's column values (column name → value): a plain row's, or a SQLModel table object's read from its
    own dictionary where the values are, not through the instrumented attributes. The keys are in column order,
    except for a plain row made by `new`, whose keys come in the order it was given them (callers look values up
    by name; a statement built from a row's keys binds them by name)."""
    table = obj.__table__
    got = _NAMES.get(table)
    if got is None:
        names = tuple(c.name for c in table.columns)
        got = _NAMES[table] = (names, dict.fromkeys(names).keys())
    names, keys = got
    d = obj.__dict__
    if isinstance(obj, Row) and d.keys() == keys:  # a plain row holds exactly its columns: copy them at C speed
        return d.copy()
    return {n: d[n] if n in d else getattr(obj, n) for n in names}


def is_row(obj, cls) -> bool:
    """Whether `obj` is a row of the table class `cls`: a plain row (`plain(cls)`) or a `cls` object."""
    return getattr(obj, "__table__", None) is cls.__table__
