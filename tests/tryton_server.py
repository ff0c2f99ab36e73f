"""A real Tryton 8.0 server for tests and benchmarks.

``template_db()`` builds (once, cached under ~/.cache/sincro-tryton/<hash>/) an
SQLite database with ``sale`` and ``sale_shipment_cost`` activated, a company, EUR, a
chart of accounts, fiscal years, an account category, and what an Italian office has:
Italy with its provinces, the VAT taxes (22, 10, 5, 4 and 0 % ones named for their
natures N2.1, N3.2, N4), the rounding tax (fixed 0.01, named ROUNDING), payment terms
named as the shops' payments and the shops' carriers. ``TrytonServer`` copies it and
starts ``trytond`` on a free loopback port in its own process (about 2 s).

trytond comes from the ``tryton`` dependency group (``uv sync --all-groups``);
``tryton_available()`` says why not when it is missing.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import importlib.metadata as md
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

DB_NAME = "sincro"
ADMIN = "admin"
ADMIN_PASSWORD = "tryton-test-pw-7c1e"  # a test fixture, never a real secret
CACHE_ROOT = Path(os.environ.get("SINCRO_TRYTON_CACHE", Path.home() / ".cache" / "sincro-tryton"))
BIN = Path(sys.executable).parent


def tryton_available() -> str | None:
    """None when trytond and trytond-sale are installed, else the reason."""
    try:
        md.version("trytond")
        md.version("trytond_sale")
    except md.PackageNotFoundError:
        return "trytond not installed (run `uv sync --all-groups` for the `tryton` group)"
    if not (BIN / "trytond").exists() or not (BIN / "trytond-admin").exists():
        return f"trytond scripts not found in {BIN}"
    return None


def _version_key() -> str:
    names = sorted(d.metadata["Name"].lower() + "==" + d.version for d in md.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower().startswith("trytond"))
    text = "\n".join(names) + f"\nsetup-v2\n{dt.date.today().year}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(db_dir: Path, port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TRYTOND_DATABASE__URI="sqlite://", TRYTOND_DATABASE__PATH=str(db_dir),
               TRYTOND_SESSION__TIMEOUT="3600")
    if port is not None:
        env["TRYTOND_WEB__LISTEN"] = f"127.0.0.1:{port}"
    return env


def snapshot(src: Path, dst: Path) -> None:
    """Copy an SQLite DB including its WAL (a plain copy can lose committed data)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    s = sqlite3.connect(src)
    d = sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        d.close()
        s.close()


class Rpc:
    """A tiny synchronous JSON-RPC client, for setting up test data."""

    def __init__(self, url: str, db: str = DB_NAME, password: str = ADMIN_PASSWORD) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.http = httpx.Client(timeout=120)
        self._id = 0
        uid, token, _ = self.call("common.db.login", ADMIN, {"password": password}, "en")
        auth = base64.b64encode(f"{ADMIN}:{uid}:{token}".encode()).decode()
        self.http.headers["Authorization"] = f"Session {auth}"
        self.context: dict = {}

    def call(self, method: str, *params):
        self._id += 1
        r = self.http.post(f"{self.url}/{self.db}/rpc/",
                           json={"id": self._id, "method": method, "params": list(params)})
        r.raise_for_status()
        body = r.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def model(self, model: str, method: str, *params):
        return self.call(f"model.{model}.{method}", *params, self.context)

    def close(self) -> None:
        self.http.close()


def dec(value: str) -> dict:
    return {"__class__": "Decimal", "decimal": value}


def date(d: dt.date) -> dict:
    return {"__class__": "date", "year": d.year, "month": d.month, "day": d.day}


class TrytonServer:
    """``with TrytonServer(template) as srv: srv.url``: a private server on a copy."""

    def __init__(self, template: Path | None, workdir: Path | None = None) -> None:
        self.template = template
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tryton-"))
        self._own_dir = workdir is None
        self.db_dir = self.workdir / "db"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> TrytonServer:
        self.db_dir.mkdir(parents=True, exist_ok=True)
        if self.template is not None:
            snapshot(self.template, self.db_dir / f"{DB_NAME}.sqlite")
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            log = open(self.workdir / "server.log", "ab")  # noqa: SIM115
            self.proc = subprocess.Popen([str(BIN / "trytond"), "-d", DB_NAME],
                                         env=_env(self.db_dir, self.port), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"trytond did not start; see {self.workdir / 'server.log'}")

    def _wait_ready(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                r = httpx.post(f"{self.url}/rpc/", timeout=2,
                               json={"id": 1, "method": "common.server.version", "params": []})
                if r.status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def rpc(self) -> Rpc:
        rpc = Rpc(self.url)
        rpc.context = {"company": 1}
        return rpc

    def __enter__(self) -> TrytonServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# -- template ---------------------------------------------------------------
MODULES = "sale,sale_shipment_cost"  # sale_shipment_cost brings carrier


def template_db(modules: str = MODULES, setup: bool = True) -> Path:
    """The cached template DB path, built when missing (about a minute)."""
    key = _version_key() + f"-{modules}-{int(setup)}"
    target = CACHE_ROOT / key / f"{DB_NAME}.sqlite"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # test workers (pytest-xdist) build it once: the others wait for the first
    with open(target.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _build_template(target, modules, setup)
    return target


def _build_template(target: Path, modules: str, setup: bool) -> None:
    build = Path(tempfile.mkdtemp(prefix="tryton-build-", dir=target.parent))
    try:
        db_dir = build / "db"
        db_dir.mkdir()
        (db_dir / f"{DB_NAME}.sqlite").touch()
        passfile = build / "passfile"
        passfile.write_text(ADMIN_PASSWORD + "\n")
        env = _env(db_dir)
        env["TRYTONPASSFILE"] = str(passfile)
        subprocess.run([str(BIN / "trytond-admin"), "-d", DB_NAME, "-u", *modules.split(","),
                        "--activate-dependencies", "--email", "admin@example.com"],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if setup:
            srv = TrytonServer(None, build)
            srv.start()
            try:
                rpc = Rpc(srv.url)
                try:
                    names = set(modules.split(","))
                    _setup_company(rpc, accounting=bool(names & {"account", "sale"}),
                                   carriers="sale_shipment_cost" in names)
                finally:
                    rpc.close()
            finally:
                srv.stop()
        tmp = target.with_suffix(".tmp")
        snapshot(db_dir / f"{DB_NAME}.sqlite", tmp)
        tmp.replace(target)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _setup_company(rpc: Rpc, accounting: bool = True, carriers: bool = False) -> None:
    """EUR, a company, chart of accounts, fiscal years, an account category; Italian
    provinces, VAT taxes, payment terms, carriers."""
    rpc.context = {}
    [eur] = rpc.model("currency.currency", "create", [{
        "name": "Euro", "code": "EUR", "symbol": "€", "rounding": dec("0.01"), "digits": 2}])
    [party] = rpc.model("party.party", "create", [{"name": "Sincro Test S.r.l."}])
    [company] = rpc.model("company.company", "create", [{"party": party, "currency": eur}])
    [uid] = rpc.model("res.user", "search", [["login", "=", ADMIN]], 0, None, None)
    rpc.model("res.user", "write", [uid], {"companies": [["add", [company]]], "company": company})
    rpc.context = {"company": company}
    if not accounting:
        return

    # chart of accounts
    sid, _, _ = rpc.call("wizard.account.create_chart.create", rpc.context)
    rpc.call("wizard.account.create_chart.execute", sid, {}, "account", rpc.context)
    [tmpl] = rpc.model("account.account.template", "search", [["parent", "=", None]], 0, None, None)
    rpc.call("wizard.account.create_chart.execute", sid,
             {"account": {"company": company, "account_template": tmpl}}, "create_account",
             rpc.context)

    def account(code: str) -> int:
        [a] = rpc.model("account.account", "search", [["code", "=", code]], 0, None, None)
        return a

    rpc.call("wizard.account.create_chart.execute", sid, {"properties": {
        "company": company, "account_receivable": account("1.2.1"),
        "account_payable": account("2.1.1"), "category_account_revenue": account("4.1.1"),
        "category_account_expense": account("5.1.1")}}, "create_properties", rpc.context)
    rpc.call("wizard.account.create_chart.delete", sid, rpc.context)

    [category] = rpc.model("product.category", "create", [{
        "name": "Shop goods", "accounting": True,
        "account_revenue": account("4.1.1"), "account_expense": account("5.1.1")}])
    _setup_italy(rpc, company, account("2.2.3"), category, carriers)

    # fiscal years (so that invoices can be posted)
    [move_type] = rpc.model("ir.sequence.type", "search", [["name", "=", "Account Move"]],
                            0, None, None)
    [inv_type] = rpc.model("ir.sequence.type", "search", [["name", "=", "Invoice"]], 0, None, None)
    year = dt.date.today().year
    for y in (year - 1, year, year + 1):
        [move_seq] = rpc.model("ir.sequence.strict", "create", [{
            "name": f"Moves {y}", "sequence_type": move_type, "company": company}])
        [inv_seq] = rpc.model("ir.sequence.strict", "create", [{
            "name": f"Invoices {y}", "sequence_type": inv_type, "company": company,
            "prefix": f"INV{y}-"}])
        [fy] = rpc.model("account.fiscalyear", "create", [{
            "name": str(y), "start_date": date(dt.date(y, 1, 1)),
            "end_date": date(dt.date(y, 12, 31)), "company": company,
            "move_sequence": move_seq,
            "invoice_sequences": [["create", [{
                "company": company, "out_invoice_sequence": inv_seq,
                "out_credit_note_sequence": inv_seq, "in_invoice_sequence": inv_seq,
                "in_credit_note_sequence": inv_seq}]]]}])
        rpc.model("account.fiscalyear", "create_period", [fy])


# ISO 3166-2:IT provinces (and metropolitan cities) by their two-letter code
PROVINCES = (
    "AG Agrigento|AL Alessandria|AN Ancona|AO Aosta|AP Ascoli Piceno|AQ L'Aquila|AR Arezzo|"
    "AT Asti|AV Avellino|BA Bari|BG Bergamo|BI Biella|BL Belluno|BN Benevento|BO Bologna|"
    "BR Brindisi|BS Brescia|BT Barletta-Andria-Trani|BZ Bolzano|CA Cagliari|CB Campobasso|"
    "CE Caserta|CH Chieti|CL Caltanissetta|CN Cuneo|CO Como|CR Cremona|CS Cosenza|CT Catania|"
    "CZ Catanzaro|EN Enna|FC Forlì-Cesena|FE Ferrara|FG Foggia|FI Firenze|FM Fermo|"
    "FR Frosinone|GE Genova|GO Gorizia|GR Grosseto|IM Imperia|IS Isernia|KR Crotone|LC Lecco|"
    "LE Lecce|LI Livorno|LO Lodi|LT Latina|LU Lucca|MB Monza e Brianza|MC Macerata|ME Messina|"
    "MI Milano|MN Mantova|MO Modena|MS Massa-Carrara|MT Matera|NA Napoli|NO Novara|NU Nuoro|"
    "OR Oristano|PA Palermo|PC Piacenza|PD Padova|PE Pescara|PG Perugia|PI Pisa|PN Pordenone|"
    "PO Prato|PR Parma|PT Pistoia|PU Pesaro e Urbino|PV Pavia|PZ Potenza|RA Ravenna|"
    "RC Reggio Calabria|RE Reggio Emilia|RG Ragusa|RI Rieti|RM Roma|RN Rimini|RO Rovigo|"
    "SA Salerno|SI Siena|SO Sondrio|SP La Spezia|SR Siracusa|SS Sassari|SU Sud Sardegna|"
    "SV Savona|TA Taranto|TE Teramo|TN Trento|TO Torino|TP Trapani|TR Terni|TS Trieste|"
    "TV Treviso|UD Udine|VA Varese|VB Verbano-Cusio-Ossola|VC Vercelli|VE Venezia|VI Vicenza|"
    "VR Verona|VT Viterbo|VV Vibo Valentia")
# the Italian VAT taxes as an office names them after the account's tax map codes
VAT_TAXES = (("22", "IVA 22%", "0.22"), ("10", "IVA 10%", "0.10"), ("5", "IVA 5%", "0.05"),
             ("4", "IVA 4%", "0.04"), ("N2.1", "Non soggetta art. 7-7septies", "0"),
             ("N3.2", "Non imponibile, cessione intracomunitaria", "0"),
             ("N4", "Esente art. 10", "0"))
ROUNDING_TAX = "ROUNDING"
# the emulator's payment names and carriers
PAYMENT_TERMS = ("Bank wire", "Payment by check", "PayPal", "Cash on delivery (COD)",
                 "Carta di credito")
CARRIERS = ("Corriere Espresso", "Poste Italiane", "Ritiro in negozio")


def _setup_italy(rpc: Rpc, company: int, tax_account: int, category: int,
                 carriers: bool) -> None:
    """Italy and its provinces, the VAT taxes and the rounding tax, payment terms, carriers:
    a handful of batched calls (well under a second)."""
    rpc.model("country.country", "create", [{
        "name": "Italy", "code": "IT", "code3": "ITA", "code_numeric": "380",
        "subdivisions": [["create", [
            {"name": p[3:], "code": f"IT-{p[:2]}", "type": "province"}
            for p in PROVINCES.split("|")]]]}])
    accounts = {"company": company, "invoice_account": tax_account,
                "credit_note_account": tax_account}
    taxes = rpc.model("account.tax", "create", [
        {"name": name, "description": text, "type": "percentage", "rate": dec(rate),
         **accounts} for name, text, rate in VAT_TAXES] + [
        {"name": ROUNDING_TAX, "description": "Arrotondamento", "type": "fixed",
         "amount": dec("0.01"), **accounts}])
    # the goods' default tax (22 %): an invoice whose product lines carry their category's
    # taxes posts without Tryton's "not the default taxes" warning
    rpc.model("product.category", "write", [category], {"customer_taxes": [["add", [taxes[0]]]]})
    rpc.model("account.invoice.payment_term", "create", [
        {"name": name, "lines": [["create", [{"type": "remainder"}]]]}
        for name in PAYMENT_TERMS])
    if not carriers:
        return
    [unit] = rpc.model("product.uom", "search", [["symbol", "=", "u"]], 0, None, None)
    parties = rpc.model("party.party", "create", [{"name": name} for name in CARRIERS])
    templates = rpc.model("product.template", "create", [{
        "name": name, "type": "service", "default_uom": unit, "salable": True,
        "sale_uom": unit, "list_price": dec("0"), "account_category": category,
        "products": [["create", [{}]]]} for name in CARRIERS])
    products = rpc.model("product.template", "read", templates, ["products"])
    rpc.model("carrier", "create", [
        {"party": party, "carrier_product": tmpl["products"][0]}
        for party, tmpl in zip(parties, products, strict=True)])


if __name__ == "__main__":  # build the template by hand: uv run python -m tests.tryton_server
    reason = tryton_available()
    if reason:
        sys.exit(reason)
    t0 = time.monotonic()
    path = template_db()
    print(f"{path} ({time.monotonic() - t0:.1f} s)")
