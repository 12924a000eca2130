use super::services;
use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct JobWithUpdateConfig;

static META: RuleMeta = RuleMeta {
    id: RuleId::JobWithUpdateConfig,
    category: Category::Compose,
    summary: "A `replicated-job`/`global-job` service with `update_config` or `rollback_config`",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds services with `deploy.mode: replicated-job` or `global-job` that also set
`deploy.update_config` or `deploy.rollback_config`.

## Why is this bad?

Swarm jobs (Docker 23 and later) run to completion and are not rolled out; the daemon rejects
a job service with an update or rollback configuration, so `docker stack deploy` fails on the
whole stack, not just on the job.

## Example

```yaml
services:
  migrate:
    image: api:latest
    command: alembic upgrade head
    deploy:
      mode: replicated-job
      update_config:
        order: stop-first
```

## How to fix

Remove `update_config` and `rollback_config` from the job; keep `restart_policy:
{condition: on-failure}`.
"#,
};

impl Rule for JobWithUpdateConfig {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in services(cx) {
            if !s.job_mode() {
                continue;
            }
            let mode = s.svc.mode.as_ref().unwrap();
            for (key, u) in [
                ("update_config", &s.svc.update_config),
                ("rollback_config", &s.svc.rollback_config),
            ] {
                let Some(u) = u else { continue };
                let mut d = Diagnostic::new(
                    RuleId::JobWithUpdateConfig,
                    format!(
                        "service `{}` runs as `mode: {}` and sets `{key}`: swarm rejects it and `docker stack deploy` fails",
                        s.svc.name, mode.text
                    ),
                )
                .primary(u.key, "not allowed on a job")
                .secondary(mode.span, "a job");
                if let Some((_, alias)) = mode.via {
                    d = d.secondary(alias, "inherited here");
                }
                out.push(d.help(format!("remove `{key}` from this service")));
            }
        }
    }
}
