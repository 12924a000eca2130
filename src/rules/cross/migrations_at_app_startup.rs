use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::SurfaceKind;
use crate::parse::python::app::EffectKind;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct MigrationsAtAppStartup;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrationsAtAppStartup,
    category: Category::Cross,
    summary: "Application code migrates at startup and the server runs several workers",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds application code that calls `alembic.command.upgrade` or `flask_migrate.upgrade` on a
startup path: a FastAPI/Starlette `lifespan` or `on_event("startup")` handler, Flask
`create_app`, module-level code of a module that builds the app, and the functions those call
in the same module. It reports when a server in the repository (Dockerfile `CMD`, compose
`command`, Procfile, `railway.toml`, `fly.toml`, an entrypoint script) starts more than one
worker (`-w`/`--workers N`, `WEB_CONCURRENCY`) and `env.py` takes no advisory lock.

## Why is this bad?

Each worker process imports the app and runs the migration, all within the same second. Two
`CREATE TABLE`s (or two `INSERT`s into `alembic_version`) race; the loser fails with "already
exists" or `duplicate key value violates unique constraint "pg_type_typname_nsp_index"`, and a
lock taken in application code does not cover connections Alembic opens itself.

## Example

```python
@asynccontextmanager
async def lifespan(app):
    command.upgrade(Config("alembic.ini"), "head")
    yield
```

with `gunicorn -w 4 -k uvicorn.workers.UvicornWorker app.main:app`.

## How to fix

Run `alembic upgrade head` once per deploy, before the workers start: a release/pre-deploy
command, a one-shot service or a CI step. If migrations must stay at startup, take a
PostgreSQL advisory lock in `env.py` around `run_migrations()`.
"#,
};

impl Rule for MigrationsAtAppStartup {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        if cx.deploy.env_lock().is_some() {
            return;
        }
        let workers: Option<(u32, Span)> = cx
            .deploy
            .surfaces
            .iter()
            .filter(|s| {
                matches!(
                    s.kind,
                    SurfaceKind::ImageStart { .. }
                        | SurfaceKind::PlatformStart
                        | SurfaceKind::Service { .. }
                )
            })
            .filter_map(|s| s.workers())
            .max_by_key(|(n, _)| *n);
        let Some((n, server)) = workers.filter(|(n, _)| *n > 1) else {
            return;
        };
        for app in &cx.deploy.apps {
            for &i in &app.startup {
                let e = &app.facts.effects[i];
                if !matches!(e.kind, EffectKind::Upgrade { .. }) {
                    continue;
                }
                let at = Span::new(app.file, e.start, e.end);
                let mut d = Diagnostic::new(
                    RuleId::MigrationsAtAppStartup,
                    format!(
                        "the application runs migrations as it starts and the server starts {n} workers: each worker migrates the same database at the same moment"
                    ),
                )
                .primary(at, "runs in every worker at startup")
                .secondary(server, format!("{n} workers"));
                if let Some(lock) = app
                    .facts
                    .effects
                    .iter()
                    .find(|l| l.kind == EffectKind::AdvisoryLock)
                {
                    d = d.secondary(
                        Span::new(app.file, lock.start, lock.end),
                        "a lock in application code does not cover the connections Alembic opens; take it in env.py",
                    );
                }
                if let Some(f) = e.function {
                    let func = &app.facts.functions[f];
                    d = d.secondary(
                        Span::new(app.file, func.name_start, func.name_end),
                        "on the startup path",
                    );
                }
                out.push(d.help(
                    "run `alembic upgrade head` once per deploy before the workers start (release command, one-shot service, CI step), or take an advisory lock in `env.py` around `run_migrations()`",
                ));
            }
        }
    }
}
