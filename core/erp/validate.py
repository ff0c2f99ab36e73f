"""Checks on what crosses the port, shared by every connector.

Each check raises ``ErpError`` with one line that names the record (its
external reference) and the field at fault, and returns the data normalised
(text stripped, codes upper-cased, ``datetime`` dates cut to ``date``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

from core.erp.port import (
    ArticleData,
    CreditNoteData,
    CustomerData,
    DestinationData,
    ErpError,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
)

_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_TEXT = 1000
MAX_CODE = 64
MAX_NOTES = 10000
_HUNDRED = Decimal(100)


# What a check would return unchanged, tested in one expression: most data crossing the
# port is already clean, and a run validates hundreds of thousands of fields. Anything
# these do not accept goes through the full checks below, which normalise or refuse it.

def _clean_text(value: Any, limit: int = MAX_TEXT) -> bool:
    return (type(value) is str and 0 < len(value) <= limit and value.isprintable()
            and not value[0].isspace() and not value[-1].isspace())


def _clean_amount(value: Any) -> bool:
    return type(value) is Decimal and value.is_finite() and value >= 0


def _clean_rate(value: Any) -> bool:
    return type(value) is Decimal and value.is_finite() and 0 <= value <= _HUNDRED


def _clean_code(value: Any) -> bool:
    return value in _GOOD_CODES or value == ""


@overload
def text(value: Any, what: str, *, required: Literal[True], ref: str | None = None,
         limit: int = MAX_TEXT) -> str: ...
@overload
def text(value: Any, what: str, *, required: bool = False, ref: str | None = None,
         limit: int = MAX_TEXT) -> str | None: ...
def text(value: Any, what: str, *, required: bool = False, ref: str | None = None,
         limit: int = MAX_TEXT) -> str | None:
    if value is None:
        if required:
            raise ErpError(f"{_who(ref)}{what} is missing", external_ref=ref)
        return None
    if not isinstance(value, str):
        raise ErpError(f"{_who(ref)}{what} must be text, not {type(value).__name__}",
                       external_ref=ref)
    if value and value.isprintable() and not value[0].isspace() and not value[-1].isspace():
        # the common case, unchanged by what follows (no control character, nothing to strip)
        if len(value) > limit:
            raise ErpError(f"{_who(ref)}{what} is longer than {limit} characters",
                           external_ref=ref)
        return value
    # Shop text is untrusted but an order must not fail on a stray control character.
    value = _CONTROL.sub(" ", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not value:
        if required:
            raise ErpError(f"{_who(ref)}{what} is empty", external_ref=ref)
        return None
    if len(value) > limit:
        raise ErpError(f"{_who(ref)}{what} is longer than {limit} characters", external_ref=ref)
    return value


def code(value: Any, what: str, *, ref: str | None = None) -> str:
    result = text(value, what, required=True, ref=ref, limit=MAX_CODE)
    assert result is not None
    if "\n" in result or "\t" in result:
        raise ErpError(f"{_who(ref)}{what} {result!r} spans lines", external_ref=ref)
    return result


def amount(value: Any, what: str, *, ref: str | None = None, negative: bool = False,
           maximum: Decimal | None = None) -> Decimal:
    """A finite Decimal (ints and numeric strings accepted, floats refused: they are inexact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ErpError(f"{_who(ref)}{what} must be a Decimal, not {value!r}", external_ref=ref)
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ErpError(f"{_who(ref)}{what} is not a number: {value!r}", external_ref=ref) from None
    if not result.is_finite():
        raise ErpError(f"{_who(ref)}{what} is not a finite number: {value!r}", external_ref=ref)
    if not negative and result < 0:
        raise ErpError(f"{_who(ref)}{what} is negative: {result}", external_ref=ref)
    if maximum is not None and result > maximum:
        raise ErpError(f"{_who(ref)}{what} is above {maximum}: {result}", external_ref=ref)
    return result


def whole(value: Any, what: str, *, ref: str | None = None, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            value = int(value)
        else:
            raise ErpError(f"{_who(ref)}{what} must be a whole number, not {value!r}",
                           external_ref=ref)
    if positive and value <= 0:
        raise ErpError(f"{_who(ref)}{what} must be positive, not {value}", external_ref=ref)
    if abs(value) >= 2**62:
        raise ErpError(f"{_who(ref)}{what} is too large: {value}", external_ref=ref)
    return value


def rate(value: Any, what: str, *, ref: str | None = None) -> Decimal:
    return amount(value, what, ref=ref, maximum=Decimal(100))


def _clean_opt(value: Any, limit: int = MAX_TEXT) -> bool:
    return value is None or _clean_text(value, limit)


def customer(data: CustomerData) -> CustomerData:
    if (_clean_text(data.external_ref, MAX_CODE) and _clean_text(data.name)
            and _clean_opt(data.company) and _clean_opt(data.vat_number, 64)
            and _clean_opt(data.tax_code, 64) and _clean_opt(data.email, 254)
            and _clean_opt(data.phone, 64) and _clean_opt(data.pec, 254)
            and _clean_opt(data.sdi_code, 7)
            and (data.country is None or _clean_text(data.country, 2) and data.country.isupper())):
        return data
    ref = code(data.external_ref, "external_ref", ref=None)
    return replace(
        data,
        external_ref=ref,
        name=text(data.name, "name", required=True, ref=ref),
        company=text(data.company, "company", ref=ref),
        vat_number=text(data.vat_number, "vat_number", ref=ref, limit=64),
        tax_code=text(data.tax_code, "tax_code", ref=ref, limit=64),
        email=text(data.email, "email", ref=ref, limit=254),
        phone=text(data.phone, "phone", ref=ref, limit=64),
        pec=text(data.pec, "pec", ref=ref, limit=254),
        sdi_code=text(data.sdi_code, "sdi_code", ref=ref, limit=7),
        country=(text(data.country, "country", ref=ref, limit=2) or "").upper() or None,
    )


def destination(data: DestinationData) -> DestinationData:
    if (_clean_opt(data.external_ref, MAX_CODE) and type(data.country) is str
            and len(data.country) == 2 and _COUNTRY.fullmatch(data.country)
            and _clean_text(data.name) and _clean_opt(data.company)
            and _clean_text(data.address1) and _clean_opt(data.address2)
            and _clean_opt(data.postcode, 32) and _clean_text(data.city)
            and _clean_opt(data.province, 64) and _clean_opt(data.phone, 64)):
        return data
    ref = text(data.external_ref, "external_ref", limit=MAX_CODE)
    country = text(data.country, "country", required=True, ref=ref)
    assert country is not None
    country = country.upper()
    if not _COUNTRY.fullmatch(country):
        raise ErpError(f"{_who(ref)}country must be an ISO 3166 code such as IT, not {country!r}",
                       external_ref=ref)
    return replace(
        data,
        external_ref=ref,
        name=text(data.name, "name", required=True, ref=ref),
        company=text(data.company, "company", ref=ref),
        address1=text(data.address1, "address1", required=True, ref=ref),
        address2=text(data.address2, "address2", ref=ref),
        postcode=text(data.postcode, "postcode", ref=ref, limit=32),
        city=text(data.city, "city", required=True, ref=ref),
        province=text(data.province, "province", ref=ref, limit=64),
        country=country,
        phone=text(data.phone, "phone", ref=ref, limit=64),
    )


def article(data: ArticleData) -> ArticleData:
    c = code(data.code, "article code")
    return replace(
        data,
        code=c,
        description=text(data.description, "description", required=True, ref=c),
        price=amount(data.price, "price", ref=c),
        vat_rate=rate(data.vat_rate, "vat_rate", ref=c),
        stock=whole(data.stock, "stock", ref=c),
        active=bool(data.active),
        ean13=text(data.ean13, "ean13", ref=c, limit=14),
    )


def order(doc: OrderDocumentData) -> OrderDocumentData:
    ref = code(doc.external_ref, "order external_ref")
    day = doc.date
    if isinstance(day, datetime):
        day = day.date()
    if not isinstance(day, date):
        raise ErpError(f"order {ref}: date must be a date, not {day!r}", external_ref=ref)
    currency = (text(doc.currency, "currency", required=True, ref=ref) or "").upper()
    if not _CURRENCY.fullmatch(currency):
        raise ErpError(f"order {ref}: currency must be an ISO 4217 code such as EUR, not "
                       f"{doc.currency!r}", external_ref=ref)
    if not doc.lines:
        raise ErpError(f"order {ref} has no lines", external_ref=ref)
    lines = tuple(_line(ln, i, ref) for i, ln in enumerate(doc.lines, 1))
    shipping = None
    if doc.shipping is not None:
        s = doc.shipping
        shipping = _charge(s, "shipping", ref)
    wrapping = _charge(doc.wrapping, "wrapping", ref) if doc.wrapping is not None else None
    discounts = tuple(
        d if (_clean_text(d.description) and _clean_amount(d.amount_tax_excl)
              and _clean_amount(d.amount_tax_incl) and _clean_rate(d.vat_rate)
              and _clean_code(d.vat_code)) else
        replace(
            d,
            description=text(d.description, "discount description", ref=ref) or "Discount",
            amount_tax_excl=amount(d.amount_tax_excl, "discount amount_tax_excl", ref=ref),
            amount_tax_incl=amount(d.amount_tax_incl, "discount amount_tax_incl", ref=ref),
            vat_rate=rate(d.vat_rate, "discount vat_rate", ref=ref),
            vat_code=_vat_code(d.vat_code, "discount", ref),
        )
        for d in doc.discounts
    )
    summary = tuple(
        v if (_clean_rate(v.rate) and _clean_code(v.code) and type(v.taxable) is Decimal
              and v.taxable.is_finite() and type(v.tax) is Decimal and v.tax.is_finite()) else
        replace(v, rate=rate(v.rate, "vat_summary rate", ref=ref),
                code=_vat_code(v.code, "vat_summary", ref),
                taxable=amount(v.taxable, "vat_summary taxable", ref=ref, negative=True),
                tax=amount(v.tax, "vat_summary tax", ref=ref, negative=True))
        for v in doc.vat_summary)
    return replace(
        doc,
        external_ref=ref,
        customer_code=code(doc.customer_code, "customer_code", ref=ref),
        date=day,
        currency=currency,
        lines=lines,
        total_tax_excl=amount(doc.total_tax_excl, "total_tax_excl", ref=ref),
        total_tax_incl=amount(doc.total_tax_incl, "total_tax_incl", ref=ref),
        destination_code=_opt_code(doc.destination_code, "destination_code", ref),
        invoice_destination_code=_opt_code(doc.invoice_destination_code,
                                           "invoice_destination_code", ref),
        payment=text(doc.payment, "payment", ref=ref),
        carrier=text(doc.carrier, "carrier", ref=ref),
        shop_reference=text(doc.shop_reference, "shop_reference", ref=ref, limit=64),
        shipping=shipping,
        discounts=discounts,
        wrapping=wrapping,
        vat_summary=summary,
        rounding=amount(doc.rounding, "rounding", ref=ref, negative=True,
                        maximum=Decimal("1000")),
        rounding_tax_excl=amount(doc.rounding_tax_excl, "rounding_tax_excl", ref=ref,
                                 negative=True, maximum=Decimal("1000")),
        notes=text(doc.notes, "notes", ref=ref, limit=MAX_NOTES),
        conversion_rate=(None if doc.conversion_rate is None else
                         amount(doc.conversion_rate, "conversion_rate", ref=ref)),
        payment_method=text(doc.payment_method, "payment_method", ref=ref, limit=MAX_CODE),
    )


def credit_note(doc: CreditNoteData) -> CreditNoteData:
    """A credit note checked as an order document is (docs/FISCAL.md, "Refunds"): amounts
    positive, at least a line or the shipping, the refunded order's reference a code."""
    ref = code(doc.external_ref, "credit note external_ref")
    order_ref = code(doc.order_external_ref, "order_external_ref", ref=ref)
    if not doc.lines and doc.shipping is None:
        raise ErpError(f"credit note {ref} has no lines and no shipping", external_ref=ref)
    if not isinstance(doc.goods_returned, bool):
        raise ErpError(f"credit note {ref}: goods_returned must be true or false",
                       external_ref=ref)
    as_order = order(OrderDocumentData(
        external_ref=ref, customer_code=doc.customer_code, date=doc.date, currency=doc.currency,
        lines=doc.lines or (OrderLineData(None, "-", 1, Decimal(0), Decimal(0), Decimal(0)),),
        total_tax_excl=doc.total_tax_excl, total_tax_incl=doc.total_tax_incl,
        shop_reference=doc.shop_reference, shipping=doc.shipping, vat_summary=doc.vat_summary,
        rounding=doc.rounding, rounding_tax_excl=doc.rounding_tax_excl, notes=doc.notes,
        conversion_rate=doc.conversion_rate))
    return replace(
        doc, external_ref=ref, order_external_ref=order_ref,
        customer_code=as_order.customer_code, date=as_order.date, currency=as_order.currency,
        lines=as_order.lines if doc.lines else (), total_tax_excl=as_order.total_tax_excl,
        total_tax_incl=as_order.total_tax_incl, shop_reference=as_order.shop_reference,
        shipping=as_order.shipping, vat_summary=as_order.vat_summary,
        rounding=as_order.rounding, rounding_tax_excl=as_order.rounding_tax_excl,
        notes=as_order.notes, conversion_rate=as_order.conversion_rate)


_GOOD_CODES: set[str] = set()  # VAT codes already checked: a run repeats a handful


def _vat_code(value: Any, what: str, ref: str) -> str:
    if value in (None, ""):
        return ""
    if value in _GOOD_CODES:
        return value
    checked = code(value, what + " vat_code", ref=ref)
    if checked == value and len(_GOOD_CODES) < 1000:
        _GOOD_CODES.add(checked)
    return checked


def _charge(s: ShippingData, what: str, ref: str) -> ShippingData:
    if (_clean_amount(s.amount_tax_excl) and _clean_amount(s.amount_tax_incl)
            and _clean_rate(s.vat_rate) and _clean_text(s.description)
            and _clean_code(s.vat_code)):
        return s
    return replace(
        s,
        amount_tax_excl=amount(s.amount_tax_excl, f"{what} amount_tax_excl", ref=ref),
        amount_tax_incl=amount(s.amount_tax_incl, f"{what} amount_tax_incl", ref=ref),
        vat_rate=rate(s.vat_rate, f"{what} vat_rate", ref=ref),
        description=text(s.description, f"{what} description", ref=ref) or what.capitalize(),
        vat_code=_vat_code(s.vat_code, what, ref),
    )


def _line(ln: OrderLineData, i: int, ref: str) -> OrderLineData:
    if (_clean_code(ln.vat_code) and _clean_amount(ln.unit_price)
            and _clean_amount(ln.unit_price_tax_incl) and _clean_rate(ln.vat_rate)
            and _clean_rate(ln.discount_pct) and type(ln.quantity) is int
            and 0 < ln.quantity < 2**62 and _clean_text(ln.description)
            and (ln.article_code is None or _clean_text(ln.article_code, MAX_CODE))
            and (ln.total_tax_excl is None or _clean_amount(ln.total_tax_excl))
            and (ln.total_tax_incl is None or _clean_amount(ln.total_tax_incl))):
        return ln
    where = f"line {i} "
    return replace(
        ln,
        vat_code=_vat_code(ln.vat_code, where, ref),
        total_tax_excl=(None if ln.total_tax_excl is None else
                        amount(ln.total_tax_excl, where + "total_tax_excl", ref=ref)),
        total_tax_incl=(None if ln.total_tax_incl is None else
                        amount(ln.total_tax_incl, where + "total_tax_incl", ref=ref)),
        article_code=_opt_code(ln.article_code, where + "article_code", ref),
        description=text(ln.description, where + "description", required=True, ref=ref) or "",
        quantity=whole(ln.quantity, where + "quantity", ref=ref, positive=True),
        unit_price=amount(ln.unit_price, where + "unit_price", ref=ref),
        unit_price_tax_incl=amount(ln.unit_price_tax_incl, where + "unit_price_tax_incl", ref=ref),
        vat_rate=rate(ln.vat_rate, where + "vat_rate", ref=ref),
        discount_pct=rate(ln.discount_pct, where + "discount_pct", ref=ref),
    )


def _opt_code(value: Any, what: str, ref: str | None) -> str | None:
    return None if value is None else code(value, what, ref=ref)


def _who(ref: str | None) -> str:
    return f"{ref}: " if ref else ""
