use super::{at_value, services};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::ServiceRole;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MigrateServiceRollout;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrateServiceRollout,
    category: Category::Compose,
    summary: "A stack-deployed migrate service without stop-first, one-at-a-time rollout",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds the migrate service (a service whose command runs `alembic upgrade`, `flask db upgrade`
or a repository script that does, and then exits) of a file rolled out with
`docker stack deploy`, and checks its `deploy.update_config`: it must be present, keep
`parallelism` at 1 and `order` at `stop-first`; `rollback_config.order: start-first` is
reported too. A file counts as stack-deployed when a workflow or script runs
`docker stack deploy -c` with it, its name matches `*stack*.yml`, or it uses keys only swarm
reads (`deploy.update_config`, `deploy.mode: global`/`*-job`). Values
inherited through `x-deploy: &deploy` anchors and `<<:` merge keys are read in the merged
result and reported at the anchor, with the alias that brought them.

A migrate service with `deploy.replicas: 0` is skipped: the stack deploy starts no task of
it (a script scales it up or runs the migration itself), so there is no rollout to order.

A service whose migration command is baked into its image, where revlint cannot see it, is
named in the settings: `migrate-services = ["*-migrator"]`.

## Why is this bad?

`docker stack deploy` updates services in no fixed order and rolls each out by its
`update_config`. With `order: start-first` the new migration task starts while the old one
still runs; with `parallelism` above 1 several tasks migrate at once; without an
`update_config` the rollout follows defaults nobody wrote down. Two migrations against one
database race: duplicate tables, `update out of sequence`, a half-applied revision.

## Example

```yaml
services:
  migrate:
    image: registry.example.com/api:latest
    command: alembic upgrade head
    deploy:
      restart_policy:
        condition: on-failure
```

## How to fix

Give the migrate service one task, rolled out stop-first, one at a time:

```yaml
    deploy:
      replicas: 1
      update_config: {parallelism: 1, order: stop-first, failure_action: pause}
      rollback_config: {parallelism: 1, order: stop-first}
      restart_policy: {condition: on-failure, max_attempts: 3}
```
"#,
};

const UPDATE: &str = "update_config: {parallelism: 1, order: stop-first, failure_action: pause}";
const ROLLBACK: &str = "rollback_config: {parallelism: 1, order: stop-first}";

impl Rule for MigrateServiceRollout {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in services(cx) {
            if s.role != ServiceRole::Migrate || !s.stack() || s.job_mode() {
                continue;
            }
            // `replicas: 0`: the stack deploy starts no migration task, so there is no
            // rollout to order; whoever scales it up or runs the migration by hand does.
            if s.svc.replicas.as_ref().is_some_and(|r| r.int() == Some(0)) {
                continue;
            }
            let name = &s.svc.name;
            let new = || Diagnostic::new(RuleId::MigrateServiceRollout, String::new());
            match &s.svc.update_config {
                None => {
                    let mut keys = vec![UPDATE];
                    if s.svc.rollback_config.is_none() {
                        keys.push(ROLLBACK);
                    }
                    let where_ = if s.svc.deploy.is_some() {
                        "under `deploy:`"
                    } else {
                        "to the service: `deploy:` with"
                    };
                    let mut d = new().primary(
                        s.deploy_key(),
                        "no `update_config`: rollout order and parallelism are swarm's defaults",
                    );
                    d.message = format!(
                        "migrate service `{name}` is rolled out by `docker stack deploy` without `deploy.update_config`: nothing in the file keeps two migration tasks from running at once"
                    );
                    d = s.show_migration(d, "runs the migration");
                    out.push(d.help(format!("add {where_} {}", keys.join(", "))));
                }
                Some(u) => {
                    if let Some(o) = u.order.as_ref().filter(|o| o.lower() == "start-first") {
                        let mut d =
                            at_value(new(), o, "the new task starts before the old one stops");
                        d.message = format!(
                            "migrate service `{name}` rolls out with `order: start-first`: the new migration task runs while the old one still does"
                        );
                        d = s.show_migration(d, "runs the migration");
                        out.push(d.help("set `order: stop-first` in `deploy.update_config`"));
                    }
                    if let Some(p) = u.parallelism.as_ref().filter(|p| p.int() != Some(1)) {
                        let mut d = at_value(new(), p, "more than one task at a time");
                        d.message = format!(
                            "migrate service `{name}` rolls out with `parallelism: {}`: several migration tasks can start together",
                            p.text
                        );
                        d = s.show_migration(d, "runs the migration");
                        out.push(d.help("set `parallelism: 1` in `deploy.update_config`"));
                    }
                }
            }
            if let Some(o) = s
                .svc
                .rollback_config
                .as_ref()
                .and_then(|r| r.order.as_ref())
                .filter(|o| o.lower() == "start-first")
            {
                let mut d = at_value(
                    new(),
                    o,
                    "a rollback starts the old task before the new one stops",
                );
                d.message = format!(
                    "migrate service `{name}` rolls back with `order: start-first`: two migration tasks overlap during a rollback"
                );
                out.push(d.help("set `order: stop-first` in `deploy.rollback_config`"));
            }
        }
    }
}
