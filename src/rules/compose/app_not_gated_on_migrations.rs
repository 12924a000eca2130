use super::services;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::{names_database, ServiceRole};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct AppNotGatedOnMigrations;

static META: RuleMeta = RuleMeta {
    id: RuleId::AppNotGatedOnMigrations,
    category: Category::Compose,
    summary: "A compose service that uses the database starts before the migrate service finished",
    default_severity: Severity::Warning,
    docs: r#"## What it does

In a compose file (not a stack file: swarm ignores `depends_on`) that has a migrate service,
finds the services that use the database (their environment names a database URL or host, or
they run a server from the migrate service's image or build) and do not wait for the migration
to finish: no `depends_on` on the migrate service, the short form (which waits only for the
container to start), or a `condition` other than `service_completed_successfully`.
A developer's compose file is skipped: one named for development or tests
(`docker-compose.dev.yml`, `compose.local.yaml`), or one whose server runs with `--reload` or
`fastapi dev`, which watch the source for edits.

## Why is this bad?

The app starts against the old schema while the migration still runs: requests fail on
missing columns, and an app that runs `create_all` creates tables the migration then fails to
create.

## Example

```yaml
services:
  migrate:
    build: .
    command: alembic upgrade head
  api:
    build: .
    environment:
      DATABASE_URL: postgresql://app@db/app
    depends_on:
      - migrate
```

## How to fix

```yaml
    depends_on:
      migrate:
        condition: service_completed_successfully
```
"#,
};

impl Rule for AppNotGatedOnMigrations {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let all: Vec<_> = services(cx).collect();
        for m in &all {
            // A developer's stack (`docker-compose.dev.yml`, a server on `--reload`) is not
            // how the project deploys; a race there costs a restart, not a deploy.
            if m.role != ServiceRole::Migrate || m.stack() || m.file.dev {
                continue;
            }
            let same_file = all.iter().filter(|o| std::ptr::eq(o.file, m.file));
            for app in same_file {
                if std::ptr::eq(app.svc, m.svc)
                    || app.role != ServiceRole::Other
                    || app.svc.is_database_image()
                {
                    continue;
                }
                let shares_image = (app.svc.build.is_some() && app.svc.build == m.svc.build)
                    || (app.svc.image.is_some()
                        && app.svc.image.as_ref().map(|i| &i.text)
                            == m.svc.image.as_ref().map(|i| &i.text));
                let serves = app.surface.is_some_and(|s| s.serve().is_some());
                let uses_db = names_database(&app.svc.environment) || (serves && shares_image);
                if !uses_db {
                    continue;
                }
                let dep = app.svc.depends_on.iter().find(|d| d.service == m.svc.name);
                let (span, what) = match dep {
                    None => (
                        app.svc.depends_on_key.unwrap_or(app.svc.key),
                        format!("does not depend on `{}`", m.svc.name),
                    ),
                    Some(d) => match &d.condition {
                        None => (
                            d.span,
                            "short form: waits only until the container starts".to_string(),
                        ),
                        Some(c) if c.lower() == "service_completed_successfully" => continue,
                        Some(c) => (
                            c.span,
                            format!("`{}` does not wait for the migration to finish", c.text),
                        ),
                    },
                };
                out.push(
                    Diagnostic::new(
                        RuleId::AppNotGatedOnMigrations,
                        format!(
                            "service `{}` uses the database but may start before migrate service `{}` has finished",
                            app.svc.name, m.svc.name
                        ),
                    )
                    .primary(span, what)
                    .secondary(m.svc.key, "the migrate service")
                    .help(format!(
                        "add `depends_on: {{{}: {{condition: service_completed_successfully}}}}` to `{}`",
                        m.svc.name, app.svc.name
                    )),
                );
            }
        }
    }
}
