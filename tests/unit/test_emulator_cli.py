"""The ``emulator`` subcommand parser and handler wiring."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from cli.commands import emulator as cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sincro")
    sub = p.add_subparsers(dest="command")
    cli.add_parser(sub)
    return p


def test_add_parser_registers_emulator():
    args = parser().parse_args(["emulator", "--port", "0", "--generate", "25", "--seed", "3",
                                "--version", "8", "--key", "A" * 32])
    assert args.command == "emulator"
    assert (args.port, args.generate, args.seed, args.ps_version, args.key) == (0, 25, 3, "8", "A" * 32)
    assert asyncio.iscoroutinefunction(args.handler)
    args = parser().parse_args(["emulator", "--data", "sample_data"])
    assert args.data == "sample_data" and args.ps_version == "1.6"


def test_round_type_and_address_fields():
    args = parser().parse_args(["emulator", "--generate", "5", "--round-type", "1", "--address-fields", "pec, sdi"])
    assert (args.round_type, args.address_fields) == (1, "pec, sdi")
    assert parser().parse_args(["emulator"]).round_type == 2


async def test_handler_rejects_bad_address_field():
    from core.errors import ConfigError

    args = parser().parse_args(["emulator", "--generate", "1", "--address-fields", "pec,vat_number"])
    with pytest.raises(ConfigError, match="vat_number"):
        await args.handler(args, None)


def test_data_and_generate_are_exclusive():
    with pytest.raises(SystemExit):
        parser().parse_args(["emulator", "--data", "x", "--generate", "3"])


async def test_handler_rejects_bad_key():
    from core.errors import ConfigError

    args = parser().parse_args(["emulator", "--generate", "1", "--key", "short"])
    with pytest.raises(ConfigError, match="32 characters"):
        await args.handler(args, None)


async def test_handler_serves_until_cancelled(capsys):
    args = parser().parse_args(["emulator", "--generate", "2", "--key", "B" * 32])
    task = asyncio.create_task(args.handler(args, None))
    while "Webservice key" not in capsys.readouterr().out:  # printed once the server is ready
        await asyncio.sleep(0)
        if task.done():
            break
    task.cancel()
    assert await task == 0  # cancellation (Ctrl-C) stops the server cleanly
