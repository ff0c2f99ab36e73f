"""The hub's ERP setting and the choice of connector (core/erp/choice.py).

As tests/unit/test_import_hygiene.py does, the first tests look at what a fresh process
really loads: the engine, and an engine on the embedded ERP, load no Tryton module."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.erp.choice import (
    TrytonSettings,
    load_erp_setting,
    open_chosen_erp,
    save_erp_setting,
    uses_tryton,
)
from core.erp.embedded import EmbeddedErp
from core.erp.port import ErpError
from core.store.hub import open_hub
from tests.hubs import erp_exists

TRYTON_MODULES = ("import sys\n"
                  "print(','.join(sorted(m for m in sys.modules if 'tryton' in m\n"
                  "      or m.split('.')[0] == 'stdnum')))\n")


def _loaded(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def test_importing_the_engine_loads_no_tryton_module() -> None:
    assert _loaded("import core.engine\n" + TRYTON_MODULES) == ""


def test_an_engine_on_the_embedded_erp_loads_no_tryton_module(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from core.engine import Engine\n"
        "async def main():\n"
        f"    async with Engine(Path({str(tmp_path / 'home')!r}), notify=False) as engine:\n"
        "        print(type(await engine.erp_to_read()).__name__)\n"  # a scratch one
        "        print(type(await engine.erp()).__name__)\n"
        "asyncio.run(main())\n" + TRYTON_MODULES)
    assert _loaded(code).split("\n") == ["EmbeddedErp", "EmbeddedErp"]


async def test_no_setting_stored_chooses_the_embedded_erp(tmp_path: Path) -> None:
    hub = await open_hub(tmp_path / "hub.db")
    try:
        setting = await load_erp_setting(hub)
        assert setting == {"kind": "embedded"} and not uses_tryton(setting)
        erp = await open_chosen_erp(hub, tmp_path / "erp.db")
        try:
            assert isinstance(erp, EmbeddedErp) and erp.name == "embedded"
        finally:
            await erp.close()
    finally:
        await hub.close()
    assert erp_exists(tmp_path)
    erp = await open_chosen_erp(None, tmp_path / "erp.db")  # no hub: embedded too
    try:
        assert isinstance(erp, EmbeddedErp)
    finally:
        await erp.close()


async def test_the_setting_round_trips_and_tryton_is_chosen_by_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = TrytonSettings(url=f"http://127.0.0.1:{port}", db="sincro", user="admin",
                              password_env="SINCRO_TEST_CHOICE_PW", confirm=False,
                              warehouse="WH")
    monkeypatch.setenv("SINCRO_TEST_CHOICE_PW", "s3cret-pw")
    hub = await open_hub(tmp_path / "hub.db")
    try:
        await save_erp_setting(hub, settings.to_json())
        setting = await load_erp_setting(hub)
        assert uses_tryton(setting) and TrytonSettings.from_json(setting) == settings
        with pytest.raises(ErpError) as info:
            await open_chosen_erp(hub, tmp_path / "erp.db")
        assert "cannot reach Tryton" in info.value.message
        assert "s3cret-pw" not in str(info.value) and "s3cret-pw" not in repr(info.value)
        assert not (tmp_path / "erp.db").exists()  # no embedded ERP was opened
        await save_erp_setting(hub, {"kind": "embedded"})
        erp = await open_chosen_erp(hub, tmp_path / "erp.db")
        try:
            assert isinstance(erp, EmbeddedErp)
        finally:
            await erp.close()
    finally:
        await hub.close()
