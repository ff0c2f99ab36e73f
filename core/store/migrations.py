"""The hub's schema, as an ordered list: index + 1 is the PRAGMA user_version (on
PostgreSQL, the version row of ``hub.sincro_schema``).

Append only: a migration that has shipped is never edited.
"""

from __future__ import annotations

from core.store.db import Dialects, Migration

HUB_MIGRATIONS: list[Migration] = [
    # 1: accounts and settings
    """
    CREATE TABLE accounts (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        url         TEXT NOT NULL,
        key         TEXT,
        key_env     TEXT,
        tz          TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        options     TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        CHECK ((key IS NULL) <> (key_env IS NULL))
    );
    CREATE TABLE settings (
        name   TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
]

HUB_MIGRATIONS.append(
    # 2: runs and their logs, run leases, cursors, imported records, the outbox
    """
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind        TEXT NOT NULL,
        trigger     TEXT NOT NULL,
        owner       TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        ended_at    TEXT,
        outcome     TEXT,
        counts      TEXT NOT NULL DEFAULT '{}',
        errors      TEXT NOT NULL DEFAULT '[]',
        steps       TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX runs_by_account ON runs(account_id, id);
    CREATE TABLE run_logs (
        id       INTEGER PRIMARY KEY,
        run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        at       TEXT NOT NULL,
        level    TEXT NOT NULL,
        message  TEXT NOT NULL
    );
    CREATE INDEX run_logs_by_run ON run_logs(run_id, id);
    CREATE TABLE leases (
        account_id    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        owner         TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        host          TEXT NOT NULL,
        what          TEXT NOT NULL,
        run_id        INTEGER,
        acquired_at   TEXT NOT NULL,
        heartbeat_at  TEXT NOT NULL,
        expires_at    TEXT NOT NULL
    );
    CREATE TABLE cursors (
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
    );
    CREATE TABLE customers (
        account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        shop_id      INTEGER NOT NULL,
        email        TEXT,
        is_guest     INTEGER NOT NULL DEFAULT 0,
        date_upd     TEXT,
        data         TEXT NOT NULL,
        erp_ref      TEXT NOT NULL,
        erp_code     TEXT,
        erp_hash     TEXT,
        imported_at  TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        PRIMARY KEY (account_id, shop_id)
    );
    CREATE TABLE addresses (
        account_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        shop_id           INTEGER NOT NULL,
        customer_shop_id  INTEGER NOT NULL,
        data              TEXT NOT NULL,
        erp_destination   TEXT,
        erp_hash          TEXT,
        PRIMARY KEY (account_id, shop_id)
    );
    CREATE TABLE orders (
        account_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        shop_id           INTEGER NOT NULL,
        reference         TEXT,
        customer_shop_id  INTEGER NOT NULL,
        state             INTEGER NOT NULL,
        date_add          TEXT,
        data              TEXT NOT NULL,
        erp_number        TEXT,
        imported_at       TEXT NOT NULL,
        pushed_at         TEXT,
        PRIMARY KEY (account_id, shop_id)
    );
    CREATE TABLE pending_orders (
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        shop_id     INTEGER NOT NULL,
        state       INTEGER NOT NULL,
        seen_at     TEXT NOT NULL,
        PRIMARY KEY (account_id, shop_id)
    );
    CREATE TABLE articles (
        account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        product_id    INTEGER NOT NULL,
        attribute_id  INTEGER NOT NULL,
        code          TEXT NOT NULL,
        reference     TEXT,
        name          TEXT,
        auto_coded    INTEGER NOT NULL DEFAULT 1,
        created_at    TEXT NOT NULL,
        PRIMARY KEY (account_id, product_id, attribute_id)
    );
    CREATE UNIQUE INDEX articles_by_code ON articles(account_id, code);
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY,
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        kind        TEXT NOT NULL,
        ref         INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        done_at     TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT
    );
    CREATE UNIQUE INDEX outbox_open ON outbox(account_id, kind, ref) WHERE done_at IS NULL;
    CREATE INDEX outbox_todo ON outbox(account_id, done_at, id);
    CREATE TABLE full_syncs (
        id          INTEGER PRIMARY KEY,
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        month       TEXT NOT NULL,
        run_id      INTEGER,
        at          TEXT NOT NULL
    );
    """
)

HUB_MIGRATIONS.append(
    # 3: schedules, the scheduler lease, e-mail notices waiting to be sent
    """
    CREATE TABLE schedules (
        account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        spec        TEXT NOT NULL,
        next_run    TEXT,
        last_run    TEXT,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE scheduler_lease (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        owner        TEXT NOT NULL,
        role         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        acquired_at  TEXT NOT NULL,
        expires_at   TEXT NOT NULL
    );
    CREATE TABLE notices (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER,
        message     BLOB NOT NULL,
        recipients  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        sent_at     TEXT
    );
    """
)

HUB_MIGRATIONS.append(
    # 4: ERP states pushed to the shop (S-4); sales lists, listings, their rules and
    # the values last pushed per listing article (O-5, L-1..L-3)
    """
    CREATE TABLE pushed_states (
        account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        order_id         INTEGER NOT NULL,
        event            TEXT NOT NULL,
        state_id         INTEGER NOT NULL,
        status           TEXT NOT NULL,
        document_number  TEXT,
        tracking_number  TEXT,
        tracking_at      TEXT,
        note             TEXT,
        at               TEXT NOT NULL,
        run_id           INTEGER,
        PRIMARY KEY (account_id, order_id, event)
    );
    CREATE INDEX pushed_states_open ON pushed_states(account_id, status);
    CREATE TABLE sales_lists (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE sales_list_items (
        list_id  INTEGER NOT NULL REFERENCES sales_lists(id) ON DELETE CASCADE,
        kind     TEXT NOT NULL CHECK (kind IN ('code', 'pattern')),
        value    TEXT NOT NULL,
        PRIMARY KEY (list_id, kind, value)
    );
    CREATE TABLE listings (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        enabled     INTEGER NOT NULL DEFAULT 1,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE listing_lists (
        listing_id  INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
        list_id     INTEGER NOT NULL REFERENCES sales_lists(id) ON DELETE RESTRICT,
        PRIMARY KEY (listing_id, list_id)
    );
    CREATE TABLE listing_rules (
        listing_id  INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        condition   TEXT NOT NULL,
        action      TEXT NOT NULL,
        fields      TEXT NOT NULL DEFAULT '',
        stop_mode   TEXT NOT NULL DEFAULT 'inactive',
        PRIMARY KEY (listing_id, position)
    );
    CREATE TABLE listing_pushed (
        listing_id  INTEGER NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
        code        TEXT NOT NULL,
        price       TEXT,
        quantity    INTEGER,
        active      INTEGER,
        at          TEXT NOT NULL,
        run_id      INTEGER,
        PRIMARY KEY (listing_id, code)
    );
    """
)

HUB_MIGRATIONS.append(
    # 5: a run's measured duration (started_at/ended_at are kept to the second)
    """
    ALTER TABLE runs ADD COLUMN duration_s REAL;
    """
)

HUB_MIGRATIONS.append(
    # 6: the hub remembers that it had accounts, so that a hub without any is told apart:
    # emptied by accident (with an ERP full of documents) or only all removed on purpose.
    # A trigger is written per dialect (core/store/db.py Dialects).
    Dialects(
        sqlite="""
    CREATE TRIGGER accounts_seen AFTER INSERT ON accounts
    BEGIN
        INSERT OR IGNORE INTO settings (name, value) VALUES ('hub_had_accounts', NEW.created_at);
    END;
    INSERT OR IGNORE INTO settings (name, value)
        SELECT 'hub_had_accounts', MIN(created_at) FROM accounts HAVING COUNT(*) > 0;
    """,
        postgresql="""
    CREATE FUNCTION accounts_seen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO settings (name, value) VALUES ('hub_had_accounts', NEW.created_at)
            ON CONFLICT DO NOTHING;
        RETURN NEW;
    END $$;
    CREATE TRIGGER accounts_seen AFTER INSERT ON accounts
        FOR EACH ROW EXECUTE FUNCTION accounts_seen();
    INSERT INTO settings (name, value)
        SELECT 'hub_had_accounts', MIN(created_at) FROM accounts HAVING COUNT(*) > 0
        ON CONFLICT DO NOTHING;
    """))

HUB_MIGRATIONS.append(
    # 7: records the office already had in its ERP, found before Sincro would create its own
    # (docs/FISCAL.md, "Identity"): how each customer and article was matched
    """
    ALTER TABLE customers ADD COLUMN erp_match TEXT;
    ALTER TABLE articles ADD COLUMN erp_match TEXT;
    CREATE INDEX customers_by_ref ON customers(account_id, erp_ref);
    """
)

HUB_MIGRATIONS.append(
    # 8: the shop's refunds (order slips) as read, each until its credit note is in the ERP
    # (docs/FISCAL.md, "Refunds"); the refunds cursor is a row of cursors like the others
    """
    CREATE TABLE refunds (
        account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        shop_id        INTEGER NOT NULL,
        order_shop_id  INTEGER NOT NULL,
        data           TEXT NOT NULL,
        erp_number     TEXT,
        last_error     TEXT,
        imported_at    TEXT NOT NULL,
        pushed_at      TEXT,
        PRIMARY KEY (account_id, shop_id)
    );
    CREATE INDEX refunds_waiting ON refunds(account_id, pushed_at, shop_id);
    """
)

HUB_MIGRATIONS.append(
    # 9: the daemons sharing the hub (docs/HUB.md): each one's row, renewed while it lives;
    # the runs still open, found without reading every run
    """
    CREATE TABLE daemons (
        owner         TEXT PRIMARY KEY,
        host          TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        started_at    TEXT NOT NULL,
        heartbeat_at  TEXT NOT NULL,
        expires_at    TEXT NOT NULL,
        running       TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX runs_open ON runs(id) WHERE ended_at IS NULL;
    CREATE INDEX schedules_due ON schedules(next_run);
    """
)
