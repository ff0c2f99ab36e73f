"""Turn PrestaShop Webservice bodies (XML or JSON) into plain Python data.

Both formats are brought to the same shape, the one PrestaShop's JSON renderer
uses: ``{"orders": [{...}, ...]}`` for lists, ``{"order": {...}}`` for a single
object, ``{"errors": [{"code": 32, "message": "..."}]}`` for errors.  Inside an
object, scalars stay as the shop sent them (strings, or numbers on some 8.x
servers); multilanguage fields become ``[{"id": 1, "value": "..."}]`` (or a plain
string when the shop rendered one language); associations become
``{"associations": {"order_rows": [{...}], ...}}``.

The scalar converters (``to_int``, ``to_decimal``, ``to_bool``, ``to_datetime``,
``to_multilang``...) absorb docs/prestashop/PROTOCOL.md §9's quirks: ``"12"`` or ``12``, absent
keys (8.x drops falsy fields of single objects), ``null``, empty CDATA, the
``0000-00-00 00:00:00`` "no date", amounts as 6-decimal strings (kept as
``Decimal``, never float).

XML is parsed with defusedxml (no DTDs, no entity expansion, no external
references); JSON with ``json.loads(parse_float=Decimal)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _xml_fromstring

__all__ = [
    "ApiError",
    "BodyError",
    "Multilang",
    "decode_body",
    "errors_of",
    "items_of",
    "json_to_data",
    "looks_like_html",
    "parse_api_index",
    "to_bool",
    "to_date",
    "to_datetime",
    "to_decimal",
    "to_int",
    "to_multilang",
    "to_str",
    "xml_to_data",
]

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
NO_DATES = {"", "0000-00-00", "0000-00-00 00:00:00"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off", "none", "null"}


class BodyError(ValueError):
    """A body that is not the XML/JSON the Webservice produces (one-line text)."""


# --------------------------------------------------------------------------- scalars


def to_str(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):  # a multilanguage value where a plain one was expected
        return to_multilang(value).text()
    raise ValueError(f"expected a text value, got {type(value).__name__}")


def to_int(value: Any, default: int = 0) -> int:
    """``"12"``, ``12``, ``" 12 "``, ``"12.000000"`` -> 12; ``None``/``""`` -> default."""
    if type(value) is str:
        try:
            return int(value)  # the common case ("12", " 12 "); int() strips as below
        except ValueError:
            pass
    if value is None or isinstance(value, bool) and not value:
        return default
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError(f"not an integer: {value}")
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"not an integer: {value!r}")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            pass
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an integer: {value[:40]!r}") from None
        if not dec.is_finite() or dec != dec.to_integral_value():
            raise ValueError(f"not an integer: {value[:40]!r}")
        return int(dec)
    raise ValueError(f"not an integer: {type(value).__name__}")


def to_decimal(value: Any) -> Decimal:
    """Amounts: ``"61.800000"``, ``61``, ``"20.0"`` -> Decimal; ``None``/``""`` -> 0. Never via float."""
    if type(value) is str:
        try:
            dec = Decimal(value)  # the common case; Decimal() strips as below
        except InvalidOperation:
            pass
        else:
            if dec.is_finite():
                return dec
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        dec = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return Decimal(0)
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value[:40]!r}") from None
    else:
        raise ValueError(f"not an amount: {type(value).__name__}")
    if not dec.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return dec


def to_bool(value: Any) -> bool:
    """``"1"``/``1``/``True`` -> True; ``"0"``/``0``/``""``/``None``/absent -> False."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal, float)):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        try:
            return Decimal(text) != 0
        except InvalidOperation:
            raise ValueError(f"not a boolean: {value[:40]!r}") from None
    raise ValueError(f"not a boolean: {type(value).__name__}")


_DAY_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def to_datetime(value: Any, tz: tzinfo | None = None) -> datetime | None:
    """Shop-local ``YYYY-MM-DD HH:MM:SS`` -> datetime (aware in ``tz`` when given).

    ``0000-00-00 00:00:00``, ``0000-00-00``, ``""`` and ``None`` -> None.
    """
    if value is None:
        return None
    text = to_str(value).strip()
    if text in NO_DATES or text.startswith("0000-00-00"):
        return None
    try:
        if _DAY_TIME.fullmatch(text):  # the shop's own form, read at C speed
            parsed = datetime.fromisoformat(text)
        elif len(text) == 10:
            parsed = datetime.strptime(text, "%Y-%m-%d")
        else:
            parsed = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a date: {text[:40]!r}") from None
    if tz is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def to_date(value: Any) -> date | None:
    """``YYYY-MM-DD`` (or a datetime string) -> date; PrestaShop's zero date -> None."""
    parsed = to_datetime(value)
    return parsed.date() if parsed is not None else None


class Multilang(Mapping[int, str]):
    """An immutable ``{language id: text}``.

    A shop that renders a single language sends a plain string in JSON: that
    text is stored under language id 0 ("the only language"). ``text(lang)``
    returns the requested language, falling back to the first one present.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[int, str] | Iterable[tuple[int, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[int, str] = {int(k): v for k, v in pairs}

    def __getitem__(self, key: int) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"Multilang({self._items!r})"

    def text(self, lang_id: int | None = None) -> str:
        if lang_id is not None and lang_id in self._items:
            return self._items[lang_id]
        for value in self._items.values():
            return value
        return ""


def to_multilang(value: Any) -> Multilang:
    """``[{"id":1,"value":"x"}, ...]`` or a plain string or XML-derived list -> Multilang."""
    if value is None or value == "" or value == []:
        return Multilang()
    if isinstance(value, Multilang):
        return value
    if isinstance(value, list):
        pairs: list[tuple[int, str]] = []
        for item in value:
            if isinstance(item, Mapping):
                pairs.append((to_int(item.get("id")), to_str(item.get("value"))))
            else:
                raise ValueError("multilanguage item is not an object")
        return Multilang(pairs)
    if isinstance(value, Mapping):  # {"language": ...} style from other tools
        if "id" in value and "value" in value:
            return Multilang([(to_int(value["id"]), to_str(value["value"]))])
        return Multilang({to_int(k): to_str(v) for k, v in value.items()})
    return Multilang({0: to_str(value)})


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class ApiError:
    """One ``<error>`` of a Webservice error body (code is None on some 1.6 bodies)."""

    code: int | None
    message: str


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith(("<!doctype html", "<html")) or "<html" in head or "<body" in head


def json_to_data(text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        detail = exc.args[0] if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise BodyError(f"invalid JSON ({_one_line(str(detail))})") from None


def _text(el: Element) -> str:
    return el.text if el.text is not None else ""


def _is_list_node(el: Element) -> bool:
    """A plural node: no children, or every child is an entity (id attribute or sub-elements)."""
    return all(len(child) > 0 or "id" in child.attrib for child in el)


def _field_value(el: Element) -> Any:
    children = list(el)
    if not children:
        return _text(el)
    if all(child.tag == "language" for child in children):
        return [{"id": to_int(lang.get("id")), "value": _text(lang)} for lang in children]
    return _entity(el)


def _entity(el: Element) -> dict[str, Any]:
    children = list(el)
    if not children and "id" in el.attrib:
        return {"id": el.attrib["id"]}
    out: dict[str, Any] = {}
    for child in children:
        if child.tag == "associations":
            out["associations"] = {
                assoc.tag: [_assoc_item(item) for item in assoc] for assoc in child
            }
        else:
            out[child.tag] = _field_value(child)
    return out


def _assoc_item(el: Element) -> dict[str, Any]:
    if len(el):
        return {child.tag: _field_value(child) for child in el}
    if "id" in el.attrib:
        return {"id": el.attrib["id"]}
    return {"id": _text(el)}


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _parse_xml(text: str | bytes) -> Element:
    try:
        return _xml_fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise BodyError(f"unsafe XML refused ({type(exc).__name__})") from None
    except ParseError as exc:
        raise BodyError(f"invalid XML ({_one_line(str(exc))})") from None


def xml_to_data(text: str | bytes) -> Any:
    """A ``<prestashop>`` document -> the JSON-like shape described in the module doc."""
    root = _parse_xml(text)
    if root.tag != "prestashop":
        raise BodyError(f"XML root is <{root.tag[:40]}>, not <prestashop>")
    children = list(root)
    if not children:
        return {}
    first = children[0]
    if first.tag == "errors":
        errors = []
        for err in first:
            code = err.find("code")
            message = err.find("message")
            errors.append(
                {
                    "code": _text(code) if code is not None else None,
                    "message": _text(message) if message is not None else _text(err),
                }
            )
        return {"errors": errors}
    if first.tag == "api":
        return {"api": _api_index_from_xml(first)}
    if len(children) > 1:  # several entities in one body (multi-entity writes)
        return {first.tag: [_entity(c) for c in children]}
    if _is_list_node(first):
        return {first.tag: [_entity(c) for c in first]}
    return {first.tag: _entity(first)}


_METHOD_ATTRS = ("get", "put", "post", "patch", "delete", "head")


def _api_index_from_xml(api: Element) -> dict[str, Any]:
    resources: dict[str, list[str]] = {}
    for node in api:
        methods = [m.upper() for m in _METHOD_ATTRS if node.get(m, "").lower() == "true"]
        resources[node.tag] = methods
    shop_name = api.get("shopName") or api.get("shop_name") or ""
    return {"shop_name": shop_name, "resources": resources}


def parse_api_index(data: Any) -> tuple[str, dict[str, frozenset[str]]]:
    """Decoded ``GET /api/`` -> (shop name, {resource: methods}).

    The XML index carries ``get="true" put="true" ...`` per resource; the 1.6/1.7
    JSON index is a bare list of names (methods unknown -> empty set).
    """
    if isinstance(data, list):
        return "", {str(name): frozenset() for name in data}
    if isinstance(data, Mapping) and isinstance(data.get("api"), Mapping):
        api = data["api"]
        return api.get("shop_name", ""), {
            name: frozenset(methods) for name, methods in api.get("resources", {}).items()
        }
    raise BodyError("not a resource index")


def decode_body(body: bytes | str, content_type: str = "") -> Any:
    """Decode a Webservice body, choosing XML or JSON from the content itself.

    Raises BodyError for HTML, PHP notices, truncated or otherwise malformed bodies.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        return None
    if stripped.startswith("<"):
        if looks_like_html(stripped) and not stripped.startswith(("<?xml", "<prestashop")):
            raise BodyError("an HTML page instead of XML/JSON")
        return xml_to_data(stripped)
    if stripped[0] in "[{":
        return json_to_data(stripped)
    ctype = content_type.lower()
    if "json" in ctype:
        return json_to_data(stripped)
    raise BodyError(f"not XML/JSON (starts with {_one_line(stripped, 60)!r})")


def errors_of(data: Any) -> list[ApiError]:
    """The errors of a decoded error body (empty when it is not one)."""
    if not isinstance(data, Mapping) or "errors" not in data:
        return []
    raw = data["errors"]
    if isinstance(raw, Mapping):
        raw = raw.get("error", [])
        raw = raw if isinstance(raw, list) else [raw]
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            out.append(ApiError(None, _one_line(to_str(item))))
            continue
        code = item.get("code")
        try:
            code_int = to_int(code, default=-1) if code not in (None, "") else None
        except ValueError:
            code_int = None
        out.append(ApiError(code_int if code_int != -1 else None, to_str(item.get("message"))))
    return out


def items_of(data: Any) -> list[dict[str, Any]]:
    """The objects of a decoded list or single-object body.

    ``[]`` (JSON empty list), ``{}``, ``None`` and an empty XML plural node all
    give ``[]``; ``{"orders": [...]}`` gives the list; ``{"order": {...}}`` a
    one-item list. Raises BodyError for anything else.
    """
    if data is None or data == [] or data == {}:
        return []
    if isinstance(data, list):
        if all(isinstance(x, Mapping) for x in data):
            return [dict(x) for x in data]
        raise BodyError("a list of names where objects were expected")
    if isinstance(data, Mapping):
        if "errors" in data:
            raise BodyError("an error body where objects were expected")
        values = list(data.values())
        if len(values) == 1:
            value = values[0]
            if isinstance(value, list):
                if all(isinstance(x, Mapping) for x in value):
                    return [dict(x) for x in value]
            elif isinstance(value, Mapping):
                return [dict(value)]
            elif value in ("", None):
                return []
        raise BodyError("unexpected body shape")
    raise BodyError("unexpected body shape")
