"""How amounts are shown to people: stored with up to 6 decimals, read with 2 when exact.

`shown(Decimal("351.130000"))` is "351.13"; a price that needs more keeps
them (`"0.123400"` -> "0.1234"). JSON output keeps the stored text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


def shown(value: Any) -> str:
    """An amount for a table or a message; anything not a Decimal as str()."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return "" if value is None else str(value)
    if value == value.quantize(CENT):
        return f"{value.quantize(CENT):f}"
    return f"{value.normalize():f}"
