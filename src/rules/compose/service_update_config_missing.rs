use super::services;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::compose::StackReason;
use crate::model::deploy::ServiceRole;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct ServiceUpdateConfigMissing;

static META: RuleMeta = RuleMeta {
    id: RuleId::ServiceUpdateConfigMissing,
    category: Category::Compose,
    summary: "A service in a stack-deployed file without `update_config`",
    default_severity: Severity::Info,
    docs: r#"## What it does

In a file the repository rolls out with `docker stack deploy` (a workflow or script runs it
with this file, shown as a related label), lists services other than the migrate service
(which `migrate-service-rollout` checks) that have no `deploy.update_config`. Job services
(`mode: replicated-job`/`global-job`) cannot have one and are skipped, and so are override
fragments that set neither `image`, `build` nor `deploy` (`command:` only): the service is
defined, and its rollout set, in the file they extend. A file known as a stack only by its
name or a swarm key is not reported: it may be deployed once on a fresh swarm, or merged
with rollout settings kept in another repository.

## Why is this bad?

Without `update_config`, how a service is replaced (order, parallelism, delay, what happens on
failure) is swarm's default and invisible in review. When an app service starts before the
migration finished, it serves against the old schema; stacks that broke this way were fixed by
setting `update_config` on every service.

## Example

```yaml
services:
  api:
    image: api:latest
    deploy:
      replicas: 2
```

## How to fix

Set the rollout explicitly, e.g. `update_config: {parallelism: 1, order: start-first,
failure_action: rollback, delay: 10s}` for a stateless app.
"#,
};

impl Rule for ServiceUpdateConfigMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in services(cx) {
            if !s.stack() || s.role == ServiceRole::Migrate || s.job_mode() {
                continue;
            }
            if s.svc.update_config.is_some() {
                continue;
            }
            // A fragment that neither builds nor names an image (`command:` only) overrides a
            // service another file defines: the rollout belongs with that definition, and
            // `docker stack deploy` cannot run the fragment alone.
            if s.svc.image.is_none() && s.svc.build.is_none() && s.svc.deploy.is_none() {
                continue;
            }
            // The rollout matters when the repository rolls the stack out again and again: a
            // workflow or script runs `docker stack deploy` with this file. A file known as a
            // stack only by its name or a swarm key may be deployed once on a fresh swarm, or
            // merged with settings kept elsewhere.
            let Some(StackReason::DeployedBy(by)) = s.file.stack else {
                continue;
            };
            out.push(
                Diagnostic::new(
                    RuleId::ServiceUpdateConfigMissing,
                    format!(
                        "service `{}` of a stack has no `deploy.update_config`: its rollout is swarm's default, unreviewed",
                        s.svc.name
                    ),
                )
                .primary(s.deploy_key(), "no `update_config`")
                .secondary(by, "rolls the stack out")
                .help("set `deploy.update_config` (parallelism, order, delay, failure_action) explicitly"),
            );
        }
    }
}
