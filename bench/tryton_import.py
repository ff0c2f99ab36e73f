"""Orders into a real Tryton 8.0: N generated orders from the emulator (in its own
process) through the hub into a Tryton server (from the cached test template),
created (every line with its VAT tax, amounts settled to the shop's to the cent),
quoted and confirmed as sales.

    uv sync --all-groups
    uv run python bench/tryton_import.py [--orders 100] [--quotation] [--modules sale]

Prints wall time of the orders sync and orders/s into Tryton.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._emulator import emulator_process  # noqa: E402
from core import accounts as acc  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.erp.choice import TrytonSettings, save_erp_setting  # noqa: E402
from tests.tryton_server import (  # noqa: E402
    ADMIN_PASSWORD,
    DB_NAME,
    MODULES,
    TrytonServer,
    template_db,
    tryton_available,
)

PW_ENV = "SINCRO_BENCH_TRYTON_PW"


async def run(url: str, key: str, home: Path, srv: TrytonServer, confirm: bool):
    async with Engine(home, notify=False) as engine:
        # the generated shops have an exempt product: its 0 % maps to nature N4
        await acc.add_account(engine.hub, acc.build_account("bench", url, key=key,
                                                            tz="Europe/Rome",
                                                            options={"tax_map": {"0": "N4"}}))
        await save_erp_setting(engine.hub, TrytonSettings(
            url=srv.url, db=DB_NAME, user="admin", password_env=PW_ENV,
            confirm=confirm).to_json())
        t0 = time.perf_counter()
        summary = await engine.run_sync("bench", "orders", trigger="cli")
        return time.perf_counter() - t0, summary


def server_cpu(srv: TrytonServer) -> float:
    """CPU seconds (user + system) the trytond process has used so far (Linux /proc)."""
    assert srv.proc is not None
    fields = Path(f"/proc/{srv.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quotation", action="store_true", help="leave sales as quotations")
    p.add_argument("--modules", default=MODULES,
                   help=f"modules of the template (default {MODULES}; 'sale': no carriers)")
    args = p.parse_args()
    if reason := tryton_available():
        sys.exit(reason)
    t0 = time.perf_counter()
    template = template_db(args.modules)
    print(f"template              {template} ({time.perf_counter() - t0:.1f} s)")
    os.environ[PW_ENV] = ADMIN_PASSWORD
    with TrytonServer(template) as srv, emulator_process(args.orders, args.seed) as (url, key):
        home = Path(tempfile.mkdtemp(prefix="sincro-bench-")) / "home"
        cpu0 = server_cpu(srv)
        wall, summary = asyncio.run(run(url, key, home, srv, not args.quotation))
        cpu = server_cpu(srv) - cpu0
    inserted = summary.counts.get("documents_inserted", 0)
    print(f"orders in shop        {args.orders}")
    print(f"outcome               {summary.outcome} {summary.errors[:3]}")
    print(f"sales in Tryton       {inserted} ({'quotations' if args.quotation else 'confirmed'})")
    print(f"wall time             {wall:.2f} s")
    print(f"orders/s into Tryton  {inserted / wall:.1f}")
    print(f"Tryton server CPU     {cpu:.2f} s ({cpu / max(inserted, 1) * 1000:.0f} ms a sale; "
          "less sensitive to a busy machine than the wall time)")


if __name__ == "__main__":
    main()
