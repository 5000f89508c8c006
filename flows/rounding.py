"""Rounding as official statistics do it: half up (四舍五入), so 4.125 → 4.13 and 0.0625 → 6.3 %.

Python's round() and format() round half to even and work on the binary float (2.675 → 2.67), which is not
what a reader recomputing a figure by hand gets. Every rate, score and average the bulletin stores or shows
goes through `half_up`; a rate is rounded once, from its exact numerator and denominator (`exact_rate`), so no
figure is rounded twice.
"""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction


def as_decimal(value) -> Decimal:
    """A figure as the decimal a reader sees: a float (numpy's too) as its shortest form, so 4.125 stays
    4.125 and 0.1 stays 0.1; a Fraction to 28 significant digits."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, float):
        return Decimal(repr(float(value)))  # the shortest decimal that is this float: 4.125, 2.675
    return Decimal(value)


def half_up(value, places: int) -> float:
    """`value` (int, float, Decimal or Fraction) rounded half up to `places` decimals, as a float."""
    return float(as_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def half_up_text(value, places: int) -> str:
    """The same, as text with exactly `places` decimals: half_up_text(4.125, 2) == "4.13"."""
    return f"{as_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"


def exact_rate(num: int, den: int) -> Fraction | None:
    """num ÷ den as an exact fraction; None when den is 0."""
    return Fraction(int(num), int(den)) if den else None


def difference(a: float, b: float) -> Decimal:
    """a − b of two stored figures, exactly as written (0.3 − 0.1 is 0.2, not 0.19999999999999998)."""
    return as_decimal(a) - as_decimal(b)
