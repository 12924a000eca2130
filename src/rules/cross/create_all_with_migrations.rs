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
(`tests/`, `tests.py`, `test_*.py`, `*_test.py`, `conftest.py`) in a repository with Alembic
revisions, including scripts left in the versions folder. Not reported:

- a call inside an explicit "the database is empty" branch, or followed in the same function
  by a `stamp`, directly or through a helper of the same file (Alembic's cookbook bootstrap
  of a fresh database: `create_all()` then `command.stamp(cfg, "head")`);
- a call after an `upgrade` in the same function (the migrations made every table first);
- a call on a metadata the file makes itself (`class Base(DeclarativeBase)`,
  `metadata = MetaData()`) in a module no `env.py` imports: a separate database or a scratch
  table, not the schema the migrations own;
- a call under a condition that names SQLite or a development, testing or debug setting
  (`if settings.environment == "development":`, `== "dev"`), or in a function whose docstring
  or comments say it is for tests or development only.

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

/// What the rule knows beside the call: the file's text and display path, and the text of
/// every `env.py`.
struct Around<'a> {
    text: &'a str,
    display: &'a str,
    env_texts: &'a [&'a str],
    /// `text` without whitespace, made once per file when first needed.
    compact: std::cell::OnceCell<String>,
}

/// What a function's docstring or comments say when it is not for production.
const DEV_ONLY: [&str; 8] = [
    "only for test",
    "used only for tests",
    "for testing only",
    "testing only",
    "development only",
    "dev only",
    "only for development",
    "only in development",
];

/// The first name of the receiver: `Base` in `Base.metadata.create_all`.
fn receiver_root(call: &str) -> &str {
    call.split('.').next().unwrap_or("").trim()
}

/// Whether `name` is a metadata this file makes itself (`class Base(DeclarativeBase)`,
/// `Base = declarative_base()`, `metadata = MetaData()`), and no `env.py` imports this module:
/// a separate database's schema (an undo log, an account store, a scratch table), not the one
/// the migrations own.
fn separate_metadata(name: &str, a: &Around) -> bool {
    if name.is_empty() || name == "db" {
        return false;
    }
    let compact = a
        .compact
        .get_or_init(|| a.text.chars().filter(|c| !c.is_whitespace()).collect());
    let defined = compact.contains(&format!("class{name}("))
        || ["declarative_base(", "MetaData(", "registry("]
            .iter()
            .any(|f| {
                compact.contains(&format!("{name}={f}"))
                    || compact.contains(&format!("{name}=sa.{f}"))
                    || compact.contains(&format!("{name}=sqlalchemy.{f}"))
            });
    if !defined {
        return false;
    }
    // `careagents/models.py` is imported as `careagents.models` (or from its package).
    let module: Vec<&str> = a
        .display
        .trim_end_matches(".py")
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "src")
        .collect();
    let Some(stem) = module.last() else {
        return false;
    };
    // A module in a package is named by its package too: `careagents.models` is not the
    // `models` that `from models import db` imports.
    let imported = |env: &str| match module.len() {
        1 => env.contains(&format!("import {stem}")) || env.contains(&format!("from {stem} ")),
        n => {
            let parent = module[n - 2];
            env.contains(&format!("{parent}.{stem}"))
                || env.contains(&format!("from {parent} import {stem}"))
                || env.contains(&format!("from .{stem} "))
        }
    };
    !a.env_texts.iter().any(|env| imported(env))
}

fn report(file: FileId, facts: &PyFacts, a: &Around, out: &mut Vec<Diagnostic>) {
    for e in &facts.effects {
        if e.kind != EffectKind::CreateAll {
            continue;
        }
        // In the same function (or both at module level, a setup script): an upgrade before
        // it (the tables exist, `create_all` adds nothing), or a stamp after it (the cookbook
        // bootstrap of a fresh database: `create_all()` then `stamp head`).
        let same_function = |k: fn(&EffectKind) -> bool, after: bool| {
            facts.effects.iter().any(|o| {
                o.function == e.function
                    && k(&o.kind)
                    && if after {
                        o.start > e.end
                    } else {
                        o.end < e.start
                    }
            })
        };
        // The stamp may sit in a helper of the same file (`version_schema()` that calls
        // `command.stamp`), called from the function that creates the tables.
        let stamps_through_helper = e.function.is_some_and(|f| {
            facts.functions[f].refs.iter().any(|name| {
                facts.function(name).is_some_and(|h| {
                    h != f
                        && facts.effects.iter().any(|o| {
                            o.function == Some(h) && matches!(o.kind, EffectKind::Stamp { .. })
                        })
                })
            })
        });
        if same_function(|k| matches!(k, EffectKind::Upgrade { .. }), false)
            || same_function(|k| matches!(k, EffectKind::Stamp { .. }), true)
            || stamps_through_helper
        {
            continue;
        }
        if separate_metadata(receiver_root(a.text.get(e.start..e.end).unwrap_or("")), a) {
            continue;
        }
        // A function whose docstring or comments say it is for tests or development only.
        if let Some(f) = e.function {
            let head = a
                .text
                .get(facts.functions[f].name_start..e.start)
                .unwrap_or("")
                .to_ascii_lowercase();
            if DEV_ONLY.iter().any(|p| head.contains(p)) {
                continue;
            }
        }
        // The bootstrap shape, and a development-only database (SQLite, a dev/test setting).
        if e.guards.iter().any(|g| {
            let t = g.text.to_ascii_lowercase();
            empty_database_check(&g.text, g.negated)
                || (!g.negated
                    && (["sqlite", "development", "testing", "debug"]
                        .iter()
                        .any(|w| t.contains(w))
                        || t.split(|c: char| !c.is_ascii_alphanumeric())
                            .any(|w| w == "dev")))
        }) {
            continue;
        }
        out.push(
            Diagnostic::new(
                RuleId::CreateAllWithMigrations,
                "`create_all()` creates tables behind Alembic's back: a revision that creates one then fails with \"already exists\"",
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
        let env_texts: Vec<&str> = cx
            .projects
            .iter()
            .filter_map(|p| p.env_file.map(|f| cx.db.get(f).text.as_str()))
            .collect();
        let around = |file: FileId| Around {
            text: &cx.db.get(file).text,
            display: &cx.db.get(file).display,
            env_texts: &env_texts,
            compact: std::cell::OnceCell::new(),
        };
        for app in &cx.deploy.apps {
            report(app.file, &app.facts, &around(app.file), out);
        }
        // Scripts that sit in a versions folder but are not revisions.
        for p in cx.projects {
            for m in p.migrations() {
                if m.id().is_some() {
                    continue;
                }
                let text = &cx.db.get(m.file).text;
                if pyapp::may_matter(text) {
                    report(m.file, &pyapp::read(text), &around(m.file), out);
                }
            }
        }
    }
}
