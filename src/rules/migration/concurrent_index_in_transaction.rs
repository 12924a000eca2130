use super::{abbreviate, autocommit_bind, bodies, postgresql_applies, transaction_control};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::operation::OpKind;
use crate::parse::sql::{Action, Object};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct ConcurrentIndexInTransaction;

static META: RuleMeta = RuleMeta {
    id: RuleId::ConcurrentIndexInTransaction,
    category: Category::Migration,
    summary: "`CONCURRENTLY` index work outside `autocommit_block()`",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds `op.create_index(..., postgresql_concurrently=True)`,
`op.drop_index(..., postgresql_concurrently=True)` and raw `CREATE INDEX CONCURRENTLY`,
`DROP INDEX CONCURRENTLY` and `REINDEX … CONCURRENTLY` that are not inside
`with op.get_context().autocommit_block():`. Statements after an `op.execute("COMMIT")` in the
same body are not reported (until an `op.execute("BEGIN")`): that older idiom ends the
transaction by hand.

## Why is this bad?

Alembic runs `upgrade()` inside a transaction on PostgreSQL, and PostgreSQL refuses these
statements in a transaction block: `CREATE INDEX CONCURRENTLY cannot run inside a transaction
block` (ActiveSqlTransaction). The migration fails on every database, usually first in
production, where the index is big enough that someone chose `CONCURRENTLY`.
`REFRESH MATERIALIZED VIEW CONCURRENTLY` is allowed in a transaction and is not reported.

## Example

```python
def upgrade() -> None:
    op.create_index(
        "ix_events_created_at", "events", ["created_at"], postgresql_concurrently=True
    )
```

## How to fix

Run it outside the migration's transaction:

```python
def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_events_created_at", "events", ["created_at"],
            postgresql_concurrently=True, if_not_exists=True,
        )
```

A concurrent build that fails leaves an INVALID index behind, and `IF NOT EXISTS` then skips
it on the next run: where that matters, drop an invalid index of that name first (check
`pg_index.indisvalid`).
"#,
};

const WHY: &str = "PostgreSQL refuses it inside a transaction block, and Alembic runs upgrade() in one (ActiveSqlTransaction)";
const HELP: &str = "wrap it in `with op.get_context().autocommit_block():` so it runs outside the migration's transaction";

impl Rule for ConcurrentIndexInTransaction {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for project in cx.projects {
            for m in project.migrations() {
                // The revision opens its own `isolation_level="AUTOCOMMIT"` connection for
                // this work (`bind.engine.connect().execution_options(...)`).
                if autocommit_bind(&cx.db.get(m.file).text).is_some() {
                    continue;
                }
                for (body, ops) in bodies(cx, m) {
                    // `op.execute("COMMIT")` ends Alembic's transaction; the driver does not
                    // notice, so what follows runs outside a transaction block (an old idiom
                    // that predates autocommit_block()).
                    let mut committed = false;
                    for op in ops {
                        // The last transaction-control statement in this call decides.
                        let control = op
                            .sql
                            .iter()
                            .flat_map(|t| {
                                t.statements.iter().map(move |st| &t.text[st.start..st.end])
                            })
                            .filter_map(transaction_control)
                            .next_back();
                        if let Some(ended) = control {
                            committed = ended;
                            continue;
                        }
                        if committed
                            || op.context.autocommit.is_some()
                            || !postgresql_applies(project, m, op)
                        {
                            continue;
                        }
                        if matches!(op.kind, OpKind::CreateIndex | OpKind::DropIndex)
                            && op.concurrently
                        {
                            out.push(
                                Diagnostic::new(
                                    RuleId::ConcurrentIndexInTransaction,
                                    format!(
                                        "`op.{}(..., postgresql_concurrently=True)` runs outside `autocommit_block()`: {WHY}",
                                        op.method
                                    ),
                                )
                                .primary(op.callee_span, format!("in the migration's transaction ({body})"))
                                .help(HELP),
                            );
                        }
                        for text in &op.sql {
                            for st in &text.statements {
                                let hit = st.facts.iter().any(|f| {
                                    f.concurrently
                                        && matches!(
                                            f.action,
                                            Action::Create(Object::Index)
                                                | Action::Drop(Object::Index)
                                                | Action::Reindex
                                        )
                                });
                                if hit {
                                    out.push(
                                        Diagnostic::new(
                                            RuleId::ConcurrentIndexInTransaction,
                                            format!(
                                                "`{}` runs outside `autocommit_block()`: {WHY}",
                                                abbreviate(&text.statement_text(st), 90)
                                            ),
                                        )
                                        .primary(
                                            text.statement_span(st),
                                            format!("in the migration's transaction ({body})"),
                                        )
                                        .help(HELP),
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
