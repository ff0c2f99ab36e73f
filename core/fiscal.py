"""Italian fiscal identifiers and e-invoicing fields, as an office needs them (docs/FISCAL.md).

Pure functions, no I/O:

* ``vat_number(raw, country)``: a partita IVA normalised (spaces, dots and dashes out,
  upper case, the ``IT`` prefix dropped for Italy) and whether it passes the checksum;
* ``tax_code(raw)``: a codice fiscale normalised and checked (16 characters for people,
  11 digits for companies);
* ``labelled(text)``: PEC and SDI code typed by the customer into a free-text field
  ("PEC: rossi@pec.it SDI: M5UXCR1");
* ``NATURES``: the e-invoice exemption natures a 0 % line may carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# FatturaPA 1.6+ natures of a 0 % line (docs/FISCAL.md, "VAT")
NATURES: frozenset[str] = frozenset({
    "N1", "N2.1", "N2.2", "N3.1", "N3.2", "N3.3", "N3.4", "N3.5", "N3.6", "N4", "N5",
    "N6.1", "N6.2", "N6.3", "N6.4", "N6.5", "N6.6", "N6.7", "N6.8", "N6.9", "N7",
})

EU_PREFIXES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
})

_SEPARATORS = re.compile(r"[\s.\-/]+")


@dataclass(frozen=True, slots=True)
class Checked:
    """A normalised identifier; ``valid`` is None when there is no rule to check it by."""

    value: str
    valid: bool | None


def piva_ok(digits: str) -> bool:
    """The partita IVA check digit: odd positions summed, even ones doubled (minus 9 when
    over 9), the 11th digit = (10 - sum mod 10) mod 10."""
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(digits[:10]):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10 == int(digits[10])


def vat_number(raw: str | None, country: str | None = "IT") -> Checked | None:
    """The VAT number as the office books it: Italian ones as 11 digits, others with their
    EU prefix. An Italian number with a wrong check digit comes back with ``valid=False``,
    kept as typed (normalised), never refused."""
    if not raw or not raw.strip():
        return None
    text = _SEPARATORS.sub("", raw).upper()
    country = (country or "").upper()
    prefix = text[:2] if len(text) > 2 and text[:2].isalpha() else ""
    if prefix == "IT" or (not prefix and country in ("IT", "")):
        digits = text[2:] if prefix else text
        return Checked(digits, piva_ok(digits))
    if not prefix and country in EU_PREFIXES:
        prefix = "EL" if country == "GR" else country
        text = prefix + text
    return Checked(text, None)


_ODD = {  # Agenzia delle Entrate's table for characters in odd positions (1st, 3rd, ...)
    **dict(zip("0123456789", (1, 0, 5, 7, 9, 13, 15, 17, 19, 21), strict=True)),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10,
                22, 25, 24, 23), strict=True)),
}
_EVEN = {**{d: int(d) for d in "0123456789"},
         **{c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}
_CF = re.compile(r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]")


def cf_check_char(first15: str) -> str:
    total = sum((_ODD if i % 2 == 0 else _EVEN)[ch] for i, ch in enumerate(first15))
    return chr(ord("A") + total % 26)


def cf_ok(code: str) -> bool:
    if len(code) == 11:
        return piva_ok(code)
    return bool(_CF.fullmatch(code)) and cf_check_char(code[:15]) == code[15]


def tax_code(raw: str | None) -> Checked | None:
    """A codice fiscale: 16 characters for a person (check character), 11 digits for a
    company (the partita IVA's check digit); anything else is kept with ``valid=False``."""
    if not raw or not raw.strip():
        return None
    text = _SEPARATORS.sub("", raw).upper()
    return Checked(text, cf_ok(text))


_LABELS = {
    "pec": r"p\.?\s*e\.?\s*c\.?",
    "sdi": r"(?:s\.?\s*d\.?\s*i\.?|codice\s+(?:destinatario|univoco|sdi)|cod\.?\s*dest(?:inatario)?\.?"
           r"|recipient\s+code)",
}
_LABELLED = {
    name: re.compile(rf"(?<![a-z0-9]){label}\s*[:=]?\s*(?P<value>[^\s,;|]+)", re.IGNORECASE)
    for name, label in _LABELS.items()
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_SDI = re.compile(r"[A-Z0-9]{6,7}")


def pec_value(text: str | None) -> str | None:
    """A PEC address given as it is (a field of its own), or None when it is not one."""
    value = (text or "").strip().strip(".,;").lower()
    return value if _EMAIL.fullmatch(value) else None


def sdi_value(text: str | None) -> str | None:
    """An SDI recipient code (7 characters, 6 for public administration), upper case."""
    value = (text or "").strip().strip(".,;").upper()
    return value if _SDI.fullmatch(value) else None


def labelled(text: str | None) -> dict[str, str]:
    """PEC and SDI code found in free text, by label: ``{"pec": ..., "sdi": ...}``."""
    found: dict[str, str] = {}
    if not text:
        return found
    for name, pattern in _LABELLED.items():
        for m in pattern.finditer(text):
            value = pec_value(m["value"]) if name == "pec" else sdi_value(m["value"])
            if value:
                found[name] = value
                break
    return found
