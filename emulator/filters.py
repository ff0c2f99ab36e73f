"""PrestaShop's query semantics for GET lists: ``filter[field]=…``, ``sort``, ``limit``.

Values compare as MySQL does (numeric prefixes, case-insensitive strings, inclusive BETWEEN).
See docs/prestashop/PROTOCOL.md §5.2 (filter), §5.3 (sort), §5.4 (limit).
Entry point: :func:`select`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any

from .data import Obj, ShopState
from .errors import _err, did_you_mean
from .schema import DATE_KINDS, NUMERIC_KINDS, Field, Resource, Version

FILTER_KEY_RE = re.compile(r"^filter\[([^\]]*)\](?:\[([^\]]*)\])?$")
FILTER_RE = re.compile(r"^(.*)\[(.*)\](.*)$", re.S)
BETWEEN_RE = re.compile(r"^([\d.:\-\s]+),([\d.:\-\s]+)$")
NUM_PREFIX_RE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
SORT_SYNTAX = ('The "sort" value has to be formed as this example: "field_ASC" or '
               "'[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)")


def php_int(s: str) -> int:
    m = re.match(r"^\s*[-+]?\d+", s or "")
    return int(m.group(0)) if m else 0


def mysql_num(v: Any) -> float:
    if v is None:
        return 0.0
    m = NUM_PREFIX_RE.match(str(v))
    return float(m.group(0)) if m else 0.0


class Pred:
    """One ``filter[field]=value`` compiled like PrestaShop's SQLUtils (MySQL semantics)."""

    def __init__(self, f: Field, raw: str, langs: list[int]) -> None:
        self.f = f
        self.langs = langs
        self.numeric = f.kind in NUMERIC_KINDS or f.name == "id"
        self.date = f.kind in DATE_KINDS
        self.ops: list[tuple[str, Any]] = []  # all must hold
        self.id_candidates: list[int] | None = None
        m = FILTER_RE.match(raw)
        if not m:
            self.ops.append(("eq", self._conv(raw)))
            return
        pre, inner, post = m.groups()
        if pre == "%" or post == "%":
            pattern = pre + inner + post
            rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
            self.ops.append(("like", re.compile(rx, re.I | re.S)))
        elif pre == "" and post == "":
            if inner.find("|") > 0:
                vals = inner.split("|")
                self.ops.append(("in", [self._conv(v) for v in vals]))
            else:
                bm = BETWEEN_RE.match(inner)
                if bm:
                    lo, hi = sorted([bm.group(1), bm.group(2)], key=self._php_sort_key)
                    self.ops.append(("between", (self._conv(lo), self._conv(hi))))
                else:
                    self.ops.append(("eq", self._conv(inner)))
        elif pre == ">":
            self.ops.append(("gt", self._conv(inner)))
        elif pre == "<":
            self.ops.append(("lt", self._conv(inner)))
        elif pre == "!":
            for v in inner.split("|"):
                self.ops.append(("ne", self._conv(v)))
        # any other prefix: PrestaShop adds no condition at all
        if f.name == "id" and len(self.ops) == 1 and self.ops[0][0] in ("eq", "in"):
            vals = self.ops[0][1] if self.ops[0][0] == "in" else [self.ops[0][1]]
            if all(float(v).is_integer() for v in vals):
                self.id_candidates = sorted({int(v) for v in vals})

    @staticmethod
    def _php_sort_key(s: str) -> tuple[int, Any]:
        try:
            return (0, float(s))
        except ValueError:
            return (1, s)

    def _conv(self, s: str) -> Any:
        if self.numeric:
            return mysql_num(s)
        if self.date:
            s = s.strip()
            if self.f.kind == "date" and len(s) == 10:
                s += " 00:00:00"
            return s
        return s.lower().rstrip(" ")

    def _val(self, v: Any) -> Any:
        if self.numeric:
            return mysql_num(v)
        if self.date:
            return str(v)
        return str(v).lower().rstrip(" ")

    def _test(self, raw: Any) -> bool:
        if raw is None:
            return False
        v = self._val(raw)
        for op, arg in self.ops:
            if op == "eq":
                ok = v == arg
            elif op == "in":
                ok = v in arg
            elif op == "between":
                ok = arg[0] <= v <= arg[1]
            elif op == "gt":
                ok = v > arg
            elif op == "lt":
                ok = v < arg
            elif op == "ne":
                ok = v != arg
            else:  # like
                ok = arg.fullmatch(str(raw)) is not None
            if not ok:
                return False
        return True

    def __call__(self, obj: Obj) -> bool:
        f = self.f
        raw = obj["id"] if f.name == "id" else obj.get(f.name, f.default_value)
        if f.kind == "i18n":
            vals = raw if isinstance(raw, dict) else {}
            return any(self._test(vals.get(lid, "")) for lid in self.langs)
        return self._test(raw)


def _sort_key(f: Field) -> Callable[[Obj], Any]:
    numeric = f.kind in NUMERIC_KINDS or f.name == "id"

    def key(o: Obj) -> Any:
        raw = o["id"] if f.name == "id" else o.get(f.name, f.default_value)
        if isinstance(raw, dict):
            raw = next(iter(raw.values()), "")
        if numeric:
            return mysql_num(raw)
        return "" if raw is None else str(raw).lower()

    return key


def filterable(res: Resource, version: Version, date_on: bool) -> list[str]:
    """The fields a list can be filtered on (``date_add``/``date_upd`` only with ``date=1``)."""
    return [f.name for f in res.fields_for(version)
            if date_on or f.name not in ("date_add", "date_upd")]


def parse_filters(res: Resource, version: Version, q: Any, date_on: bool, langs: list[int]) -> list[Pred]:
    """The ``filter[…]`` parameters of query ``q`` (a multi-dict), in order; errors 31–34."""
    fmap = {f.name: f for f in res.fields_for(version)}
    preds: list[Pred] = []
    for k, v in q.multi_items():
        if not k.startswith("filter"):
            continue
        m = FILTER_KEY_RE.match(k)
        if not m:
            continue
        name = m.group(1)
        if m.group(2) is not None:
            raise _err(400, 31, f'The resource "{res.name}" has no linked table')
        f = fmap.get(name)
        if f is None or (not date_on and name in ("date_add", "date_upd")):
            raise did_you_mean(400, "This filter does not exist", name, filterable(res, version, date_on), 32)
        if f.getter:
            raise _err(400, 34, f'The field "{name}" is dynamic. It is not possible to filter GET query with this field.')
        if v == "":
            raise _err(400, 33, f'The filter "{name}" is malformed.')
        preds.append(Pred(f, v, langs))
    return preds


def parse_sort(res: Resource, version: Version, raw_sort: str | None, date_on: bool) -> list[tuple[Field, bool]]:
    """``sort=[field_ASC,…]`` as (field, descending) pairs, outermost first; errors 37, 38."""
    fmap = {f.name: f for f in res.fields_for(version)}
    sorts: list[tuple[Field, bool]] = []
    if raw_sort:
        inner = raw_sort[1:-1] if raw_sort.startswith("[") and raw_sort.endswith("]") else raw_sort
        for part in inner.split(","):
            if "_" not in part:
                raise _err(400, 37, SORT_SYNTAX)
            name, direction = part.rsplit("_", 1)
            direction = direction.upper()
            if direction not in ("ASC", "DESC"):
                raise _err(400, 37, SORT_SYNTAX)
            f = fmap.get(name)
            if f is None or f.getter or (not date_on and name in ("date_add", "date_upd")):
                i18n = [n for n, ff in fmap.items() if ff.kind == "i18n"]
                plain = [n for n in filterable(res, version, date_on) if fmap[n].kind != "i18n" and not fmap[n].getter]
                raise _err(400, 38, "Unable to filter by this field. However, these are available: "
                           + ", ".join(plain) + ", for i18n fields: " + ", ".join(i18n))
            sorts.append((f, direction == "DESC"))
    return sorts


def parse_limit(limit: str | None) -> tuple[int, int | None]:
    """``limit=N`` or ``limit=offset,N`` as (offset, count); count None without a limit; error 39."""
    offset, count = 0, None
    if limit is not None:
        parts = limit.split(",")
        if len(parts) > 2:
            raise _err(400, 39, 'The "limit" value has to be formed as this example: "5,25" or "10"')
        if len(parts) == 2:
            offset, count = max(0, php_int(parts[0])), max(0, php_int(parts[1]))
        else:
            count = max(0, php_int(parts[0]))
    return offset, count


def select(st: ShopState, res: Resource, q: Any, date_on: bool, langs: list[int],
           keep: Callable[[Obj], bool] | None = None) -> list[Obj]:
    """The objects a GET list answers for query ``q`` (a multi-dict): filtered, sorted, limited.

    Parameters are checked in PrestaShop's order (filters, sort, limit); the first bad one
    raises its :class:`~emulator.errors.ApiError`. ``langs``: the languages i18n filters match in;
    ``keep``: the rows the request's shop context may see (before sort and limit).
    """
    preds = parse_filters(res, st.version, q, date_on, langs)
    sorts = parse_sort(res, st.version, q.get("sort"), date_on)
    offset, count = parse_limit(q.get("limit"))
    table = st.table(res.name)
    id_pred = next((p for p in preds if p.id_candidates is not None), None)
    # a shop's order_details are indexed by id_order (MySQL key): read through the index
    order_pred = next((p for p in preds if res.name == "order_details"
                       and p.f.name == "id_order" and len(p.ops) == 1
                       and p.ops[0][0] in ("eq", "in")), None)
    if id_pred is not None:
        objs = [table[i] for i in id_pred.id_candidates or () if i in table]
        rest = [p for p in preds if p is not id_pred]
    elif order_pred is not None:
        wanted = order_pred.ops[0][1] if order_pred.ops[0][0] == "in" else [order_pred.ops[0][1]]
        ids = sorted({d for v in wanted if float(v).is_integer()
                      for d in st._details_by_order.get(int(v), ())})
        objs = [table[i] for i in ids if i in table]
        rest = preds  # the predicate still holds for each (and keeps MySQL's semantics)
    elif (keep is None and len(preds) == 1 and preds[0].f.name == "id" and len(preds[0].ops) == 1
          and preds[0].ops[0][0] == "gt" and count is not None
          and all(f.name == "id" and not desc for f, desc in sorts)):
        # "the orders after id N, by id, a page": the primary key's range scan; the
        # table is kept in id order, so the page is the next offset+count rows
        # (MySQL walks the offset rows in its index: C speed, next to nothing, so the
        # page itself is what is read here)
        after = preds[0].ops[0][1]
        keys = list(table)
        start = bisect.bisect_right(keys, after)
        objs = [table[k] for k in keys[start + offset:start + offset + count]]
        rest = preds  # the predicate still holds for each (MySQL's semantics kept)
        offset = 0
    else:
        objs = list(table.values())
        rest = preds
    if keep is not None:
        objs = [o for o in objs if keep(o)]
    for p in rest:
        objs = [o for o in objs if p(o)]
    for f, desc in reversed(sorts):
        objs.sort(key=_sort_key(f), reverse=desc)
    if count is not None:
        objs = objs[offset: offset + count]
    return objs
