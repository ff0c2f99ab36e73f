"""Account options (core.accounts): the stored TypedDict, the defaults and the typed
``Account.option`` overloads name the same options, with the same types."""

from __future__ import annotations

import json
from typing import Literal, get_args, get_origin, get_overloads, get_type_hints

from core.accounts import DEFAULT_OPTIONS, Account, AccountOptions


def _names(tp: object) -> list[str]:
    """The strings of a Literal, or of a union of Literals (an alias such as LimitOption)."""
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    return [n for arg in get_args(tp) for n in _names(arg)]


def test_defaults_and_overloads_cover_every_stored_option_with_its_type():
    stored = get_type_hints(AccountOptions)
    assert list(DEFAULT_OPTIONS) == list(stored)
    seen: dict[str, object] = {}
    for overload in get_overloads(Account.option):
        hints = get_type_hints(overload)
        for name in _names(hints["name"]):
            assert name not in seen, name
            seen[name] = hints["return"]
    assert sorted(seen) == sorted(stored)
    for name, returned in seen.items():
        assert returned == stored[name], name


def test_option_falls_back_on_the_default_and_the_stored_json_is_unchanged():
    account = Account("shop1", "https://shop.example/", "Europe/Rome",
                      options={"merge_guests": False})
    assert account.option("merge_guests") is False
    assert account.option("excluded_states") == [6, 8]
    assert json.dumps(account.options) == '{"merge_guests": false}'
    assert account.public_dict()["options"] == {**DEFAULT_OPTIONS, "merge_guests": False}
    assert Account("shop2", "https://shop.example/", "Europe/Rome").options == {}
