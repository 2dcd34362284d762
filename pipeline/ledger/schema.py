"""The ledger's tables, as numbered migrations, for each backend. Every table is keyed by ``target``,
so each target (simulator, sandbox, production, a URL) is its own namespace.

A ledger records the number of migrations it has had (SQLite: ``PRAGMA user_version``; PostgreSQL:
the table ``ledger_schema``); opening it runs the ones it lacks, in order, in one transaction
(``store.migrate``). SQLite's migration 1 is the first schema, written with ``IF NOT EXISTS`` so that
a ledger made before migrations were numbered takes it as it is. PostgreSQL came at schema 3: its
migration 1 makes schema 3 whole (same tables, same columns in the same order, so that a ledger
moves between the two as it is), and its 2 and 3 have nothing left to do. Every migration from 4 on
is written for both.
"""

__all__ = ["MIGRATIONS", "POSTGRES_MIGRATIONS", "migrations_for"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL, command TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, note TEXT
);
CREATE TABLE IF NOT EXISTS line_items (
    target TEXT NOT NULL, line_item_id TEXT NOT NULL,
    status TEXT NOT NULL, batch_ref TEXT, reference_line_item_id TEXT, message TEXT,
    amount TEXT NOT NULL, quantity INTEGER NOT NULL, delivery_method TEXT,
    first_run INTEGER NOT NULL, accepted_run INTEGER, updated_at TEXT NOT NULL,
    PRIMARY KEY (target, line_item_id)
);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL, target TEXT NOT NULL, file_sha256 TEXT NOT NULL, file_name TEXT NOT NULL,
    sheet TEXT, row_number INTEGER NOT NULL, line_item_id TEXT, status TEXT NOT NULL, message TEXT,
    PRIMARY KEY (run_id, file_sha256, row_number)
);
CREATE INDEX IF NOT EXISTS rows_by_file ON rows (target, file_sha256);
CREATE TABLE IF NOT EXISTS batches (
    target TEXT NOT NULL, external_ref_id TEXT NOT NULL, member_key TEXT NOT NULL,
    generation INTEGER NOT NULL, customer TEXT NOT NULL, account TEXT NOT NULL,
    state TEXT NOT NULL, order_status TEXT, final INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, last_http INTEGER, last_request_id TEXT, message TEXT,
    payload TEXT NOT NULL, run_id INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (target, external_ref_id)
);
CREATE INDEX IF NOT EXISTS batches_by_key ON batches (target, member_key);
CREATE TABLE IF NOT EXISTS batch_members (
    target TEXT NOT NULL, external_ref_id TEXT NOT NULL, line_item_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (target, external_ref_id, line_item_id)
);
CREATE TABLE IF NOT EXISTS files (
    target TEXT NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    state TEXT NOT NULL, run_date TEXT NOT NULL, sheet TEXT, report_folder TEXT, campaign TEXT,
    first_run INTEGER NOT NULL, last_run INTEGER NOT NULL, note TEXT, updated_at TEXT NOT NULL,
    PRIMARY KEY (target, sha256)
);
CREATE TABLE IF NOT EXISTS http_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, run_id INTEGER, at TEXT NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER, request_id TEXT, outcome TEXT
);
"""

MIGRATIONS: list[list[str]] = [
    [statement.strip() for statement in SCHEMA.split(";") if statement.strip()],
    # 2: Tango's delivery events for physical rewards, followed after the line is complete
    ["ALTER TABLE line_items ADD COLUMN delivery_status TEXT",
     "ALTER TABLE batches ADD COLUMN delivery_open INTEGER NOT NULL DEFAULT 0"],
    # 3: what a recipient was ordered (the recipient guard); when Tango's order list was last checked
    # against the ledger; several sheets per file (the sheet joins the rows' key; '' for a CSV file)
    ["ALTER TABLE line_items ADD COLUMN recipient TEXT",
     "ALTER TABLE line_items ADD COLUMN utid TEXT",
     "ALTER TABLE line_items ADD COLUMN campaign TEXT",
     "ALTER TABLE line_items ADD COLUMN details TEXT",
     "CREATE INDEX line_items_by_recipient ON line_items (target, recipient)",
     "CREATE TABLE ledger_checks (target TEXT NOT NULL, customer TEXT NOT NULL, account TEXT NOT NULL,"
     " checked_at TEXT NOT NULL, PRIMARY KEY (target, customer, account))",
     "CREATE TABLE rows_v3 (run_id INTEGER NOT NULL, target TEXT NOT NULL, file_sha256 TEXT NOT NULL,"
     " file_name TEXT NOT NULL, sheet TEXT NOT NULL DEFAULT '', row_number INTEGER NOT NULL, line_item_id TEXT,"
     " status TEXT NOT NULL, message TEXT, PRIMARY KEY (run_id, file_sha256, sheet, row_number))",
     "INSERT INTO rows_v3 SELECT run_id, target, file_sha256, file_name, COALESCE(sheet, ''), row_number,"
     " line_item_id, status, message FROM rows",
     "DROP TABLE rows",
     "ALTER TABLE rows_v3 RENAME TO rows",
     "CREATE INDEX rows_by_file ON rows (target, file_sha256)",
     "CREATE INDEX rows_by_line ON rows (target, line_item_id)"],
]

# schema 3 in PostgreSQL. Text compares byte by byte (COLLATE "C"), as in SQLite, whatever the
# database's locale: the ledger's order of orders and rows is the same on both.
POSTGRES_SCHEMA_3 = [
    "CREATE TABLE runs (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, target TEXT NOT NULL,"
    " command TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, note TEXT)",
    "CREATE TABLE line_items (target TEXT NOT NULL, line_item_id TEXT NOT NULL, status TEXT NOT NULL, batch_ref TEXT,"
    " reference_line_item_id TEXT, message TEXT, amount TEXT NOT NULL, quantity INTEGER NOT NULL,"
    " delivery_method TEXT, first_run BIGINT NOT NULL, accepted_run BIGINT, updated_at TEXT NOT NULL,"
    " delivery_status TEXT, recipient TEXT, utid TEXT, campaign TEXT, details TEXT,"
    " PRIMARY KEY (target, line_item_id))",
    "CREATE INDEX line_items_by_recipient ON line_items (target, recipient)",
    "CREATE TABLE rows (run_id BIGINT NOT NULL, target TEXT NOT NULL, file_sha256 TEXT NOT NULL,"
    " file_name TEXT NOT NULL, sheet TEXT NOT NULL DEFAULT '', row_number INTEGER NOT NULL, line_item_id TEXT,"
    " status TEXT NOT NULL, message TEXT, PRIMARY KEY (run_id, file_sha256, sheet, row_number))",
    "CREATE INDEX rows_by_file ON rows (target, file_sha256)",
    "CREATE INDEX rows_by_line ON rows (target, line_item_id)",
    "CREATE TABLE batches (target TEXT NOT NULL, external_ref_id TEXT NOT NULL, member_key TEXT NOT NULL,"
    " generation INTEGER NOT NULL, customer TEXT NOT NULL, account TEXT NOT NULL, state TEXT NOT NULL,"
    " order_status TEXT, final INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, last_http INTEGER,"
    " last_request_id TEXT, message TEXT, payload TEXT NOT NULL, run_id BIGINT NOT NULL, created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL, delivery_open INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (target, external_ref_id))",
    "CREATE INDEX batches_by_key ON batches (target, member_key)",
    "CREATE TABLE batch_members (target TEXT NOT NULL, external_ref_id TEXT NOT NULL, line_item_id TEXT NOT NULL,"
    " position INTEGER NOT NULL, PRIMARY KEY (target, external_ref_id, line_item_id))",
    "CREATE TABLE files (target TEXT NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,"
    " state TEXT NOT NULL, run_date TEXT NOT NULL, sheet TEXT, report_folder TEXT, campaign TEXT,"
    " first_run BIGINT NOT NULL, last_run BIGINT NOT NULL, note TEXT, updated_at TEXT NOT NULL,"
    " PRIMARY KEY (target, sha256))",
    "CREATE TABLE http_log (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, target TEXT NOT NULL,"
    " run_id BIGINT, at TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER, request_id TEXT,"
    " outcome TEXT)",
    "CREATE TABLE ledger_checks (target TEXT NOT NULL, customer TEXT NOT NULL, account TEXT NOT NULL,"
    " checked_at TEXT NOT NULL, PRIMARY KEY (target, customer, account))",
]

# 4: the HR desk (the web page): its users, each file's history (uploaded, checked, approved or
# rejected, sent, done; by whom, when), and the decision on each file (its approval)
DESK = [
    "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE file_events ({id}, target TEXT NOT NULL, sha256 TEXT NOT NULL, at TEXT NOT NULL,"
    " actor TEXT, event TEXT NOT NULL, detail TEXT)",
    "CREATE INDEX file_events_by_file ON file_events (target, sha256)",
    "CREATE TABLE approvals (target TEXT NOT NULL, sha256 TEXT NOT NULL, decision TEXT NOT NULL, by_user TEXT NOT NULL,"
    " role TEXT NOT NULL, at TEXT NOT NULL, total TEXT NOT NULL, line_count INTEGER NOT NULL, reason TEXT,"
    " over_limit INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (target, sha256))",
]
MIGRATIONS.append([s.format(id="id INTEGER PRIMARY KEY AUTOINCREMENT") for s in DESK])

POSTGRES_MIGRATIONS: list[list[str]] = [
    [statement.replace(" TEXT", ' TEXT COLLATE "C"') for statement in POSTGRES_SCHEMA_3],
    [],                                     # 2 and 3: in 1 already
    [],
    [s.format(id="id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY").replace(" TEXT", ' TEXT COLLATE "C"')
     for s in DESK],
]
assert len(POSTGRES_MIGRATIONS) == len(MIGRATIONS)


def migrations_for(dialect: str) -> list[list[str]]:
    return POSTGRES_MIGRATIONS if dialect == "postgresql" else MIGRATIONS
