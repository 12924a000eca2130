use super::{at_value, services};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::ServiceRole;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MigrateServiceReplicas;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrateServiceReplicas,
    category: Category::Compose,
    summary: "A migrate service that runs more than one task",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds migrate services (a service that runs `alembic upgrade`, `flask db upgrade` or a
repository script that does, and then exits) with `deploy.replicas` other than 1 or a value
revlint cannot resolve (`${REPLICAS}`), `mode: global`, `mode: global-job`, or a
`mode: replicated-job` with more than one replica.

A service whose migration command is baked into its image, where revlint cannot see it, is
named in the settings: `migrate-services = ["*-migrator"]`.

## Why is this bad?

Every replica runs the migration at the same moment against the same database. Alembic takes
no lock: two `CREATE TABLE` statements race, the loser fails with "already exists" or a
duplicate key on `pg_type`, and the deploy stops half-way.

## Example

```yaml
services:
  migrate:
    image: api:latest
    command: alembic upgrade head
    deploy:
      mode: global
```

## How to fix

Run one task: `replicas: 1` (or `mode: replicated-job` with one replica), or move the
migration to a single CI step before the rollout.
"#,
};

impl Rule for MigrateServiceReplicas {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in services(cx) {
            if s.role != ServiceRole::Migrate {
                continue;
            }
            let name = &s.svc.name;
            let new = |m: String| Diagnostic::new(RuleId::MigrateServiceReplicas, m);
            let mode = s.svc.mode.as_ref().map(|m| m.lower()).unwrap_or_default();
            if mode == "global" || mode == "global-job" {
                let m = s.svc.mode.as_ref().unwrap();
                let d = at_value(
                    new(format!(
                        "migrate service `{name}` runs in `mode: {mode}`: one migration task per node, all at once"
                    )),
                    m,
                    "a task on every node",
                );
                out.push(
                    s.show_migration(d, "runs the migration")
                        .help("use `mode: replicated-job` (or `replicated`) with `replicas: 1`"),
                );
                continue;
            }
            if let Some(r) = &s.svc.replicas {
                match r.int() {
                    Some(1) => {}
                    Some(0) => {}
                    Some(n) => {
                        let d = at_value(
                            new(format!(
                                "migrate service `{name}` runs {n} replicas: {n} copies of the migration start together"
                            )),
                            r,
                            "more than one task",
                        );
                        out.push(
                            s.show_migration(d, "runs the migration")
                                .help("set `replicas: 1`"),
                        );
                    }
                    None => {
                        let d = at_value(
                            new(format!(
                                "migrate service `{name}` takes its replica count from `{}`, which the file does not fix at 1",
                                r.text
                            )),
                            r,
                            "not resolvable before deploy",
                        );
                        out.push(
                            s.show_migration(d, "runs the migration")
                                .help("set `replicas: 1`"),
                        );
                    }
                }
            }
        }
    }
}
