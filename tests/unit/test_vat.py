"""VAT of documents (core.sync.vat) and Italian identifiers (core.fiscal): pure rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import fiscal
from core.sync import vat
from core.sync.partial import build_document

D = Decimal


# -- discount split ------------------------------------------------------------------
cents_st = st.integers(min_value=0, max_value=10**7).map(lambda n: D(n) / 100)


@given(total=cents_st, weights=st.lists(cents_st, min_size=1, max_size=6))
def test_split_adds_up_to_the_cent_and_follows_the_weights(total, weights):
    parts = vat.split(total, weights)
    assert sum(parts) == total
    assert all(p == p.quantize(D("0.01")) for p in parts)
    whole = sum(weights)
    if whole > 0:
        for p, w in zip(parts, weights, strict=True):
            # each part is its proportional share, give or take the odd cent
            assert abs(p - total * w / whole) < D("0.01")
            if w == 0:
                assert p == 0


@given(rates=st.lists(st.sampled_from([D(22), D(10), D(5), D(4), D(0)]), min_size=1,
                      max_size=4, unique=True),
       goods=st.lists(st.integers(min_value=1, max_value=10**6), min_size=4, max_size=4),
       pct=st.integers(min_value=1, max_value=90))
def test_a_percentage_discount_split_per_rate_matches_the_shop(rates, goods, pct):
    """What PrestaShop does for a percentage cart rule (the reduction of each product at its
    own rate) is what the split gives back, per rate, within a cent."""
    per_rate = {r: D(g) / 100 for r, g in zip(rates, goods, strict=False)}
    shop = {r: (g * pct / 100).quantize(D("0.01")) for r, g in per_rate.items()}
    total = sum(shop.values())
    parts = vat.split(total, [per_rate[r] for r in rates])
    assert sum(parts) == total
    for r, p in zip(rates, parts, strict=True):
        assert abs(p - shop[r]) <= D("0.01") * len(rates)


def test_split_of_a_negative_or_zero_weighted_total():
    assert vat.split(D("1.00"), [D(0), D(0)]) == [D("1.00"), D(0)]
    parts = vat.split(D("-0.03"), [D(1), D(1)])
    assert sum(parts) == D("-0.03") and sorted(parts) == [D("-0.02"), D("-0.01")]


# -- the tax map ------------------------------------------------------------------------
def test_default_map_knows_the_italian_rates_and_refuses_the_rest():
    m = vat.TaxMap({}, "shop1")
    assert m.resolve(D("22.000")) == vat.VatCode("22", None)
    assert m.resolve(D("4")) == vat.VatCode("4", None)
    with pytest.raises(vat.VatError) as e:
        m.resolve(D("0"), 7, what="order 12 line 1")
    assert str(e.value) == (
        "order 12 line 1 is at 0 % (tax rules group 7) has no exemption nature in the tax map: "
        "set it with 'sincro account edit shop1 --tax-map g7=N4' (the nature that applies: "
        "N1..N7)")
    with pytest.raises(vat.VatError, match=r"at 21\.5 %.*--tax-map 21\.5=CODE"):
        m.resolve(D("21.5"))


def test_groups_win_over_rates_and_natures_are_checked():
    m = vat.TaxMap({"0": "N3.2", "g9": "ES:N4", "22": "IVA22"}, "shop1")
    assert m.resolve(D(0)) == vat.VatCode("N3.2", "N3.2")
    assert m.resolve(D(0), 9) == vat.VatCode("ES", "N4")
    assert m.resolve(D(22), 1) == vat.VatCode("IVA22", None)
    assert vat.parse_map("22=22,10=10,0=N3.2,g9=ES:N4") == {
        "22": "22", "10": "10", "0": "N3.2", "g9": "ES:N4"}
    for bad, why in (("0=Z1", "0 % rate needs an exemption nature"),
                     ("22=22:N4", "takes no exemption nature"),
                     ("0=X:N9", "not an e-invoice nature"),
                     ("abc=1", "neither a rate"), ("22", "has no '='")):
        with pytest.raises(vat.VatError, match=why):
            vat.parse_map(bad)


# -- documents ---------------------------------------------------------------------------
def _order(**over):
    order = {
        "id": 7, "reference": "ABC", "date": "2026-11-02", "currency": "EUR", "tax_data": True,
        "round_type": 2, "payment": "Bank wire", "module": "ps_wirepayment",
        "carrier": "Corriere Espresso", "carrier_id": 2, "notes": ["customer: ring twice"],
        "conversion_rate": "1.000000", "customer_id": 1,
        "lines": [
            {"code": "A", "name": "Book", "quantity": 2, "unit_price": "10.000000",
             "unit_price_tax_incl": "10.400000", "total_tax_excl": "20.000000",
             "total_tax_incl": "20.800000", "vat_rate": "4", "tax_group": 3},
            {"code": "B", "name": "Shirt", "quantity": 1, "unit_price": "30.000000",
             "unit_price_tax_incl": "36.600000", "total_tax_excl": "30.000000",
             "total_tax_incl": "36.600000", "vat_rate": "22", "tax_group": 1},
        ],
        "shipping": {"tax_excl": "5.000000", "tax_incl": "6.100000", "vat_rate": "22"},
        "wrapping": {"tax_excl": "0", "tax_incl": "0", "vat_rate": "0"},
        # 10 % of the goods: 2.00 at 4 %, 3.00 at 22 %
        "discounts": {"tax_excl": "5.000000", "tax_incl": "5.740000"},
        "total_tax_excl": "50.000000", "total_tax_incl": "57.760000",
    }
    order.update(over)
    return order


def test_a_multi_rate_order_becomes_lines_at_shop_rates_a_discount_per_rate_and_a_summary():
    doc = build_document("shop1:o:7", _order(), "C1", None, None)
    assert [(ln.vat_rate, ln.vat_code) for ln in doc.lines] == [(D(4), "4"), (D(22), "22")]
    assert [(d.vat_rate, d.amount_tax_excl, d.amount_tax_incl) for d in doc.discounts] == [
        (D(22), D("3.00"), D("3.66")), (D(4), D("2.00"), D("2.08"))]
    assert [(v.rate, v.code, v.taxable, v.tax) for v in doc.vat_summary] == [
        (D(22), "22", D("32.00"), D("7.04")), (D(4), "4", D("18.00"), D("0.72"))]
    assert sum(v.taxable for v in doc.vat_summary) == doc.total_tax_excl
    assert sum(v.taxable + v.tax for v in doc.vat_summary) + doc.rounding == doc.total_tax_incl
    assert doc.rounding == 0
    assert doc.notes == "customer: ring twice"
    assert doc.payment == "Bank wire" and doc.carrier == "Corriere Espresso"


def test_a_cent_the_shop_rounding_explains_is_an_explicit_rounding():
    doc = build_document("shop1:o:7", _order(total_tax_incl="57.770000"), "C1", None, None)
    assert doc.rounding == D("0.01")
    assert sum(v.taxable + v.tax for v in doc.vat_summary) + doc.rounding == D("57.77")


def test_any_other_difference_holds_the_order_for_review():
    with pytest.raises(vat.HeldForReview, match=r"order 7: the VAT summary .* held for review"):
        build_document("shop1:o:7", _order(total_tax_incl="60.000000"), "C1", None, None)
    with pytest.raises(vat.HeldForReview):
        build_document("shop1:o:7", _order(total_tax_excl="49.000000"), "C1", None, None)


def test_an_exempt_line_needs_the_nature_from_the_map():
    order = _order()
    order["lines"][0].update(vat_rate="0", tax_group=4, unit_price_tax_incl="10.000000",
                             total_tax_incl="20.000000")
    order.update(total_tax_incl="57.040000", discounts={"tax_excl": "5", "tax_incl": "5.66"})
    with pytest.raises(vat.VatError, match=r"line 1 \(A\) is at 0 % \(tax rules group 4\)"):
        build_document("shop1:o:7", order, "C1", None, None)

    class Account:
        name = "shop1"

        @staticmethod
        def option(name):
            return {"tax_map": {"g4": "N4"}}.get(name)

    doc = build_document("shop1:o:7", order, "C1", None, None, account=Account())
    assert (doc.lines[0].vat_code, doc.lines[0].vat_nature) == ("N4", "N4")
    assert [(v.rate, v.nature) for v in doc.vat_summary] == [(D(22), None), (D(0), "N4")]


def test_payment_and_carrier_maps():
    class Account:
        name = "shop1"

        @staticmethod
        def option(name):
            return {"payment_map": {"ps_wirepayment": "BB"},
                    "carrier_map": {"2": "BRT"}}.get(name)

    doc = build_document("shop1:o:7", _order(), "C1", None, None, account=Account())
    assert (doc.payment, doc.payment_method, doc.carrier, doc.carrier_id) == (
        "BB", "ps_wirepayment", "BRT", 2)


def test_an_order_imported_before_tax_data_asks_for_a_resync():
    with pytest.raises(vat.VatError, match=r"sincro resync shop1 --order 7"):
        build_document("shop1:o:7", _order(tax_data=False), "C1", None, None)


@pytest.mark.parametrize("value, ok", [
    ("12.5", True), ("1e309", False), ("NaN", False), ("Infinity", False),
    ("0.12345678901234567890", False), ("1000000000000", False), ("99999999999.999999", True)])
def test_shop_amounts_are_bounded(value, ok):
    if ok:
        assert vat.decimal(value, "total") == D(value)
    else:
        with pytest.raises(vat.VatError, match="total"):
            vat.decimal(value, "total")


# -- identifiers ------------------------------------------------------------------------
def _piva(first10: str) -> str:
    for d in "0123456789":
        if fiscal.piva_ok(first10 + d):
            return first10 + d
    raise AssertionError


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_every_partita_iva_has_exactly_one_check_digit(first10):
    assert sum(fiscal.piva_ok(first10 + d) for d in "0123456789") == 1


def test_partita_iva_is_normalised_and_checked():
    good = _piva("0123456789")
    assert fiscal.vat_number(f"IT {good[:5]} {good[5:]}", "IT") == fiscal.Checked(good, True)
    bad = good[:10] + str((int(good[10]) + 1) % 10)
    assert fiscal.vat_number(f"it{bad}", "IT") == fiscal.Checked(bad, False)
    assert fiscal.vat_number("FR 12 345678901", "FR") == fiscal.Checked("FR12345678901", None)
    assert fiscal.vat_number("345678901", "DE") == fiscal.Checked("DE345678901", None)
    assert fiscal.vat_number("  ", "IT") is None


def test_codice_fiscale_check_character():
    # the Agenzia delle Entrate's own example: RSSMRA85T10A562S
    assert fiscal.tax_code("rssmra85t10a562s") == fiscal.Checked("RSSMRA85T10A562S", True)
    assert fiscal.tax_code("RSSMRA85T10A562T").valid is False
    assert fiscal.tax_code(_piva("0123456789")).valid is True


@pytest.mark.parametrize("text, found", [
    ("PEC: rossi@pec.it SDI: M5UXCR1", {"pec": "rossi@pec.it", "sdi": "M5UXCR1"}),
    ("pec=Rossi@Legalmail.IT; codice destinatario ABC1234", {"pec": "rossi@legalmail.it",
                                                            "sdi": "ABC1234"}),
    ("Cod. dest.: 0000000 - P.E.C.: a.b@pec.example.it",
     {"pec": "a.b@pec.example.it", "sdi": "0000000"}),
    ("ring twice, 3rd floor", {}),
    ("PEC: not-an-address SDI: toolongcode", {}),
])
def test_pec_and_sdi_read_from_labelled_text(text, found):
    assert fiscal.labelled(text) == found
