"""The emulator's JSON side channel under ``/_emulator/``: what a test or a demo reads and sets
behind the Webservice's back (counts, faults, keys, clock, orders, objects).

See docs/prestashop/PROTOCOL.md §11. Served next to the Webservice by :func:`emulator.app.create_app`.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import render
from .data import (
    ALL_METHODS,
    KeySpec,
    ShopState,
    add_generated_orders,
    add_generated_slips,
    normalize,
)
from .faults import Fault


class SideChannel:
    """JSON endpoints under ``/_emulator/`` (not counted, no auth, no faults).

    * ``GET health`` → ``{"ok", "version", "key", "stats"}``
    * ``GET requests`` → ``{"total", "writes", "by_method", "by_resource", "detail": {method: {resource: n}}}``;
      ``POST requests/reset`` → the counts before the reset; ``GET requests/log`` → the newest requests
      (up to 10,000) as ``[{"method", "resource", "id_shop"}]`` (``id_shop``: the parameter as sent, or null)
    * ``POST reset`` → clear counts, faults and the e-mail log
    * ``GET|POST config`` ``{"enabled", "connection_close", "json_ints", "shop_name",
      "clock": "YYYY-MM-DD HH:MM:SS"|null, "fault_seed"}``
    * ``GET|POST keys`` ``{"key"?, "active"?, "permissions": {"orders": ["GET", "HEAD"], "*": [...]}}`` → ``{"key"}``
    * ``GET emails`` → state-change mails "sent" (``sendemail=1`` on a state with ``send_email=1``, PUT of orders)
    * ``GET|POST|DELETE faults``, ``DELETE faults/{id}`` — body = :class:`emulator.faults.Fault` fields
    * ``POST orders`` ``{"generate": n, "seed"?}`` or ``{"orders": [order objects, with associations.order_rows]}``
      → ``{"ids"}``
    * ``PATCH orders/{id}`` / ``PATCH customers/{id}`` ``{field: value, ..., "touch"?: true}`` (bumps date_upd)
    * ``POST orders/{id}/state`` ``{"state": 6, "history"?: true, "sendemail"?: false, "id_employee"?: 1}``
    * ``POST orders/{id}/slips`` ``{"products"?: {order_detail id: quantity}, "shipping"?: false}`` → the
      new ``order_slip`` (a standard refund, ``ShopState.add_order_slip``); 400 when nothing is left to refund
    * ``POST slips`` ``{"generate": true, "seed"?: 1, "share"?: 0.1}`` → ``{"ids"}`` (``add_generated_slips``)
    * ``GET products/{id}[?shop=N]`` → ``{"id", "active", "price", "quantity", "stock": {id_product_attribute: qty},
      "date_upd"}`` (of shop N on a multishop install; the default shop without)
    * ``GET objects/{resource}`` → ``{"count", "ids"}``; ``GET|PATCH|DELETE objects/{resource}/{id}``
      (object with every field, i18n as ``{"1": ...}``; PATCH does not touch date_upd)
    """

    def __init__(self, state: ShopState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        p = "/_emulator"
        return [
            Route(p + "/health", self.health, methods=["GET"]),
            Route(p + "/requests", self.requests, methods=["GET"]),
            Route(p + "/requests/reset", self.requests_reset, methods=["POST"]),
            Route(p + "/requests/log", self.requests_log, methods=["GET"]),
            Route(p + "/reset", self.reset, methods=["POST"]),
            Route(p + "/config", self.config, methods=["GET", "POST"]),
            Route(p + "/keys", self.keys, methods=["GET", "POST"]),
            Route(p + "/emails", self.emails, methods=["GET"]),
            Route(p + "/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route(p + "/faults/{fid:int}", self.fault_delete, methods=["DELETE"]),
            Route(p + "/orders", self.orders_add, methods=["POST"]),
            Route(p + "/orders/{oid:int}", self.order_change, methods=["PATCH", "POST"]),
            Route(p + "/orders/{oid:int}/state", self.order_state, methods=["POST"]),
            Route(p + "/orders/{oid:int}/slips", self.order_slip, methods=["POST"]),
            Route(p + "/slips", self.slips_generate, methods=["POST"]),
            Route(p + "/customers/{cid:int}", self.customer_change, methods=["PATCH", "POST"]),
            Route(p + "/products/{pid:int}", self.product, methods=["GET"]),
            Route(p + "/objects/{resource}", self.objects, methods=["GET"]),
            Route(p + "/objects/{resource}/{oid:int}", self.object_one, methods=["GET", "PATCH", "DELETE"]),
        ]

    async def _json(self, request: Request) -> dict:
        body = await request.body()
        if not body:
            return {}
        import json

        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    async def health(self, request: Request) -> Response:
        st = self.state
        return JSONResponse({"ok": True, "version": st.version_str, "key": st.key, "stats": st.stats()})

    async def requests(self, request: Request) -> Response:
        return JSONResponse(self.state.request_counts())

    async def requests_reset(self, request: Request) -> Response:
        before = self.state.request_counts()
        self.state.requests.clear()
        self.state.request_log.clear()
        return JSONResponse(before)

    async def requests_log(self, request: Request) -> Response:
        return JSONResponse(list(self.state.request_log))

    async def reset(self, request: Request) -> Response:
        st = self.state
        st.requests.clear()
        st.request_log.clear()
        st.faults.clear()
        st.emails.clear()
        return JSONResponse({"ok": True})

    async def config(self, request: Request) -> Response:
        st = self.state
        if request.method == "POST":
            data = await self._json(request)
            for k in ("enabled", "connection_close", "json_ints", "shop_name"):
                if k in data:
                    setattr(st, k, data[k])
            if "clock" in data:
                if data["clock"] is None:
                    st.clock = datetime.now
                else:
                    fixed = datetime.strptime(data["clock"], "%Y-%m-%d %H:%M:%S")
                    st.clock = lambda: fixed
            if "fault_seed" in data:
                st.faults.reseed(int(data["fault_seed"]))
        return JSONResponse({"version": st.version_str, "enabled": st.enabled, "connection_close": st.connection_close,
                             "json_ints": st.json_ints, "shop_name": st.shop_name, "now": st.now()})

    async def keys(self, request: Request) -> Response:
        from .data import make_key

        st = self.state
        if request.method == "POST":
            data = await self._json(request)
            key = data.get("key") or make_key()
            perms = data.get("permissions") or {"*": sorted(ALL_METHODS)}
            st.keys[key] = KeySpec(key, bool(data.get("active", True)),
                                   {r: frozenset(m.upper() for m in ms) for r, ms in perms.items()})
            return JSONResponse({"key": key}, status_code=201)
        return JSONResponse({k: {"active": s.active, "permissions": {r: sorted(m) for r, m in s.permissions.items()}}
                             for k, s in st.keys.items()})

    async def emails(self, request: Request) -> Response:
        return JSONResponse(self.state.emails)

    async def faults(self, request: Request) -> Response:
        st = self.state
        if request.method == "POST":
            data = await self._json(request)
            try:
                f = st.faults.add(Fault(**data))
            except (TypeError, ValueError) as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            return JSONResponse(f.to_dict(), status_code=201)
        if request.method == "DELETE":
            st.faults.clear()
            return JSONResponse({"ok": True})
        return JSONResponse([f.to_dict() for f in st.faults.faults])

    async def fault_delete(self, request: Request) -> Response:
        ok = self.state.faults.remove(request.path_params["fid"])
        return JSONResponse({"ok": ok}, status_code=200 if ok else 404)

    async def orders_add(self, request: Request) -> Response:
        st = self.state
        data = await self._json(request)
        if "generate" in data:
            ids = add_generated_orders(st, int(data["generate"]), data.get("seed"))
            return JSONResponse({"ids": ids}, status_code=201)
        ids = []
        for raw in data.get("orders", []):
            raw = dict(raw)
            raw.setdefault("id", st.next_id("orders"))
            obj = normalize(st, "orders", raw)
            rows = (obj.get("associations") or {}).pop("order_rows", None) or []
            next_detail = st.next_id("order_details")
            for row in rows:
                det = {k: v for k, v in row.items() if v not in (None, "")}
                det["id"] = int(row.get("id") or next_detail)
                next_detail = max(next_detail, det["id"]) + 1
                det["id_order"] = str(obj["id"])
                st.add("order_details", {k: (str(v) if isinstance(v, (int, float)) and k != "id" else v)
                                         for k, v in det.items()})
            if obj.get("associations") == {}:
                del obj["associations"]
            obj.setdefault("date_add", st.now())
            obj.setdefault("date_upd", obj["date_add"])
            st.add("orders", obj)
            ids.append(obj["id"])
        return JSONResponse({"ids": ids}, status_code=201)

    def _patch(self, resource: str, oid: int, data: dict, touch: bool) -> Response:
        st = self.state
        obj = st.tables[resource].get(oid)
        if obj is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        touch = bool(data.pop("touch", touch))
        norm = normalize(st, resource, {"id": oid, **data})
        for k in data:
            if k == "associations":
                obj["associations"] = norm.get("associations", {})
            else:
                obj[k] = norm.get(k, st.value(resource, {}, k))
        if touch and "date_upd" not in data and any(f.name == "date_upd" for f in st.resources[resource].fields):
            obj["date_upd"] = st.now()
        return JSONResponse(render.plain_object(st, resource, obj))

    async def order_change(self, request: Request) -> Response:
        return self._patch("orders", request.path_params["oid"], await self._json(request), True)

    async def customer_change(self, request: Request) -> Response:
        return self._patch("customers", request.path_params["cid"], await self._json(request), True)

    async def order_state(self, request: Request) -> Response:
        st = self.state
        oid = request.path_params["oid"]
        data = await self._json(request)
        if oid not in st.tables["orders"]:
            return JSONResponse({"error": "not found"}, status_code=404)
        hist = st.change_order_state(oid, int(data["state"]), id_employee=str(data.get("id_employee", "1")),
                                     sendemail=bool(data.get("sendemail", False)),
                                     add_history=bool(data.get("history", True)))
        return JSONResponse({"order": render.plain_object(st, "orders", st.tables["orders"][oid]),
                             "history": hist})

    async def order_slip(self, request: Request) -> Response:
        st = self.state
        oid = request.path_params["oid"]
        data = await self._json(request)
        if oid not in st.tables["orders"]:
            return JSONResponse({"error": "not found"}, status_code=404)
        products = {int(k): int(v) for k, v in (data.get("products") or {}).items()}
        try:
            slip = st.add_order_slip(oid, products, shipping=bool(data.get("shipping", False)))
        except (ValueError, KeyError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse(render.plain_object(st, "order_slip", slip))

    async def slips_generate(self, request: Request) -> Response:
        data = await self._json(request)
        ids = add_generated_slips(self.state, int(data.get("seed", 1)), share=float(data.get("share", 0.1)))
        return JSONResponse({"ids": ids})

    async def product(self, request: Request) -> Response:
        st = self.state
        pid = request.path_params["pid"]
        prod = st.tables["products"].get(pid)
        if prod is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        shop = int(request.query_params.get("shop") or st.default_shop)
        prod = st.product_view(prod, shop)
        stock = {}
        for row in st.tables["stock_availables"].values():
            if row.get("id_product") == str(pid) and (
                    not st.multishop or st.shop_of("stock_availables", row) == shop):
                stock[row.get("id_product_attribute", "0")] = int(row.get("quantity", "0"))
        return JSONResponse({"id": pid, "active": st.value("products", prod, "active") == "1",
                             "price": st.value("products", prod, "price"),
                             "quantity": stock.get("0", 0), "stock": stock,
                             "date_upd": st.value("products", prod, "date_upd")})

    async def objects(self, request: Request) -> Response:
        st = self.state
        resource = request.path_params["resource"]
        if resource not in st.tables:
            return JSONResponse({"error": "unknown resource"}, status_code=404)
        return JSONResponse({"count": len(st.tables[resource]), "ids": list(st.table(resource))})

    async def object_one(self, request: Request) -> Response:
        st = self.state
        resource = request.path_params["resource"]
        oid = request.path_params["oid"]
        if resource not in st.tables:
            return JSONResponse({"error": "unknown resource"}, status_code=404)
        if request.method == "PATCH":
            return self._patch(resource, oid, await self._json(request), False)
        obj = st.tables[resource].get(oid)
        if obj is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if request.method == "DELETE":
            st.remove(resource, oid)
            return JSONResponse({"ok": True})
        return JSONResponse(render.plain_object(st, resource, obj))
