"""How amounts are shown to people: stored with up to 6 decimals, read with 2 when exact.

`shown(Decimal("351.130000"))` is "351.13"; a price that needs more keeps
them (`"0.123400"` -> "0.1234"). JSON output keeps the stored text.

Showing never fails: a stored value that is not a finite amount, or that
cannot be rounded to cents (``1E+309``: more digits than a Decimal context
holds), is shown as its text (``NaN``, ``Infinity``, ``1E+309``).
"""

from __future__ import annotations

from decimal import Decimal, DecimalException
from typing import Any

from core.textsafe import visible

CENT = Decimal("0.01")


def shown(value: Any) -> str:
    """An amount for a table or a message; anything not a Decimal as str()."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return "" if value is None else visible(value)
    try:
        cents = value.quantize(CENT)
        if value == cents:
            return f"{cents:f}"
        return f"{value.normalize():f}"
    except DecimalException:  # too many digits for the context (1E+309), or it traps
        return str(value)


def shown_text(raw: Any) -> str:
    """A stored amount (text, number or Decimal) as people read it; what is not an
    amount, as its text."""
    if raw is None or isinstance(raw, Decimal):
        return shown(raw)
    try:
        return shown(Decimal(str(raw).strip()))
    except (DecimalException, ValueError):
        return visible(raw)
