"""No view can crash on a stored value (issue 20, item 5): amounts such as 1E+309, NaN,
Infinity or 20 decimals, written straight into a real erp.db and hub.db, are shown as
text by `erp documents`, `erp document N`, `erp articles`, `runs` and reconcile."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from cli.main import main
from core.erp.embedded import EmbeddedErp
from core.erp.port import CustomerData, OrderDocumentData, OrderLineData
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import KEY, asincro
from tests.hubs import erp_rows, erp_write, hub_rows, hub_write, on_postgres
from tests.synctools import engine_for

ODD = ("1e309", "NaN", "Infinity", "-Infinity", "0.12345678901234567890")


@pytest.fixture(autouse=True)
def wide(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # whole values, not folded in narrow cells


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def corrupt_erp(erp_db: Path, values: tuple[str, ...] = ODD) -> None:
    """Each document, line and article gets one of `values` for its amounts (in the
    embedded ERP of the home of `erp_db`, on whichever hub the test runs)."""
    home = erp_db.parent
    tables = [r[0] for r in erp_rows(
        home, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'erp'"
        if on_postgres() else "SELECT name FROM sqlite_master WHERE type='table'")]
    docs = [r[0] for r in erp_rows(home, "SELECT id FROM documents ORDER BY id")]
    for i, doc in enumerate(docs):
        v = values[i % len(values)]
        erp_write(home, "UPDATE documents SET total_tax_incl = ?, total_tax_excl = ? "
                  "WHERE id = ?", (v, v, doc))
        for t in tables:
            if t.startswith("document_lines"):
                erp_write(home, f"UPDATE {t} SET unit_price = ?, unit_price_tax_incl = ? "
                          "WHERE document_id = ?", (v, v, doc))
    for i, (code,) in enumerate(erp_rows(home, "SELECT code FROM articles ORDER BY code")):
        erp_write(home, "UPDATE articles SET price = ? WHERE code = ?",
                  (values[i % len(values)], code))


@pytest.fixture
def home(tmp_path: Path, capsys) -> Path:
    """A hub with shop1 and five runs, an ERP with five documents: every amount odd."""
    import asyncio

    home = tmp_path / "home"
    assert main(["--home", str(home), "account", "add", "shop1", "--url",
                 "http://127.0.0.1:9/", "--key", KEY]) == 0

    async def seed() -> None:
        erp = await EmbeddedErp.open(home / "erp.db")
        try:
            await erp.add_article("A1", "Widget", "10.00", stock=1)
            await erp.add_article("B2", "Gadget", "2.00", stock=1)
            customer = await erp.upsert_customer(CustomerData("shop1:c:1", "Rossi"))
            for n in range(1, 6):
                line = OrderLineData("A1", "Widget", 1, D("10.00"), D("12.20"), D("22"))
                await erp.insert_order(OrderDocumentData(
                    f"shop1:o:{n}", customer.code, date(2026, 11, n), "EUR", (line,),
                    D("10.00"), D("12.20"), shop_reference=f"REF{n}"))
        finally:
            await erp.close()

    asyncio.run(seed())
    corrupt_erp(home / "erp.db")
    for i, v in enumerate(ODD):
        if on_postgres() and v == "1e309":
            v = "Infinity"  # what SQLite makes of 1e309 in a REAL column; PostgreSQL refuses it
        hub_write(home,
                  "INSERT INTO runs (account_id, kind, trigger, owner, started_at, ended_at, "
                  "outcome, counts, errors, steps, duration_s) VALUES (1, 'orders', 'cli', 't', "
                  "?, ?, 'ok', ?, '[]', '[]', ?)",
                  ("2026-11-27T07:00:00+00:00", "2026-11-27T07:00:05+00:00",
                   json.dumps({"orders_imported": 1}) if i else '{"orders_imported": 1e999}', v))
    hub_write(home, "INSERT INTO runs (account_id, kind, trigger, owner, started_at, counts, "
              "errors, steps) VALUES (1, 'orders', 'cli', 't', 'not a time', '{}', '[]', '[]')")
    capsys.readouterr()
    return home


def test_erp_documents_and_each_document_show_odd_amounts_as_text(home: Path, capsys) -> None:
    code, out, err = run(capsys, "--home", str(home), "erp", "documents")
    assert code == 0, err
    for shown in ("1E+309", "NaN", "Infinity", "0.1234567890123456789"):
        assert shown in out
    code, out, err = run(capsys, "--home", str(home), "erp", "documents", "--json")
    assert code == 0, err
    numbers = [d["number"] for d in json.loads(out)]
    assert len(numbers) == 5
    for number in numbers:
        code, out, err = run(capsys, "--home", str(home), "erp", "document", number)
        assert code == 0 and "internal error" not in err, err
        code, out, err = run(capsys, "--home", str(home), "erp", "document", number, "--json")
        assert code == 0, err
        json.loads(out)
    code, out, err = run(capsys, "--home", str(home), "erp", "articles")
    assert code == 0 and "1E+309" in out and "NaN" in out, err


def test_runs_show_odd_durations_and_counts_as_text(home: Path, capsys) -> None:
    code, out, err = run(capsys, "--home", str(home), "runs")
    assert code == 0, err
    assert "NaN" in out and "inf" in out.lower() and "not a time" in out
    code, out, err = run(capsys, "--home", str(home), "runs", "--json")
    assert code == 0, err


async def test_reconcile_shows_odd_erp_and_hub_amounts_as_text(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(6, seed=4)) as emu:
        async with engine_for(home, emu) as engine:
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "ok" and summary.counts["documents_inserted"] > 0
        corrupt_erp(home / "erp.db")
        for i, (shop_id, data) in enumerate(hub_rows(
                home, "SELECT shop_id, data FROM orders ORDER BY shop_id")):
            order = json.loads(data)
            for key in ("total_tax_incl", "total_tax_excl"):
                if key in order:
                    order[key] = ODD[i % len(ODD)]
            hub_write(home, "UPDATE orders SET data = ? WHERE shop_id = ?",
                      (json.dumps(order), shop_id))
        r = await asincro(home, "reconcile", "shop1")
        assert r.code == 1, r.err  # not aligned, and said so
        assert "internal error" not in r.err and "Traceback" not in r.err
        assert "differs" in r.out and "1E+309" in r.out
        j = await asincro(home, "reconcile", "shop1", "--json")
        assert j.code == 1, j.err
        json.loads(j.out)
