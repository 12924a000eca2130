use super::{abbreviate, bare_table, bodies};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::operation::{OpKind, Operation, SqlText};
use crate::parse::sql::{Action, Object};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct VersionTableEdit;

static META: RuleMeta = RuleMeta {
    id: RuleId::VersionTableEdit,
    category: Category::Migration,
    summary: "A revision or script drops, truncates, deletes from or updates `alembic_version`",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds SQL that drops, truncates, deletes from, updates or renames Alembic's version table
(`alembic_version`, or the `version_table=` that `env.py` configures), and
`op.drop_table("alembic_version")`, in revisions and in the repository's Python, shell and
SQL scripts (test suites excepted: files under `tests/`, `test_*.py`, `*_test.py`,
`conftest.py` reset throwaway databases on purpose). Only SQL that is executed counts: a mention in a comment, a docstring or a log
message does not, and neither does `SELECT` or widening `version_num`
(`ALTER TABLE alembic_version ALTER COLUMN version_num TYPE VARCHAR(64)`). In scripts, these
shapes are not reported either: a script that creates the database it works on (`CREATE
DATABASE`, `createdb`: a self-check or a scratch reset), a command that refuses to run in
production before it gets there, and a `DROP` of the version table after the same function
dropped every model table (`metadata.drop_all(engine)`): schema and record are emptied
together and still agree. Nor is a dump of a whole schema (`mysqldump`, `pg_dump`) that
creates the version table again beside other tables: loading it replaces schema and record
together. Nor is the SQL `alembic upgrade --sql` writes (schema changes, and the version row
moved in Alembic's own words, `WHERE alembic_version.version_num = '…'`, or under its
`-- Running upgrade a -> b` markers): it moves schema and record together, as `alembic
upgrade` does. The same `UPDATE` with no schema change beside it is a stamp by hand, and is
reported.

## Why is this bad?

The version table is the database's only record of which revisions ran. "Recovery" scripts
that delete or rewrite it make the record disagree with the schema: the next `upgrade`
re-runs migrations whose tables already exist, or skips ones that never ran, and the damage
surfaces deploys later as duplicate-table errors or missing columns.

## Example

```python
def reset_migrations():
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        Base.metadata.create_all(conn)
```

## How to fix

Never edit the version table from automation. Fix the revision graph in the repository
(merge heads with `alembic merge heads`), and when a database really is out of step, inspect
it and run `alembic stamp <revision>` by hand, once.
"#,
};

fn verb(a: Action) -> Option<&'static str> {
    Some(match a {
        Action::Drop(Object::Table) => "drops",
        Action::Truncate => "truncates",
        Action::Delete => "deletes rows from",
        Action::Update => "rewrites rows of",
        Action::Rename(Object::Table) => "renames",
        _ => return None,
    })
}

fn check_sql(tables: &[String], text: &SqlText, who: &str, out: &mut Vec<Diagnostic>) {
    for st in &text.statements {
        for f in &st.facts {
            let Some(v) = verb(f.action) else {
                continue;
            };
            let t = bare_table(&f.name);
            if !tables.contains(&t) {
                continue;
            }
            out.push(edit(
                text.statement_span(st),
                format!(
                    "{who} {v} `{t}` (`{}`): Alembic's record of applied revisions drifts from the schema",
                    abbreviate(&text.statement_text(st), 70)
                ),
            ));
        }
    }
}

fn edit(span: Span, message: String) -> Diagnostic {
    Diagnostic::new(RuleId::VersionTableEdit, message)
        .primary(span, "edits the version table")
        .help("never edit the version table in automation: fix the revision graph in the repository, and if a database is really out of step, inspect it and run `alembic stamp <revision>` by hand")
}

fn check_ops(tables: &[String], ops: &[Operation], who: &str, out: &mut Vec<Diagnostic>) {
    for op in ops {
        if op.kind == OpKind::DropTable
            && op
                .table
                .as_deref()
                .is_some_and(|t| tables.contains(&bare_table(t)))
        {
            out.push(edit(
                op.callee_span,
                format!(
                    "{who} drops `{}`: Alembic's record of applied revisions drifts from the schema",
                    op.table.as_deref().unwrap_or_default()
                ),
            ));
        }
        for text in &op.sql {
            check_sql(tables, text, who, out);
        }
    }
}

impl Rule for VersionTableEdit {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let mut all_tables: Vec<String> = Vec::new();
        for project in cx.projects {
            let tables = vec![project.version_table.clone()];
            all_tables.extend(tables.iter().cloned());
            for m in project.migrations() {
                let who = if m.revision.is_some() {
                    "this revision"
                } else {
                    "this file"
                };
                for (_, ops) in bodies(cx, m) {
                    check_ops(&tables, ops, who, out);
                }
            }
            check_ops(&tables, &project.env_ops, "env.py", out);
        }
        if all_tables.is_empty() {
            all_tables.push("alembic_version".into());
        }
        all_tables.sort();
        all_tables.dedup();
        for s in cx.scripts {
            let mut found = Vec::new();
            check_ops(&all_tables, &s.ops, "this script", &mut found);
            for text in &s.sql {
                check_sql(&all_tables, text, "this script", &mut found);
            }
            let text = &cx.db.get(s.file).text;
            // A script that creates the database it works on (a self-check or a reset of a
            // scratch database) edits no database a deploy uses.
            if creates_its_database(text)
                || restores_a_dump(&all_tables, text)
                || offline_migration(&all_tables, text)
            {
                continue;
            }
            found.retain(|d| {
                d.main_span().is_none_or(|sp| {
                    !refuses_production(text, sp.start as usize)
                        && !drops_schema_first(text, sp.start as usize, sp.end as usize)
                })
            });
            out.extend(found);
        }
    }
}

/// Whether a script is a dump of a whole schema (`mysqldump`, `pg_dump`): it creates the
/// version table again, and other tables too. Loading it replaces the schema and its record
/// together, so they agree; rewriting the version table alone is still reported. (Read from
/// the text: MySQL's backquoted `CREATE TABLE` is not PostgreSQL's grammar.)
fn restores_a_dump(tables: &[String], text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let mut version = false;
    let mut other = false;
    for (i, w) in upper.match_indices("CREATE TABLE ") {
        let rest = upper[i + w.len()..].trim_start();
        let rest = rest
            .strip_prefix("IF NOT EXISTS ")
            .unwrap_or(rest)
            .trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '(')
            .collect();
        if tables.contains(&bare_table(&name)) {
            version = true;
        } else if !name.is_empty() {
            other = true;
        }
    }
    version && other
}

/// Whether a script is what `alembic upgrade --sql` (or `downgrade --sql`) writes: schema
/// changes, and the version row moved in Alembic's own words (`UPDATE alembic_version SET
/// version_num='b' WHERE alembic_version.version_num = 'a'`, with the column qualified), or
/// Alembic's `-- Running upgrade a -> b` markers. Running it moves the schema and its record
/// together, as `alembic upgrade` does.
fn offline_migration(tables: &[String], text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let flat = words.join(" ");
    let marker = text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("-- Running upgrade ") || l.starts_with("-- Running downgrade ")
    });
    let qualified = tables.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        flat.contains(&format!("where {t}.version_num = '"))
    });
    // Schema changes to some other table: the version row moves with them.
    let other_ddl = flat
        .match_indices("table ")
        .filter(|(i, _)| {
            let before = &flat[..*i];
            ["create ", "alter ", "drop "]
                .iter()
                .any(|v| before.ends_with(v))
        })
        .any(|(i, w)| {
            let rest = &flat[i + w.len()..];
            let rest = rest
                .strip_prefix("if not exists ")
                .or_else(|| rest.strip_prefix("if exists "))
                .unwrap_or(rest);
            let name: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '(' && *c != ';')
                .collect();
            !name.is_empty() && !tables.contains(&bare_table(&name))
        })
        || flat.contains("create index ")
        || flat.contains("create unique index ")
        || flat.contains("drop index ");
    (marker || qualified) && other_ddl
}

/// Whether a script runs `CREATE DATABASE` (or `createdb`): it makes the database it works on.
fn creates_its_database(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    upper.contains("CREATE DATABASE")
        || text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == "createdb")
}

/// Whether the version table is dropped (`DROP TABLE`) after the same function dropped every
/// table the models describe (`metadata.drop_all(engine)`, `db.drop_all()`): a "delete the
/// database" command that empties the schema and its record together, so they still agree.
fn drops_schema_first(text: &str, start: usize, end: usize) -> bool {
    let statement = text.get(start..end).unwrap_or("").to_ascii_uppercase();
    if !statement.contains("DROP") {
        return false;
    }
    let before = &text[..start.min(text.len())];
    let Some(def) = before.rfind("def ") else {
        return false;
    };
    before[def..].contains(".drop_all(")
}

/// Whether the function around `at` refuses to run in production before it gets there (a
/// dev-only `db drop` command: `if config == ProductionConfig: ... return`).
fn refuses_production(text: &str, at: usize) -> bool {
    let before = &text[..at.min(text.len())];
    let Some(def) = before.rfind("def ") else {
        return false;
    };
    let body = before[def..].to_ascii_lowercase();
    let mut lines = body.lines().map(str::trim_start);
    lines.any(|l| l.starts_with("if ") && l.contains("production"))
        && lines.any(|l| {
            [
                "return",
                "abort(",
                "exit(",
                "sys.exit(",
                "raise ",
                "ctx.exit(",
            ]
            .iter()
            .any(|w| l.starts_with(w))
        })
}
