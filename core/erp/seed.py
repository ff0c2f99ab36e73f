"""The office's existing records, seeded into the embedded ERP from CSV files.

``sincro erp import customers FILE`` and ``sincro erp import articles FILE`` read a
UTF-8 CSV with a header line (comma or semicolon separated, as spreadsheets write
them). Every line is checked first; one bad line names itself (line number, column,
why) and nothing is written; otherwise all lines go in one transaction. Codes already
in the ERP are refused, never overwritten.

Customers: ``name`` (required), ``code``, ``company``, ``vat_number``, ``tax_code``,
``email``, ``phone``, ``pec``, ``sdi_code``, ``country``.
Articles: ``code``, ``description``, ``price`` (required; tax excluded, ``12.50`` or
``12,50``), ``vat_rate`` (default 22), ``stock`` (default 0), ``ean13``, ``active``
(1/0, yes/no, default 1).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from core import fiscal
from core.errors import ConfigError

MAX_BYTES = 20 * 1024 * 1024
MAX_LINES = 200_000
CUSTOMER_COLUMNS = ("code", "name", "company", "vat_number", "tax_code", "email", "phone", "pec",
                    "sdi_code", "country")
ARTICLE_COLUMNS = ("code", "description", "price", "vat_rate", "stock", "ean13", "active")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}\.[A-Za-z]{2,}")


class SeedError(ConfigError):
    """Bad lines of a seed file: every one of them, named."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                            if len(problems) > 5 else "")
        super().__init__(f"{path.name}: {len(problems)} bad line(s), nothing imported: {shown}",
                         hint="correct the file and import it again")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SeedCustomer:
    line: int
    code: str | None
    name: str
    company: str | None
    vat_number: str | None
    tax_code: str | None
    email: str | None
    phone: str | None
    pec: str | None
    sdi_code: str | None
    country: str | None

    @property
    def kind(self) -> str:
        return "company" if (self.company or self.vat_number) else "private"


@dataclass(frozen=True, slots=True)
class SeedArticle:
    line: int
    code: str
    description: str
    price: Decimal
    vat_rate: Decimal
    stock: int
    ean13: str | None
    active: bool


def _rows(path: Path, columns: tuple[str, ...], required: tuple[str, ...]
          ) -> list[tuple[int, dict[str, str]]]:
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: not a regular file",
                              hint="give the path of a CSV file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path.name} is larger than {MAX_BYTES // (1024 * 1024)} MB",
                              hint="split it into smaller files")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not UTF-8 text",
                          hint="save it as CSV UTF-8 from the spreadsheet") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ConfigError(f"{path.name} is empty",
                          hint=f"a header line first: {','.join(columns)}") from None
    unknown = [h for h in header if h not in columns]
    if unknown or any(r not in header for r in required):
        raise ConfigError(f"{path.name}: the header has {'unknown columns ' + ', '.join(unknown) if unknown else 'no ' + ', '.join(r for r in required if r not in header)}",
                          hint=f"columns: {', '.join(columns)} (required: {', '.join(required)})")
    out: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(out) >= MAX_LINES:
                raise ConfigError(f"{path.name} has more than {MAX_LINES:,} lines",
                                  hint="split it into smaller files")
            out.append((reader.line_num, {h: (values[i].strip() if i < len(values) else "")
                                          for i, h in enumerate(header)} | (
                {"__extra__": "x"} if len(values) > len(header) else {})))
    except csv.Error as exc:
        raise ConfigError(f"{path.name}: line {reader.line_num}: {exc}") from None
    return out


def _text(problems: list[str], line: int, row: dict[str, str], name: str, limit: int,
          required: bool = False) -> str | None:
    value = row.get(name, "")
    if not value:
        if required:
            problems.append(f"line {line}: {name} is empty")
        return None
    if any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 for ch in value):
        problems.append(f"line {line}: {name} holds control characters")
        return None
    if len(value) > limit:
        problems.append(f"line {line}: {name} is longer than {limit} characters")
        return None
    return value


def _code(problems: list[str], line: int, row: dict[str, str], seen: dict[str, int], *,
          required: bool) -> str | None:
    """The line's code, checked, and not on an earlier line of the file."""
    code = _text(problems, line, row, "code", 64, required=required)
    if code is not None and not _CODE.fullmatch(code):
        problems.append(f"line {line}: code {code!r} is not a code (letters, digits, . _ / -)")
    elif code is not None and code in seen:
        problems.append(f"line {line}: code {code} is also on line {seen[code]}")
    elif code is not None:
        seen[code] = line
    return code


def customers(path: Path) -> list[SeedCustomer]:
    problems: list[str] = []
    out: list[SeedCustomer] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, CUSTOMER_COLUMNS, ("name",)):
        if "__extra__" in row:
            problems.append(f"line {line}: more values than columns")
            continue
        before = len(problems)
        code = _code(problems, line, row, seen, required=False)
        name = _text(problems, line, row, "name", 1000, required=True)
        country = (_text(problems, line, row, "country", 2) or "").upper() or None
        if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
            problems.append(f"line {line}: country {country!r} is not an ISO code such as IT")
        raw_vat = _text(problems, line, row, "vat_number", 64)
        vat = fiscal.vat_number(raw_vat, country or "IT") if raw_vat else None
        raw_cf = _text(problems, line, row, "tax_code", 64)
        cf = fiscal.tax_code(raw_cf) if raw_cf else None
        email = _text(problems, line, row, "email", 254)
        if email is not None and not _EMAIL.fullmatch(email):
            problems.append(f"line {line}: email {email!r} is not an e-mail address")
        raw_pec = _text(problems, line, row, "pec", 254)
        pec = fiscal.pec_value(raw_pec) if raw_pec else None
        if raw_pec and pec is None:
            problems.append(f"line {line}: pec {raw_pec!r} is not an e-mail address")
        raw_sdi = _text(problems, line, row, "sdi_code", 7)
        sdi = fiscal.sdi_value(raw_sdi) if raw_sdi else None
        if raw_sdi and sdi is None:
            problems.append(f"line {line}: sdi_code {raw_sdi!r} is not 6 or 7 letters and digits")
        if len(problems) > before:
            continue
        assert name is not None
        out.append(SeedCustomer(line, code, name, _text(problems, line, row, "company", 1000),
                                vat.value if vat else None, cf.value if cf else None, email,
                                _text(problems, line, row, "phone", 64), pec, sdi, country))
    if problems:
        raise SeedError(path, problems)
    return out


def _decimal(problems: list[str], line: int, name: str, value: str, default: str | None,
             maximum: Decimal) -> Decimal | None:
    if not value:
        if default is None:
            problems.append(f"line {line}: {name} is empty")
            return None
        value = default
    try:
        d = Decimal(value.replace(",", "."))
    except InvalidOperation:
        problems.append(f"line {line}: {name} {value!r} is not a number")
        return None
    if not d.is_finite() or d < 0 or d > maximum or d != d.quantize(Decimal("0.000001")):
        problems.append(f"line {line}: {name} {value!r} must be between 0 and {maximum} with "
                        "at most 6 decimals")
        return None
    return d


def articles(path: Path) -> list[SeedArticle]:
    problems: list[str] = []
    out: list[SeedArticle] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, ARTICLE_COLUMNS, ("code", "description", "price")):
        if "__extra__" in row:
            problems.append(f"line {line}: more values than columns")
            continue
        before = len(problems)
        code = _code(problems, line, row, seen, required=True)
        description = _text(problems, line, row, "description", 1000, required=True)
        price = _decimal(problems, line, "price", row.get("price", ""), None,
                         Decimal("999999999"))
        rate = _decimal(problems, line, "vat_rate", row.get("vat_rate", ""), "22", Decimal(100))
        stock_text = row.get("stock", "") or "0"
        stock = 0
        if not re.fullmatch(r"-?[0-9]{1,9}", stock_text):
            problems.append(f"line {line}: stock {stock_text!r} is not a whole number")
        else:
            stock = int(stock_text)
        ean = row.get("ean13", "") or None
        if ean is not None and not re.fullmatch(r"[0-9]{8,14}", ean):
            problems.append(f"line {line}: ean13 {ean!r} is not 8 to 14 digits")
        active_text = (row.get("active", "") or "1").lower()
        if active_text not in ("1", "0", "yes", "no", "true", "false", "si", "sì"):
            problems.append(f"line {line}: active {active_text!r} is not 1/0 or yes/no")
        if len(problems) > before:
            continue
        assert code is not None and description is not None
        assert price is not None and rate is not None
        out.append(SeedArticle(line, code, description, price, rate, stock, ean,
                               active_text in ("1", "yes", "true", "si", "sì")))
    if problems:
        raise SeedError(path, problems)
    return out
