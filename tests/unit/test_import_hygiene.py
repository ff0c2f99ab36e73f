"""The engine never imports the UI (STYLE.md: import hygiene)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["core", "core.cli", "core.accounts", "core.store.hub", "core.commands.account"],
)
def test_core_does_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'tui')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_building_the_cli_parser_does_not_import_textual() -> None:
    code = (
        "import sys\nfrom core.cli import build_parser\nbuild_parser()\n"
        "print('textual' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
