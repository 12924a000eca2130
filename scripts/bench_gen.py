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
             revision bodies of about 1.5-3 KB (create_table, add_column,
             create_index, op.execute with data SQL, and a mirroring downgrade).
  chain      a strictly linear chain with small bodies (one or two operations).

Every schema operation is written in its idempotent form (if_not_exists=True /
if_exists=True, data-only SQL), so a correct linter reports nothing on these trees.
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

GENERATOR_VERSION = 3

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
TYPES = [
    "sa.String(length=255)", "sa.String(length=64)", "sa.Text()", "sa.Integer()",
    "sa.BigInteger()", "sa.Boolean()", "sa.Numeric(precision=12, scale=2)",
    "sa.DateTime(timezone=True)", "sa.Date()", "sa.JSON()", "sa.SmallInteger()",
]
VERBS = ["add", "create", "backfill", "index", "extend", "track", "store", "support"]


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


class Gen:
    def __init__(self, seed: int, shape: str):
        self.rng = random.Random(seed)
        self.shape = shape
        self.ids: set[str] = set()
        self.tables: list[str] = []
        self.table_cols: dict[str, list[str]] = {}
        self.counter = 0
        self.date = dt.datetime(2019, 1, 7, 9, 30, 0, 0)

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
        name = f"{noun}_{self.counter}" if self.rng.random() < 0.9 else f"{noun}_history_{self.counter}"
        return name

    # --- operations: each returns (upgrade_lines, downgrade_lines, message) ---

    def op_create_table(self):
        rng = self.rng
        t = self.new_table()
        ncols = rng.randint(4, 7)
        cols = rng.sample(COLUMN_NAMES, ncols)
        up = [f"    op.create_table(", f"        {q(t)},",
              f"        sa.Column({q('id')}, sa.BigInteger(), autoincrement=True, nullable=False),"]
        fk = None
        if self.tables and rng.random() < 0.5:
            fk = rng.choice(self.tables[-50:])
            up.append(f"        sa.Column({q(fk + '_id')}, sa.BigInteger(), nullable=True),")
        for c in cols:
            typ = rng.choice(TYPES)
            nullable = "True" if rng.random() < 0.6 else "False"
            extra = ""
            if nullable == "False" and typ.startswith("sa.Boolean"):
                extra = ", server_default=sa.text(\"false\")"
            up.append(f"        sa.Column({q(c)}, {typ}, nullable={nullable}{extra}),")
        up.append(f"        sa.Column({q('created_at')}, sa.DateTime(timezone=True), "
                  f"server_default=sa.text(\"now()\"), nullable=False),")
        up.append(f"        sa.Column({q('updated_at')}, sa.DateTime(timezone=True), nullable=True),")
        if fk:
            up.append(f"        sa.ForeignKeyConstraint([{q(fk + '_id')}], [{q(fk + '.id')}], "
                      f"ondelete={q('SET NULL')}),")
        up.append(f"        sa.PrimaryKeyConstraint({q('id')}),")
        up.append(f"        if_not_exists=True,")
        up.append(f"    )")
        down = [f"    op.drop_table({q(t)}, if_exists=True)"]
        self.tables.append(t)
        self.table_cols[t] = ["id", "created_at", "updated_at"] + cols
        return up, down, f"create {t} table"

    def op_add_column(self):
        rng = self.rng
        if not self.tables:
            return self.op_create_table()
        t = rng.choice(self.tables[-200:])
        self.counter += 1
        c = f"{rng.choice(COLUMN_NAMES)}_{self.counter}"
        typ = rng.choice(TYPES)
        up = [
            f"    op.add_column(",
            f"        {q(t)},",
            f"        sa.Column({q(c)}, {typ}, nullable=True),",
            f"        if_not_exists=True,",
            f"    )",
        ]
        down = [f"    op.drop_column({q(t)}, {q(c)}, if_exists=True)"]
        self.table_cols[t].append(c)
        return up, down, f"add {c} to {t}"

    def op_create_index(self):
        rng = self.rng
        if not self.tables:
            return self.op_create_table()
        t = rng.choice(self.tables[-200:])
        cols = rng.sample(self.table_cols[t], min(len(self.table_cols[t]), rng.randint(1, 2)))
        self.counter += 1
        ix = f"ix_{t}_{'_'.join(cols)}"[:50] + f"_{self.counter}"
        unique = "True" if rng.random() < 0.2 else "False"
        collist = ", ".join(q(c) for c in cols)
        up = [
            f"    op.create_index(",
            f"        op.f({q(ix)}),",
            f"        {q(t)},",
            f"        [{collist}],",
            f"        unique={unique},",
            f"        if_not_exists=True,",
            f"    )",
        ]
        down = [f"    op.drop_index(op.f({q(ix)}), table_name={q(t)}, if_exists=True)"]
        return up, down, f"index {t} {'_'.join(cols)}"

    def op_execute(self):
        rng = self.rng
        if not self.tables:
            return self.op_create_table()
        t = rng.choice(self.tables[-200:])
        col = rng.choice(self.table_cols[t])
        kind = rng.randint(0, 2)
        if kind == 0:
            sql_up = [
                f"UPDATE {t}",
                f"SET updated_at = now()",
                f"WHERE updated_at IS NULL",
                f"  AND created_at < now() - interval '{rng.randint(1, 90)} days'",
            ]
            sql_down = None
            msg = f"backfill {t} updated_at"
        elif kind == 1:
            sql_up = [
                f"UPDATE {t} AS t",
                f"SET {col} = NULL",
                f"FROM (SELECT id FROM {t} ORDER BY id LIMIT {rng.choice([500, 1000, 5000])}) AS batch",
                f"WHERE t.id = batch.id",
            ]
            sql_down = None
            msg = f"reset {t} {col}"
        else:
            self.counter += 1
            ix = f"ix_{t}_{col}_partial_{self.counter}"
            sql_up = [
                f"CREATE INDEX IF NOT EXISTS {ix}",
                f"ON {t} ({col})",
                f"WHERE {col} IS NOT NULL",
            ]
            sql_down = [f"DROP INDEX IF EXISTS {ix}"]
            msg = f"partial index on {t} {col}"
        up = ["    op.execute(", "        \"\"\""]
        up += ["        " + s for s in sql_up]
        up += ["        \"\"\"", "    )"]
        down = []
        if sql_down:
            down = ["    op.execute(" + q(" ".join(sql_down)) + ")"]
        return up, down, msg

    # --- whole files ---

    def body(self, target: int, max_ops: int, cap: int):
        """Return (upgrade, downgrade, message) with roughly `target` bytes of operations."""
        rng = self.rng
        ups: list[list[str]] = []
        downs: list[list[str]] = []
        msgs: list[str] = []
        size = 0
        while len(ups) < max_ops:
            r = rng.random()
            if r < 0.35:
                u, d, m = self.op_create_table()
            elif r < 0.6:
                u, d, m = self.op_add_column()
            elif r < 0.82:
                u, d, m = self.op_create_index()
            else:
                u, d, m = self.op_execute()
            op_size = sum(len(x) + 1 for x in u) + sum(len(x) + 1 for x in d)
            if ups and size + op_size > cap:
                break
            ups.append(u)
            downs.append(d)
            msgs.append(m)
            size += op_size
            if size >= target:
                break
        up_lines: list[str] = []
        for i, u in enumerate(ups):
            if i:
                up_lines.append("")
            up_lines += u
        down_lines: list[str] = []
        for d in reversed(downs):
            down_lines += d
        if not down_lines:
            down_lines = ["    pass"]
        message = msgs[0] if len(msgs) == 1 else f"{msgs[0]} and {len(msgs) - 1} more"
        if rng.random() < 0.3:
            message = f"{rng.choice(VERBS)} {message}"
        return up_lines, down_lines, message

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
            up, dn, msg = self.body(target=self.rng.randint(150, 400), max_ops=2, cap=700)
        else:
            up, dn, msg = self.body(target=self.rng.randint(1000, 2200), max_ops=5, cap=2350)
        return rev, self.render(rev, down, msg, up, dn)

    def merge(self, parents):
        rev = self.new_id()
        return rev, self.render(rev, tuple(parents), "merge heads", ["    pass"], ["    pass"])


def generate(out: Path, n: int, shape: str, seed: int) -> dict:
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
    args = ap.parse_args(argv)
    if args.revisions < 1:
        ap.error("--revisions must be >= 1")
    m = generate(args.out, args.revisions, args.shape, args.seed)
    m["fingerprint"] = generator_fingerprint()
    (args.out / "bench-manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    print(json.dumps(m), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
