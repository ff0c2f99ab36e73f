from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.amounts import shown


def test_exact_cents_show_two_decimals() -> None:
    assert shown(Decimal("351.130000")) == "351.13"
    assert shown(Decimal("10")) == "10.00"
    assert shown(Decimal("-4.5")) == "-4.50"


def test_more_precision_is_kept() -> None:
    assert shown(Decimal("0.123400")) == "0.1234"


def test_not_an_amount_is_text() -> None:
    assert shown(None) == ""
    assert shown(7) == "7"
    assert shown("IT00100") == "IT00100"


@given(st.decimals(min_value=-10**9, max_value=10**9, places=6, allow_nan=False))
def test_the_value_never_changes(value: Decimal) -> None:
    assert Decimal(shown(value)) == value
