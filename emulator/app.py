"""Starlette application emulating PrestaShop's Webservice (``/api/``) plus a JSON side channel.

See docs/prestashop/PROTOCOL.md §11. Entry point: :func:`create_app`. The query filters
(``filter``, ``sort``, ``limit``) are in :mod:`emulator.filters`, the error answers in
:mod:`emulator.errors`, the side channel ``/_emulator/`` in :mod:`emulator.side_channel`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import time
from typing import Any

from defusedxml import ElementTree as SafeET
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import filters, render
from .data import KeySpec, Obj, ShopState
from .errors import ApiError, _err, did_you_mean
from .faults import GATEWAY_HTML, MAINTENANCE_HTML, Fault
from .filters import php_int
from .render import Ctx
from .schema import KIND_DEFAULTS, Field, Resource
from .side_channel import SideChannel

REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as '
         'the login. No password required."')
XML_CT = "text/xml;charset=utf-8"
JSON_CT = "application/json"
REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "SEARCH"]
INT_RE = re.compile(r"^-?\d+$")


def class_name(res: Resource) -> str:
    return "".join(p.capitalize() for p in res.node.split("_"))


def exec_time(t0: float) -> str:
    r = round(time.perf_counter() - t0, 3)
    return "0" if r == 0 else f"{r:.3f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------- XML input
def parse_body(body: bytes, res: Resource, state: ShopState) -> list[dict[str, Any]]:
    text = body.decode("utf-8", errors="replace")
    if text.startswith("xml="):
        text = text[4:]
    try:
        root = SafeET.fromstring(text.encode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - any parse failure is PrestaShop's code 127
        raise _err(500, 127, f"XML error : String could not be parsed as XML\nXML length : {len(text)}\n"
                   f"Original XML : {text}") from exc
    fields = {f.name: f for f in res.fields_for(state.version)}
    entities = []
    for ent in list(root):
        values: dict[str, Any] = {}
        assocs: dict[str, list[dict[str, str]]] = {}
        for child in list(ent):
            tag = child.tag
            if tag == "associations":
                for a in list(child):
                    assocs[a.tag] = [{sub.tag: (sub.text or "") for sub in list(item)} for item in list(a)]
                continue
            f = fields.get(tag)
            if f is None:
                continue  # unknown elements are silently ignored
            if f.kind == "i18n":
                values[tag] = {php_int(lang.get("id", "0")): (lang.text or "") for lang in child.iter("language")}
            else:
                values[tag] = child.text or ""
        entities.append({"values": values, "associations": assocs})
    return entities


# ---------------------------------------------------------------------- the API
class Api:
    def __init__(self, state: ShopState) -> None:
        self.state = state

    # ------------------------------------------------------------- helpers
    def headers(self, t0: float, ctype: str | None, authed: bool = True) -> dict[str, str]:
        h = {"Access-Time": str(int(time.time())), "X-Powered-By": "PrestaShop Webservice"}
        if authed or self.state.version < (1, 7):
            h["PSWS-Version"] = self.state.version_str
        if ctype:
            h["Content-Type"] = ctype
        h["Execution-Time"] = exec_time(t0)
        if self.state.connection_close:
            h["Connection"] = "close"
        return h

    def error_response(self, e: ApiError, as_json: bool, t0: float, method: str) -> Response:
        errors = list(e.errors)
        status = e.status
        if e.php_warning:
            status = 500
            errors.append((3, "[PHP Warning #2] Trying to access array offset on value of type bool "
                              "(/var/www/html/classes/webservice/WebserviceRequest.php, line 1207)"))
        body = render.json_errors(errors) if as_json else render.xml_errors(errors)
        h = self.headers(t0, JSON_CT if as_json else XML_CT, authed=not e.auth)
        if status == 401:
            h = {"WWW-Authenticate": REALM, **h}
        return Response(b"" if method == "HEAD" else body.encode(), status, headers=h)

    def ok(self, body: str, status: int, as_json: bool, t0: float, method: str, request: Request) -> Response:
        raw = body.encode()
        sha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        h = self.headers(t0, JSON_CT if as_json else XML_CT)
        h["Content-Sha1"] = sha
        local = request.headers.get("local-content-sha1")
        if local and local == sha and method in ("GET", "HEAD"):
            if self.state.version >= (8,):
                return Response(b"", 304, headers=h)
            return Response(b"", 200, headers=h)
        return Response(b"" if method == "HEAD" else raw, status, headers=h)

    # ------------------------------------------------------------- entry
    async def handle(self, request: Request) -> Response:
        t0 = time.perf_counter()
        st = self.state
        q = request.query_params
        if request.url.path.startswith("/webservice/dispatcher.php"):
            url = q.get("url", "")
        else:
            url = request.url.path[len("/api"):].lstrip("/")
        segments = [s for s in url.split("/") if s != ""]
        resource = segments[0] if segments else ""
        method = request.method.upper()
        if method == "POST" and q.get("ps_method"):
            method = q["ps_method"].upper()
        st.count_request(method, resource, q.get("id_shop"))

        latency, fault = st.faults.pick(method, resource)
        stop = getattr(st, "stop_event", None)
        if latency:
            await asyncio.sleep(latency)
        if fault is not None and fault.kind == "timeout":
            await _hold(fault.seconds or 30.0, stop)
        if fault is not None and fault.kind == "hold":
            await fault.hold(stop)
        early = self.fault_response(fault, request, resource)
        if early is None and fault is not None:  # hostile answers (emulator/faults.py)
            early = fault.early_response(request, resource, stop)
        if early is not None:
            return early

        as_json = (request.headers.get("io-format") or request.headers.get("output-format")
                   or q.get("output_format") or q.get("io_format")) == "JSON"
        try:
            resp = await self.dispatch(request, method, segments, as_json, t0, fault)
        except ApiError as e:
            resp = self.error_response(e, as_json, t0, method)
        if fault is not None and fault.kind == "truncate" and resp.body:
            resp = Response(resp.body[: max(1, len(resp.body) // 2)], resp.status_code,
                            headers={k: v for k, v in resp.headers.items() if k.lower() != "content-length"})
        if fault is not None:
            resp = fault.shape(resp, stop)
        return resp

    def fault_response(self, fault: Fault | None, request: Request, resource: str) -> Response | None:
        if fault is None or fault.kind in ("timeout", "hold", "truncate", "code46", "latency"):
            return None
        if fault.kind == "status":
            if fault.body is not None:
                body = fault.body
            elif fault.status == 500:
                body = ""
            else:
                body = GATEWAY_HTML.format(status=fault.status, reason=REASONS.get(fault.status, "Error"))
            return Response(body.encode(), fault.status,
                            headers={"Content-Type": "text/html; charset=utf-8"} if body else {})
        if fault.kind == "rate_limit":
            return Response(b"<html><body><h1>429 Too Many Requests</h1></body></html>", 429,
                            headers={"Retry-After": str(fault.retry_after),
                                     "Content-Type": "text/html; charset=utf-8"})
        if fault.kind == "maintenance":
            return Response(MAINTENANCE_HTML.encode(), 503,
                            headers={"Content-Type": "text/html; charset=utf-8", "Retry-After": "3600"})
        if fault.kind == "redirect":
            loc = fault.location or f"http://other-host.invalid{request.url.path}" + (
                f"?{request.url.query}" if request.url.query else "")
            return Response(b"", 302, headers={"Location": loc})
        if fault.kind == "malformed":
            as_json = (request.headers.get("io-format") or request.headers.get("output-format")
                       or request.query_params.get("output_format")
                       or request.query_params.get("io_format")) == "JSON"
            body = '{"%s":[{"id":1,"reference":"' % (resource or "orders") if as_json else (
                render.XML_HEAD + f"<{resource or 'orders'}>\n<order id=\"1\" xlink:href=")
            return Response(body.encode(), 200, headers={"Content-Type": JSON_CT if as_json else XML_CT})
        return None

    # ------------------------------------------------------------- auth & routing
    def authenticate(self, request: Request) -> KeySpec:
        st = self.state
        auth = request.headers.get("authorization")
        key: str | None = None
        if auth and auth[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                decoded = ""
            key = decoded.split(":", 1)[0]
        elif "ws_key" in request.query_params:
            key = request.query_params["ws_key"]
        if key is None:
            raise _NoCredentials()
        if not st.enabled:
            raise _err(503, 22, "The PrestaShop webservice is disabled. Please activate it in the PrestaShop Back Office")
        if key == "":
            raise _err(401, 17, "Authentication key is empty", auth=True)
        if len(key) != 32:
            raise _err(401, 18, "Invalid authentication key format", auth=True)
        spec = st.keys.get(key)
        if spec is None or not spec.active:
            raise ApiError(401, [(20, "Authentification key is not active"),
                                 (21, "No permission for this authentication key")], auth=True)
        if not any(spec.permissions.values()):
            raise _err(401, 21, "No permission for this authentication key", auth=True)
        return spec

    async def dispatch(self, request: Request, method: str, segments: list[str], as_json: bool,
                       t0: float, fault: Fault | None) -> Response:
        st = self.state
        try:
            spec = self.authenticate(request)
        except _NoCredentials:
            return Response(b"401 Unauthorized", 401, headers={
                "X-Powered-By": "PHP/7.4.33", "Content-Type": "text/html; charset=utf-8",
                "WWW-Authenticate": REALM})
        shops = self.shop_context(request.query_params)
        resource = segments[0] if segments else ""
        valid_methods = {"GET", "POST", "PUT", "DELETE", "HEAD"} | ({"PATCH"} if st.version >= (8,) else set())
        if not resource:
            if method not in valid_methods:
                raise _err(405, 23, f"Method {method} is not valid")
            return self.index(spec, as_json, t0, method, request)
        res = st.resources.get(resource)
        if res is None:
            raise did_you_mean(400, f'Resource of type "{resource}" does not exists', resource,
                               sorted(st.resources), 27)
        if not spec.allows_resource(resource):
            raise _err(401, 26, f'Resource of type "{resource}" is not allowed with this authentication key')
        if method not in valid_methods:
            raise _err(405, 23, f"Method {method} is not valid")
        if method in res.forbidden:
            raise _err(405, 101, f"Method {method} is not allowed for the resource {resource}")
        if method not in spec.methods_for(resource):
            raise _err(405, 25, f"Method {method} is not allowed for the resource {resource} with this authentication key")
        ctx = Ctx(st, str(request.base_url), st.lang_ids, shops)
        if method in ("GET", "HEAD"):
            return self.get(request, res, segments, ctx, as_json, t0, method)
        if method == "DELETE":
            return self.delete(request, res, segments, t0)
        body = await request.body()
        if method == "POST":
            return self.post(request, res, body, ctx, as_json, t0, fault)
        return self.put(request, res, body, ctx, as_json, t0, patch=(method == "PATCH"))

    def shop_context(self, q: Any) -> list[int] | None:
        """The shops of ``id_shop=<n>|all`` or ``id_shop_group=<n>`` (alias ``id_group_shop``);
        None without them: the default shop's context, reading every shop's rows (what an
        account not bound to a shop gets). Errors 999 and 132 of docs/prestashop/PROTOCOL.md §2.2."""
        st = self.state
        id_shop = q.get("id_shop")
        if id_shop is not None:
            if id_shop == "all":
                return list(st.shop_ids)
            if not id_shop.isdigit():
                raise _err(404, 999, "This shop id does not exist")
            if int(id_shop) not in st.shop_ids:  # shopExists() accepts it, shopHasRight() does not
                raise _err(403, 132, "No permission for this key on this shop")
            return [int(id_shop)]
        group = q.get("id_group_shop", q.get("id_shop_group"))
        if group is not None and INT_RE.match(group.strip()):
            in_group = st.shops_of_group(int(group))
            if not in_group:
                raise _err(500, 999, "This group shop doesn't have shops")
            return in_group
        return None

    def not_in_shop(self, res: Resource, obj: Obj, ctx: Ctx, resource: str | None = None) -> ApiError | None:
        """404/131 when the object belongs to a shop outside the request's shop context."""
        if ctx.shops is None:
            return None
        shop = self.state.shop_of(resource or res.name, obj)
        if shop is None or shop in ctx.shops:
            return None
        name = class_name(res) if resource is None else class_name(self.state.resources[resource])
        return _err(404, 131, f"This {name} ({obj['id']}) does not exists on this shop")

    def in_shop_view(self, res: Resource, objs: list[Obj], ctx: Ctx) -> list[Obj]:
        """Products as the context's shop sees them (multishop: its product_shop values)."""
        if res.name != "products" or not self.state.multishop:
            return objs
        return [self.state.product_view(o, ctx.view_shop) for o in objs]

    def index(self, spec: KeySpec, as_json: bool, t0: float, method: str, request: Request) -> Response:
        st = self.state
        names = [(n, r.description, spec.methods_for(n)) for n, r in sorted(st.resources.items())
                 if spec.allows_resource(n)]
        if as_json:
            if st.version >= (8,):
                return Response(b"", 500, headers=self.headers(t0, JSON_CT))
            return self.ok(render.dumps([n for n, _d, _m in names]), 200, True, t0, method, request)
        ctx = Ctx(st, str(request.base_url), st.lang_ids)
        return self.ok(render.xml_index(ctx, names), 200, False, t0, method, request)

    # ------------------------------------------------------------- GET
    def list_error(self, e: ApiError) -> ApiError:
        if self.state.version >= (8,):
            e.php_warning = True
        return e

    def parse_display(self, res: Resource, raw: str | None, date_on: bool) -> render.Display:
        if raw is None:
            return None
        if raw == "full":
            return "full"
        fields = [f.name for f in res.fields_for(self.state.version)]
        assocs = [a.name for a in res.assocs_for(self.state.version)]
        if not (raw.startswith("[") and raw.endswith("]")):
            raise _err(400, 36, "The 'display' syntax is wrong. You can set 'full' or "
                       "'[field_1,field_2,field_3,...]'. These are available: " + ", ".join(fields))
        inner = raw[1:-1]
        out: list[tuple[str, list[str] | None]] = []
        for m in re.finditer(r"([^,\[\]]+)(?:\[([^\]]*)\])?", inner):
            name, sub = m.group(1).strip(), m.group(2)
            if name in fields:
                out.append((name, None))
            elif name in assocs and sub is not None:
                out.append((name, [s.strip() for s in sub.split(",") if s.strip()]))
            else:
                raise _err(400, 35, f'Unable to display this field "{name}". However, these are available: '
                           + ", ".join(fields))
        return out

    def get(self, request: Request, res: Resource, segments: list[str], ctx: Ctx, as_json: bool,
            t0: float, method: str) -> Response:
        st = self.state
        q = request.query_params
        date_on = q.get("date") == "1"
        self.apply_language(q.get("language"), ctx)
        if len(segments) >= 2:
            oid = php_int(segments[1])
            obj = st.tables[res.name].get(oid)
            if obj is None:
                h = self.headers(t0, None)
                return Response(b"", 404, headers=h)
            wrong_shop = self.not_in_shop(res, obj, ctx)
            if wrong_shop is not None:
                raise wrong_shop
            obj = self.in_shop_view(res, [obj], ctx)[0]
            if "display" in q:
                display = self.parse_display(res, q.get("display"), date_on)
                if as_json:
                    body = render.json_single(ctx, res, obj, display or "full", plural=True)
                else:
                    body = render.xml_single(ctx, res, obj, display or "full")
            elif as_json:
                body = render.json_single(ctx, res, obj)
            else:
                body = render.xml_single(ctx, res, obj)
            return self.ok(body, 200, as_json, t0, method, request)
        schema = q.get("schema")
        if schema is not None:
            if schema not in ("blank", "synopsis"):
                raise _err(400, 28, "Please select a schema of type 'synopsis' to get the whole schema "
                           "informations (which fields are required, which kind of content...) or 'blank' "
                           "to get an empty schema to fill before using POST request")
            if as_json:
                d: dict[str, Any] = {f.name: "" for f in res.fields_for(st.version) if not (schema == "synopsis" and f.name == "id")}
                if st.version >= (8,):
                    d = {}
                assocs = {a.name: [{f.name: "" for f in a.fields if f.active(st.version)}]
                          for a in res.assocs_for(st.version)}
                if assocs:
                    d["associations"] = assocs
                return self.ok(render.dumps({res.node: d}), 200, True, t0, method, request)
            return self.ok(render.xml_schema(ctx, res, schema), 200, False, t0, method, request)
        try:
            display = self.parse_display(res, q.get("display"), date_on)
            keep = None
            if ctx.shops is not None:
                shops = set(ctx.shops)

                def keep(o: Obj) -> bool:
                    shop = st.shop_of(res.name, o)
                    return shop is None or shop in shops

            objs = self.in_shop_view(res, filters.select(st, res, q, date_on, ctx.langs, keep), ctx)
        except ApiError as e:
            raise self.list_error(e) from None
        if as_json:
            body = render.json_list(ctx, res, objs, display)
        else:
            body = render.xml_list(ctx, res, objs, display)
        return self.ok(body, 200, as_json, t0, method, request)

    def apply_language(self, raw: str | None, ctx: Ctx) -> None:
        if raw is None:
            return
        avail = self.state.lang_ids
        inner = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
        if "|" in inner:
            parts = inner.split("|")
        elif "," in inner:
            lo, hi = (php_int(p) for p in inner.split(",", 1))
            parts = [str(i) for i in avail if lo <= i <= hi]
        else:
            parts = [inner]
        langs = []
        for p in parts:
            if not p.strip().isdigit():
                raise _err(400, 78, f'Language ID "{p}" must be numeric')
            if int(p) not in avail:
                raise _err(400, 79, f'Language ID "{p}" does not exist')
            langs.append(int(p))
        ctx.langs = langs or avail

    # ------------------------------------------------------------- writes
    def validate_value(self, res: Resource, f: Field, v: str) -> None:
        if v == "":
            return
        ok = True
        if f.kind == "int" or f.kind == "bool":
            ok = INT_RE.match(v.strip()) is not None
        elif f.kind.startswith("dec"):
            ok = re.match(r"^-?\d*\.?\d+$|^-?\d+\.$", v.strip()) is not None
        elif f.kind == "date":
            ok = re.match(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$", v) is not None
        elif f.name == "email":
            ok = re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v) is not None
        if not ok:
            raise _err(400, 85, f'Validation error: "Property {class_name(res)}->{f.name} is not valid"')

    def check_i18n(self, res: Resource, obj: Obj) -> None:
        default_lang = self.state.lang_ids[0]
        for f in res.fields_for(self.state.version):
            if f.kind == "i18n" and f.required:
                vals = obj.get(f.name) or {}
                if not vals.get(default_lang):
                    lang = self.state.tables["languages"].get(default_lang, {}).get("name", "English (English)")
                    raise _err(400, 84, f'Validation error: "The field {f.name} is required at least in {lang}."')

    def post(self, request: Request, res: Resource, body: bytes, ctx: Ctx, as_json: bool,
             t0: float, fault: Fault | None) -> Response:
        st = self.state
        entities = parse_body(body, res, st)
        created: list[Obj] = []
        echo: list[Obj] = []
        now = st.now()
        for ent in entities:
            vals = ent["values"]
            if vals.get("id"):
                raise _err(400, 91, "id is forbidden when adding a new resource")
            for f in res.fields_for(st.version):
                if f.name == "id":
                    continue
                if f.readonly and f.name in vals:
                    raise _err(400, 93, f'parameter "{f.name}" not writable. Please remove this attribute of this XML')
                if f.name not in vals and f.required and f.kind != "i18n":
                    raise _err(400, 41, f'parameter "{f.name}" required')
                if f.name in vals and f.kind != "i18n":
                    self.validate_value(res, f, vals[f.name])
            obj: Obj = {k: v for k, v in vals.items() if k != "id"}
            self.check_i18n(res, obj)
            if res.name == "order_histories":
                oid = php_int(vals.get("id_order", ""))
                sid = php_int(vals.get("id_order_state", ""))
                if oid not in st.tables["orders"] or sid not in st.tables["order_states"]:
                    raise _err(500, 46, "Unable to save resource")
                wrong_shop = self.not_in_shop(res, st.tables["orders"][oid], ctx, "orders")
                if wrong_shop is not None:
                    raise wrong_shop
                sendemail = request.query_params.get("sendemail", "") not in ("", "0")
                hist = st.change_order_state(oid, sid, id_employee=vals.get("id_employee") or "0",
                                             sendemail=sendemail)
                assert hist is not None
                shown = dict(hist)
                shown["id_employee"] = vals.get("id_employee", "")
                echo.append(shown)
                created.append(hist)
                continue
            if res.name == "customers":
                email = vals.get("email", "").lower()
                if any(c.get("email", "").lower() == email and c.get("is_guest", "0") != "1"
                       for c in st.tables["customers"].values()) and vals.get("is_guest", "0") != "1":
                    raise _err(500, 140, "The email is already used, please choose another one")
                obj["secure_key"] = hashlib.md5(f"{email}{time.time()}".encode(), usedforsecurity=False).hexdigest()
                obj["last_passwd_gen"] = now
                if st.multishop:  # Customer::add() takes the shop from the context
                    obj["id_shop"] = str(ctx.view_shop)
                if "passwd" in obj:
                    obj["passwd"] = hashlib.md5(obj["passwd"].encode(), usedforsecurity=False).hexdigest()
            obj["id"] = st.next_id(res.name)
            fnames = {f.name for f in res.fields_for(st.version)}
            if "date_add" in fnames:
                obj["date_add"] = now
            if "date_upd" in fnames:
                obj["date_upd"] = now
            if ent["associations"]:
                obj["associations"] = self.assocs_from_body(res, ent["associations"])
            st.add(res.name, obj)
            created.append(obj)
            echo.append(obj)
        if fault is not None and fault.kind == "code46":
            raise _err(500, 46, "Unable to save resource")
        return self.write_response(res, echo, ctx, as_json, t0, 201, request, echo_assocs=False)

    def assocs_from_body(self, res: Resource, assocs: dict[str, list[dict[str, str]]]) -> dict:
        known = {a.name: a for a in res.assocs_for(self.state.version)}
        out = {}
        for name, items in assocs.items():
            a = known.get(name)
            if a is None:
                raise _err(400, 86, f'The association "{name}" does not exists')
            if a.api is None or name in ("stock_availables", "combinations"):
                continue  # read-only associations are silently ignored
            out[name] = items
        return out

    def write_response(self, res: Resource, objs: list[Obj], ctx: Ctx, as_json: bool, t0: float,
                       status: int, request: Request, echo_assocs: bool = True) -> Response:
        if as_json:
            if len(objs) == 1:
                d = render.json_object(ctx, res, objs[0], "full")
                d["id"] = str(objs[0]["id"])
                if not echo_assocs and "associations" not in objs[0]:
                    d.pop("associations", None)
                body = render.dumps({res.node: d})
            else:
                body = render.dumps({res.name: [render.json_object(ctx, res, o, "full") for o in objs]})
        else:
            body = render.xml_many(ctx, res, objs)
        return self.ok(body, status, as_json, t0, "GET", request)

    def put(self, request: Request, res: Resource, body: bytes, ctx: Ctx, as_json: bool, t0: float,
            *, patch: bool) -> Response:
        st = self.state
        entities = parse_body(body, res, st)
        seen: set[int] = set()
        plans: list[tuple[Obj, Obj]] = []
        for ent in entities:
            vals = ent["values"]
            if not vals.get("id"):
                raise _err(400, 90, "id is required when modifying a resource")
            oid = php_int(vals["id"])
            if oid in seen:
                raise _err(400, 89, "id is duplicate in request")
            seen.add(oid)
            current = st.tables[res.name].get(oid)
            if current is None:
                raise _err(404, 92, "Invalid ID")
            wrong_shop = self.not_in_shop(res, current, ctx)
            if wrong_shop is not None:
                raise wrong_shop
            new = dict(self.in_shop_view(res, [current], ctx)[0])
            for f in res.fields_for(st.version):
                if f.name == "id":
                    continue
                present = f.name in vals
                if f.readonly and present:
                    raise _err(400, 93, f'parameter "{f.name}" not writable. Please remove this attribute of this XML')
                if f.getter and not present:
                    continue
                if not present:
                    if patch:
                        continue
                    if f.required and f.kind != "i18n":
                        raise _err(400, 41, f'parameter "{f.name}" required')
                    if f.kind == "i18n":
                        new[f.name] = {lid: "" for lid in st.lang_ids}
                    else:
                        new[f.name] = KIND_DEFAULTS[f.kind] if f.kind != "date" else KIND_DEFAULTS["date"]
                    continue
                v = vals[f.name]
                if f.kind == "i18n":
                    merged = dict(current.get(f.name) or {})
                    merged.update(v)
                    new[f.name] = merged
                else:
                    self.validate_value(res, f, v)
                    new[f.name] = v
            self.check_i18n(res, new)
            if ent["associations"]:
                assocs = dict(current.get("associations") or {})
                assocs.update(self.assocs_from_body(res, ent["associations"]))
                new["associations"] = assocs
            plans.append((current, new))
        now = st.now()
        out = []
        for current, new in plans:
            if res.name == "stock_availables" and new.get("depends_on_stock") == "1":
                raise _err(500, 133, "You cannot update the available stock when it depends on stock.")
            if res.name == "customers":
                email = str(new.get("email", "")).lower()
                if any(c["id"] != new["id"] and c.get("email", "").lower() == email and c.get("is_guest", "0") != "1"
                       for c in st.tables["customers"].values()) and new.get("is_guest", "0") != "1":
                    raise _err(500, 141, "The email is already used, please choose another one")
            new_state = new.get("current_state") if res.name == "orders" else None
            old_state = current.get("current_state")
            fields = {f.name for f in res.fields_for(st.version)}
            if "date_upd" in fields:
                new["date_upd"] = now
            if "date_add" in fields and new.get("date_add") in (None, "", KIND_DEFAULTS["date"]):
                new["date_add"] = now
            if res.name == "orders":
                new["current_state"] = old_state if old_state is not None else "0"
            if res.name == "products" and st.multishop:  # per-shop fields in the context's shops
                st.write_product(current, new, ctx.shops or [st.default_shop])
                out.append(st.product_view(current, ctx.view_shop))
                continue
            current.clear()
            current.update(new)
            if res.name == "orders" and new_state not in (None, "", "0"):
                if new_state != old_state or st.version < (1, 7):
                    if php_int(new_state) in st.tables["order_states"]:
                        st.change_order_state(current["id"], php_int(new_state), sendemail=True)
            out.append(current)
        return self.write_response(res, out, ctx, as_json, t0, 200, request)

    def delete(self, request: Request, res: Resource, segments: list[str], t0: float) -> Response:
        st = self.state
        if len(segments) >= 2:
            ids = [php_int(segments[1])]
        else:
            raw = request.query_params.get("id", "")
            inner = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
            ids = [php_int(p) for p in re.split(r"[,|]", inner) if p.strip()]
            if not ids:
                raise _err(400, 90, "id is required when modifying a resource")
        missing = [str(i) for i in ids if i not in st.tables[res.name]]
        if missing:
            raise _err(404, 87, "Id(s) not exists: " + ", ".join(missing))
        for i in ids:
            if res.name == "addresses" and any(
                    o.get("id_address_delivery") == str(i) or o.get("id_address_invoice") == str(i)
                    for o in st.tables["orders"].values()):
                st.tables["addresses"][i]["deleted"] = "1"
            elif res.name == "customers":
                st.tables["customers"][i]["deleted"] = "1"
            else:
                st.remove(res.name, i)
        return Response(b"", 200, headers=self.headers(t0, None))


class _NoCredentials(Exception):
    pass


async def _hold(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def create_app(state: ShopState) -> Starlette:
    """The emulator as an ASGI app: ``/api/…``, ``/webservice/dispatcher.php?url=…``, ``/_emulator/…``."""
    api = Api(state)
    side = SideChannel(state)

    async def api_endpoint(request: Request) -> Response:
        return await api.handle(request)

    routes = [
        *side.routes(),
        Route("/api", api_endpoint, methods=ANY_METHOD),
        Route("/api/{path:path}", api_endpoint, methods=ANY_METHOD),
        Route("/webservice/dispatcher.php", api_endpoint, methods=ANY_METHOD),
    ]
    app = Starlette(routes=routes)
    app.state.shop = state
    app.state.api = api
    return app
