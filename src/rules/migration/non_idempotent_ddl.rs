use super::{abbreviate, bare_table, bodies, postgresql_applies, source};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::migration::Migration;
use crate::model::operation::{OpKind, Operation};
use crate::model::pin::Version;
use crate::model::project::Project;
use crate::parse::sql::{Action, Object, SqlFact};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct NonIdempotentDdl;

static META: RuleMeta = RuleMeta {
    id: RuleId::NonIdempotentDdl,
    category: Category::Migration,
    summary: "DDL that fails when the migration is re-run or raced",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds schema changes in `upgrade()` that fail when the object already exists (or is already
gone): `op.create_table`, `create_index`, `add_column`, `create_unique_constraint`,
`create_foreign_key` without `if_not_exists=True` or an existence guard; `op.drop_table`,
`drop_index`, `drop_column` without `if_exists=True` or a guard; raw SQL `CREATE TABLE / INDEX /
SCHEMA / SEQUENCE / EXTENSION / MATERIALIZED VIEW` without `IF NOT EXISTS`, `CREATE VIEW /
FUNCTION / PROCEDURE / TRIGGER` without `OR REPLACE`, `DROP …` without `IF EXISTS`, `ALTER TABLE
… ADD COLUMN` without `IF NOT EXISTS`, `DROP COLUMN / CONSTRAINT` without `IF EXISTS`, `CREATE
TYPE … AS ENUM` outside a guarded `DO` block, `ALTER TYPE … ADD VALUE` without `IF NOT EXISTS`;
and `sa.Enum(...)` inside `op.create_table`, which makes PostgreSQL run `CREATE TYPE`.

Calls from `upgrade()` to functions defined in the same file are followed one level deep.
An operation inside an `if` that checks existence (`inspector.has_table`, `get_columns`,
`get_indexes`, a helper named `*exists*`/`has_*`, a query on `information_schema`,
`pg_catalog` or `to_regclass`), or after an early `return` under such a check, is idempotent.
An index, column or constraint on a table created by an unguarded `create_table` earlier in
the same revision is reported once, at the `create_table`. Creating an object that the same
body dropped earlier with `IF EXISTS` (`DROP TRIGGER IF EXISTS t ON a; CREATE TRIGGER t …`,
the idiom before `OR REPLACE`) is idempotent. Raw SQL is read with PostgreSQL's
own parser; statements it cannot parse, and SQL under a non-PostgreSQL dialect, are not
judged.

## Why is this bad?

A migration that only works on a database that has never seen it breaks the moment it runs
twice: several replicas or workers running `alembic upgrade head` at start-up, a rolling
update, a retried deploy, or a database first built with `metadata.create_all()`. The second
run fails with `DuplicateTable`, `DuplicateObject` or `duplicate key value violates unique
constraint "pg_type_typname_nsp_index"`, and the deploy stops. A `try/except` around the
operation does not help on PostgreSQL: the failed statement aborts the whole transaction.

## Example

```python
def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.Enum("draft", "final", name="document_status")),
    )
    op.execute("ALTER TABLE documents ADD COLUMN title text")
```

## How to fix

Make each operation a no-op when its work is already done: `if_not_exists=True` /
`if_exists=True` where the project's Alembic has them (tables 1.13.3, indexes 1.11.2, columns
1.16.0), otherwise an inspector guard; `IF NOT EXISTS`, `IF EXISTS`, `OR REPLACE` in SQL; a
`DO $$ … EXCEPTION WHEN duplicate_object …` block for `CREATE TYPE`; and
`postgresql.ENUM(..., create_type=False)` with an explicit `.create(bind, checkfirst=True)`
for enum columns. Run migrations once per deploy, not from every replica.
"#,
};

/// The keyword for an operation and the Alembic version that introduced it.
fn keyword(kind: OpKind) -> Option<(&'static str, Version)> {
    Some(match kind {
        OpKind::CreateTable => ("if_not_exists", Version(1, 13, 3)),
        OpKind::DropTable => ("if_exists", Version(1, 13, 3)),
        OpKind::CreateIndex => ("if_not_exists", Version(1, 11, 2)),
        OpKind::DropIndex => ("if_exists", Version(1, 11, 2)),
        OpKind::AddColumn => ("if_not_exists", Version(1, 16, 0)),
        OpKind::DropColumn => ("if_exists", Version(1, 16, 0)),
        _ => return None,
    })
}

/// `op.create_table("users", …)`: the call's head with its first argument.
fn call_head(cx: &Context, op: &Operation) -> String {
    let callee = source(cx, op.callee_span);
    let first = op.first_arg.and_then(|a| {
        let t = source(cx, a);
        (t.len() <= 40 && !t.contains('\n')).then(|| t.to_string())
    });
    match first {
        Some(f) => format!("{callee}({f}, …)"),
        None => format!("{callee}(…)"),
    }
}

/// The inspector guard for an operation.
fn guard(op: &Operation) -> String {
    let table = op.table.as_deref().unwrap_or("<table>");
    let object = op.object.as_deref().unwrap_or("<name>");
    let insp = "sa.inspect(op.get_bind())";
    match op.kind {
        OpKind::CreateTable => format!("if not {insp}.has_table(\"{table}\"):"),
        OpKind::DropTable => format!("if {insp}.has_table(\"{table}\"):"),
        OpKind::CreateIndex => format!(
            "if \"{object}\" not in {{ix[\"name\"] for ix in {insp}.get_indexes(\"{table}\")}}:"
        ),
        OpKind::DropIndex => format!(
            "if \"{object}\" in {{ix[\"name\"] for ix in {insp}.get_indexes(\"{table}\")}}:"
        ),
        OpKind::AddColumn => format!(
            "if \"{object}\" not in {{c[\"name\"] for c in {insp}.get_columns(\"{table}\")}}:"
        ),
        OpKind::DropColumn => format!(
            "if \"{object}\" in {{c[\"name\"] for c in {insp}.get_columns(\"{table}\")}}:"
        ),
        OpKind::CreateUniqueConstraint => format!(
            "if \"{object}\" not in {{uc[\"name\"] for uc in {insp}.get_unique_constraints(\"{table}\")}}:"
        ),
        OpKind::CreateForeignKey => format!(
            "if \"{object}\" not in {{fk[\"name\"] for fk in {insp}.get_foreign_keys(\"{table}\")}}:"
        ),
        _ => String::new(),
    }
}

/// What fails, per operation.
fn failure(kind: OpKind) -> &'static str {
    match kind {
        OpKind::CreateTable => "fails when the table already exists (DuplicateTable)",
        OpKind::DropTable => "fails when the table is already gone (UndefinedTable)",
        OpKind::CreateIndex => "fails when the index already exists (DuplicateTable)",
        OpKind::DropIndex => "fails when the index is already gone (UndefinedObject)",
        OpKind::AddColumn => "fails when the column already exists (DuplicateColumn)",
        OpKind::DropColumn => "fails when the column is already gone (UndefinedColumn)",
        OpKind::CreateUniqueConstraint => {
            "fails when the constraint already exists (DuplicateTable / DuplicateObject)"
        }
        OpKind::CreateForeignKey => "fails when the constraint already exists (DuplicateObject)",
        _ => "fails when re-run",
    }
}

/// The help for an `op.*` call: the keyword when the pinned Alembic has it, a guard otherwise.
fn op_help(cx: &Context, project: &Project, op: &Operation) -> String {
    let head = call_head(cx, op);
    let guard = guard(op);
    let unnamed = op.object.is_none()
        && matches!(
            op.kind,
            OpKind::CreateIndex | OpKind::CreateUniqueConstraint | OpKind::CreateForeignKey
        );
    let guard_form = if unnamed {
        format!("give it an explicit name (an unnamed one cannot be checked for), then guard it: `{guard}` with `{head}` indented under it")
    } else {
        format!("guard it: `{guard}` then `{head}` indented under it")
    };
    let Some((kw, since)) = keyword(op.kind) else {
        return format!(
            "{guard_form} (`{}` has no if_not_exists keyword)",
            op.method
        );
    };
    if let Some(b) = &op.context.batch {
        let recreate = b.call.kwarg("recreate").and_then(|r| r.as_str());
        if recreate != Some("never") {
            return format!(
                "guard the whole block: put `{guard}` above `with op.batch_alter_table(...)` and indent the block under it (inside a batch that may recreate the table, as on SQLite, `{kw}` is ignored or rejected)"
            );
        }
    }
    let with_kw = head.trim_end_matches(')').to_string() + &format!(", {kw}=True)");
    match &project.alembic_pin {
        Some(pin) if pin.version >= since => format!(
            "add `{kw}=True`: `{with_kw}` (Alembic {since}+; the project pins `{}` in {})",
            pin.written, pin.origin
        ),
        Some(pin) => format!(
            "{guard_form}; `{kw}=True` needs Alembic {since} and the project pins `{}` in {}",
            pin.written, pin.origin
        ),
        None => format!(
            "{guard_form}; or, with Alembic {since} or later (revlint found no pinned Alembic version), add `{kw}=True`: `{with_kw}`"
        ),
    }
}

/// Whether a SQL fact is a hazard (an idempotent form exists and is not used).
fn sql_hazard(f: &SqlFact) -> Option<&'static str> {
    if f.guarded {
        return None;
    }
    Some(match f.action {
        Action::Create(Object::View | Object::Function | Object::Procedure | Object::Trigger) => {
            "fails when it already exists"
        }
        Action::Create(Object::Other | Object::Type | Object::Domain) => return None,
        Action::Create(_) | Action::CreateExtension => "fails when it already exists",
        Action::CreateEnumType => "fails when the type already exists (DuplicateObject)",
        Action::Drop(_) => "fails when it is already gone",
        Action::AddColumn => "fails when the column already exists (DuplicateColumn)",
        Action::DropColumn => "fails when the column is already gone (UndefinedColumn)",
        Action::DropConstraint => "fails when the constraint is already gone (UndefinedObject)",
        Action::AddEnumValue => "fails when the value already exists (DuplicateObject)",
        _ => return None,
    })
}

fn kind_key(o: Object) -> &'static str {
    match o {
        Object::Table => "table",
        Object::Index => "index",
        Object::Schema => "schema",
        Object::Sequence => "sequence",
        Object::View => "view",
        Object::MaterializedView => "materialized view",
        Object::Extension => "extension",
        Object::Function => "function",
        Object::Procedure => "procedure",
        Object::Trigger => "trigger",
        Object::Type => "type",
        Object::Domain => "domain",
        Object::Other => "object",
    }
}

impl Rule for NonIdempotentDdl {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for project in cx.projects {
            for m in project.migrations() {
                for (body, ops) in bodies(cx, m) {
                    check_body(cx, project, m, body, ops, out);
                }
            }
        }
    }
}

/// What an operation or statement does to a named object, for pairing drops and creates
/// within one body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Create(Key),
    Drop(Key),
    Rename(Key, Key),
}

type Key = (&'static str, String);

fn key(kind: &'static str, name: &str) -> Key {
    (kind, bare_table(name))
}

fn column_key(table: &str, column: &str) -> Key {
    (
        "column",
        format!("{}.{}", bare_table(table), column.to_ascii_lowercase()),
    )
}

fn op_event(op: &Operation) -> Option<Event> {
    let t = op.table.as_deref();
    let o = op.object.as_deref();
    Some(match op.kind {
        OpKind::CreateTable => Event::Create(key("table", t?)),
        OpKind::DropTable => Event::Drop(key("table", t?)),
        OpKind::CreateIndex => Event::Create(key("index", o?)),
        OpKind::DropIndex => Event::Drop(key("index", o?)),
        OpKind::AddColumn => Event::Create(column_key(t?, o?)),
        OpKind::DropColumn => Event::Drop(column_key(t?, o?)),
        OpKind::CreateUniqueConstraint | OpKind::CreateForeignKey => {
            Event::Create(key("constraint", o?))
        }
        OpKind::DropConstraint => Event::Drop(key("constraint", o?)),
        OpKind::RenameTable => Event::Rename(key("table", t?), key("table", o?)),
        _ => return None,
    })
}

fn fact_event(f: &SqlFact) -> Option<Event> {
    Some(match f.action {
        Action::Create(o) => Event::Create(key(kind_key(o), &f.name)),
        Action::CreateEnumType => Event::Create(key("type", &f.name)),
        Action::CreateExtension => Event::Create(key("extension", &f.name)),
        Action::Drop(o) => Event::Drop(key(kind_key(o), &f.name)),
        Action::AddColumn => Event::Create(column_key(f.table.as_deref()?, &f.name)),
        Action::DropColumn => Event::Drop(column_key(f.table.as_deref()?, &f.name)),
        Action::DropConstraint => Event::Drop(key("constraint", &f.name)),
        Action::Rename(o) => Event::Rename(
            key(kind_key(o), &f.name),
            key(kind_key(o), f.table.as_deref()?),
        ),
        _ => return None,
    })
}

/// Whether the event at `at` is made safe by the body around it: a create of a name this body
/// dropped or renamed away earlier, or a drop of something this body creates (before or after).
fn paired(events: &[Option<Event>], at: usize) -> bool {
    match &events[at] {
        Some(Event::Create(k)) => events[..at].iter().flatten().any(|e| match e {
            Event::Drop(d) => d == k,
            Event::Rename(old, _) => old == k,
            _ => false,
        }),
        Some(Event::Drop(k)) => events.iter().enumerate().any(|(i, e)| {
            i != at
                && match e {
                    Some(Event::Create(c)) => c == k,
                    Some(Event::Rename(_, new)) => i < at && new == k,
                    _ => false,
                }
        }),
        _ => false,
    }
}

fn check_body(
    cx: &Context,
    project: &Project,
    m: &Migration,
    body: &str,
    ops: &[Operation],
    out: &mut Vec<Diagnostic>,
) {
    // Every op and every SQL fact, in order, with what it does to a named object.
    let mut events: Vec<Option<Event>> = Vec::new();
    for op in ops {
        if op.kind == OpKind::Sql {
            for t in &op.sql {
                for st in &t.statements {
                    events.extend(st.facts.iter().map(fact_event));
                }
            }
        } else {
            events.push(op_event(op));
        }
    }
    let mut at = 0;
    // Tables created by an unguarded statement earlier in this body: what is built on them is
    // part of the same finding.
    let mut fresh: Vec<String> = Vec::new();
    for op in ops {
        let swallowed_note = op.context.swallowed.filter(|_| !op.context.savepoint).map(|_| {
            "the surrounding `try`/`except` does not make it safe on PostgreSQL: the failed statement aborts the transaction and every later statement fails with InFailedSqlTransaction"
        });
        if op.kind == OpKind::Sql {
            let applies = postgresql_applies(project, m, op) && !op.guarded();
            for text in &op.sql {
                for st in &text.statements {
                    let mut hazards: Vec<(&SqlFact, &'static str)> = Vec::new();
                    for f in &st.facts {
                        let here = at;
                        at += 1;
                        let on_fresh = f
                            .table
                            .as_deref()
                            .is_some_and(|t| fresh.contains(&bare_table(t)));
                        if f.action == Action::Create(Object::Table) && !f.guarded {
                            fresh.push(bare_table(&f.name));
                        }
                        if !applies || on_fresh || paired(&events, here) {
                            continue;
                        }
                        if let Some(why) = sql_hazard(f) {
                            hazards.push((f, why));
                        }
                    }
                    let Some(&(f, why)) = hazards.first() else {
                        continue;
                    };
                    let shown = abbreviate(&text.statement_text(st), 90);
                    let mut message = if hazards.len() > 1 {
                        format!("`{shown}` {why} (and {} more of its commands fail the same way), so this migration breaks when it runs twice or two workers run it at once", hazards.len() - 1)
                    } else {
                        format!("`{shown}` {why}, so this migration breaks when it runs twice or two workers run it at once")
                    };
                    if text.partial {
                        message.push_str(" (part of this SQL is built at run time)");
                    }
                    let help = match &f.fix {
                        Some(_) if f.action == Action::Create(Object::Trigger)
                            && cx.options.postgresql_version.is_some_and(|v| v < 14) =>
                        {
                            let on = f.table.as_deref().unwrap_or("<table>");
                            format!(
                                "drop it first, as `CREATE OR REPLACE TRIGGER` needs PostgreSQL 14: `DROP TRIGGER IF EXISTS {} ON {on}; {}`",
                                f.name,
                                abbreviate(&text.statement_text(st), 100)
                            )
                        }
                        Some(fix) => format!("use `{}`", abbreviate(&text.humanize(fix), 140)),
                        None if f.action == Action::Create(Object::Index) => "name the index and use `CREATE INDEX IF NOT EXISTS <name> ON …` (IF NOT EXISTS needs an index name)".to_string(),
                        None => "guard it with an existence check".to_string(),
                    };
                    let mut d = Diagnostic::new(RuleId::NonIdempotentDdl, message)
                        .primary(text.statement_span(st), format!("not idempotent ({body})"))
                        .help(help);
                    if let Some(n) = swallowed_note {
                        d = d.note(n);
                    }
                    out.push(d);
                }
            }
            continue;
        }
        let here = at;
        at += 1;
        let kind = op.kind;
        if matches!(
            kind,
            OpKind::Other | OpKind::RenameTable | OpKind::DropConstraint
        ) {
            continue;
        }
        let builds_on_fresh = matches!(
            kind,
            OpKind::CreateIndex
                | OpKind::AddColumn
                | OpKind::CreateUniqueConstraint
                | OpKind::CreateForeignKey
        ) && op
            .table
            .as_deref()
            .is_some_and(|t| fresh.contains(&bare_table(t)));
        if kind == OpKind::CreateTable && !op.keyword_guard && !op.guarded() {
            if let Some(t) = &op.table {
                fresh.push(bare_table(t));
            }
        }
        if op.guarded() {
            continue;
        }
        let pg = postgresql_applies(project, m, op);
        if kind == OpKind::CreateTable && op.keyword_guard && pg {
            // The table is guarded; the types its enum columns create are not.
            for e in &op.implicit_enums {
                let name = e.name.as_deref().unwrap_or("(named after the Python enum)");
                out.push(
                    Diagnostic::new(
                        RuleId::NonIdempotentDdl,
                        format!("this enum column makes `{}` run `CREATE TYPE {name}`, which `if_not_exists=True` does not cover: a second run fails with DuplicateObject and concurrent workers race on pg_type_typname_nsp_index", call_head(cx, op)),
                    )
                    .primary(e.span, format!("creates PostgreSQL type {name} ({body})"))
                    .help(format!("declare the column with `postgresql.ENUM(..., name=\"{name}\", create_type=False)` and create the type first: `postgresql.ENUM(..., name=\"{name}\").create(op.get_bind(), checkfirst=True)`")),
                );
            }
        }
        if op.keyword_guard || builds_on_fresh || paired(&events, here) {
            continue;
        }
        let head = call_head(cx, op);
        let mut message = format!(
            "`{head}` {}, so this migration breaks when it runs twice or two workers run it at once",
            failure(kind)
        );
        if let Some(by) = op.table_created_idempotently_by {
            message = format!(
                "`{head}` {}: `{}` earlier in this revision is skipped when the table exists, but this still runs",
                failure(kind),
                call_head(cx, &ops[by])
            );
        }
        let mut d = Diagnostic::new(RuleId::NonIdempotentDdl, message)
            .primary(op.callee_span, format!("not idempotent ({body})"))
            .help(op_help(cx, project, op));
        if kind == OpKind::CreateTable && pg {
            for e in &op.implicit_enums {
                let name = e.name.as_deref().unwrap_or("(named after the Python enum)");
                d = d.secondary(
                    e.span,
                    format!("also runs CREATE TYPE {name}: concurrent runs race on pg_type_typname_nsp_index"),
                );
            }
        }
        if let Some(n) = swallowed_note {
            d = d.note(n);
        }
        out.push(d);
    }
}
