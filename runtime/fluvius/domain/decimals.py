"""Decimals as JSON carries them exactly: text, like "9.90", whose bounds a pattern states.

A JSON number cannot carry a decimal exactly (parsers read it as a binary float, and 9.90 comes
out as 9.9), so decimal fields take text: `-?(0|[1-9][0-9]*)(\\.[0-9]+)?`, at most
DECIMAL_LENGTH characters. A field's bounds (ge, gt, le, lt) are part of that pattern, built
here digit by digit, so that the JSON Schema states exactly what validation accepts.
"""

from __future__ import annotations

from decimal import Decimal

DECIMAL_LENGTH = 30
DECIMAL_TEXT = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"
_MAGNITUDE = r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"
_FRACTION = r"(?:\.[0-9]+)?"
_ZERO = r"0(?:\.0+)?"


def decimal_pattern(
    *,
    ge: Decimal | None = None,
    gt: Decimal | None = None,
    le: Decimal | None = None,
    lt: Decimal | None = None,
) -> str:
    """The anchored pattern of decimal text within the bounds given (none: any decimal text)."""
    lower = _above(gt, strict=True) if gt is not None else _above(ge, strict=False)
    upper = _below(lt, strict=True) if lt is not None else _below(le, strict=False)
    if lower is None and upper is None:
        return f"^{DECIMAL_TEXT}$"
    if lower is None or upper is None:
        return f"^(?:{lower or upper})$"
    return f"^(?=(?:{lower})$)(?:{upper})$"


def _above(bound: Decimal | None, *, strict: bool) -> str | None:
    """Decimal text greater than `bound` (or equal, unless `strict`)."""
    if bound is None:
        return None
    whole, fraction = _digits(bound)
    if bound > 0 or (bound == 0 and strict):
        return _alternatives(_greater(whole, fraction), [] if strict else _equal(whole, fraction))
    # Every non-negative number (-0 included), and the negatives small enough.
    negatives = _less(whole, fraction) + ([] if strict else _equal(whole, fraction))
    return _alternatives([_MAGNITUDE, f"-{_ZERO}"], [f"-(?:{n})" for n in negatives])


def _below(bound: Decimal | None, *, strict: bool) -> str | None:
    """Decimal text less than `bound` (or equal, unless `strict`)."""
    if bound is None:
        return None
    whole, fraction = _digits(bound)
    if bound < 0 or (bound == 0 and strict):
        magnitudes = _greater(whole, fraction) + ([] if strict else _equal(whole, fraction))
        return _alternatives([f"-(?:{m})" for m in magnitudes])
    # Every negative number, and the non-negatives small enough.
    positives = _less(whole, fraction) + ([] if strict else _equal(whole, fraction))
    return _alternatives([f"-{_MAGNITUDE}"], positives)


def _digits(bound: Decimal) -> tuple[str, str]:
    """The whole digits (no leading zeros) and fraction digits (no trailing zeros) of |bound|."""
    text = format(abs(bound), "f")
    whole, _, fraction = text.partition(".")
    return whole.lstrip("0") or "0", fraction.rstrip("0")


def _greater(whole: str, fraction: str) -> list[str]:
    """Magnitudes above whole.fraction."""
    found = [
        f"[1-9][0-9]*{_FRACTION}" if whole == "0" else f"[1-9][0-9]{{{len(whole)},}}{_FRACTION}"
    ]
    if whole != "0":
        for k, digit in enumerate(whole):
            if digit != "9":
                rest = len(whole) - k - 1
                found.append(f"{whole[:k]}{_range(int(digit) + 1, 9)}[0-9]{{{rest}}}{_FRACTION}")
    for k, digit in enumerate(fraction):
        if digit != "9":
            found.append(f"{whole}\\.{fraction[:k]}{_range(int(digit) + 1, 9)}[0-9]*")
    found.append(f"{whole}\\.{fraction}[0-9]*[1-9][0-9]*")
    return found


def _less(whole: str, fraction: str) -> list[str]:
    """Magnitudes below whole.fraction (zero included when whole.fraction is not zero)."""
    found = []
    if len(whole) > 1:  # fewer whole digits
        found.append(f"0{_FRACTION}")
        found.append(f"[1-9][0-9]{{0,{len(whole) - 2}}}{_FRACTION}")
    if whole != "0":
        for k, digit in enumerate(whole):
            low = 1 if k == 0 and len(whole) > 1 else 0
            if int(digit) > low:
                rest = len(whole) - k - 1
                found.append(f"{whole[:k]}{_range(low, int(digit) - 1)}[0-9]{{{rest}}}{_FRACTION}")
    for k, digit in enumerate(fraction):
        prefix = f"{whole}(?:\\.0+)?" if k == 0 else f"{whole}\\.{fraction[:k]}0*"
        found.append(prefix)
        if digit != "0":
            found.append(f"{whole}\\.{fraction[:k]}{_range(0, int(digit) - 1)}[0-9]*")
    return found


def _equal(whole: str, fraction: str) -> list[str]:
    """Magnitudes equal to whole.fraction (trailing zeros allowed)."""
    return [f"{whole}\\.{fraction}0*" if fraction else f"{whole}(?:\\.0+)?"]


def _range(low: int, high: int) -> str:
    return str(low) if low == high else f"[{low}-{high}]"


def _alternatives(*groups: list[str]) -> str:
    return "|".join(item for group in groups for item in group)
