#!/usr/bin/env python3
"""Generate synthetic Alembic projects for the revlint benchmark.

Usage:
    bench_gen.py --out DIR --revisions N --shape {realistic,chain} [--seed S]

Writes DIR/alembic.ini, DIR/migrations/{env.py,script.py.mako,README},
DIR/migrations/versions/<12hex>_<slug>.py and DIR/bench-manifest.json (file count,
bytes, the expected single head). Output depends only on the arguments: the same
arguments always produce byte-identical trees.

Shapes:
  realistic  mostly linear history with occasional branch + merge pairs (merge
             revisions carry a tuple down_revision), ending in exactly one head;
             upgrade() bodies of about 40 lines on average (22-48 line target, the
             last operation may run past it) and a mirroring downgrade().
  chain      a strictly linear chain with small bodies (one or two operations,
             6-16 line target).

Operations: op.create_table with 3-6 sa.Column (server_default=sa.text(...), some
with sa.Enum(..., create_type=False) after the type is created with
`sa.Enum(...).create(bind, checkfirst=True)` or a DO block), op.add_column,
op.create_index, op.batch_alter_table blocks (guarded add_column + create_index, or
alter_column), inspector guards (has_table / get_columns / get_indexes). About one
revision in three (SQL_SHARE) also runs raw SQL through op.execute or
conn.execute(sa.text(...)): multi-line CREATE TABLE IF NOT EXISTS (+ CREATE INDEX IF NOT
EXISTS), partial CREATE INDEX IF NOT EXISTS, UPDATE ... SET ... WHERE data fixes, DO $$
blocks (CREATE TYPE ... EXCEPTION WHEN duplicate_object; ADD CONSTRAINT under a
pg_constraint check), CREATE OR REPLACE FUNCTION ... LANGUAGE plpgsql with CREATE OR
REPLACE TRIGGER, ALTER TABLE ... ADD COLUMN IF NOT EXISTS.

Every schema operation is written in an idempotent form (if_not_exists=True /
if_exists=True, an inspector guard, IF [NOT] EXISTS, OR REPLACE, a guarded DO block,
data-only SQL), and no extension-provided type or function, CONCURRENTLY or version
table is used, so a correct linter reports nothing on these trees (all rules, upgrade
and downgrade).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

GENERATOR_VERSION = 5

ALEMBIC_INI = """\
# A generic, single database configuration.

[alembic]
# path to migration scripts
script_location = %(here)s/migrations

# template used to generate migration file names
# file_template = %%(rev)s_%%(slug)s

# sys.path path, will be prepended to sys.path if present.
prepend_sys_path = .

# max length of characters to apply to the "slug" field
# truncate_slug_length = 40

# version path separator
path_separator = os

sqlalchemy.url = postgresql+psycopg://app:app@localhost:5432/app


[post_write_hooks]

# Logging configuration
[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

ENV_PY = '''\
"""Alembic environment: offline and online migration runners."""

import os
from logging.config import fileConfig

from sqlalchemy import engine_from_config
from sqlalchemy import pool
from sqlalchemy import text

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

# The application would import its models here; the benchmark project has none.
target_metadata = None

# Deployments pass the URL through the environment.
database_url = os.environ.get("DATABASE_URL")
if database_url:
    config.set_main_option("sqlalchemy.url", database_url)

MIGRATION_LOCK_ID = 7243510


def run_migrations_offline() -> None:
    """Run migrations in 'offline' mode: emit SQL to the script output."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations in 'online' mode, serialised by an advisory lock."""
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
        )

        with context.begin_transaction():
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
'''

README = "Generic single-database configuration.\n"

HEADER = '''\
"""{message}

Revision ID: {rev}
Revises: {revises}
Create Date: {date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev_repr}
down_revision: Union[str, Sequence[str], None] = {down_repr}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
{upgrade}

def downgrade() -> None:
    """Downgrade schema."""
{downgrade}'''

NOUNS = [
    "account", "address", "audit_event", "invoice", "invoice_line", "order", "order_item",
    "product", "price", "customer", "subscription", "plan", "payment", "refund", "shipment",
    "warehouse", "stock_level", "supplier", "category", "tag", "comment", "attachment",
    "notification", "session", "api_key", "team", "membership", "project", "task", "label",
    "webhook", "delivery", "report", "dashboard", "widget", "export_job", "import_job",
    "feature_flag", "experiment", "variant", "coupon", "discount", "tax_rate", "currency",
    "exchange_rate", "ledger_entry", "journal", "document", "template", "region", "country",
]
COLUMN_NAMES = [
    "name", "title", "description", "status", "external_id", "reference", "email", "phone",
    "amount", "quantity", "currency_code", "notes", "priority", "source", "kind", "slug",
    "position", "locale", "timezone", "version", "checksum", "archived_at", "deleted_at",
    "expires_at", "processed_at", "retry_count", "score", "weight", "url", "metadata_json",
]
# Column types: (SQLAlchemy expression, PostgreSQL spelling for raw SQL, server default or None).
TYPES = [
    ("sa.String(length=255)", "varchar(255)", None),
    ("sa.String(length=64)", "varchar(64)", None),
    ("sa.Text()", "text", None),
    ("sa.Integer()", "integer", "0"),
    ("sa.BigInteger()", "bigint", "0"),
    ("sa.Boolean()", "boolean", "false"),
    ("sa.Numeric(precision=12, scale=2)", "numeric(12, 2)", "0"),
    ("sa.DateTime(timezone=True)", "timestamp with time zone", "now()"),
    ("sa.Date()", "date", "CURRENT_DATE"),
    ("sa.JSON()", "jsonb", "'{}'"),
    ("sa.SmallInteger()", "smallint", "0"),
]
ENUM_VALUES = [
    ("draft", "active", "archived"),
    ("pending", "processing", "succeeded", "failed"),
    ("low", "normal", "high", "urgent"),
    ("open", "closed"),
    ("queued", "running", "done", "cancelled"),
    ("inbound", "outbound"),
]
ENUM_COLUMNS = ["state", "lifecycle", "severity", "direction", "stage", "visibility"]
COMMENTS = [
    "Set by the nightly reconciliation job.",
    "Denormalised for the reporting dashboards.",
    "Null until the first successful sync.",
    "Kept for the audit trail; never updated in place.",
    "Populated by the importer; see ADR 0042.",
]
VERBS = ["add", "create", "backfill", "index", "extend", "track", "store", "support"]

# Share of revisions whose upgrade() runs raw SQL, and their upgrade() length in lines.
SQL_SHARE = 1 / 3
REALISTIC_LINES = (22, 48)   # target range; the body stops at the first operation past it
CHAIN_LINES = (6, 16)


def q(s: str) -> str:
    """Python string literal in the double-quoted style formatters produce."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def slugify(message: str) -> str:
    # Alembic: non-word characters become "_", truncated at a word boundary to 40 chars.
    tokens = re.findall(r"\w+", message.lower())
    slug = "_".join(tokens)
    if len(slug) > 40:
        slug = slug[:40].rsplit("_", 1)[0]
    return slug


def indent(lines: list[str], by: int = 4) -> list[str]:
    pad = " " * by
    return [pad + x if x else x for x in lines]


def sql_block(sql: list[str], call: str = "op.execute") -> list[str]:
    """`op.execute(\"\"\" ... \"\"\")` at function-body indentation, SQL indented inside."""
    out = [f"    {call}(", '        """']
    out += ["        " + s if s else "" for s in sql]
    out += ['        """', "    )"]
    return out


class Op:
    """One operation: upgrade lines, downgrade lines, a message, whether it runs raw SQL."""

    __slots__ = ("up", "down", "msg", "sql")

    def __init__(self, up, down, msg, sql=False):
        self.up, self.down, self.msg, self.sql = up, down, msg, sql


class Gen:
    def __init__(self, seed: int, shape: str):
        self.rng = random.Random(seed)
        self.shape = shape
        self.ids: set[str] = set()
        self.tables: list[str] = []
        # table -> [(column, TYPES entry)]
        self.table_cols: dict[str, list[tuple[str, tuple]]] = {}
        self.counter = 0
        self.date = dt.datetime(2019, 1, 7, 9, 30, 0, 0)
        self.stats = {"upgrade_lines": 0, "with_sql": 0, "revisions": 0}

    def new_id(self) -> str:
        while True:
            rid = "%012x" % self.rng.getrandbits(48)
            if rid not in self.ids and not rid.startswith("0" * 4):
                self.ids.add(rid)
                return rid

    def next_date(self) -> str:
        step = dt.timedelta(minutes=self.rng.randint(20, 60 * 30), microseconds=self.rng.randint(0, 999999))
        self.date += step
        return self.date.strftime("%Y-%m-%d %H:%M:%S.%f")

    def new_table(self) -> str:
        self.counter += 1
        noun = self.rng.choice(NOUNS)
        return f"{noun}_{self.counter}" if self.rng.random() < 0.9 else f"{noun}_history_{self.counter}"

    def some_table(self) -> str:
        return self.rng.choice(self.tables[-200:])

    def uniq(self) -> int:
        self.counter += 1
        return self.counter

    def register(self, t: str, cols: list[tuple[str, tuple]]) -> None:
        self.tables.append(t)
        self.table_cols[t] = cols

    # --- Python operations ---------------------------------------------------------------

    def columns(self, fk: str | None, enum: tuple | None) -> tuple[list[str], list[tuple[str, tuple]]]:
        """`sa.Column(...)` lines for a new table (without the trailing constraints)."""
        rng = self.rng
        names = rng.sample(COLUMN_NAMES, rng.randint(3, 6))
        lines = [f"sa.Column({q('id')}, sa.BigInteger(), autoincrement=True, nullable=False),"]
        cols = [("id", TYPES[4])]
        if fk:
            lines.append(f"sa.Column({q(fk + '_id')}, sa.BigInteger(), nullable=True),")
            cols.append((fk + "_id", TYPES[4]))
        for c in names:
            typ = rng.choice(TYPES)
            nullable = rng.random() < 0.6
            extra = ""
            if not nullable and typ[2] is not None and rng.random() < 0.7:
                extra = f", server_default=sa.text({q(typ[2])})"
            lines.append(f"sa.Column({q(c)}, {typ[0]}, nullable={nullable}{extra}),")
            cols.append((c, typ))
        if enum:
            col, type_name, values = enum
            vals = ", ".join(q(v) for v in values)
            lines += [
                "sa.Column(",
                f"    {q(col)},",
                f"    sa.Enum({vals}, name={q(type_name)}, create_type=False),",
                f"    server_default={q(values[0])},",
                "    nullable=False,",
                "),",
            ]
            cols.append((col, ("sa.Text()", "text", None)))
        lines.append(f"sa.Column({q('created_at')}, sa.DateTime(timezone=True), "
                     f"server_default=sa.text(\"now()\"), nullable=False),")
        lines.append(f"sa.Column({q('updated_at')}, sa.DateTime(timezone=True), nullable=True),")
        cols += [("created_at", TYPES[7]), ("updated_at", TYPES[7])]
        if fk:
            lines.append(f"sa.ForeignKeyConstraint([{q(fk + '_id')}], [{q(fk + '.id')}], "
                         f"ondelete={q('SET NULL')}),")
        lines.append(f"sa.PrimaryKeyConstraint({q('id')}),")
        return lines, cols

    def enum_type(self, t: str, sql: bool) -> tuple[tuple, list[str], list[str]]:
        """An enum type for a column of `t`, created idempotently before the table."""
        rng = self.rng
        col = rng.choice(ENUM_COLUMNS)
        values = rng.choice(ENUM_VALUES)
        name = f"{t}_{col}"
        if sql:
            vals = ", ".join(f"'{v}'" for v in values)
            up = sql_block([
                "DO $$",
                "BEGIN",
                f"    CREATE TYPE {name} AS ENUM ({vals});",
                "EXCEPTION",
                "    WHEN duplicate_object THEN NULL;",
                "END",
                "$$;",
            ])
            down = [f"    op.execute({q(f'DROP TYPE IF EXISTS {name}')})"]
        else:
            vals = ", ".join(q(v) for v in values)
            up = [f"    sa.Enum({vals}, name={q(name)}).create(",
                  "        op.get_bind(), checkfirst=True",
                  "    )"]
            down = [f"    sa.Enum(name={q(name)}).drop(op.get_bind(), checkfirst=True)"]
        return (col, name, values), up, down

    def op_create_table(self, sql_ok: bool) -> Op:
        """`op.create_table(..., if_not_exists=True)`, or the same under a `has_table` guard."""
        rng = self.rng
        t = self.new_table()
        fk = self.some_table() if self.tables and rng.random() < 0.5 else None
        pre_up: list[str] = []
        pre_down: list[str] = []
        enum = None
        if rng.random() < 0.25:
            enum, pre_up, pre_down = self.enum_type(t, sql_ok and rng.random() < 0.5)
        col_lines, cols = self.columns(fk, enum)
        guarded = rng.random() < 0.3
        call = ["op.create_table(", f"    {q(t)},"] + indent(col_lines)
        if not guarded:
            call.append("    if_not_exists=True,")
        call.append(")")
        up = list(pre_up)
        if guarded:
            extra: list[str] = []
            if rng.random() < 0.6:
                c = rng.choice(cols[1:])[0]
                ix = f"ix_{t}_{c}"
                extra = [f"op.create_index(op.f({q(ix)}), {q(t)}, [{q(c)}], unique=False)"]
            if rng.random() < 0.5:
                up.append("    inspector = sa.inspect(op.get_bind())")
                up.append(f"    if not inspector.has_table({q(t)}):")
            else:
                up.append(f"    if not sa.inspect(op.get_bind()).has_table({q(t)}):")
            up += indent(call + extra, 8)
        else:
            up += indent(call)
        down = [f"    op.drop_table({q(t)}, if_exists=True)"] + pre_down
        self.register(t, cols)
        return Op(up, down, f"create {t} table", sql=bool(pre_up) and pre_up[0].startswith("    op.execute"))

    def op_add_column(self, sql_ok: bool) -> Op:
        rng = self.rng
        t = self.some_table()
        c = f"{rng.choice(COLUMN_NAMES)}_{self.uniq()}"
        typ = rng.choice(TYPES)
        args = [f"{q(c)}", typ[0]]
        if typ[2] is not None and rng.random() < 0.4:
            args += [f"server_default=sa.text({q(typ[2])})", "nullable=False"]
        else:
            args.append("nullable=True")
        if rng.random() < 0.3:
            args.append(f"comment={q(rng.choice(COMMENTS))}")
        col = f"sa.Column({', '.join(args)})"
        if len(col) > 70:
            col_lines = ["sa.Column("] + [f"    {a}," for a in args] + ["),"]
        else:
            col_lines = [col + ","]
        up = ["    op.add_column(", f"        {q(t)},"] + indent(col_lines, 8) + \
             ["        if_not_exists=True,", "    )"]
        down = [f"    op.drop_column({q(t)}, {q(c)}, if_exists=True)"]
        self.table_cols[t].append((c, typ))
        return Op(up, down, f"add {c} to {t}")

    def op_create_index(self, sql_ok: bool) -> Op:
        rng = self.rng
        t = self.some_table()
        cols = rng.sample(self.table_cols[t], min(len(self.table_cols[t]), rng.randint(1, 2)))
        names = [c for c, _ in cols]
        ix = f"ix_{t}_{'_'.join(names)}"[:50] + f"_{self.uniq()}"
        unique = rng.random() < 0.2
        collist = ", ".join(q(c) for c in names)
        if rng.random() < 0.25:
            up = [
                f"    indexes = {{ix[\"name\"] for ix in sa.inspect(op.get_bind()).get_indexes({q(t)})}}",
                f"    if {q(ix)} not in indexes:",
                f"        op.create_index({q(ix)}, {q(t)}, [{collist}], unique={unique})",
            ]
        else:
            up = [
                "    op.create_index(",
                f"        op.f({q(ix)}),",
                f"        {q(t)},",
                f"        [{collist}],",
                f"        unique={unique},",
                "        if_not_exists=True,",
                "    )",
            ]
        down = [f"    op.drop_index(op.f({q(ix)}), table_name={q(t)}, if_exists=True)"]
        return Op(up, down, f"index {t} {'_'.join(names)}")

    def op_batch(self, sql_ok: bool) -> Op:
        """A `with op.batch_alter_table(...)` block: guarded column + index, or alter_column."""
        rng = self.rng
        t = self.some_table()
        if rng.random() < 0.55:
            c = f"{rng.choice(COLUMN_NAMES)}_{self.uniq()}"
            typ = rng.choice(TYPES)
            ix = f"ix_{t}_{c}"[:60]
            up = [
                f"    columns = {{c[\"name\"] for c in sa.inspect(op.get_bind()).get_columns({q(t)})}}",
                f"    if {q(c)} not in columns:",
                f"        with op.batch_alter_table({q(t)}, schema=None) as batch_op:",
                f"            batch_op.add_column(sa.Column({q(c)}, {typ[0]}, nullable=True))",
                f"            batch_op.create_index(batch_op.f({q(ix)}), [{q(c)}], unique=False)",
            ]
            down = [
                f"    columns = {{c[\"name\"] for c in sa.inspect(op.get_bind()).get_columns({q(t)})}}",
                f"    if {q(c)} in columns:",
                f"        with op.batch_alter_table({q(t)}, schema=None) as batch_op:",
                f"            batch_op.drop_index(batch_op.f({q(ix)}))",
                f"            batch_op.drop_column({q(c)})",
            ]
            self.table_cols[t].append((c, typ))
            return Op(up, down, f"add {c} to {t}")
        cands = [x for x in self.table_cols[t] if x[0] not in ("id", "created_at")]
        picks = rng.sample(cands, min(len(cands), rng.randint(1, 2)))
        up = [f"    with op.batch_alter_table({q(t)}, schema=None) as batch_op:"]
        down = [f"    with op.batch_alter_table({q(t)}, schema=None) as batch_op:"]
        for c, typ in picks:
            up += [
                "        batch_op.alter_column(",
                f"            {q(c)},",
                f"            existing_type={typ[0]},",
                "            nullable=True,",
                f"            comment={q(rng.choice(COMMENTS))},",
                "        )",
            ]
            down += [
                "        batch_op.alter_column(",
                f"            {q(c)},",
                f"            existing_type={typ[0]},",
                "            comment=None,",
                "        )",
            ]
        return Op(up, down, f"relax {t} {picks[0][0]}")

    # --- raw SQL ---------------------------------------------------------------------------

    def sql_create_table(self) -> Op:
        rng = self.rng
        t = self.new_table()
        fk = self.some_table() if self.tables and rng.random() < 0.5 else None
        names = rng.sample(COLUMN_NAMES, rng.randint(3, 6))
        cols = [("id", TYPES[4])]
        body = ["    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"]
        if fk:
            body.append(f"    {fk}_id bigint REFERENCES {fk} (id) ON DELETE SET NULL,")
            cols.append((fk + "_id", TYPES[4]))
        for c in names:
            typ = rng.choice(TYPES)
            spec = f"    {c} {typ[1]}"
            if typ[2] is not None and rng.random() < 0.4:
                spec += f" NOT NULL DEFAULT {typ[2]}"
            body.append(spec + ",")
            cols.append((c, typ))
        body += ["    created_at timestamp with time zone NOT NULL DEFAULT now(),",
                 "    updated_at timestamp with time zone"]
        cols += [("created_at", TYPES[7]), ("updated_at", TYPES[7])]
        sql = [f"CREATE TABLE IF NOT EXISTS {t} ("] + body + [");"]
        ix = None
        if rng.random() < 0.6:
            c = rng.choice(cols[1:])[0]
            ix = f"ix_{t}_{c}"[:63]
            sql += ["", f"CREATE INDEX IF NOT EXISTS {ix}", f"    ON {t} ({c});"]
        up = sql_block(sql)
        down = [f"    op.execute({q(f'DROP TABLE IF EXISTS {t}')})"]
        self.register(t, cols)
        return Op(up, down, f"create {t} table", sql=True)

    def sql_create_index(self) -> Op:
        rng = self.rng
        t = self.some_table()
        col = rng.choice(self.table_cols[t])[0]
        ix = f"ix_{t}_{col}_partial_{self.uniq()}"[:63]
        sql = [f"CREATE INDEX IF NOT EXISTS {ix}", f"    ON {t} ({col})", f"    WHERE {col} IS NOT NULL;"]
        down = [f"    op.execute({q(f'DROP INDEX IF EXISTS {ix}')})"]
        return Op(sql_block(sql), down, f"partial index on {t} {col}", sql=True)

    def sql_update(self) -> Op:
        rng = self.rng
        t = self.some_table()
        col = rng.choice(self.table_cols[t])[0]
        kind = rng.randint(0, 2)
        if kind == 0:
            sql = [
                f"UPDATE {t}",
                "SET updated_at = now()",
                "WHERE updated_at IS NULL",
                f"  AND created_at < now() - interval '{rng.randint(1, 90)} days';",
            ]
            return Op(sql_block(sql), [], f"backfill {t} updated_at", sql=True)
        if kind == 1:
            sql = [
                f"UPDATE {t} AS t",
                f"SET {col} = NULL",
                f"FROM (SELECT id FROM {t} ORDER BY id LIMIT {rng.choice([500, 1000, 5000])}) AS batch",
                "WHERE t.id = batch.id;",
            ]
            return Op(sql_block(sql), [], f"reset {t} {col}", sql=True)
        # A data migration through the connection, with bound parameters.
        up = [
            "    conn = op.get_bind()",
            "    conn.execute(",
            "        sa.text(",
            '            """',
            f"            UPDATE {t}",
            "            SET updated_at = now()",
            "            WHERE updated_at IS NULL",
            "              AND id <= :max_id",
            '            """',
            "        ),",
            f"        {{\"max_id\": {rng.randint(1000, 90000)}}},",
            "    )",
        ]
        return Op(up, [], f"backfill {t} updated_at in batches", sql=True)

    def sql_check_constraint(self) -> Op:
        """`ALTER TABLE ... ADD CONSTRAINT` inside a DO block that checks pg_constraint first."""
        rng = self.rng
        t = self.some_table()
        c = rng.choice(self.table_cols[t])[0]
        name = f"ck_{t}_{c}_{self.uniq()}"[:63]
        sql = [
            "DO $$",
            "BEGIN",
            "    IF NOT EXISTS (",
            f"        SELECT 1 FROM pg_constraint WHERE conname = '{name}'",
            "    ) THEN",
            f"        ALTER TABLE {t}",
            f"            ADD CONSTRAINT {name}",
            f"            CHECK ({c} IS NOT NULL OR updated_at IS NULL) NOT VALID;",
            "    END IF;",
            "END",
            "$$;",
        ]
        down = [f"    op.execute({q(f'ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {name}')})"]
        return Op(sql_block(sql), down, f"check {t} {c}", sql=True)

    def sql_function(self) -> Op:
        """A plpgsql trigger function (CREATE OR REPLACE) and its trigger."""
        rng = self.rng
        t = self.some_table()
        fn = f"{t}_touch_updated_at_{self.uniq()}"[:63]
        trg = f"trg_{t}_updated_at_{self.uniq()}"
        body = [
            f"CREATE OR REPLACE FUNCTION {fn}()",
            "RETURNS trigger",
            "LANGUAGE plpgsql",
            "AS $$",
            "BEGIN",
            "    IF NEW IS DISTINCT FROM OLD THEN",
            "        NEW.updated_at := now();",
            "    END IF;",
            "    RETURN NEW;",
            "END;",
            "$$;",
            "",
            f"CREATE OR REPLACE TRIGGER {trg}",
            f"    BEFORE UPDATE ON {t}",
            "    FOR EACH ROW",
            f"    EXECUTE FUNCTION {fn}();",
        ]
        if rng.random() < 0.4:
            body[8:8] = [
                "    IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN",
                "        RAISE EXCEPTION 'created_at of %.% is immutable', TG_TABLE_NAME, OLD.id;",
                "    END IF;",
            ]
        down = [f"    op.execute({q(f'DROP TRIGGER IF EXISTS {trg} ON {t}')})",
                f"    op.execute({q(f'DROP FUNCTION IF EXISTS {fn}()')})"]
        return Op(sql_block(body), down, f"touch {t} updated_at on update", sql=True)

    def sql_add_column(self) -> Op:
        rng = self.rng
        t = self.some_table()
        c = f"{rng.choice(COLUMN_NAMES)}_{self.uniq()}"
        typ = rng.choice(TYPES)
        sql = [f"ALTER TABLE {t}", f"    ADD COLUMN IF NOT EXISTS {c} {typ[1]};"]
        if rng.random() < 0.5:
            sql += ["", f"COMMENT ON COLUMN {t}.{c} IS '{rng.choice(COMMENTS)}';"]
        down = [f"    op.execute({q(f'ALTER TABLE {t} DROP COLUMN IF EXISTS {c}')})"]
        self.table_cols[t].append((c, typ))
        return Op(sql_block(sql), down, f"add {c} to {t}", sql=True)

    def op_sql(self, sql_ok: bool = True) -> Op:
        r = self.rng.random()
        if r < 0.2:
            return self.sql_create_table()
        if r < 0.38:
            return self.sql_create_index()
        if r < 0.6:
            return self.sql_update()
        if r < 0.72:
            return self.sql_check_constraint()
        if r < 0.87:
            return self.sql_function()
        return self.sql_add_column()

    # --- whole files -----------------------------------------------------------------------

    def pick(self, sql_ok: bool) -> Op:
        if not self.tables:
            return self.op_create_table(sql_ok)
        r = self.rng.random()
        if r < 0.3:
            return self.op_create_table(sql_ok)
        if r < 0.55:
            return self.op_add_column(sql_ok)
        if r < 0.82:
            return self.op_create_index(sql_ok)
        return self.op_batch(sql_ok)

    def body(self, lines: tuple[int, int], max_ops: int):
        """Return (upgrade, downgrade, message): operations until about `lines` lines."""
        rng = self.rng
        target = rng.randint(*lines)
        with_sql = rng.random() < SQL_SHARE
        ops: list[Op] = []
        size = 0
        # Revisions with raw SQL get one or two SQL operations among the others.
        sql_left = (1 if rng.random() < 0.7 else 2) if with_sql and self.tables else 0
        while len(ops) < max_ops:
            force_sql = sql_left and (rng.random() < 0.4 or size >= target * 0.6
                                      or len(ops) + sql_left >= max_ops)
            op = self.op_sql() if force_sql else self.pick(with_sql)
            if force_sql:
                sql_left -= 1
            n = len(op.up) + (1 if ops else 0)
            ops.append(op)
            size += n
            if size >= target and not sql_left:
                break
        up_lines: list[str] = []
        for i, op in enumerate(ops):
            if i:
                up_lines.append("")
            up_lines += op.up
        down_lines: list[str] = []
        for op in reversed(ops):
            down_lines += op.down
        if not down_lines:
            down_lines = ["    pass"]
        msgs = [op.msg for op in ops]
        message = msgs[0] if len(msgs) == 1 else f"{msgs[0]} and {len(msgs) - 1} more"
        if rng.random() < 0.3:
            message = f"{rng.choice(VERBS)} {message}"
        return up_lines, down_lines, message, any(op.sql for op in ops)

    def render(self, rev, down, message, up_lines, down_lines):
        if down is None:
            revises, down_repr = "", "None"
        elif isinstance(down, tuple):
            revises = ", ".join(down)
            down_repr = "(" + ", ".join(q(d) for d in down) + ")"
        else:
            revises, down_repr = down, q(down)
        text = HEADER.format(
            message=message, rev=rev, revises=revises, date=self.next_date(),
            rev_repr=q(rev), down_repr=down_repr,
            upgrade="\n".join(up_lines) + "\n",
            downgrade="\n".join(down_lines) + "\n",
        )
        return f"{rev}_{slugify(message)}.py", text

    def revision(self, down):
        rev = self.new_id()
        if self.shape == "chain":
            up, dn, msg, sql = self.body(CHAIN_LINES, max_ops=2)
        else:
            up, dn, msg, sql = self.body(REALISTIC_LINES, max_ops=7)
        self.stats["upgrade_lines"] += len(up)
        self.stats["with_sql"] += sql
        self.stats["revisions"] += 1
        return rev, self.render(rev, down, msg, up, dn)

    def merge(self, parents):
        rev = self.new_id()
        return rev, self.render(rev, tuple(parents), "merge heads", ["    pass"], ["    pass"])


def deploy_files(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` compose/stack files and GitHub workflows (half each), shaped like real ones and
    clean for every revlint rule, plus the entrypoint scripts and Dockerfiles they reference."""
    out: list[tuple[str, str]] = []
    for i in range(count // 2):
        env = f"env{i:03d}"
        replicas = rng.choice([2, 3, 4])
        workers = rng.choice([2, 4, 8])
        extra = "".join(
            f"""
  worker{k}:
    <<: *app
    command: celery -A app.tasks worker --concurrency={rng.choice([2, 4])} -Q q{k}
    deploy:
      <<: *rollout
      replicas: 1
"""
            for k in range(rng.randint(1, 4))
        )
        out.append((f"deploy/{env}/docker-stack.yml", f"""# {env}: deployed with docker stack deploy
version: "3.8"

x-app: &app
  image: registry.example.com/app:${{TAG:-latest}}
  environment:
    DATABASE_URL: postgresql://app:${{DB_PASSWORD}}@db:5432/app_{i}
    REDIS_URL: redis://redis:6379/0
    LOG_LEVEL: info
  networks: [backend]

x-rollout: &rollout
  update_config:
    parallelism: 1
    order: start-first
    failure_action: rollback
    delay: 10s
  restart_policy:
    condition: on-failure

services:
  migrate:
    <<: *app
    command: ["sh", "-c", "alembic -c /app/alembic.ini upgrade head"]
    deploy:
      replicas: 1
      update_config: {{parallelism: 1, order: stop-first, failure_action: pause}}
      rollback_config: {{parallelism: 1, order: stop-first}}
      restart_policy: {{condition: on-failure, max_attempts: 3}}

  api:
    <<: *app
    command: gunicorn app.main:app -k uvicorn.workers.UvicornWorker -w {workers} -b 0.0.0.0:8000
    ports:
      - "{8000 + i}:8000"
    deploy:
      <<: *rollout
      replicas: {replicas}
{extra}
  redis:
    image: redis:7-alpine
    networks: [backend]
    deploy:
      <<: *rollout

networks:
  backend:
    driver: overlay
"""))
        out.append((f"deploy/{env}/entrypoint.sh", f"""#!/bin/sh
set -eu
# {env}: wait for the database, then hand over to the container's command.
until pg_isready -h db -p 5432 -q; do
  echo "waiting for postgres"; sleep 1
done
if [ "${{1:-}}" = "shell" ]; then
  exec python -m IPython
fi
exec "$@"
"""))
        out.append((f"deploy/{env}/Dockerfile", f"""FROM python:3.12-slim AS base
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \\
    && rm -rf /root/.cache
COPY . .
COPY deploy/{env}/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["gunicorn", "app.main:app", "-w", "1", "-b", "0.0.0.0:8000"]
"""))
        steps = "".join(
            f"""
      - name: Smoke test {k}
        run: |
          curl -fsS https://{env}.example.com/health/{k} || exit 1
          echo "check {k} passed"
"""
            for k in range(rng.randint(1, 6))
        )
        out.append((f".github/workflows/deploy-{env}.yml", f"""name: Deploy {env}

on:
  push:
    branches: [{env}]
  workflow_dispatch:

concurrency:
  group: deploy-{env}
  cancel-in-progress: false

env:
  REGISTRY: registry.example.com
  IMAGE_TAG: ${{{{ github.sha }}}}

jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{{{ env.REGISTRY }}}}/app:${{{{ env.IMAGE_TAG }}}}

  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment: {env}
    steps:
      - uses: actions/checkout@v4
      - name: Migrate
        run: |
          docker compose -f deploy/{env}/docker-stack.yml run --rm migrate \\
            alembic upgrade head
      - name: Roll out
        env:
          DOCKER_HOST: ssh://deploy@{env}.example.com
        run: docker stack deploy --with-registry-auth -c deploy/{env}/docker-stack.yml app-{env}
{steps}"""))
    return out


def generate(out: Path, n: int, shape: str, seed: int, deploy: int = 0) -> dict:
    g = Gen(seed, shape)
    files: list[tuple[str, str]] = []
    head = None
    merges = 0
    while len(files) < n:
        remaining = n - len(files)
        if shape == "realistic" and head is not None and remaining >= 5 and g.rng.random() < 0.03:
            # Two feature branches diverge from `head`, then a merge revision joins them.
            a = g.rng.randint(1, min(5, (remaining - 1) // 2))
            b = g.rng.randint(1, min(5, (remaining - 1) // 2))
            tips = [head, head]
            todo = [0] * a + [1] * b
            g.rng.shuffle(todo)  # interleave authorship dates of the two branches
            for side in todo:
                rev, f = g.revision(tips[side])
                tips[side] = rev
                files.append(f)
            head, f = g.merge(tips)
            files.append(f)
            merges += 1
        else:
            head, f = g.revision(head)
            files.append(f)

    if out.exists():
        shutil.rmtree(out)
    versions = out / "migrations" / "versions"
    versions.mkdir(parents=True)
    (out / "alembic.ini").write_text(ALEMBIC_INI)
    (out / "migrations" / "env.py").write_text(ENV_PY)
    deploy_list = deploy_files(random.Random(seed + 1), deploy)
    for rel, text in deploy_list:
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (out / "migrations" / "script.py.mako").write_text(SCRIPT_MAKO)
    (out / "migrations" / "README").write_text(README)
    total = 0
    names = set()
    for name, text in files:
        assert name not in names, name
        names.add(name)
        data = text.encode()
        total += len(data)
        (versions / name).write_bytes(data)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "shape": shape,
        "revisions": n,
        "seed": seed,
        "files": len(files),
        "bytes": total,
        "merges": merges,
        "head": head,
        "mean_upgrade_lines": round(g.stats["upgrade_lines"] / max(g.stats["revisions"], 1), 1),
        "revisions_with_raw_sql": g.stats["with_sql"],
        "deploy_files": len(deploy_list),
        "deploy_yaml_files": sum(1 for r, _ in deploy_list if r.endswith(".yml")),
        "deploy_bytes": sum(len(t.encode()) for _, t in deploy_list),
    }
    (out / "bench-manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def generator_fingerprint() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--revisions", required=True, type=int)
    ap.add_argument("--shape", choices=["realistic", "chain"], default="realistic")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--deploy-files", type=int, default=0,
                    help="compose/stack files + workflows to add (half each), with their scripts and Dockerfiles")
    args = ap.parse_args(argv)
    if args.revisions < 1:
        ap.error("--revisions must be >= 1")
    m = generate(args.out, args.revisions, args.shape, args.seed, args.deploy_files)
    m["fingerprint"] = generator_fingerprint()
    (args.out / "bench-manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    print(json.dumps(m), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
