"""Italian taxes, provinces and the customer's fiscal identity, as an Italian PrestaShop shop holds them.

* Taxes and tax rules groups are those PrestaShop's Italian localisation pack creates, with its
  ids: taxes 1 ``IVA IT 22%``, 2 ``IVA IT 10%``, 3 ``IVA IT 5%``, 4 ``IVA IT 4%``, 5 ``IVA IT 0%``;
  groups 1 ``IT Standard Rate (22%)``, 2 ``IT Reduced Rate (10%)``, 3 ``IT Reduced
  Rate (5%)``, 4 ``IT Reduced Rate (4%)``, 5 ``IT Zero Rate (0%)``; plus the shop's own group
  6 ``Esente art. 10 (0%)`` whose rules have ``id_tax`` 0 ("no tax": an order row of such a
  product has no ``taxes`` association). The pack's rules cover the EU countries; the emulator
  has rules for the countries of its ``countries`` table that the pack lists (IT, FR, DE, ES).
  Switzerland and the United States have none (no tax). Shipping and gift wrapping use group 1.
* Provinces are ``states`` of Italy (``id_country`` 10, ``id_zone`` 1) with PrestaShop's install
  ids 123-232 and two-letter ``iso_code`` (MI, RM, NA, ...), as a 1.6 install creates them.
* Partita IVA: 11 digits, the last one a check digit (digits in odd positions summed, digits in
  even positions doubled less 9 when over 9, check = (10 - sum mod 10) mod 10).
* Codice fiscale of a person: 16 characters; surname, name, birth date and sex, birthplace code,
  and a check character from the Agenzia delle Entrate odd/even tables.
"""

from __future__ import annotations

import functools
import random
import unicodedata

ITALY = 10
TAX_DATE = "2024-01-15 10:00:00"

# id, name, rate
TAXES = [(1, "IVA IT 22%", "22.000"), (2, "IVA IT 10%", "10.000"), (3, "IVA IT 5%", "5.000"),
         (4, "IVA IT 4%", "4.000"), (5, "IVA IT 0%", "0.000")]
# id, name, id_tax of its rules (0 = no tax)
TAX_RULES_GROUPS = [(1, "IT Standard Rate (22%)", 1), (2, "IT Reduced Rate (10%)", 2),
                    (3, "IT Reduced Rate (5%)", 3), (4, "IT Reduced Rate (4%)", 4),
                    (5, "IT Zero Rate (0%)", 5), (6, "Esente art. 10 (0%)", 0)]
STANDARD, REDUCED_10, REDUCED_5, REDUCED_4, ZERO_RATE, EXEMPT = 1, 2, 3, 4, 5, 6
# countries of the emulator's base data that the localisation pack gives rules for
RULE_COUNTRIES = [10, 8, 1, 6]  # IT, FR, DE, ES

PROVINCES = [
    ("AG", "Agrigento"), ("AL", "Alessandria"), ("AN", "Ancona"), ("AO", "Aosta"), ("AR", "Arezzo"),
    ("AP", "Ascoli Piceno"), ("AT", "Asti"), ("AV", "Avellino"), ("BA", "Bari"),
    ("BT", "Barletta-Andria-Trani"), ("BL", "Belluno"), ("BN", "Benevento"), ("BG", "Bergamo"),
    ("BI", "Biella"), ("BO", "Bologna"), ("BZ", "Bolzano"), ("BS", "Brescia"), ("BR", "Brindisi"),
    ("CA", "Cagliari"), ("CL", "Caltanissetta"), ("CB", "Campobasso"), ("CI", "Carbonia-Iglesias"),
    ("CE", "Caserta"), ("CT", "Catania"), ("CZ", "Catanzaro"), ("CH", "Chieti"), ("CO", "Como"),
    ("CS", "Cosenza"), ("CR", "Cremona"), ("KR", "Crotone"), ("CN", "Cuneo"), ("EN", "Enna"), ("FM", "Fermo"),
    ("FE", "Ferrara"), ("FI", "Firenze"), ("FG", "Foggia"), ("FC", "Forlì-Cesena"), ("FR", "Frosinone"),
    ("GE", "Genova"), ("GO", "Gorizia"), ("GR", "Grosseto"), ("IM", "Imperia"), ("IS", "Isernia"),
    ("AQ", "L'Aquila"), ("SP", "La Spezia"), ("LT", "Latina"), ("LE", "Lecce"), ("LC", "Lecco"),
    ("LI", "Livorno"), ("LO", "Lodi"), ("LU", "Lucca"), ("MC", "Macerata"), ("MN", "Mantova"), ("MS", "Massa"),
    ("MT", "Matera"), ("VS", "Medio Campidano"), ("ME", "Messina"), ("MI", "Milano"), ("MO", "Modena"),
    ("MB", "Monza e della Brianza"), ("NA", "Napoli"), ("NO", "Novara"), ("NU", "Nuoro"), ("OG", "Ogliastra"),
    ("OT", "Olbia-Tempio"), ("OR", "Oristano"), ("PD", "Padova"), ("PA", "Palermo"), ("PR", "Parma"),
    ("PV", "Pavia"), ("PG", "Perugia"), ("PU", "Pesaro-Urbino"), ("PE", "Pescara"), ("PC", "Piacenza"),
    ("PI", "Pisa"), ("PT", "Pistoia"), ("PN", "Pordenone"), ("PZ", "Potenza"), ("PO", "Prato"),
    ("RG", "Ragusa"), ("RA", "Ravenna"), ("RC", "Reggio Calabria"), ("RE", "Reggio Emilia"), ("RI", "Rieti"),
    ("RN", "Rimini"), ("RM", "Roma"), ("RO", "Rovigo"), ("SA", "Salerno"), ("SS", "Sassari"), ("SV", "Savona"),
    ("SI", "Siena"), ("SR", "Siracusa"), ("SO", "Sondrio"), ("TA", "Taranto"), ("TE", "Teramo"),
    ("TR", "Terni"), ("TO", "Torino"), ("TP", "Trapani"), ("TN", "Trento"), ("TV", "Treviso"),
    ("TS", "Trieste"), ("UD", "Udine"), ("VA", "Varese"), ("VE", "Venezia"), ("VB", "Verbano-Cusio-Ossola"),
    ("VC", "Vercelli"), ("VR", "Verona"), ("VV", "Vibo Valentia"), ("VI", "Vicenza"), ("VT", "Viterbo"),]
FIRST_PROVINCE_ID = 123
PROVINCE_IDS = {iso: FIRST_PROVINCE_ID + i for i, (iso, _name) in enumerate(PROVINCES)}


def base_taxes(lang_ids: list[int]) -> list[dict]:
    return [{"id": tid, "rate": rate, "name": {lid: name for lid in lang_ids}} for tid, name, rate in TAXES]


def base_tax_rules_groups() -> list[dict]:
    return [{"id": gid, "name": name, "date_add": TAX_DATE, "date_upd": TAX_DATE}
            for gid, name, _tax in TAX_RULES_GROUPS]


def base_tax_rules(countries: list[int]) -> list[dict]:
    rules: list[dict] = []
    for gid, _name, tax in TAX_RULES_GROUPS:
        for cid in RULE_COUNTRIES:
            if cid in countries:
                rules.append({"id": len(rules) + 1, "id_tax_rules_group": str(gid), "id_country": str(cid),
                              "zipcode_from": "0", "zipcode_to": "0", "id_tax": str(tax)})
    return rules


def base_states() -> list[dict]:
    return [{"id": PROVINCE_IDS[iso], "id_zone": "1", "id_country": str(ITALY), "iso_code": iso, "name": name}
            for iso, name in PROVINCES]


# ---------------------------------------------------------------------- partita IVA
def piva_check_digit(first10: str) -> int:
    total = 0
    for i, ch in enumerate(first10):
        d = int(ch)
        if i % 2 == 1:  # 2nd, 4th, ... digit (even positions counting from 1)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def piva_is_valid(value: str) -> bool:
    digits = "".join(ch for ch in value.upper() if not ch.isspace()).removeprefix("IT")
    return len(digits) == 11 and digits.isdigit() and int(digits[10]) == piva_check_digit(digits[:10])


def make_piva(rng: random.Random, *, valid: bool = True) -> str:
    """11 digits: company number (7), provincial office (3), check digit."""
    first = f"{rng.randrange(0, 10**7):07d}{rng.randrange(1, 101):03d}"
    check = piva_check_digit(first)
    if not valid:
        check = (check + rng.randrange(1, 10)) % 10
    return first + str(check)


def typed_piva(rng: random.Random, digits: str) -> str:
    """As customers type it: plain, with the IT prefix, or with spaces."""
    r = rng.random()
    if r < 0.45:
        return digits
    if r < 0.75:
        return "IT" + digits
    if r < 0.9:
        return "IT " + digits
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}"


# ---------------------------------------------------------------------- codice fiscale
_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
                 12, 14, 16, 10, 22, 25, 24, 23], strict=True))
_EVEN = {**{str(d): d for d in range(10)}, **{chr(65 + i): i for i in range(26)}}
MONTHS = "ABCDEHLMPRST"
# birthplace codes (codice catastale) of the generator's cities
BIRTHPLACES = {"Milano": "F205", "Roma": "H501", "Napoli": "F839", "Torino": "L219", "Bologna": "A944",
               "Firenze": "D612", "Genova": "D969", "Forlì": "D704", "Cantù": "B639",
               "Sant'Agata de' Goti": "I197", "Palermo": "G273", "Venezia": "L736", "Bari": "A662",
               "Verona": "L781", "Trento": "L378"}


def cf_check_char(first15: str) -> str:
    total = 0
    for i, ch in enumerate(first15.upper()):
        total += _ODD[ch] if i % 2 == 0 else _EVEN[ch]
    return chr(65 + total % 26)


def cf_is_valid(value: str) -> bool:
    v = value.strip().upper()
    if len(v) != 16 or not v.isalnum():
        return False
    return cf_check_char(v[:15]) == v[15]


def _letters(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in plain.upper() if "A" <= ch <= "Z")


@functools.cache
def _cf_part(name: str, *, first_name: bool) -> str:
    letters = _letters(name)
    cons = [c for c in letters if c not in "AEIOU"]
    vows = [c for c in letters if c in "AEIOU"]
    if first_name and len(cons) >= 4:
        cons = [cons[0], cons[2], cons[3]]
    return "".join(cons + vows + ["X", "X", "X"])[:3]


def codice_fiscale(lastname: str, firstname: str, birthday: str, female: bool, birthplace: str) -> str:
    """``birthday`` as ``YYYY-MM-DD``."""
    year, month, day = birthday.split("-")
    first15 = (_cf_part(lastname, first_name=False) + _cf_part(firstname, first_name=True) + year[2:]
               + MONTHS[int(month) - 1] + f"{int(day) + (40 if female else 0):02d}" + birthplace)
    return first15 + cf_check_char(first15)


# ---------------------------------------------------------------------- e-invoicing (SDI, PEC)
PEC_DOMAINS = ["pec.it", "legalmail.it", "arubapec.it", "pec.confcommercio.it", "postecert.it"]
SDI_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def make_sdi(rng: random.Random) -> str:
    return "".join(rng.choice(SDI_ALPHABET) for _ in range(7))


def make_pec(rng: random.Random, company: str) -> str:
    slug = "".join(ch for ch in _letters(company).lower() if ch.isalnum())[:18] or "azienda"
    return f"{slug}@{rng.choice(PEC_DOMAINS)}"
