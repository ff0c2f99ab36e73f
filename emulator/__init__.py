"""PrestaShop Webservice emulator (1.6 / 1.7 / 8 / 9) for Sincro's tests, demos and benches.

* :mod:`emulator.data` — in-memory shop (:class:`~emulator.data.ShopState`), ``load_dir(path)``,
  ``dump_dir(state, path)``, seeded ``generate(n_orders, seed, ...)``, ``add_generated_orders``.
* :mod:`emulator.italy` — Italian taxes, tax rules, provinces; partita IVA and codice fiscale.
* :mod:`emulator.pricing` — order amounts as PrestaShop computes them (rounding types, cart rules).
* :mod:`emulator.app` — ``create_app(state)``: Starlette app serving ``/api/``,
  ``/webservice/dispatcher.php?url=`` and the JSON side channel ``/_emulator/``.
* :mod:`emulator.filters` — PrestaShop's query semantics for lists: ``filter[…]``, ``sort``, ``limit``.
* :mod:`emulator.errors` — the Webservice's error answers (``ApiError``: status, codes, messages).
* :mod:`emulator.side_channel` — ``SideChannel``: the JSON endpoints under ``/_emulator/``.
* :mod:`emulator.server` — ``EmulatorServer`` (async context manager, free port) and blocking ``serve()``.
* :mod:`emulator.faults` — fault injection (latency, 5xx rate, 429, timeout, truncated/malformed body,
  maintenance page, redirect, "500 code 46 after the state changed").
* ``sincro emulator`` is registered by the command line (``cli.commands.emulator``); the
  emulator itself imports nothing of Sincro.
"""
