"""Bad command lines (issue 20, item 9; acceptance 5): each value is checked against its
meaning. Every case exits 2 with exactly one line on stderr, naming the value or the fix,
no traceback, and leaves the hub as it was, row for row.

The commands run in-process through ``cli.main.main`` (argparse's usage errors arrive as
SystemExit), on a home with one account, a schedule and a sales list.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from tests import pg
from tests.helpers import KEY
from tests.hubs import erp_exists, hub_rows, on_postgres

HUGE = "100000000000000000000000"  # 10^23
LONG_HOST = "a" * 100_000


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def dump(home: Path) -> list[str]:
    """The hub row for row (its schema and every row of every table)."""
    if on_postgres():
        columns = hub_rows(home, "SELECT table_name, column_name, data_type, column_default "
                           "FROM information_schema.columns WHERE table_schema = 'hub' "
                           "ORDER BY table_name, ordinal_position")
        lines = [repr(c) for c in columns]
        lines += [repr(i) for i in hub_rows(home, "SELECT indexname, indexdef FROM pg_indexes "
                                            "WHERE schemaname = 'hub' ORDER BY indexname")]
        for table in sorted({c[0] for c in columns}):
            lines += sorted(f"{table} {r!r}" for r in hub_rows(home, f'SELECT * FROM "{table}"'))
        return lines
    db = sqlite3.connect(f"file:{home / 'hub.db'}?mode=ro", uri=True)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def seed(home: Path) -> Path:
    """Account shop1, a schedule, SMTP settings, a sales list."""
    for argv in (
        ["account", "add", "shop1", "--url", "http://127.0.0.1:9/", "--key", KEY,
         "--tz", "Europe/Rome"],
        ["schedule", "set", "shop1", "--daily", "4", "--between", "08:00-20:00"],
        ["settings", "smtp", "--host", "smtp.example.com", "--sender", "sincro@example.com"],
        ["list", "add", "summer", "--code", "A1"],
    ):
        assert main(["--home", str(home), *argv]) == 0, argv
    return home


@pytest.fixture(scope="module")
def made() -> Iterator[dict[str, object]]:
    """What is seeded once per hub kind: the SQLite home; the PostgreSQL home and the
    database each test gets a copy of (CREATE DATABASE ... TEMPLATE)."""
    made: dict[str, object] = {}
    yield made
    if "template" in made:
        pg.cluster().drop_database(made["template"])


@pytest.fixture
def seeded(made, hub_kind: str, tmp_path_factory, monkeypatch, capsys) -> Iterator[Path]:
    """A home with shop1, a schedule, SMTP settings and a sales list, seeded once."""
    if hub_kind == "sqlite":
        if "sqlite" not in made:
            made["sqlite"] = seed(tmp_path_factory.mktemp("bad-input") / "home")
        capsys.readouterr()
        yield made["sqlite"]
        return
    cluster = pg.cluster()
    if "template" not in made:
        template = cluster.new_database()
        made["template"] = template
        with monkeypatch.context() as m:
            m.setenv("SINCRO_HUB", cluster.url(template))
            made["postgresql"] = seed(tmp_path_factory.mktemp("bad-input-pg") / "home")
    name = "t_" + uuid.uuid4().hex[:16]
    cluster.admin(f'CREATE DATABASE "{name}" TEMPLATE "{made["template"]}"')
    monkeypatch.setenv("SINCRO_HUB", cluster.url(name))
    capsys.readouterr()
    try:
        yield made["postgresql"]
    finally:
        cluster.drop_database(name)


CASES = [
    # (id, argv after --home, a fragment of the one stderr line)
    ("tz-empty", ["account", "add", "shop2", "--url", "https://shop2.example", "--key", KEY,
                  "--tz", ""], "time zone"),
    ("tz-unknown", ["account", "edit", "shop1", "--tz", "Mars/Olympus"], "Mars/Olympus"),
    ("tz-unknown-add", ["account", "add", "shop2", "--url", "https://shop2.example", "--key",
                        KEY, "--tz", "Europe/Nowhere"], "Europe/Nowhere"),
    ("url-space", ["account", "add", "shop2", "--url", "https://shop .example", "--key", KEY],
     "space"),
    ("url-space-edit", ["account", "edit", "shop1", "--url", "https://shop .example"], "space"),
    ("url-100k-host", ["account", "add", "shop2", "--url", f"https://{LONG_HOST}.example",
                       "--key", KEY], "URL"),
    ("url-long-label", ["account", "edit", "shop1", "--url", f"https://{'b' * 64}.example"],
     "host name"),
    ("article-prefix-empty", ["account", "edit", "shop1", "--article-prefix", ""],
     "article prefix"),
    ("allowance-superscript", ["account", "edit", "shop1", "--allowance", "²"], "allowance"),
    ("excluded-states-negative", ["account", "edit", "shop1", "--excluded-states", "6,-1"],
     "state ids"),
    ("notify-crlf", ["account", "edit", "shop1", "--notify", "a@example.com\r\nBcc: x@evil"],
     "e-mail"),
    ("list-pattern-bracket", ["list", "add", "summer", "--pattern", "["], "never closed"),
    ("list-pattern-new-list", ["list", "add", "winter", "--pattern", "SKU-[A"], "never closed"),
    ("cursor-1e23", ["cursor", "set", "shop1", "orders", HUGE, "--yes"], "cursor"),
    ("cursor-customers-year-1", ["cursor", "set", "shop1", "customers", "0001-01-01T00:00",
                                 "--yes"], "out of range"),
    ("smtp-host-crlf", ["settings", "smtp", "--host", "smtp.example.com\r\nRCPT TO:<x@evil>"],
     "SMTP host"),
    ("smtp-host-100k", ["settings", "smtp", "--host", LONG_HOST], "SMTP host"),
    ("smtp-sender-crlf", ["settings", "smtp", "--sender", "sincro@example.com\r\nBcc: x@evil"],
     "SMTP sender"),
    ("smtp-user-lf", ["settings", "smtp", "--user", "u\nX", "--password-env", "PW"], "SMTP user"),
    ("smtp-password-env-bad", ["settings", "smtp", "--password-env", "A-B"], "variable"),
    ("runs-limit-negative", ["runs", "--limit", "-5"], "--limit"),
    ("runs-limit-zero", ["runs", "--limit", "0"], "--limit"),
    ("runs-limit-huge", ["runs", "--limit", HUGE], "--limit"),
    ("grace-negative", ["--grace", "-5", "--daemon"], "--grace"),
    ("grace-nan", ["--grace", "nan", "--daemon"], "--grace"),
    ("home-empty", ["--home", "", "runs"], "--home"),
    ("reconcile-reversed", ["reconcile", "shop1", "--since", "2026-11-30", "--until",
                            "2026-11-01"], "reversed"),
    ("reconcile-year-1", ["reconcile", "shop1", "--since", "0001-01-01"], "--since"),
    ("review-year-1", ["review", "shop1", "--since", "0001-01-01"], "--since"),
    ("logs-1e23", ["logs", HUGE], "run id"),
    ("logs-zero", ["logs", "0"], "run id"),
    ("preview-year-1", ["schedule", "preview", "shop1", "--daily", "4", "--between",
                        "08:00-20:00", "--from", "0001-01-01T00:00"], "--from"),
    ("preview-count-negative", ["schedule", "preview", "shop1", "--count", "-1"], "--count"),
    ("import-dev-zero", ["listing", "import", "/dev/zero"], "not a regular file"),
    ("import-directory", ["listing", "import", "/"], "not a regular file"),
    ("resync-order-negative", ["resync", "shop1", "--order", "-3"], "shop id"),
    ("resync-order-huge", ["resync", "shop1", "--order", HUGE], "shop id"),
    ("rule-position-zero", ["listing", "rule", "remove", "x", "0"], "position"),
    ("erp-documents-limit-huge", ["erp", "documents", "--limit", HUGE], "--limit"),
    ("erp-set-stock-huge", ["erp", "set-stock", "A1", HUGE], "too large"),
    ("erp-articles-pattern", ["erp", "articles", "--pattern", "["], "never closed"),
    ("history-keep-days-negative", ["settings", "history", "--keep-days", "-5"], "keep-days"),
    ("state-map-huge", ["account", "edit", "shop1", "--state-map", f"shipped={HUGE}"],
     "state id"),
    ("key-env-long", ["account", "edit", "shop1", "--key-env", "K" * 10_000], "variable"),
    ("notify-bidi", ["account", "edit", "shop1", "--notify", "a@b.it,\u202eti.live@x"],
     "e-mail"),
    ("demo-port", ["demo", "--port", "70000", "--no-console"], "--port"),
    ("demo-orders-every", ["demo", "--orders-every", "-5", "--no-console"], "--orders-every"),
]


@pytest.mark.parametrize(("argv", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_value_is_refused_in_one_line_and_the_hub_is_unchanged(
        seeded: Path, capsys, monkeypatch, argv: list[str], fragment: str) -> None:
    monkeypatch.setenv("SINCRO_HOME", str(seeded))  # where an accepted --home '' would go
    monkeypatch.delenv("SINCRO_DEBUG", raising=False)
    before = dump(seeded)
    erp_before = erp_exists(seeded)
    full = argv if argv[0] == "--home" else ["--home", str(seeded), *argv]
    code, out, err = run(capsys, *full)
    lines = err.splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("sincro: error:"), err
    assert fragment.lower() in lines[0].lower(), err
    assert "Traceback" not in out + err and "internal error" not in err
    assert len(lines[0]) < 500, lines[0]
    assert dump(seeded) == before
    assert erp_exists(seeded) == erp_before


def test_the_bounds_still_take_good_values(seeded: Path, capsys, tmp_path: Path) -> None:
    """The checks refuse what is wrong, not what is right."""
    home = ["--home", str(seeded)]
    assert run(capsys, *home, "runs", "--limit", "1")[0] == 0
    assert run(capsys, *home, "logs", "999999", "--json")[0] == 2  # no such run, one line
    code, out, _ = run(capsys, *home, "schedule", "preview", "shop1", "--from",
                       "2026-03-28T10:00", "--count", "2")
    assert code == 0 and "2026-03-28" in out
    code, out, err = run(capsys, *home, "reconcile", "shop1", "--since", "2026-11-01",
                         "--until", "2026-11-01", "--json")
    assert "reversed" not in err  # one day is a period (then the shop cannot be reached)
    toml = tmp_path / "lists.toml"
    toml.write_text('[lists.autumn]\npatterns = ["SKU-[A-Z]*"]\n')
    assert run(capsys, *home, "listing", "import", str(toml))[0] == 0
    assert run(capsys, *home, "list", "drop", "autumn", "--pattern", "SKU-[A-Z]*")[0] == 0
    assert run(capsys, *home, "list", "remove", "autumn")[0] == 0
