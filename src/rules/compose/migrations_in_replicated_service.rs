use super::{at_value, services, with_run};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::compose::Val;
use crate::model::deploy::ServiceRole;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MigrationsInReplicatedService;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrationsInReplicatedService,
    category: Category::Compose,
    summary: "A service that migrates at startup and runs several copies at once",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds startup-migrating services (the command, entrypoint or an entrypoint script runs
`alembic upgrade` and then starts a server: gunicorn, uvicorn, hypercorn, granian, daphne,
`fastapi run`, `flask run`, uwsgi, celery) that run more than one copy at a time:
`deploy.replicas` above 1, `mode: global`, or `update_config.order: start-first` (the new task
starts while the old one runs). When `env.py` takes a PostgreSQL advisory lock
(`pg_advisory_lock`) or MySQL `GET_LOCK` around the migrations, the finding is informational.

## Why is this bad?

Every copy runs the migration as it starts. Alembic takes no lock of its own: the copies race
on `CREATE TABLE` and on `alembic_version`, and the losers crash-loop with "already exists" or
a duplicate key on `pg_type_typname_nsp_index`.

## Example

```yaml
services:
  api:
    image: api:latest
    command: sh -c "alembic upgrade head && gunicorn -w 4 app:app"
    deploy:
      replicas: 3
```

## How to fix

Run migrations once per deploy, in a one-shot service or a CI step before the rollout, and
start the app without them; keep an advisory lock in `env.py` as a second line of defence.
"#,
};

impl Rule for MigrationsInReplicatedService {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let lock = cx.deploy.env_lock();
        for s in services(cx) {
            if s.role != ServiceRole::MigrateThenServe {
                continue;
            }
            let Some(run) = s.migrate_run() else { continue };
            let name = &s.svc.name;
            let replicas = s
                .svc
                .replicas
                .as_ref()
                .filter(|r| r.int().is_some_and(|n| n > 1));
            let global = s.svc.mode.as_ref().filter(|m| m.lower() == "global");
            let start_first = s
                .svc
                .update_config
                .as_ref()
                .and_then(|u| u.order.as_ref())
                .filter(|o| o.lower() == "start-first");
            let (val, why): (&Val, String) = if let Some(r) = replicas {
                (r, format!("{} replicas", r.text))
            } else if let Some(g) = global {
                (g, "one task per node".to_string())
            } else if let Some(o) = start_first {
                (o, "new tasks start before old ones stop".to_string())
            } else {
                continue;
            };
            let mut d = Diagnostic::new(
                RuleId::MigrationsInReplicatedService,
                format!(
                    "service `{name}` runs migrations as it starts and runs several copies at once ({why}): the copies migrate the same database concurrently"
                ),
            );
            d = at_value(d, val, why.clone());
            d = with_run(d, run, "migrates at startup");
            if let Some(l) = lock {
                d.severity = Severity::Info;
                d = d.secondary(l, "env.py serialises migrations with an advisory lock");
            }
            out.push(d.help(
                "run migrations once per deploy (a one-shot `migrate` service with `replicas: 1`, or a CI step before the rollout) and start the app without them; keep an advisory lock in `env.py`",
            ));
        }
    }
}
