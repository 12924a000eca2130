use std::collections::BTreeSet;

use super::{
    abbreviate, autocommit_bind, bare_table, bodies, postgresql_applies, source,
    transaction_control,
};
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::RevisionGraph;
use crate::model::command::{CommandKind, Target};
use crate::model::dialect::{Dialect, Evidence as DialectEvidence};
use crate::model::migration::Migration;
use crate::model::operation::{OpKind, Operation};
use crate::model::pin::Version;
use crate::model::project::Project;
use crate::parse::sql::{Action, Object, SqlFact};
use crate::rules::{Category, Context, RevisionScope, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct NonIdempotentDdl;

static META: RuleMeta = RuleMeta {
    id: RuleId::NonIdempotentDdl,
    category: Category::Migration,
    summary: "DDL that fails when run again, where a revision can run again or stop half-way",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds schema changes in `upgrade()` that fail when the object already exists (or is already
gone), **in a project where that can happen**: `op.create_table`, `create_index`,
`add_column`, `create_unique_constraint`, `create_foreign_key` without `if_not_exists=True` or
an existence guard; `op.drop_table`, `drop_index`, `drop_column` without `if_exists=True` or a
guard; and raw SQL without `IF NOT EXISTS` / `IF EXISTS` / `OR REPLACE` (`CREATE TABLE`,
`CREATE INDEX`, `ALTER TABLE … ADD COLUMN`, `CREATE TYPE … AS ENUM` outside a guarded `DO`
block, `ALTER TYPE … ADD VALUE`, …, read with PostgreSQL's own parser).

On PostgreSQL and SQL Server, Alembic runs each revision in a transaction and DDL is
transactional: a revision that fails rolls back whole, and running it again is safe. Two
deploys migrating at once do not change that: the second one blocks, then fails. So a bare
`op.create_table` is reported only with **evidence**, shown as a related label:

- **the database does not roll DDL back**: MySQL, MariaDB and Oracle commit each DDL
  statement; SQLite as Alembic drives it (`transactional_ddl = False`) unless `env.py` follows
  SQLAlchemy's recipe (`transactional_ddl=True` and a `BEGIN` sent on the begin event). The
  database is read from, in this order, the first source that names one deciding:
  1. the URL the migrations read: `sqlalchemy.url` in the Alembic config (unless `env.py`
     replaces it: `set_main_option("sqlalchemy.url", …)`, `create_engine(settings.…)`, or a
     connection the application passes in, `config.attributes.get("connection")`, which
     leaves the ini URL to the developers' command line), and URL literals in `env.py`;
  2. the deploy configuration: URLs in compose and `.env` files, and the image of a compose
     database service (`mysql:8`, `mariadb`, `postgres`); test and CI compose files, and
     those in documentation or example folders, are skipped;
  3. the driver in `pyproject.toml`, `setup.py` or `requirements*.txt` (`pymysql`,
     `mysqlclient`, `psycopg2`, `asyncpg`, …).

  Alembic's placeholder `driver://…` names nothing, and sources of one rank that disagree
  (a project that supports MySQL and PostgreSQL) decide nothing: no finding.
  On SQLite, an `add_column` in a `batch_alter_table` block that Alembic runs by rebuilding
  the table (`recreate="always"`, or an operation SQLite's `ALTER TABLE` cannot do, such as
  `alter_column`, or a server default that is a SQL expression) is not reported: the rebuilt
  table's columns are a mapping by name, so a column that exists is replaced, not added twice.
  `revlint check -v` prints the database and the evidence that decided it;
- **the DDL runs outside a transaction**: inside `autocommit_block()`, after
  `op.execute("COMMIT")`, or on a connection with `isolation_level="AUTOCOMMIT"` (in the
  revision or in `env.py`);
- **an applied revision runs again**: a deploy or release script `stamp`s the database back to
  an older revision (outside an empty-database bootstrap), so the next `upgrade` re-runs every
  revision after it;
- **the team asks for it**: `require-idempotent-ddl = true` in the settings, for teams that
  decided every migration must be re-runnable.

**Which revisions.** A revision that already ran in production cannot be fixed by editing
it, so only revisions that have not run yet are judged:

- with `--diff-base REF`: the revision files added since the merge base with REF;
- otherwise, in git, on a branch other than the default branch (`origin/HEAD`, else `main`,
  else `master`): the revision files the branch adds since its merge base, when it adds some
  to the project;
- otherwise (on the default branch, outside git, in a shallow clone without the merge base,
  or a branch that adds no revision to this project): the newest revision of each head, which
  is what the next deploy applies. A head that merges branches brings each branch's newest
  revision with it. A head made more than a year before the repository's newest revision, in
  any of its environments, is left out here: the repository has shipped revisions since, so
  every deploy since has applied it. A revision's date is its docstring's `Create Date:`, or
  the date its file name starts with (`2024_08_21_…`, from a dated `file_template`); a
  revision without either is judged.

On a database that does not roll DDL back, the last statement of `upgrade()` is not
reported, and so a revision that is one statement (one `add_column`, one `drop_index`) is not
either: if it fails, it did nothing, and the next run does it again. It is the statements
before it that a failure leaves applied. The last statement is the one after which the
function does nothing more, looking into a final `with` block; an operation in a final loop,
`if` or `try` is not last, nor is a call that sends several statements (`op.create_table` with
an `index=True` column or an `Index(…)`, which Alembic creates after the table; `op.add_column`
of a column with a foreign key, `unique=True` or an index). On SQLite a batch block that
rebuilds the table applies all its operations at once, in one table copy: when the block
ends `upgrade()`, none of its operations is reported. A batch block SQLite does not rebuild
(`add_column` alone) runs each operation as one `ALTER TABLE`, so its last one is the last
statement like any other.
A stamp back, an autocommit bind or the team's setting still judge it.

In every case but `--all-revisions`, the single base of a project (its first revision, the
initial schema) is left out: it runs only into an empty database, and when it stops
half-way the empty database is made again, with nothing lost. A second base, a branch added
to a project in use, is judged like any revision.

A stamp back is the exception: the revisions it makes run again are old by definition, and
are judged. `--all-revisions` judges every revision, for an audit; the summary says how many
revisions were left out.

Calls from `upgrade()` to functions defined in the same file are followed one level deep.
An operation inside an `if` that checks existence (`inspector.has_table`, `get_columns`,
`get_indexes`, a variable holding such a result, a helper in the same file whose body asks
the inspector or a catalog, a query on `information_schema`, `pg_catalog` or `to_regclass`),
or after an early `return` under such a check, is idempotent. A `try`/`except` around the DDL
is a guard where it can work: outside a transaction (the databases above, `autocommit_block()`)
or inside `begin_nested()`; on PostgreSQL otherwise the failed statement aborts the
transaction. A `create_unique_constraint(None, …)` or `create_foreign_key(None, …)` is not reported: the
database names an unnamed constraint itself, a new name each time, so a second run adds a
duplicate rather than failing (except on Oracle, which refuses a second unique constraint on
the same columns). An index, column or constraint on a table created by an unguarded `create_table`
earlier in the same revision is reported once, at the `create_table`.

## Why is this bad?

Where DDL is not rolled back, a revision that fails half-way (a bad statement, a lost
connection, a killed deploy) leaves its first statements applied and `alembic_version`
unchanged. The next deploy runs the revision again from the top, and it fails on the first
statement that already ran ("Table 'orders' already exists", "Duplicate column name"): the
database is stuck until someone repairs it by hand.

## Example

```python
# alembic.ini: sqlalchemy.url = mysql+pymysql://shop@db/shop
def upgrade() -> None:
    op.add_column("customers", sa.Column("loyalty_tier", sa.String(20)))
    op.create_index("ix_customers_loyalty_tier", "customers", ["loyalty_tier"])
```

If the index fails (a duplicate name, a timeout), the column stays, and every later
`alembic upgrade head` fails on `add_column`.

## How to fix

Make each operation a no-op when its work is already done: `if_not_exists=True` /
`if_exists=True` where the project's Alembic and database have them (tables 1.13.3, indexes
1.11.2, columns 1.16.0; MySQL has no `IF NOT EXISTS` for indexes or columns, SQLite none for
columns), otherwise an inspector guard; `IF NOT EXISTS`, `IF EXISTS`, `OR REPLACE` in SQL. On a
database that rolls DDL back, keep the DDL inside the migration's transaction instead. Deploy
so that migrations run once, from one process.
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

/// Whether the database accepts the SQL that Alembic's `if_exists`/`if_not_exists` emit for
/// an operation: MySQL has no `CREATE INDEX IF NOT EXISTS`, `DROP INDEX IF EXISTS` or
/// column forms (MariaDB has them all); SQLite has no column forms; Oracle before 23 none.
fn keyword_supported(d: Dialect, kind: OpKind) -> bool {
    match d {
        Dialect::Mysql => matches!(kind, OpKind::CreateTable | OpKind::DropTable),
        Dialect::Sqlite => !matches!(kind, OpKind::AddColumn | OpKind::DropColumn),
        Dialect::Oracle => false,
        Dialect::Postgresql | Dialect::Mariadb | Dialect::Mssql => true,
    }
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
        OpKind::CreateTable => "fails if the table exists",
        OpKind::DropTable => "fails if the table is gone",
        OpKind::CreateIndex => "fails if the index exists",
        OpKind::DropIndex => "fails if the index is gone",
        OpKind::AddColumn => "fails if the column exists",
        OpKind::DropColumn => "fails if the column is gone",
        OpKind::CreateUniqueConstraint | OpKind::CreateForeignKey => {
            "fails if the constraint exists"
        }
        _ => "fails when re-run",
    }
}

/// The help for an `op.*` call: the keyword when the pinned Alembic has it, a guard otherwise.
fn op_help(cx: &Context, project: &Project, dialect: Option<Dialect>, op: &Operation) -> String {
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
    if let Some(d) = dialect.filter(|&d| !keyword_supported(d, op.kind)) {
        return format!(
            "{guard_form} ({} has no `{}` for this, so `{kw}=True` would fail)",
            d.name(),
            if kw == "if_exists" {
                "IF EXISTS"
            } else {
                "IF NOT EXISTS"
            }
        );
    }
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
        Action::Create(Object::Other | Object::Type | Object::Domain) => return None,
        Action::Create(_) | Action::CreateExtension => "fails if it exists",
        Action::CreateEnumType => "fails if the type exists",
        Action::Drop(_) => "fails if it is gone",
        Action::AddColumn => "fails if the column exists",
        Action::DropColumn => "fails if the column is gone",
        Action::DropConstraint => "fails if the constraint is gone",
        Action::AddEnumValue => "fails if the value exists",
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

/// Whether an operation sends one statement to the database. `op.create_table` also sends a
/// `CREATE INDEX` for each `index=True` column and `Index(…)`; `op.add_column` also sends the
/// column's foreign key, unique constraint and index as statements of their own.
fn one_statement(cx: &Context, op: &Operation) -> bool {
    if op.context.autocommit.is_some() {
        return false;
    }
    if op.kind == OpKind::Sql {
        return op.sql.iter().map(|t| t.statements.len()).sum::<usize>() <= 1;
    }
    let call = source(cx, op.span);
    let several = |words: &[&str]| words.iter().any(|w| call.contains(w));
    match op.kind {
        OpKind::CreateTable => !several(&["index=True", "Index("]),
        OpKind::AddColumn => !several(&["index=True", "Index(", "ForeignKey(", "unique=True"]),
        _ => true,
    }
}

/// Whether `upgrade()` does exactly one thing: one operation of one SQL statement at most,
/// with nothing but comments, `pass` or a docstring after it in the function.
fn single_statement(cx: &Context, m: &Migration) -> bool {
    let [op] = m.upgrade_ops.as_slice() else {
        return false;
    };
    if !one_statement(cx, op) {
        return false;
    }
    let first = m.upgrade.as_ref().and_then(|b| b.first_operation);
    if first.is_none_or(|f| f.start != op.span.start) {
        return false;
    }
    last_in_function(m.upgrade.as_ref(), op)
}

/// Whether an operation is the function's last statement: nothing runs after it (a final
/// `with` block is looked into; an operation in a final loop, `if` or `try` is not last).
fn last_in_function(body: Option<&crate::model::migration::Body>, op: &Operation) -> bool {
    body.and_then(|b| b.last_operation)
        .is_some_and(|l| l.start == op.span.start && l.end == op.span.end)
}

/// The revisions judged: the pending ones, less the single base of a project. The base
/// creates the first schema in an empty database: if it stops half-way, the empty database
/// is made again and nothing is lost. (A second base, a branch added later, runs against a
/// database in use.) `--all-revisions` and the team's setting judge the base too.
fn judged_revisions(
    cx: &Context,
    project: &Project,
    graph: Option<&RevisionGraph>,
    newest: Option<chrono::NaiveDate>,
) -> BTreeSet<crate::source::FileId> {
    let mut scope = super::pending_revisions(cx, project, graph);
    // A head the repository has long moved past: it has been applied by every deploy since.
    if let Some(newest) = newest.filter(|_| super::judges_heads(cx, project)) {
        let cutoff = newest - chrono::Days::new(SUPERSEDED_AFTER_DAYS);
        for m in project.migrations() {
            if scope.contains(&m.file) && super::created_on(cx, m).is_some_and(|d| d < cutoff) {
                scope.remove(&m.file);
            }
        }
    }
    if let Some(g) = graph.filter(|g| {
        g.bases.len() == 1
            && cx.options.revision_scope != RevisionScope::All
            && cx.options.require_idempotent_ddl.is_none()
    }) {
        let base = g.nodes[g.bases[0]].migration;
        if base.depends_on.is_empty() && !base.parents_unknown() {
            scope.remove(&base.file);
        }
    }
    scope
}

/// How much older than the repository's newest revision a head may be and still be judged.
const SUPERSEDED_AFTER_DAYS: u64 = 365;

/// The newest creation date of any revision the run loaded, in every project.
fn newest_revision(cx: &Context) -> Option<chrono::NaiveDate> {
    cx.projects
        .iter()
        .flat_map(|p| p.migrations())
        .filter_map(|m| super::created_on(cx, m))
        .max()
}

impl Rule for NonIdempotentDdl {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let newest = newest_revision(cx);
        for (pi, project) in cx.projects.iter().enumerate() {
            let graph = cx.graphs.get(pi);
            let stamps = graph.map(|g| stamp_backs(cx, g)).unwrap_or_default();
            let scope = judged_revisions(cx, project, graph, newest);
            let env_bind = project
                .env_file
                .and_then(|f| autocommit_bind(&cx.db.get(f).text).map(|(s, e)| Span::new(f, s, e)));
            for m in project.migrations() {
                let stamp = m
                    .id()
                    .and_then(|id| stamps.iter().find(|(ids, _, _)| ids.contains(id)));
                if !scope.contains(&m.file) && stamp.is_none() {
                    continue;
                }
                let bind = autocommit_bind(&cx.db.get(m.file).text)
                    .map(|(s, e)| Span::new(m.file, s, e))
                    .or(env_bind);
                let ev = RevisionEvidence {
                    dialect: project.dialect_facts.non_transactional(),
                    bind,
                    stamp: stamp.map(|(_, span, target)| (*span, target.as_str())),
                    opt_in: cx.options.require_idempotent_ddl.as_deref(),
                };
                // On a database that does not roll DDL back, the hazard is a revision that
                // stops half-way. One statement alone cannot: it fails whole, and the next
                // run does it again. (A stamp back, an autocommit bind and the team's setting
                // still judge it.)
                if ev.stamp.is_none()
                    && ev.bind.is_none()
                    && ev.opt_in.is_none()
                    && single_statement(cx, m)
                {
                    continue;
                }
                for (body, ops) in bodies(cx, m) {
                    check_body(cx, project, m, body, ops, &ev, out);
                }
            }
        }
    }
}

/// Whether any project could have a finding: evidence of a re-run that does not depend on
/// single operations (a non-transactional database, the team's setting), or an operation
/// outside a transaction. When none has, which revisions are new does not matter.
pub fn may_judge(projects: &[Project], options: &crate::rules::RuleOptions) -> bool {
    options.require_idempotent_ddl.is_some()
        || projects.iter().any(|p| {
            p.dialect_facts.non_transactional().is_some()
                || p.migrations().any(|m| {
                    m.upgrade_ops.iter().any(|op| {
                        op.context.autocommit.is_some()
                            || op
                                .sql
                                .iter()
                                .any(|t| t.text.to_ascii_uppercase().contains("COMMIT"))
                    })
                })
        })
}

/// How many revisions were left out as already deployed, in projects whose evidence
/// (database, setting) would have judged them.
pub fn revisions_not_judged(cx: &Context) -> usize {
    if cx.options.revision_scope == RevisionScope::All {
        return 0;
    }
    let newest = newest_revision(cx);
    cx.projects
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.dialect_facts.non_transactional().is_some()
                || cx.options.require_idempotent_ddl.is_some()
        })
        .map(|(i, p)| {
            let judged = judged_revisions(cx, p, cx.graphs.get(i), newest);
            p.migrations().filter(|m| !judged.contains(&m.file)).count()
        })
        .sum()
}

/// Deploy surfaces that stamp the database back to an earlier revision, outside an
/// empty-database bootstrap: the revisions the next `upgrade` runs again (ids), the stamp's
/// span, and its target as written.
fn stamp_backs(cx: &Context, g: &RevisionGraph) -> Vec<(BTreeSet<String>, Span, String)> {
    let mut out = Vec::new();
    for s in cx.deploy.deploy_surfaces() {
        for run in &s.runs {
            let CommandKind::Stamp {
                target: Target::Revision(t),
            } = &run.kind
            else {
                continue;
            };
            if run.in_empty_database_guard() {
                continue;
            }
            let again: BTreeSet<String> = if t == "base" {
                g.nodes.iter().map(|n| n.id.clone()).collect()
            } else if let Some(&ix) = g.by_id.get(t) {
                g.descendants(ix)
                    .into_iter()
                    .filter(|&d| d != ix)
                    .map(|d| g.nodes[d].id.clone())
                    .collect()
            } else {
                continue;
            };
            if !again.is_empty() {
                out.push((again, run.target.unwrap_or(run.span), t.clone()));
            }
        }
    }
    out
}

/// Why a revision's DDL may run a second time or stop half-way, revision-wide.
struct RevisionEvidence<'a> {
    dialect: Option<&'a DialectEvidence>,
    bind: Option<Span>,
    stamp: Option<(Span, &'a str)>,
    opt_in: Option<&'a std::path::Path>,
}

/// The evidence for one statement, strongest first.
enum Why<'a> {
    Autocommit(Span),
    Committed(Span),
    Bind(Span),
    Dialect(&'a DialectEvidence),
    Stamp(Span, &'a str),
    OptIn(&'a std::path::Path),
}

impl Why<'_> {
    /// Whether the statement runs outside a transaction, where catching its error works.
    fn untransacted(&self) -> bool {
        matches!(
            self,
            Why::Autocommit(_) | Why::Committed(_) | Why::Bind(_) | Why::Dialect(_)
        )
    }

    /// The end of the message.
    fn clause(&self) -> String {
        match self {
            Why::Autocommit(_) | Why::Committed(_) | Why::Bind(_) => {
                "and it runs outside a transaction".to_string()
            }
            Why::Dialect(e) => format!(
                "and {} does not roll back a failed revision",
                e.dialect.name()
            ),
            Why::Stamp(..) => "and a deploy stamps back so it runs again".to_string(),
            Why::OptIn(_) => "and the settings require re-runnable migrations".to_string(),
        }
    }

    fn apply(&self, d: Diagnostic) -> Diagnostic {
        match self {
            Why::Autocommit(s) => d.secondary(*s, "no transaction here: each statement commits at once, and a failure leaves the earlier ones applied"),
            Why::Committed(s) => d.secondary(*s, "ends the migration's transaction: what follows commits statement by statement"),
            Why::Bind(s) => d.secondary(*s, "AUTOCOMMIT: no transaction, so a failure leaves the earlier statements applied"),
            Why::Dialect(e) => {
                let how = if e.dialect == Dialect::Sqlite {
                    "Alembic runs SQLite DDL without a transaction"
                } else {
                    "commits each DDL statement"
                };
                let name = if e.dialect == Dialect::Sqlite { "" } else { e.dialect.name() };
                let fact = format!("{name} {how}");
                d.secondary(e.span, format!("{}: {}, so a half-applied revision fails here when it runs again", e.what, fact.trim_start()))
            }
            Why::Stamp(s, t) => d.secondary(*s, format!("stamps the database back to `{t}`: the next upgrade runs this revision again")),
            Why::OptIn(p) => d.note(format!(
                "`require-idempotent-ddl = true` in {} asks for re-runnable migrations",
                p.file_name().map_or(p.display().to_string(), |n| n.to_string_lossy().into_owned())
            )),
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

#[allow(clippy::too_many_arguments)]
fn check_body(
    cx: &Context,
    project: &Project,
    m: &Migration,
    body: &str,
    ops: &[Operation],
    ev: &RevisionEvidence,
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
    let dialect = ev.dialect.map(|e| e.dialect);
    let function = if body == "upgrade" {
        m.upgrade.as_ref()
    } else {
        m.downgrade.as_ref()
    };
    // The batch block the function ends with, if its last statement is in one.
    let final_batch = ops
        .iter()
        .find(|o| last_in_function(function, o))
        .and_then(|o| o.context.batch.as_deref());
    let mut at = 0;
    // Tables created by an unguarded statement earlier in this body: what is built on them is
    // part of the same finding.
    let mut fresh: Vec<String> = Vec::new();
    // An `op.execute("COMMIT")` earlier in this body: what follows has no transaction.
    let mut committed: Option<Span> = None;
    for op in ops {
        // Why this statement may run twice or stop half-way; without a reason, no finding.
        let why = op
            .context
            .autocommit
            .map(|(s, e)| Why::Autocommit(Span::new(m.file, s, e)))
            .or(committed.map(Why::Committed))
            .or(ev.bind.map(Why::Bind))
            .or(ev.dialect.map(Why::Dialect))
            .or(ev.stamp.map(|(s, t)| Why::Stamp(s, t)))
            .or(ev.opt_in.map(Why::OptIn));
        // A swallowed error is a working guard where there is no transaction to abort, or
        // inside a savepoint; on PostgreSQL otherwise it only hides the failure.
        // On a database that does not roll DDL back, the function's last statement is not
        // left behind by a failed run: if it fails, it did nothing, and the next run does it
        // again (it is the statements before it that are left applied). A batch block SQLite
        // does not rebuild (`add_column` alone, under `recreate="auto"`) runs each operation
        // as a plain `ALTER TABLE`, one statement.
        let last = matches!(why, Some(Why::Dialect(_)))
            && if dialect == Some(Dialect::Sqlite) && op.batch_rebuilds_on_sqlite {
                // SQLite applies every operation of a rebuilding batch block at once, in the
                // one table copy at the block's end: when that block ends the function, the
                // whole block is its last statement.
                final_batch.is_some_and(|b| op.context.batch.as_deref() == Some(b))
            } else {
                one_statement(cx, op) && last_in_function(function, op)
            };
        let caught = op.context.swallowed.is_some()
            && (op.context.savepoint || why.as_ref().is_some_and(Why::untransacted));
        let swallowed_note = op.context.swallowed.filter(|_| !op.context.savepoint && !caught).map(|_| {
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
                        if !applies || on_fresh || last || paired(&events, here) {
                            continue;
                        }
                        if let Some(why) = sql_hazard(f) {
                            hazards.push((f, why));
                        }
                    }
                    let statement = text.statement_text(st);
                    match transaction_control(&statement) {
                        Some(true) => committed = Some(text.statement_span(st)),
                        Some(false) => committed = None,
                        None => {}
                    }
                    let (Some(&(f, what)), Some(why)) = (hazards.first(), why.as_ref()) else {
                        continue;
                    };
                    if caught {
                        continue;
                    }
                    let shown = abbreviate(&statement, 60);
                    let more = if hazards.len() > 1 {
                        format!(" (and {} more)", hazards.len() - 1)
                    } else {
                        String::new()
                    };
                    let mut message = format!("`{shown}` {what}{more}, {}", why.clause());
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
                                abbreviate(&statement, 100)
                            )
                        }
                        Some(fix) => format!("use `{}`", abbreviate(&text.humanize(fix), 140)),
                        None if f.action == Action::Create(Object::Index) => "name the index and use `CREATE INDEX IF NOT EXISTS <name> ON …` (IF NOT EXISTS needs an index name)".to_string(),
                        None => "guard it with an existence check".to_string(),
                    };
                    let mut d = Diagnostic::new(RuleId::NonIdempotentDdl, message)
                        .primary(text.statement_span(st), format!("not idempotent ({body})"))
                        .help(help);
                    d = why.apply(d);
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
        let Some(why) = why else {
            continue;
        };
        if op.guarded() || caught {
            continue;
        }
        let pg = postgresql_applies(project, m, op);
        if kind == OpKind::CreateTable && op.keyword_guard && pg {
            // The table is guarded; the types its enum columns create are not.
            for e in &op.implicit_enums {
                let name = e.name.as_deref().unwrap_or("(named after the Python enum)");
                let d = Diagnostic::new(
                    RuleId::NonIdempotentDdl,
                    format!("`{}` also runs `CREATE TYPE {name}`, which `if_not_exists=True` does not cover, {}", call_head(cx, op), why.clause()),
                )
                .primary(e.span, format!("creates PostgreSQL type {name} ({body})"))
                .help(format!("declare the column with `postgresql.ENUM(..., name=\"{name}\", create_type=False)` and create the type first: `postgresql.ENUM(..., name=\"{name}\").create(op.get_bind(), checkfirst=True)`"));
                out.push(why.apply(d));
            }
        }
        // A constraint created with no name (`None`) gets one from the database, a new one
        // each time: a re-run adds a second constraint instead of failing. (Oracle alone
        // refuses a second unique constraint on the same columns.)
        let unnamed = matches!(
            kind,
            OpKind::CreateUniqueConstraint | OpKind::CreateForeignKey
        ) && op.first_arg.is_some_and(|a| source(cx, a) == "None")
            && dialect != Some(Dialect::Oracle);
        if op.keyword_guard || builds_on_fresh || last || unnamed || paired(&events, here) {
            continue;
        }
        // SQLite rebuilds the table for this batch block: the new table's columns are a
        // mapping by name, so adding a column that exists replaces it instead of failing.
        if kind == OpKind::AddColumn
            && dialect == Some(Dialect::Sqlite)
            && op.batch_rebuilds_on_sqlite
        {
            continue;
        }
        let head = call_head(cx, op);
        let mut message = format!("`{head}` {}, {}", failure(kind), why.clause());
        if let Some(by) = op.table_created_idempotently_by {
            message = format!(
                "`{head}` {}: the `if_not_exists` `{}` before it does not cover it, {}",
                failure(kind),
                call_head(cx, &ops[by]),
                why.clause()
            );
        }
        let mut d = Diagnostic::new(RuleId::NonIdempotentDdl, message)
            .primary(op.callee_span, format!("not idempotent ({body})"))
            .help(op_help(cx, project, dialect, op));
        if kind == OpKind::CreateTable && pg {
            for e in &op.implicit_enums {
                let name = e.name.as_deref().unwrap_or("(named after the Python enum)");
                d = d.secondary(
                    e.span,
                    format!("also runs CREATE TYPE {name}: concurrent runs race on pg_type_typname_nsp_index"),
                );
            }
        }
        d = why.apply(d);
        if let Some(n) = swallowed_note {
            d = d.note(n);
        }
        out.push(d);
    }
}
