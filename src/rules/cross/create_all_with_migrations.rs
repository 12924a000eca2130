use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::empty_database_check;
use crate::parse::python::app::{self as pyapp, EffectKind, PyFacts};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::{FileId, Span};

pub struct CreateAllWithMigrations;

static META: RuleMeta = RuleMeta {
    id: RuleId::CreateAllWithMigrations,
    category: Category::Cross,
    summary: "Application code calls `metadata.create_all()` in a project that has migrations",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds `<Base>.metadata.create_all(...)` and Flask-SQLAlchemy `db.create_all()` outside tests
(`tests/`, `test_*.py`, `*_test.py`, `conftest.py`) in a repository with Alembic revisions,
including scripts left in the versions folder. A call inside an explicit "the database is
empty" branch (the bootstrap shape: `create_all()` then `stamp head`) is not reported, nor
one under a condition that names SQLite or a development, testing or debug setting
(`if settings.environment == "development":`).

## Why is this bad?

`create_all` creates every table the models describe, outside Alembic. The tables exist before
the migrations run; the next revision that creates one of them fails with "already exists",
and columns the models have but no revision added never get a migration.

## Example

```python
app = FastAPI()
Base.metadata.create_all(bind=engine)
```

## How to fix

Let migrations own the schema: remove the call and run `alembic upgrade head`. To bootstrap an
empty database, call `create_all` and `alembic stamp head` only inside an explicit check that
the database has no tables.
"#,
};

fn report(file: FileId, facts: &PyFacts, out: &mut Vec<Diagnostic>) {
    for e in &facts.effects {
        if e.kind != EffectKind::CreateAll {
            continue;
        }
        // The bootstrap shape, and a development-only database (SQLite, a dev/test setting).
        if e.guards.iter().any(|g| {
            let t = g.text.to_ascii_lowercase();
            empty_database_check(&g.text, g.negated)
                || (!g.negated
                    && ["sqlite", "development", "testing", "debug"]
                        .iter()
                        .any(|w| t.contains(w)))
        }) {
            continue;
        }
        out.push(
            Diagnostic::new(
                RuleId::CreateAllWithMigrations,
                "`create_all()` creates tables outside Alembic in a project that has migrations: the next revision that creates one fails with \"already exists\"",
            )
            .primary(Span::new(file, e.start, e.end), "creates the schema behind Alembic's back")
            .help("let migrations own the schema: remove the call and run `alembic upgrade head`; bootstrap an empty database only inside an explicit emptiness check, followed by `alembic stamp head`"),
        );
    }
}

impl Rule for CreateAllWithMigrations {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let has_revisions = cx
            .projects
            .iter()
            .any(|p| p.migrations().any(|m| m.id().is_some()));
        if !has_revisions {
            return;
        }
        for app in &cx.deploy.apps {
            report(app.file, &app.facts, out);
        }
        // Scripts that sit in a versions folder but are not revisions.
        for p in cx.projects {
            for m in p.migrations() {
                if m.id().is_some() {
                    continue;
                }
                let text = &cx.db.get(m.file).text;
                if pyapp::may_matter(text) {
                    report(m.file, &pyapp::read(text), out);
                }
            }
        }
    }
}
