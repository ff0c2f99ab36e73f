"""Article coding (O-3): which ERP code a shop product or combination gets.

Default rule: the shop reference when there is one and no other product of the
account already holds it as its code; else ``<prefix><id_product>-<id_attribute>``.
Deterministic (the same shop data always gives the same code) and without
``_1``/``_2`` pile-ups: the fallback is unique by construction.
"""

from __future__ import annotations

import re

MAX_CODE = 40
_CODE_OK = re.compile(r"^[\w.\-/+]+$")


def fallback_code(prefix: str, product_id: int, attribute_id: int) -> str:
    return f"{prefix}{product_id}-{attribute_id}"


def choose_code(
    reference: str,
    product_id: int,
    attribute_id: int,
    *,
    rule: str,
    prefix: str,
    taken: set[str] | dict[str, object],
) -> tuple[str, bool]:
    """The code, and whether it is a shop reference (False: built by the rule)."""
    ref = (reference or "").strip()
    if rule == "reference" and ref and len(ref) <= MAX_CODE and _CODE_OK.match(ref) \
            and ref not in taken:
        return ref, True
    return fallback_code(prefix, product_id, attribute_id), False
