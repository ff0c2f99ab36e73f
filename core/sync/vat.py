"""VAT of an order document from the shop's own tax data (docs/FISCAL.md).

Pure functions, no I/O. The import keeps, for every order row, the rate of the
taxes the shop applied to it (``order_details`` -> ``taxes``) and its tax rules
group; shipping carries the order's ``carrier_tax_rate``. Here, at push time:

* every line gets the ERP's VAT code (and the exemption nature of a 0 % line)
  from the account's tax map (``TaxMap``); a rate the map does not know stops
  that one order (``VatError``) with a message naming the rate and the option;
* the order's discount is split over its VAT rates in proportion to each
  rate's goods (tax excluded), to the cent, one discount line per rate
  (``split``);
* the per-rate summary (taxable, tax = taxable x rate rounded half-up) is
  compared with the shop's totals: what the shop's own rounding explains (half a
  cent per rounding the shop made) becomes an explicit rounding amount; any
  larger difference holds the order for review (``HeldForReview``), never
  adjusted silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from core.fiscal import NATURES

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
DEFAULT_TAX_MAP: dict[str, str] = {"22": "22", "10": "10", "5": "5", "4": "4"}
_KEY = re.compile(r"(?:g(?P<group>[0-9]{1,9})|(?P<rate>[0-9]{1,2}(?:\.[0-9]{1,3})?|100))")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}")


class VatError(ValueError):
    """An order whose VAT cannot be coded: an unmapped rate, a 0 % rate without nature.
    ``cause`` is the same for every order stopped for the same reason (for one run line)."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


class HeldForReview(ValueError):
    """The document's VAT summary differs from the shop's totals by more than rounding."""


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate_key(rate: Decimal) -> str:
    """ "22", "10", "5.5", "0": a rate as the tax map and messages write it."""
    text = f"{rate.quantize(Decimal('0.001')).normalize():f}"
    return "0" if text in ("-0", "0.000") else text


@dataclass(frozen=True, slots=True)
class VatCode:
    code: str
    nature: str | None


def parse_entry(key: str, value: str) -> tuple[str, VatCode]:
    """One ``KEY=VALUE`` of ``--tax-map``: KEY a rate (``22``, ``0``) or ``g<ID>`` (a
    tax rules group of the shop); VALUE the ERP VAT code, a nature (``N4``: code and
    nature), or ``CODE:NATURE``. 0 % needs a nature; other rates refuse one."""
    key = key.strip()
    m = _KEY.fullmatch(key)
    if not m:
        raise VatError(f"tax map key {key!r} is neither a rate (22, 10, 0) nor a tax rules "
                       "group (g7)")
    if m["rate"] is not None:
        key = rate_key(Decimal(m["rate"]))
    code, _, nature = value.strip().partition(":")
    code, nature = code.strip(), nature.strip().upper()
    if not nature and code.upper() in NATURES:
        code = nature = code.upper()
    if not _CODE.fullmatch(code):
        raise VatError(f"tax map {key}: {code!r} is not a VAT code (letters, digits, . _ -, "
                       "up to 16)")
    if nature and nature not in NATURES:
        raise VatError(f"tax map {key}: {nature!r} is not an e-invoice nature "
                       "(N1, N2.1, N2.2, N3.1-N3.6, N4, N5, N6.1-N6.9, N7)")
    if m["rate"] is not None:
        zero = Decimal(key) == 0
        if zero and not nature:
            raise VatError(f"tax map {key}: a 0 % rate needs an exemption nature, e.g. "
                           f"{key}=N4 or {key}=ESE:N4")
        if not zero and nature:
            raise VatError(f"tax map {key}: a {key} % rate takes no exemption nature")
    return key, VatCode(code, nature or None)


def parse_map(text: str) -> dict[str, str]:
    """``22=22,10=10,0=N3.2,g9=ES:N4`` -> the option's dict (checked); empty text: {}."""
    out: dict[str, str] = {}
    for item in (p for p in text.split(",") if p.strip()):
        key, sep, value = item.partition("=")
        if not sep:
            raise VatError(f"tax map entry {item.strip()!r} has no '=' (write RATE=CODE, "
                           "e.g. 22=22 or 0=N3.2)")
        k, v = parse_entry(key, value)
        out[k] = f"{v.code}:{v.nature}" if v.nature and v.nature != v.code else v.code
    return out


class TaxMap:
    """The account's shop rate / tax rules group -> ERP VAT code and nature."""

    def __init__(self, option: Mapping[str, str] | None, account: str = "ACCOUNT") -> None:
        self.account = account
        merged = {**DEFAULT_TAX_MAP, **(option or {})}
        self.entries: dict[str, VatCode] = dict(parse_entry(k, v) for k, v in merged.items())
        self._resolved: dict[tuple[Decimal, int | None], VatCode] = {}

    def resolve(self, rate: Decimal, group: int | None = None, *, what: str = "a line",
                group_name: str | None = None) -> VatCode:
        known = self._resolved.get((rate, group))
        if known is not None:  # a run codes thousands of lines at a handful of rates
            return known
        found = self._resolve(rate, group, what=what, group_name=group_name)
        self._resolved[(rate, group)] = found
        return found

    def _resolve(self, rate: Decimal, group: int | None, *, what: str,
                 group_name: str | None) -> VatCode:
        if group:
            found = self.entries.get(f"g{group}")
            if found is not None:
                return found
        key = rate_key(rate)
        found = self.entries.get(key)
        if found is not None:
            return found
        where = f" (tax rules group {group}{f' {group_name!r}' if group_name else ''})" \
            if group else ""
        if Decimal(key) == 0:
            cause = (f"0 %{where} has no exemption nature in the tax map: set it with "
                     f"'sincro account edit {self.account} --tax-map "
                     f"{f'g{group}' if group else '0'}=N4' (the nature that applies: N1..N7)")
            raise VatError(f"{what} is at {cause}", cause)
        cause = (f"{key} %{where} is a rate the tax map does not know: set its ERP VAT code "
                 f"with 'sincro account edit {self.account} --tax-map {key}=CODE'")
        raise VatError(f"{what} is at {cause}", cause)

    def describe(self, rate: Decimal, group: int | None = None) -> str:
        try:
            v = self.resolve(rate, group)
        except VatError:
            return "unmapped"
        return v.code if not v.nature or v.nature == v.code else f"{v.code} ({v.nature})"


_MAPS: dict[tuple[str, tuple[tuple[str, str], ...]], TaxMap] = {}


def tax_map(option: Mapping[str, str] | None, account: str = "ACCOUNT") -> TaxMap:
    """The TaxMap of these options, built once (a run codes thousands of lines)."""
    key = (account, tuple(sorted((str(k), str(v)) for k, v in (option or {}).items())))
    found = _MAPS.get(key)
    if found is None:
        if len(_MAPS) > 64:
            _MAPS.clear()
        found = _MAPS[key] = TaxMap(option, account)
    return found


def split(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` (to the cent) in parts proportional to ``weights``, to the cent, the
    parts adding up to ``total`` exactly (largest remainders take the odd cents)."""
    if not weights:
        return []
    whole = sum(weights, Decimal(0))
    units = int((total / CENT).to_integral_value(ROUND_HALF_UP))
    if whole <= 0:
        shares = [Decimal(0)] * len(weights)
        shares[0] = Decimal(units)
    else:
        shares = [Decimal(units) * w / whole for w in weights]
    floors = [int(s.to_integral_value(rounding="ROUND_FLOOR")) for s in shares]
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(shares[i] - floors[i]), i))
    step = 1 if left >= 0 else -1
    for i in order[:abs(left)]:
        floors[i] += step
    return [Decimal(n) * CENT for n in floors]


@dataclass(frozen=True, slots=True)
class Charge:
    """A line of the document as VAT sees it: its taxable amount (tax excluded, negative
    for discounts) and its rate, code and nature."""

    kind: str
    taxable: Decimal
    rate: Decimal
    code: str
    nature: str | None
    incl: Decimal  # the amount tax included, as shown on the line


@dataclass(frozen=True, slots=True)
class SummaryRow:
    rate: Decimal
    code: str
    nature: str | None
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class Settled:
    summary: tuple[SummaryRow, ...]
    rounding: Decimal  # total incl. minus summary taxable and tax
    rounding_tax_excl: Decimal  # total excl. minus summary taxable
    tolerance: Decimal


def summarise(charges: Iterable[Charge]) -> list[SummaryRow]:
    rows: dict[tuple[Decimal, str, str | None], Decimal] = {}
    for c in charges:
        key = (c.rate, c.code, c.nature)
        rows[key] = rows.get(key, Decimal(0)) + c.taxable
    out = []
    for (rate, code, nature), taxable in sorted(rows.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        taxable = cents(taxable)
        out.append(SummaryRow(rate, code, nature, taxable, cents(taxable * rate / HUNDRED)))
    return out


def tolerance(roundings: int) -> Decimal:
    """What the shop's own rounding can explain: half a cent per rounding it made, up to
    the cent above (at least one cent)."""
    return max(CENT, (Decimal("0.005") * roundings).quantize(CENT, rounding=ROUND_CEILING))


def settle(charges: Sequence[Charge], total_tax_excl: Decimal, total_tax_incl: Decimal, *,
           roundings: int, order: str) -> Settled:
    """The summary, and the rounding that makes it equal the shop's totals; a difference
    beyond what rounding explains raises ``HeldForReview`` naming the order."""
    summary = summarise(charges)
    taxable = sum((r.taxable for r in summary), Decimal(0))
    tax = sum((r.tax for r in summary), Decimal(0))
    excl_diff = cents(total_tax_excl) - taxable
    incl_diff = cents(total_tax_incl) - taxable - tax
    limit = tolerance(roundings)
    if abs(excl_diff) > limit or abs(incl_diff) > limit:
        raise HeldForReview(
            f"{order}: the VAT summary (taxable {taxable}, tax {tax}) differs from the shop's "
            f"totals ({cents(total_tax_excl)} tax excl., {cents(total_tax_incl)} tax incl.) by "
            f"{excl_diff} / {incl_diff}, more than rounding explains ({limit}); held for review")
    return Settled(tuple(summary), incl_diff, excl_diff, limit)


def decimal(value: object, what: str) -> Decimal:
    """A shop amount as a finite Decimal with at most 6 decimals (docs/FISCAL.md, "Amounts");
    anything else raises VatError naming it."""
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value if value is not None
                                                                 else "0").strip() or "0")
    except (InvalidOperation, ValueError):
        raise VatError(f"{what} is not a number: {str(value)[:40]!r}") from None
    if not d.is_finite():
        raise VatError(f"{what} is not a finite number: {str(value)[:40]!r}")
    if d.adjusted() >= 12:
        raise VatError(f"{what} is out of range: {str(value)[:40]!r}")
    if d != d.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP):
        raise VatError(f"{what} has more than 6 decimals: {str(value)[:40]!r}")
    return d
