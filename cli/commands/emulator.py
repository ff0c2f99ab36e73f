"""``sincro emulator`` subcommand: run the PrestaShop Webservice emulator."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "emulator",
        help="run a PrestaShop Webservice emulator on 127.0.0.1",
        description="Serve an emulated PrestaShop shop (/api/) for demos and tests.",
    )
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = a free port)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", metavar="DIR", help="load the shop from DIR (e.g. sample_data/)")
    src.add_argument("--generate", type=int, metavar="N", help="generate N orders")
    p.add_argument("--seed", type=int, default=1, help="seed for --generate (default 1)")
    p.add_argument("--version", dest="ps_version", choices=["1.6", "1.7", "8", "9"], default="1.6",
                   help="PrestaShop version to emulate (default 1.6 = 1.6.1.24)")
    p.add_argument("--key", help="webservice key (32 chars A-Z0-9; default: generated)")
    p.add_argument("--round-type", type=int, choices=[1, 2, 3], default=2,
                   help="for --generate: PrestaShop's rounding of order amounts, 1 per item, 2 per line "
                        "(default), 3 on the total")
    p.add_argument("--address-fields", metavar="NAMES", default="",
                   help="for --generate: address columns of an e-invoicing module, e.g. pec,sdi "
                        "(default: none, as a stock shop); with --data, shop.json names them")
    p.add_argument("--shops", type=int, default=1, metavar="N",
                   help="for --generate: a multishop install of N shops (default 1)")
    p.add_argument("--languages", metavar="ISO,..", default="",
                   help="for --generate: the languages by ISO code in id order, of en and it (e.g. "
                        "en,it: every name in each); default: English, then Italian as before")
    p.set_defaults(handler=handler)
    return p


async def handler(args: argparse.Namespace, ctx: Any = None) -> int:
    from core.errors import ConfigError
    from emulator.server import build_state, serve_async

    key = getattr(args, "key", None)
    if key is not None and (len(key) != 32 or not key.isalnum() or key.upper() != key):
        raise ConfigError("invalid --key: PrestaShop keys are 32 characters of A-Z and 0-9")
    data = getattr(args, "data", None)
    n = getattr(args, "generate", None)
    if data is None and n is None:
        data = None
        n = 100
    fields = tuple(f.strip() for f in (getattr(args, "address_fields", "") or "").split(",") if f.strip())
    try:
        languages = tuple(c.strip().lower() for c in (getattr(args, "languages", "") or "").split(",")
                          if c.strip())
        state = build_state(data, n, getattr(args, "seed", 1), getattr(args, "ps_version", "1.6"), key,
                            round_type=getattr(args, "round_type", 2), address_module_fields=fields,
                            shops=getattr(args, "shops", 1), languages=languages or None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    await serve_async(state, getattr(args, "port", 0))
    return 0
