"""What importing the engine and the command line loads (docs/ARCHITECTURE.md, "Layers").

`lint-imports` (in .ci/run) checks the import graph statically; these check what a process
really loads, lazy imports included."""

import subprocess
import sys

import pytest


def _loaded(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(
    "module",
    ["core", "core.engine", "core.accounts", "core.store.hub", "core.daemon", "core.reconcile",
     "core.sync.pipeline", "core.erp.tryton", "core.status"],
)
def test_the_engine_loads_no_interface_and_no_emulator(module: str) -> None:
    # (not rich: httpx loads it for its own command line; that the engine never imports
    # it is lint-imports' contract)
    bad = _loaded(
        f"import sys, {module}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      ('textual', 'tui', 'cli', 'emulator'))))\n")
    assert bad == ""


def test_the_emulator_loads_nothing_of_sincro() -> None:
    bad = _loaded(
        "import sys, emulator.server, emulator.app\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      ('core', 'cli', 'tui'))))\n")
    assert bad == ""


@pytest.mark.parametrize("module", ["cli.main", "cli.commands.account"])
def test_the_command_line_loads_no_console(module: str) -> None:
    bad = _loaded(
        f"import sys, {module}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      ('textual', 'tui'))))\n")
    assert bad == ""


def test_building_the_cli_parser_does_not_import_textual() -> None:
    code = (
        "import sys\nfrom cli.main import build_parser\nbuild_parser()\n"
        "print('textual' in sys.modules)\n"
    )
    assert _loaded(code) == "False"
