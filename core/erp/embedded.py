"""The embedded ERP: a small gestionale in its own SQLite file (erp.db).

It implements ``ErpConnector`` for the demo and the tests, plus what an
operator does by hand in a real ERP (ship, invoice, cancel, set stock and
prices) so that states flow back to the shops. Every write is one
``BEGIN IMMEDIATE`` transaction; the bulk methods do a whole batch in one,
with ``executemany`` so that thousands of orders take well under a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from core.erp import embedded_credit_notes as credit_sql
from core.erp import embedded_documents as sql
from core.erp import embedded_schema as schema
from core.erp import validate
from core.erp.embedded_documents import TRANSITIONS, export_document
from core.erp.port import (
    ArticleData,
    Capability,
    CreditNoteData,
    CreditNoteResult,
    CustomerData,
    DestinationData,
    ErpArticle,
    ErpCreditNote,
    ErpCustomer,
    ErpDestination,
    ErpDocument,
    ErpError,
    ErpNotFound,
    InsertResult,
    OrderDocumentData,
    Outcome,
    StateChange,
)
from core.store.db import Database, end_begun
from core.store.location import ERP_SCHEMA, store, target

__all__ = ["TRANSITIONS", "EmbeddedErp", "export_document"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def document_filter(search: str) -> tuple[str, list[Any]]:
    """The WHERE (on documents d joined to customers c) keeping the documents whose number,
    customer name, shop reference, shop order or state contains `search`, in any case;
    % and _ are letters here, not patterns."""
    text = search.strip()
    if not text:
        return "", []
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = ("d.number", "c.name", "d.shop_reference", "d.external_ref", "d.state")
    where = " WHERE (" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")"
    return where, [like] * len(columns)


DOCUMENTS_JOIN = " FROM documents d LEFT JOIN customers c ON c.code = d.customer_code"


def documents_query(columns: str, search: str, state: str | None,
                    limit: int | None) -> tuple[str, list[Any]]:
    """SELECT `columns` of the documents `search` keeps (in `state`), newest first."""
    where, params = document_filter(search)
    if state is not None:
        where = f"{where} AND d.state = ?" if where else " WHERE d.state = ?"
        params.append(state)
    query = f"SELECT {columns}{DOCUMENTS_JOIN}{where} ORDER BY d.year DESC, d.seq DESC"
    if limit is not None:
        query, params = query + " LIMIT ?", [*params, limit]
    return query, params


class EmbeddedErp:
    """The embedded ERP over erp.db. Open with ``await EmbeddedErp.open(path)``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Reads wait for this process's open write, so they never see it half done
        # (the Database's one connection would show uncommitted rows).
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, local: bool = False) -> EmbeddedErp:
        """The ERP at ``path``, or in the ``erp`` schema of SINCRO_HUB's database when it
        is set (``local``: the file ``path`` whatever the hub, for a scratch ERP)."""
        place = Path(path) if local else target(path, ERP_SCHEMA)
        db = store(place, schema.MIGRATIONS, label="embedded ERP")
        await db.open()
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> EmbeddedErp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def name(self) -> str:
        return "embedded"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    @property
    def path(self) -> Path:
        return self._db.path

    # -- access ---------------------------------------------------------
    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock, self._db.transaction() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read transaction: one committed snapshot, other processes' writers not blocked."""
        async with self._lock:
            conn = self._db.conn
            try:
                await conn.execute(self._db.begin_snapshot)
            except asyncio.CancelledError:
                # A console view's reload cancels the one in flight: its BEGIN is queued
                # and still runs, so it is ended here before the lock is given up.
                await end_begun(conn, "COMMIT")
                raise
            try:
                yield conn
            finally:
                await conn.execute("COMMIT")

    async def _fetchall(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._read() as conn, conn.execute(query, params) as cur:
            return list(await cur.fetchall())

    async def _fetchone(self, query: str, params: Sequence[Any] = ()) -> Any:
        async with self._read() as conn, conn.execute(query, params) as cur:
            return await cur.fetchone()

    # -- customers ------------------------------------------------------
    async def find_customer(self, external_ref: str) -> ErpCustomer | None:
        row = await self._fetchone("SELECT * FROM customers WHERE external_ref = ?", (external_ref,))
        return schema.customer(row) if row else None

    async def find_customer_by_email(self, email: str) -> ErpCustomer | None:
        key = schema.email_key(email)
        if key is None:
            return None
        row = await self._fetchone(
            "SELECT * FROM customers WHERE email_key = ? ORDER BY id LIMIT 1", (key,))
        return schema.customer(row) if row else None

    async def get_customer(self, code: str) -> ErpCustomer:
        row = await self._fetchone("SELECT * FROM customers WHERE code = ?", (code,))
        if row is None:
            raise ErpNotFound(f"no customer {code!r} in the embedded ERP",
                              hint="list them with: sincro erp customers")
        return schema.customer(row)

    async def list_customers(self) -> list[ErpCustomer]:
        return [schema.customer(r) for r in await self._fetchall("SELECT * FROM customers ORDER BY code")]

    async def upsert_customer(self, data: CustomerData) -> ErpCustomer:
        return (await self.upsert_customers([data]))[0]

    async def upsert_customers(self, data: Sequence[CustomerData]) -> list[ErpCustomer]:
        items = [validate.customer(d) for d in data]
        if not items:
            return []
        now = _now()
        async with self._write() as conn:
            current: dict[str, dict[str, Any]] = {}
            for chunk in sql.chunks(list({d.external_ref for d in items})):
                async with conn.execute(
                    f"SELECT * FROM customers WHERE external_ref IN ({sql.marks(len(chunk))})", chunk
                ) as cur:
                    for found in await cur.fetchall():
                        current[found["external_ref"]] = dict(found)
            new_refs = [ref for ref in dict.fromkeys(d.external_ref for d in items) if ref not in current]
            if new_refs:
                first = await sql.take_numbers(conn, "customer", 0, len(new_refs))
                for n, ref in enumerate(new_refs, first):
                    current[ref] = {"code": f"C{n:06d}", "external_ref": ref, "_new": True}
            changed: set[str] = set()
            results: list[ErpCustomer] = []
            for d in items:
                row = current[d.external_ref]
                outcome: Outcome
                if row.get("_new") and "name" not in row:
                    outcome = "created"
                elif all(row.get(f) == getattr(d, f) for f in schema.CUSTOMER_FIELDS):
                    outcome = "unchanged"
                else:
                    outcome = "updated"
                if outcome != "unchanged":
                    row.update({f: getattr(d, f) for f in schema.CUSTOMER_FIELDS})
                    row["email_key"] = schema.email_key(d.email)
                    changed.add(d.external_ref)
                results.append(schema.customer(row, outcome))
            inserts = [current[r] for r in new_refs]
            await conn.executemany(
                "INSERT INTO customers (code, name, company, vat_number, tax_code, email, email_key,"
                " phone, pec, sdi_code, kind, country, external_ref, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(r["code"], r["name"], r["company"], r["vat_number"], r["tax_code"], r["email"],
                  r["email_key"], r["phone"], r["pec"], r["sdi_code"], r["kind"], r["country"],
                  r["external_ref"], now, now) for r in inserts],
            )
            await conn.executemany(
                "UPDATE customers SET name=?, company=?, vat_number=?, tax_code=?, email=?,"
                " email_key=?, phone=?, pec=?, sdi_code=?, kind=?, country=?, updated_at=?"
                " WHERE code=?",
                [(r["name"], r["company"], r["vat_number"], r["tax_code"], r["email"],
                  r["email_key"], r["phone"], r["pec"], r["sdi_code"], r["kind"], r["country"],
                  now, r["code"])
                 for ref in changed if not (r := current[ref]).get("_new")],
            )
        return results

    async def upsert_destination(self, customer_code: str, data: DestinationData) -> ErpDestination:
        return (await self.upsert_destinations([(customer_code, data)]))[0]

    async def upsert_destinations(
        self, items: Sequence[tuple[str, DestinationData]]
    ) -> list[ErpDestination]:
        """Each (customer code, address): the customer's destination with that text, made if new."""
        wanted = [(c, validate.destination(d)) for c, d in items]
        keyed = [(c, d, schema.content_hash(d)) for c, d in wanted]
        if not keyed:
            return []
        async with self._write() as conn:
            known = await sql.existing_keys(
                conn, "SELECT code FROM customers WHERE code IN ({})", {c for c, _, _ in keyed})
            for c, d, _ in keyed:
                if c not in known:
                    raise ErpNotFound(f"no customer {c!r} for the destination",
                                      external_ref=d.external_ref)
            rows: dict[tuple[str, str], dict[str, Any]] = {}
            for chunk in sql.chunks(list({h for _, _, h in keyed})):
                async with conn.execute(
                    f"SELECT * FROM destinations WHERE content_hash IN ({sql.marks(len(chunk))})",
                    chunk,
                ) as cur:
                    rows.update(((r["customer_code"], r["content_hash"]), dict(r))
                                for r in await cur.fetchall())
            new = list(dict.fromkeys((c, h) for c, _, h in keyed if (c, h) not in rows))
            first = await sql.take_numbers(conn, "destination", 0, len(new)) if new else 0
            number = {key: first + i for i, key in enumerate(new)}
            inserts, refs_set, results = [], [], []
            for c, d, h in keyed:
                row = rows.get((c, h))
                outcome: Outcome = "unchanged"
                if row is None:
                    row = rows[(c, h)] = {
                        **{f: getattr(d, f) for f in schema.ADDRESS_FIELDS},
                        "code": f"D{number[(c, h)]:06d}", "customer_code": c,
                        "external_ref": d.external_ref, "content_hash": h,
                    }
                    inserts.append(row)
                    outcome = "created"
                elif d.external_ref and not row["external_ref"]:
                    row["external_ref"] = d.external_ref  # content equal: only learn its ref
                    refs_set.append((d.external_ref, row["code"]))
                results.append(schema.destination(row, outcome))
            now = _now()
            await conn.executemany(
                "INSERT INTO destinations (code, customer_code, name, company, address1, address2,"
                " postcode, city, province, country, phone, external_ref, content_hash, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(r["code"], r["customer_code"], r["name"], r["company"], r["address1"],
                  r["address2"], r["postcode"], r["city"], r["province"], r["country"], r["phone"],
                  r["external_ref"], r["content_hash"], now) for r in inserts])
            await conn.executemany("UPDATE destinations SET external_ref = ? WHERE code = ?",
                                   refs_set)
        return results

    async def list_destinations(self, customer_code: str) -> list[ErpDestination]:
        rows = await self._fetchall(
            "SELECT * FROM destinations WHERE customer_code = ? ORDER BY code", (customer_code,))
        return [schema.destination(r) for r in rows]

    # -- articles -------------------------------------------------------
    async def find_articles(self, codes: Sequence[str]) -> dict[str, ErpArticle]:
        found: dict[str, ErpArticle] = {}
        async with self._read() as conn:
            for chunk in sql.chunks(list(dict.fromkeys(codes))):
                async with conn.execute(
                    f"SELECT * FROM articles WHERE code IN ({sql.marks(len(chunk))})", chunk
                ) as cur:
                    found.update((r["code"], schema.article(r)) for r in await cur.fetchall())
        return found

    articles_stock_price = find_articles

    async def get_article(self, code: str) -> ErpArticle:
        row = await self._fetchone("SELECT * FROM articles WHERE code = ?", (code,))
        if row is None:
            raise ErpNotFound(f"no article {code!r} in the embedded ERP",
                              hint="list them with: sincro erp articles")
        return schema.article(row)

    async def list_articles(self, pattern: str | None = None) -> list[ErpArticle]:
        if pattern is None:
            rows = await self._fetchall("SELECT * FROM articles ORDER BY code")
        else:
            rows = await self._fetchall(
                f"SELECT * FROM articles WHERE code {self._db.glob} ? ORDER BY code",
                (self._db.glob_pattern(pattern),))
        return [schema.article(r) for r in rows]

    async def create_article(self, data: ArticleData) -> ErpArticle:
        return (await self.create_articles([data]))[0]

    async def create_articles(self, data: Sequence[ArticleData]) -> list[ErpArticle]:
        """Create each article whose code is new; existing codes come back unchanged."""
        items = [validate.article(d) for d in data]
        now = _now()
        results: list[ErpArticle] = []
        async with self._write() as conn:
            existing: dict[str, ErpArticle] = {}
            for chunk in sql.chunks(list({d.code for d in items})):
                async with conn.execute(
                    f"SELECT * FROM articles WHERE code IN ({sql.marks(len(chunk))})", chunk
                ) as cur:
                    existing.update((r["code"], schema.article(r, "unchanged"))
                                    for r in await cur.fetchall())
            inserts = []
            for d in items:
                if d.code not in existing:
                    existing[d.code] = ErpArticle(d.code, d.description, d.price, d.vat_rate,
                                                  d.stock, d.active, "created", d.ean13)
                    inserts.append((d.code, d.description, str(d.price), str(d.vat_rate), d.stock,
                                    int(d.active), d.ean13, now, now))
                    results.append(existing[d.code])
                else:
                    a = existing[d.code]
                    results.append(a if a.outcome == "unchanged" else _with_outcome(a, "unchanged"))
            await conn.executemany(
                "INSERT INTO articles (code, description, price, vat_rate, stock, active,"
                " ean13, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", inserts)
        return results

    # -- the office's existing records -------------------------------------
    async def seed(self, customers: Sequence[Any] = (), articles: Sequence[Any] = ()
                   ) -> tuple[list[str], list[str]]:
        """Customers and articles the office had before Sincro (``core.erp.seed``), all in
        one transaction; a code the ERP already has is refused (ErpError naming its line),
        and then nothing is written. Returns the codes created."""
        now = _now()
        async with self._write() as conn:
            codes = [c.code for c in customers if c.code] + [a.code for a in articles]
            taken: set[str] = set()
            for table, wanted in (("customers", [c.code for c in customers if c.code]),
                                  ("articles", [a.code for a in articles])):
                for chunk in sql.chunks(wanted):
                    async with conn.execute(
                            f"SELECT code FROM {table} WHERE code IN ({sql.marks(len(chunk))})",
                            chunk) as cur:
                        taken.update(r[0] for r in await cur.fetchall())
            clash = [x for x in list(customers) + list(articles) if x.code in taken]
            if clash:
                lines = ", ".join(f"line {x.line} ({x.code})" for x in clash[:5])
                raise ErpError(f"{len(clash)} code(s) already in the ERP, nothing imported: "
                               f"{lines}", hint="leave them out of the file")
            made: list[str] = []
            if customers:
                auto = [c for c in customers if not c.code]
                first = await sql.take_numbers(conn, "customer", 0, len(auto)) if auto else 0
                numbers = iter(range(first, first + len(auto)))
                rows = []
                for c in customers:
                    code = c.code or f"C{next(numbers):06d}"
                    made.append(code)
                    rows.append((code, c.name, c.company, c.vat_number, c.tax_code, c.email,
                                 schema.email_key(c.email), c.phone, c.pec, c.sdi_code, c.kind,
                                 c.country, now, now))
                await conn.executemany(
                    "INSERT INTO customers (code, name, company, vat_number, tax_code, email,"
                    " email_key, phone, pec, sdi_code, kind, country, created_at, updated_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            await conn.executemany(
                "INSERT INTO articles (code, description, price, vat_rate, stock, active, ean13,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                [(a.code, a.description, str(a.price), str(a.vat_rate), a.stock, int(a.active),
                  a.ean13, now, now) for a in articles])
            del codes
        return made, [a.code for a in articles]

    async def find_articles_by_ean(self, eans: Sequence[str]) -> dict[str, ErpArticle]:
        found: dict[str, ErpArticle] = {}
        wanted = [e for e in dict.fromkeys(eans) if e]
        async with self._read() as conn:
            for chunk in sql.chunks(wanted):
                async with conn.execute(
                    f"SELECT * FROM articles WHERE ean13 IN ({sql.marks(len(chunk))})"
                    " ORDER BY code", chunk) as cur:
                    for r in await cur.fetchall():
                        found.setdefault(r["ean13"], schema.article(r))
        return found

    async def find_customers_by(self, field: str,
                                values: Sequence[str]) -> dict[str, ErpCustomer]:
        column = {"vat_number": "vat_number", "tax_code": "tax_code", "email": "email_key"}.get(
            field)
        if column is None:
            raise ErpError(f"cannot find customers by {field!r}")
        keys = {(schema.email_key(v) if field == "email" else v): v for v in values if v}
        found: dict[str, ErpCustomer] = {}
        async with self._read() as conn:
            for chunk in sql.chunks(list(keys)):
                async with conn.execute(
                    f"SELECT * FROM customers WHERE {column} IN ({sql.marks(len(chunk))})"
                    " ORDER BY id", chunk) as cur:
                    for r in await cur.fetchall():
                        found.setdefault(keys[r[column]], schema.customer(r))
        return found

    async def merge_customers(self, keep: str, drop: str) -> list[str]:
        """Re-point every document and destination of customer ``drop`` to ``keep`` (a
        destination ``keep`` already has with the same text replaces ``drop``'s), then
        remove ``drop``. Returns the numbers of the documents re-pointed."""
        now = _now()
        async with self._write() as conn:
            for code in (keep, drop):
                async with conn.execute("SELECT 1 FROM customers WHERE code = ?", (code,)) as cur:
                    if await cur.fetchone() is None:
                        raise ErpNotFound(f"no customer {code!r} in the embedded ERP")
            async with conn.execute(
                    "SELECT d.code, k.code FROM destinations d LEFT JOIN destinations k ON "
                    "k.customer_code = ? AND k.content_hash = d.content_hash "
                    "WHERE d.customer_code = ?", (keep, drop)) as cur:
                pairs = [(r[0], r[1]) for r in await cur.fetchall()]
            for old, same in pairs:
                if same is None:
                    await conn.execute("UPDATE destinations SET customer_code = ? WHERE code = ?",
                                       (keep, old))
                    continue
                for column in ("destination_code", "invoice_destination_code"):
                    await conn.execute(f"UPDATE documents SET {column} = ?, updated_at = ? "
                                       f"WHERE {column} = ?", (same, now, old))
                await conn.execute("DELETE FROM destinations WHERE code = ?", (old,))
            async with conn.execute("SELECT number FROM documents WHERE customer_code = ? "
                                    "ORDER BY year, seq", (drop,)) as cur:
                numbers = [r[0] for r in await cur.fetchall()]
            await conn.execute("UPDATE documents SET customer_code = ?, updated_at = ? "
                               "WHERE customer_code = ?", (keep, now, drop))
            await conn.execute("DELETE FROM customers WHERE code = ?", (drop,))
        return numbers

    async def add_article(self, code: str, description: str, price: Decimal | str, *,
                          vat_rate: Decimal | str = Decimal("22"), stock: int = 0,
                          active: bool = True) -> ErpArticle:
        """Seed one article (the demo catalogue); an existing code is left as it is."""
        return await self.create_article(ArticleData(
            code=code, description=description, price=Decimal(str(price)),
            vat_rate=Decimal(str(vat_rate)), stock=stock, active=active))

    async def set_stock(self, code: str, stock: int) -> ErpArticle:
        stock = validate.whole(stock, "stock", ref=code)
        return await self._update_article(code, "stock = ?", stock)

    async def set_price(self, code: str, price: Decimal) -> ErpArticle:
        price = validate.amount(price, "price", ref=code)
        return await self._update_article(code, "price = ?", str(price))

    async def set_active(self, code: str, active: bool) -> ErpArticle:
        return await self._update_article(code, "active = ?", int(bool(active)))

    async def _update_article(self, code: str, assignment: str, value: Any) -> ErpArticle:
        async with self._write() as conn:
            async with conn.execute(
                f"UPDATE articles SET {assignment}, updated_at = ? WHERE code = ? RETURNING *",
                (value, _now(), code),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise ErpNotFound(f"no article {code!r} in the embedded ERP",
                                  hint="list them with: sincro erp articles")
            return schema.article(row)

    # -- documents ------------------------------------------------------
    async def insert_order(self, doc: OrderDocumentData) -> InsertResult:
        return (await self.insert_orders([doc]))[0]

    async def insert_orders(self, docs: Sequence[OrderDocumentData]) -> list[InsertResult]:
        """Insert each order once per external_ref, all in one transaction.

        Stock of the articles on the lines goes down in the same transaction.
        An invalid document fails the whole batch with an ErpError naming it.
        """
        items = [validate.order(d) for d in docs]
        if not items:
            return []
        now = _now()
        async with self._write() as conn:
            refs = list(dict.fromkeys(d.external_ref for d in items))
            existing = await sql.documents_where(conn, "external_ref", refs)
            first: dict[str, OrderDocumentData] = {}
            for d in items:
                first.setdefault(d.external_ref, d)
            fresh = [d for ref, d in first.items() if ref not in existing]
            await sql.check_references(conn, fresh)
            rows = await sql.allocate(conn, fresh)
            await sql.write_documents(conn, rows, now)
            made = {r.doc.external_ref: sql.document_from_data(r) for r in rows}
        results = []
        for d in items:
            if d.external_ref in made:
                results.append(InsertResult(made.pop(d.external_ref), True))
                existing[d.external_ref] = results[-1].document
            else:
                results.append(InsertResult(existing[d.external_ref], False))
        return results

    async def find_document(self, external_ref: str) -> ErpDocument | None:
        async with self._read() as conn:
            return (await sql.documents_where(conn, "external_ref", [external_ref])).get(
                external_ref)

    async def find_documents(self, external_refs: Sequence[str]) -> dict[str, ErpDocument]:
        """The documents among these external references, with lines, by reference."""
        async with self._read() as conn:
            return await sql.documents_where(conn, "external_ref", list(external_refs))

    # -- credit notes (ErpCreditNotes; docs/FISCAL.md, "Refunds") ------
    async def insert_credit_notes(self, docs: Sequence[CreditNoteData]) -> list[CreditNoteResult]:
        """Insert each credit note once per external_ref, all in one transaction, with the
        stock of returned goods back; an invalid one or one whose order document is missing
        fails the batch with an ErpError naming it."""
        items = [validate.credit_note(d) for d in docs]
        if not items:
            return []
        now = _now()
        async with self._write() as conn:
            refs = list(dict.fromkeys(d.external_ref for d in items))
            existing = await credit_sql.where(conn, "c.external_ref", refs)
            first: dict[str, CreditNoteData] = {}
            for d in items:
                first.setdefault(d.external_ref, d)
            fresh = [d for ref, d in first.items() if ref not in existing]
            made = await credit_sql.insert(conn, fresh, now) if fresh else {}
        results = []
        for d in items:
            if d.external_ref in made:
                results.append(CreditNoteResult(made.pop(d.external_ref), True))
                existing[d.external_ref] = results[-1].credit_note
            else:
                results.append(CreditNoteResult(existing[d.external_ref], False))
        return results

    async def find_credit_notes(self, external_refs: Sequence[str]) -> dict[str, ErpCreditNote]:
        async with self._read() as conn:
            return await credit_sql.where(conn, "c.external_ref", list(external_refs))

    async def credit_notes_of(self, order_external_ref: str) -> list[ErpCreditNote]:
        async with self._read() as conn:
            async with conn.execute(
                "SELECT c.id FROM credit_notes c JOIN documents d ON d.id = c.document_id"
                " WHERE d.external_ref = ? ORDER BY c.date, c.id", (order_external_ref,)) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            found = await credit_sql.where(conn, "c.id", ids)
        return [found[i] for i in ids]

    async def list_credit_notes(self, limit: int | None = None) -> list[ErpCreditNote]:
        """Every credit note, newest first (the newest ``limit`` when given)."""
        async with self._read() as conn:
            query = "SELECT id FROM credit_notes ORDER BY year DESC, seq DESC"
            params: tuple[int, ...] = ()
            if limit is not None:
                query += " LIMIT ?"
                params = (limit,)
            async with conn.execute(query, params) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            found = await credit_sql.where(conn, "c.id", ids)
        return [found[i] for i in ids]

    async def get_credit_note(self, number: str) -> ErpCreditNote:
        async with self._read() as conn:
            found = await credit_sql.where(conn, "c.number", [number])
        if number not in found:
            raise ErpNotFound(f"no credit note {number!r} in the embedded ERP")
        return found[number]

    async def book_credit_note(self, number: str) -> ErpCreditNote:
        """The office booked it: open -> booked (a booked credit note is final)."""
        note = await self.get_credit_note(number)
        if note.state != "open":
            raise ErpError(f"credit note {number} is already {note.state}")
        async with self._write() as conn:
            await conn.execute("UPDATE credit_notes SET state = 'booked', updated_at = ?"
                               " WHERE number = ?", (_now(), number))
        return await self.get_credit_note(number)

    async def update_document(self, doc: OrderDocumentData) -> ErpDocument:
        """Rewrite an open document's header, lines and totals from ``doc`` (by its
        external_ref); stock follows the lines. A document no longer open is final."""
        item = validate.order(doc)
        now = _now()
        async with self._write() as conn:
            current = (await sql.documents_where(conn, "external_ref", [item.external_ref])).get(
                item.external_ref)
            if current is None:
                raise ErpNotFound(f"no document for {item.external_ref} in the embedded ERP",
                                  external_ref=item.external_ref)
            if current.state != "open":
                raise ErpError(f"document {current.number} is {current.state} and cannot be "
                               "changed", hint="issue a credit note in the ERP instead",
                               external_ref=item.external_ref)
            await sql.check_references(conn, [item])
            async with conn.execute("SELECT id FROM documents WHERE number = ?",
                                    (current.number,)) as cur:
                doc_row = await cur.fetchone()
                assert doc_row is not None  # current was read from this row
                doc_id = doc_row["id"]
            stock: dict[str, int] = {}
            for ln in current.lines:
                if ln.kind == "article" and ln.article_code:
                    stock[ln.article_code] = stock.get(ln.article_code, 0) - ln.quantity
            lines = sql.lines_of(item)
            for ln in lines:
                if ln.kind == "article" and ln.article_code:
                    stock[ln.article_code] = stock.get(ln.article_code, 0) + ln.quantity
            await conn.execute(
                "UPDATE documents SET customer_code=?, destination_code=?,"
                " invoice_destination_code=?, currency=?, payment=?, carrier=?, shop_reference=?,"
                " total_tax_excl=?, total_tax_incl=?, notes=?, conversion_rate=?,"
                " payment_method=?, rounding=?, rounding_tax_excl=?, updated_at=? WHERE id=?",
                (item.customer_code, item.destination_code, item.invoice_destination_code,
                 item.currency, item.payment, item.carrier, item.shop_reference,
                 str(item.total_tax_excl), str(item.total_tax_incl), item.notes,
                 sql.opt_str(item.conversion_rate), item.payment_method, str(item.rounding),
                 str(item.rounding_tax_excl), now, doc_id))
            await conn.execute("DELETE FROM document_lines WHERE document_id = ?", (doc_id,))
            await conn.execute("DELETE FROM document_vat WHERE document_id = ?", (doc_id,))
            await conn.executemany(sql.INSERT_LINE, [sql.line_row(doc_id, no, ln)
                                                     for no, ln in enumerate(lines, 1)])
            await conn.executemany(sql.INSERT_VAT, sql.vat_rows(doc_id, item))
            await conn.executemany(
                "UPDATE articles SET stock = stock - ?, updated_at = ? WHERE code = ?",
                [(q, now, c) for c, q in sorted(stock.items()) if q])
            return (await sql.documents_where(conn, "id", [doc_id]))[doc_id]

    async def get_document(self, number: str) -> ErpDocument:
        async with self._read() as conn:
            doc = (await sql.documents_where(conn, "number", [number])).get(number)
        if doc is None:
            raise ErpNotFound(f"no document {number!r} in the embedded ERP",
                              hint="list them with: sincro erp documents")
        return doc

    async def list_documents(self, state: str | None = None, *, search: str = "",
                             limit: int | None = None) -> list[ErpDocument]:
        """Documents (without lines), newest first; `search` and `limit` as in
        `document_summaries`."""
        if state is not None and state not in sql.TRANSITIONS:
            raise ErpError(f"unknown document state {state!r}",
                           hint="use one of: " + ", ".join(sql.TRANSITIONS))
        rows = await self._fetchall(*documents_query("d.*", search, state, limit))
        return [schema.document(r) for r in rows]

    async def document_summaries(self, search: str = "", limit: int | None = None
                                 ) -> tuple[list[tuple[str, str, str, str, str, str]], int]:
        """(number, date, customer name, total with tax, currency, state) of the
        documents, newest first, as stored: what a list shows, without building
        10,000 documents to show it. `search` keeps those whose number, customer,
        shop reference or state contains it (any case); `limit` keeps the newest.
        Returns the rows and how many documents match in all."""
        where, params = document_filter(search)
        count = (await self._fetchone("SELECT COUNT(*)" + DOCUMENTS_JOIN + where, params))[0]
        rows = await self._fetchall(*documents_query(
            "d.number, d.date, COALESCE(c.name, d.customer_code), d.total_tax_incl, d.currency,"
            " d.state", search, None, limit))
        return [tuple(r) for r in rows], count

    # -- states ---------------------------------------------------------
    async def set_state(self, number: str, state: str, *, tracking_number: str | None = None,
                        at: datetime | None = None) -> ErpDocument:
        """Move a document on: open -> cancelled | shipped | invoiced, shipped -> invoiced.

        Shipping issues a delivery note, invoicing an invoice (numbered per
        year); cancelling gives the stock back. Each change goes to the journal.
        """
        if state not in ("cancelled", "shipped", "invoiced"):
            raise ErpError(f"cannot set a document to {state!r}",
                           hint="use cancelled, shipped or invoiced")
        tracking_number = validate.text(tracking_number, "tracking number", limit=64)
        if tracking_number and state != "shipped":
            raise ErpError("a tracking number goes only with shipped")
        when = (at or datetime.now(UTC)).astimezone(UTC)
        day = when.date()
        async with self._write() as conn:
            async with conn.execute("SELECT * FROM documents WHERE number = ?", (number,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise ErpNotFound(f"no document {number!r} in the embedded ERP",
                                  hint="list them with: sincro erp documents")
            sql.check_transition(number, row["state"], state)
            values: dict[str, Any] = {"state": state, "updated_at": _now()}
            journal: dict[str, Any] = {}
            if state == "shipped":
                seq = await sql.take_numbers(conn, "delivery_note", day.year)
                journal = {"delivery_note_number": f"DDT-{day.year}/{seq:06d}",
                           "delivery_note_date": day.isoformat(),
                           "tracking_number": tracking_number}
            elif state == "invoiced":
                seq = await sql.take_numbers(conn, "invoice", day.year)
                journal = {"invoice_number": f"FT-{day.year}/{seq:06d}",
                           "invoice_date": day.isoformat()}
            elif state == "cancelled":
                await conn.execute(
                    "UPDATE articles SET stock = stock + q.quantity, updated_at = ? FROM"
                    " (SELECT article_code, SUM(quantity) AS quantity FROM document_lines"
                    "  WHERE document_id = ? AND kind = 'article' AND article_code IS NOT NULL"
                    "  GROUP BY article_code) AS q WHERE articles.code = q.article_code",
                    (values["updated_at"], row["id"]))
            values.update(journal)
            await conn.execute(
                f"UPDATE documents SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                (*values.values(), row["id"]))
            await conn.execute(
                "INSERT INTO state_journal (document_id, event, at, delivery_note_number,"
                " delivery_note_date, tracking_number, invoice_number, invoice_date)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (row["id"], state, when.isoformat(timespec="microseconds"),
                 journal.get("delivery_note_number"), journal.get("delivery_note_date"),
                 journal.get("tracking_number"), journal.get("invoice_number"),
                 journal.get("invoice_date")))
            return (await sql.documents_where(conn, "id", [row["id"]]))[row["id"]]

    async def state_changes(self, since_cursor: str | None,
                            limit: int = 1000) -> tuple[list[StateChange], str | None]:
        after = sql.parse_cursor(since_cursor)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ErpError(f"the limit of state changes must be a positive number, not {limit!r}")
        rows = await self._fetchall(
            "SELECT j.*, d.number, d.external_ref FROM state_journal j"
            " JOIN documents d ON d.id = j.document_id WHERE j.id > ? ORDER BY j.id LIMIT ?",
            (after, limit))
        changes = [schema.state_change(r) for r in rows]
        return changes, (changes[-1].cursor if changes else since_cursor)

    # -- export ---------------------------------------------------------
    async def export(self) -> dict[str, list[dict[str, Any]]]:
        """Everything, as plain JSON-able data: amounts as strings, stock as numbers."""
        async with self._read() as conn:  # one snapshot for the whole export
            async with conn.execute("SELECT * FROM customers ORDER BY code") as cur:
                customers = [schema.customer(r) for r in await cur.fetchall()]
            async with conn.execute("SELECT * FROM articles ORDER BY code") as cur:
                articles = [schema.article(r) for r in await cur.fetchall()]
            async with conn.execute("SELECT * FROM destinations ORDER BY code") as cur:
                destinations = [schema.destination(r) for r in await cur.fetchall()]
            async with conn.execute("SELECT * FROM documents ORDER BY year, seq") as cur:
                rows = list(await cur.fetchall())
            lines = await sql.document_lines(conn, [r["id"] for r in rows])
            summaries = await sql.document_vat(conn, [r["id"] for r in rows])
            async with conn.execute("SELECT id FROM credit_notes ORDER BY year, seq") as cur:
                note_ids = [r[0] for r in await cur.fetchall()]
            notes = await credit_sql.where(conn, "c.id", note_ids)
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for d in destinations:
            by_customer.setdefault(d.customer_code, []).append(
                {"code": d.code, "name": d.name, "company": d.company, "address1": d.address1,
                 "address2": d.address2, "postcode": d.postcode, "city": d.city,
                 "province": d.province, "country": d.country, "phone": d.phone})
        out: dict[str, list[dict[str, Any]]] = {
            "customers": [
                {"code": c.code, "name": c.name, "company": c.company, "vat_number": c.vat_number,
                 "tax_code": c.tax_code, "email": c.email, "phone": c.phone,
                 "pec": c.pec, "sdi_code": c.sdi_code, "kind": c.kind, "country": c.country,
                 "external_ref": c.external_ref, "destinations": by_customer.get(c.code, [])}
                for c in customers
            ],
            "articles": [
                {"code": a.code, "description": a.description, "price": str(a.price),
                 "stock": a.stock, "active": a.active, "vat_rate": str(a.vat_rate),
                 "ean13": a.ean13}
                for a in articles
            ],
            "documents": [sql.export_document(schema.document(
                r, tuple(lines.get(r["id"], ())), tuple(summaries.get(r["id"], ()))))
                for r in rows],
        }
        if note_ids:  # only an ERP with credit notes lists them
            out["credit_notes"] = [credit_sql.export(notes[i]) for i in note_ids]
        return out


def _with_outcome(a: ErpArticle, outcome: Outcome) -> ErpArticle:
    return ErpArticle(a.code, a.description, a.price, a.vat_rate, a.stock, a.active, outcome,
                      a.ean13)


