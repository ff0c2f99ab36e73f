"""XML and JSON rendering with the shapes and quirks of a real shop (docs/prestashop/PROTOCOL.md §4, §9).

XML is built by string concatenation (values in CDATA), JSON from prepared dicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .data import Obj, ShopState
from .schema import Field, Resource

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
XML_TAIL = "</prestashop>\n"

# display spec: None = ids only; "full"; or list of (field, subfields|None)
Display = None | Literal["full"] | list[tuple[str, list[str] | None]]


def cdata(s: str) -> str:
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def attr(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Ctx:
    state: ShopState
    base: str  # shop root with trailing slash, e.g. http://127.0.0.1:8080/
    langs: list[int]
    # the request's shop context (id_shop / id_shop_group): its shops, None = the default shop's,
    # reading every shop's rows (emulator.app.Api.shop_context)
    shops: list[int] | None = None

    @property
    def view_shop(self) -> int:
        """The shop whose product values are shown and written."""
        return self.shops[0] if self.shops else self.state.default_shop

    @property
    def api(self) -> str:
        return self.base + "api/"

    @property
    def cdata_empty(self) -> bool:
        return self.state.version >= (8,)


def _is_linkable(v: Any) -> bool:
    return v not in (None, "", "0")


def _href(ctx: Ctx, f: Field, v: str, owner: Obj, resource: str) -> str:
    if f.xlink == "images" and resource == "products":
        return f"{ctx.api}images/products/{owner['id']}/{v}"
    return f"{ctx.api}{f.xlink}/{v}"


# ---------------------------------------------------------------------- XML
def xml_field(ctx: Ctx, resource: str, f: Field, obj: Obj, indent: str = "\t") -> str:
    v = obj.get(f.name, f.default_value) if f.name != "id" else obj["id"]
    name = f.name
    if f.kind == "i18n":
        vals = v if isinstance(v, dict) else {}
        parts = []
        for lid in ctx.langs:
            parts.append(f'<language id="{lid}" xlink:href="{ctx.api}languages/{lid}">'
                         f"{cdata(vals.get(lid, '') or '')}</language>")
        return f"{indent}<{name}>{''.join(parts)}</{name}>\n"
    attrs = ""
    if f.xlink and _is_linkable(v):
        attrs += f' xlink:href="{attr(_href(ctx, f, str(v), obj, resource))}"'
    if f.getter:
        attrs += ' notFilterable="true"'
    if v is None or v == "":
        inner = "<![CDATA[]]>" if ctx.cdata_empty else ""
    else:
        inner = cdata(str(v))
    return f"{indent}<{name}{attrs}>{inner}</{name}>\n"


def xml_assocs(ctx: Ctx, res: Resource, obj: Obj, only: dict[str, list[str] | None] | None) -> str:
    out = ["<associations>\n"]
    state = ctx.state
    for a in res.assocs_for(state.version):
        if only is not None and a.name not in only:
            continue
        sub = only.get(a.name) if only is not None else None
        items = state.assoc_items(res.name, obj, a.name)
        head = f'<{a.name} nodeType="{a.node}" ' + (
            'virtualEntity="true"' if a.api is None else f'api="{a.api}"')
        if not items:
            out.append(head + "/>\n")
            continue
        out.append(head + ">\n")
        fields = [f for f in a.fields if f.active(state.version) and (sub is None or f.name in sub)]
        for item in items:
            if a.api is not None and a.item_href:
                href = ctx.api + a.item_href.format(id=item.get("id", ""), owner=obj["id"])
                out.append(f'\t<{a.node} xlink:href="{attr(href)}">\n')
            else:
                out.append(f"\t<{a.node}>\n")
            for f in fields:
                v = item.get(f.name, f.default_value)
                attrs = ""
                if f.xlink and _is_linkable(v):
                    attrs = f' xlink:href="{ctx.api}{f.xlink}/{v}"'
                inner = "" if v in (None, "") else cdata(str(v))
                if not inner and ctx.cdata_empty:
                    inner = "<![CDATA[]]>"
                out.append(f"\t<{f.name}{attrs}>{inner}</{f.name}>\n")
            out.append(f"\t</{a.node}>\n")
        out.append(f"</{a.name}>\n")
    out.append("</associations>\n")
    return "".join(out)


def xml_object(ctx: Ctx, res: Resource, obj: Obj, display: Display) -> str:
    version = ctx.state.version
    parts = [f"<{res.node}>\n"]
    if display == "full" or display is None:
        for f in res.fields_for(version):
            parts.append(xml_field(ctx, res.name, f, obj))
        if res.assocs:
            parts.append(xml_assocs(ctx, res, obj, None))
    else:
        fmap = {f.name: f for f in res.fields_for(version)}
        only: dict[str, list[str] | None] = {}
        for name, sub in display:
            if name in fmap:
                parts.append(xml_field(ctx, res.name, fmap[name], obj))
            else:
                only[name] = sub
        if only:
            parts.append(xml_assocs(ctx, res, obj, only))
    parts.append(f"</{res.node}>\n")
    return "".join(parts)


def xml_list(ctx: Ctx, res: Resource, objs: list[Obj], display: Display) -> str:
    node = res.list_node or res.name
    parts = [XML_HEAD, f"<{node}>\n"]
    if display is None:
        api = ctx.api + res.name + "/"
        for o in objs:
            parts.append(f'<{res.node} id="{o["id"]}" xlink:href="{api}{o["id"]}"/>\n')
    else:
        for o in objs:
            parts.append(xml_object(ctx, res, o, display))
    parts.append(f"</{node}>\n")
    parts.append(XML_TAIL)
    return "".join(parts)


def xml_single(ctx: Ctx, res: Resource, obj: Obj, display: Display = "full") -> str:
    return XML_HEAD + xml_object(ctx, res, obj, display) + XML_TAIL


def xml_many(ctx: Ctx, res: Resource, objs: list[Obj]) -> str:
    """Write responses: one full entity element per written object."""
    return XML_HEAD + "".join(xml_object(ctx, res, o, "full") for o in objs) + XML_TAIL


def xml_errors(errors: list[tuple[int | None, str]]) -> str:
    parts = [XML_HEAD, "<errors>\n"]
    for code, msg in errors:
        parts.append("<error>\n")
        if code is not None:
            parts.append(f"<code>{cdata(str(code))}</code>\n")
        parts.append(f"<message>{cdata(msg)}</message>\n")
        parts.append("</error>\n")
    parts.append("</errors>\n")
    parts.append(XML_TAIL)
    return "".join(parts)


def xml_schema(ctx: Ctx, res: Resource, kind: str) -> str:
    version = ctx.state.version
    empty = "<![CDATA[]]>" if ctx.cdata_empty else ""
    parts = [XML_HEAD, f"<{res.node}>\n"]
    for f in res.fields_for(version):
        if kind == "synopsis" and f.name == "id":
            continue
        if kind == "blank" and f.readonly:
            continue
        attrs = ""
        if kind == "synopsis":
            if f.required:
                attrs += ' required="true"'
            if f.getter:
                attrs += ' notFilterable="true"'
            if f.fmt:
                attrs += f' format="{f.fmt}"'
            if f.readonly:
                attrs += ' read_only="true" readOnly="true"'
        if f.kind == "i18n":
            lparts = []
            for lid in ctx.langs:
                href = "" if kind == "blank" else f' xlink:href="{ctx.api}languages/{lid}"'
                lparts.append(f'<language id="{lid}"{href}>{empty}</language>')
            langs = "".join(lparts)
            parts.append(f"\t<{f.name}{attrs}>{langs}</{f.name}>\n")
        else:
            parts.append(f"\t<{f.name}{attrs}>{empty}</{f.name}>\n")
    assocs = res.assocs_for(version)
    if assocs:
        parts.append("<associations>\n")
        for a in assocs:
            if kind == "blank":
                parts.append(f"<{a.name}>\n")
            else:
                parts.append(f'<{a.name} nodeType="{a.node}" '
                             + ('virtualEntity="true"' if a.api is None else f'api="{a.api}"') + ">\n")
            parts.append(f"\t<{a.node}>\n")
            for f in a.fields:
                if not f.active(version):
                    continue
                sattrs = ""
                if kind == "synopsis":
                    if f.required:
                        sattrs += ' required="true"'
                    if f.readonly:
                        sattrs += ' read_only="true" readOnly="true"'
                parts.append(f"\t<{f.name}{sattrs}>{empty}</{f.name}>\n")
            parts.append(f"\t</{a.node}>\n</{a.name}>\n")
        parts.append("</associations>\n")
    parts.append(f"</{res.node}>\n")
    parts.append(XML_TAIL)
    return "".join(parts)


def xml_index(ctx: Ctx, names: list[tuple[str, str, frozenset[str]]]) -> str:
    with_patch = ctx.state.version >= (8,)
    parts = [XML_HEAD, f'<api shopName="{attr(ctx.state.shop_name)}">\n']
    for name, desc, methods in names:
        flags = " ".join(
            f'{m.lower()}="{"true" if m in methods else "false"}"'
            for m in (("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD") if with_patch
                      else ("GET", "PUT", "POST", "DELETE", "HEAD"))
        )
        href = f"{ctx.api}{name}"
        parts.append(f'<{name} xlink:href="{href}" {flags}>\n')
        parts.append(f'<description xlink:href="{href}" {flags}>\n{attr(desc)}</description>\n')
        if name not in ("images", "search"):  # specific management: no schema
            parts.append(f'<schema xlink:href="{href}?schema=blank" type="blank"/>\n')
            parts.append(f'<schema xlink:href="{href}?schema=synopsis" type="synopsis"/>\n')
        parts.append(f"</{name}>\n")
    parts.append("</api>\n")
    parts.append(XML_TAIL)
    return "".join(parts)


# ---------------------------------------------------------------------- JSON
def _jval(ctx: Ctx, f: Field, v: Any) -> Any:
    if f.kind == "i18n":
        vals = v if isinstance(v, dict) else {}
        if len(ctx.langs) == 1:
            return vals.get(ctx.langs[0], "")
        return [{"id": lid, "value": vals.get(lid, "")} for lid in ctx.langs]
    if (f.native or (ctx.state.json_ints and f.kind == "int")) and isinstance(v, str) and v.isdigit():
        return int(v)
    return v


def json_assocs(ctx: Ctx, res: Resource, obj: Obj, only: dict[str, list[str] | None] | None) -> dict:
    out: dict[str, list] = {}
    state = ctx.state
    for a in res.assocs_for(state.version):
        if only is not None and a.name not in only:
            continue
        sub = only.get(a.name) if only is not None else None
        items = state.assoc_items(res.name, obj, a.name)
        if not items:
            continue
        fields = [f for f in a.fields if f.active(state.version) and (sub is None or f.name in sub)]
        out[a.name] = [
            {f.name: (str(it["id"]) if f.name == "id" else it.get(f.name, f.default_value)) for f in fields}
            for it in items
        ]
    return out


def json_object(ctx: Ctx, res: Resource, obj: Obj, display: Display) -> dict:
    version = ctx.state.version
    d: dict[str, Any] = {}
    if display == "full" or display is None:
        if ctx.state.json_ints:
            for f in res.fields_for(version):
                d[f.name] = _jval(ctx, f, obj.get(f.name, f.default_value))
        else:
            get = obj.get
            for name, default, i18n, native in res.plan(version):
                if native:
                    d[name] = int(get(name, default) or 0)
                elif i18n:
                    vals = get(name) or {}
                    if len(ctx.langs) == 1:
                        d[name] = vals.get(ctx.langs[0], "")
                    else:
                        d[name] = [{"id": lid, "value": vals.get(lid, "")} for lid in ctx.langs]
                else:
                    d[name] = get(name, default)
        d["id"] = obj["id"]
        if res.assocs:
            assocs = json_assocs(ctx, res, obj, None)
            if assocs:
                d["associations"] = assocs
    else:
        fmap = {f.name: f for f in res.fields_for(version)}
        only: dict[str, list[str] | None] = {}
        for name, sub in display:
            found = fmap.get(name)
            if found is None:
                only[name] = sub
            elif name == "id":
                d["id"] = obj["id"]
            else:
                d[name] = _jval(ctx, found, obj.get(name, found.default_value))
        if only:
            assocs = json_assocs(ctx, res, obj, only)
            if assocs:
                d["associations"] = assocs
    return d


def _php_truthy(v: Any) -> bool:
    return v not in (None, "", "0", 0, False, [], {})


def dumps(data: Any) -> str:
    # PHP json_encode(JSON_UNESCAPED_UNICODE) escapes "/" as "\/"
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def json_list(ctx: Ctx, res: Resource, objs: list[Obj], display: Display) -> str:
    if not objs:
        return "[]"
    if display is None:
        items = [{"id": o["id"]} for o in objs]
    else:
        items = [json_object(ctx, res, o, display) for o in objs]
    return dumps({res.list_node or res.name: items})


def json_single(ctx: Ctx, res: Resource, obj: Obj, display: Display = "full",
                plural: bool = False) -> str:
    d = json_object(ctx, res, obj, display)
    if plural:
        return dumps({res.name: [d]})
    if ctx.state.version >= (8,):
        d = {k: v for k, v in d.items() if _php_truthy(v)}
    return dumps({res.node: d})


def json_errors(errors: list[tuple[int | None, str]]) -> str:
    return dumps({"errors": [{"code": c, "message": m} if c is not None else {"message": m}
                             for c, m in errors]})


def plain_object(state: ShopState, resource: str, obj: Obj) -> dict:
    """Every field with its default applied; i18n as ``{"1": ..}``; for dumps and the side channel."""
    res = state.resources[resource]
    d: dict[str, Any] = {}
    for f in res.fields_for(state.version):
        v = obj["id"] if f.name == "id" else obj.get(f.name, f.default_value)
        if f.kind == "i18n":
            vals = v if isinstance(v, dict) else {}
            v = {str(lid): vals.get(lid, "") for lid in state.lang_ids}
        d[f.name] = v
    assocs = {}
    for a in res.assocs_for(state.version):
        items = state.assoc_items(resource, obj, a.name)
        if items:
            fields = [f for f in a.fields if f.active(state.version)]
            assocs[a.name] = [{f.name: (str(it["id"]) if f.name == "id" else it.get(f.name, f.default_value))
                               for f in fields} for it in items]
    if assocs:
        d["associations"] = assocs
    return d
