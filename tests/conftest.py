"""Every test that can touch the hub runs on both hubs: the SQLite files under the test's
home, and a fresh database of a throwaway PostgreSQL cluster (tests/pg.py) named by
``SINCRO_HUB``. One fixture, ``hub_kind``, parametrised ``sqlite`` / ``postgresql``.

Modules that never open a hub run once (``sqlite``). A test about the SQLite file itself
(a damaged or full file, a backup copy) says so with ``@pytest.mark.sqlite_only``; the
PostgreSQL variant then does not run. ``@pytest.mark.postgresql_only`` is the reverse
(several daemons sharing one hub). Without PostgreSQL installed the ``postgresql``
variants are skipped, or fail when ``SINCRO_REQUIRE_POSTGRES=1`` (.ci/run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import pg

KINDS = ("sqlite", "postgresql")

# modules that open no hub and no embedded ERP: one run is enough
HUB_FREE = {
    "test_account_options", "test_amounts", "test_client_bounds", "test_daemon_logging",
    "test_events", "test_kinds", "test_listing_rules", "test_pipeline_table",
    "test_prestashop_client", "test_prestashop_parse", "test_schedule", "test_snapshot",
    "test_textsafe", "test_vat", "test_emulator_conformance", "test_notify",
    "test_emulator_api", "test_emulator_data", "test_emulator_dates", "test_emulator_italy",
    "test_emulator_multishop", "test_emulator_taxes", "test_emulator_cli",
    "test_client_emulator", "test_import_hygiene", "test_help_walk", "test_gc_pacer",
    "test_shop_bounds",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: about the SQLite file itself; not run on the PostgreSQL hub")
    config.addinivalue_line(
        "markers", "postgresql_only: about the PostgreSQL hub only (several daemons on it)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hub_kind" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    only_sqlite = module in HUB_FREE or metafunc.definition.get_closest_marker("sqlite_only")
    kinds = ["sqlite"] if only_sqlite else list(KINDS)
    if metafunc.definition.get_closest_marker("postgresql_only"):
        kinds = ["postgresql"]
    metafunc.parametrize("hub_kind", kinds, indirect=True)


@pytest.fixture(autouse=True)
def hub_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The hub this test runs on; for ``postgresql``, SINCRO_HUB names a new database."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        monkeypatch.delenv("SINCRO_HUB", raising=False)
        yield kind
        return
    cluster = pg.cluster()
    if cluster is None:
        if os.environ.get("SINCRO_REQUIRE_POSTGRES"):
            pytest.fail(pg.why_not())
        pytest.skip(pg.why_not())
    name = cluster.new_database()
    monkeypatch.setenv("SINCRO_HUB", cluster.url(name))
    try:
        yield kind
    finally:
        cluster.drop_database(name)
