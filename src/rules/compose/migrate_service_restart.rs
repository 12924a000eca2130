use super::{at_value, services};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::ServiceRole;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MigrateServiceRestart;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrateServiceRestart,
    category: Category::Compose,
    summary: "A one-shot migrate service that is restarted after it succeeds",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds one-shot migrate services that the orchestrator starts again after they exit
successfully. Under swarm (a stack-deployed file): `deploy.restart_policy` absent (the default
condition is `any`) or `condition: any`; a `restart: "no"` does not count, because
`docker stack deploy` ignores `restart:`. Under plain compose: `restart: always` or
`unless-stopped`. `mode: replicated-job` and `global-job` services are not restarted after
success and are not reported. A service that migrates and then runs a server, or a program
that keeps running (`python main.py`, `python audio_service.py`, `exec supervisord`), is the
application, not a one-shot migrate service; so is a service that publishes `ports:` or
`expose:`, whatever script starts its server. A start command the entrypoint keeps in a
setting (`START_COMMAND="${START_COMMAND:-uvicorn main:app}"`, then `exec bash -c
"$START_COMMAND"`) is read from its default.

A service whose migration command is baked into its image, where revlint cannot see it, is
named in the settings: `migrate-services = ["*-migrator"]`.

## Why is this bad?

A finished migration task is restarted every few seconds, forever: the migration runs again
and again, holds connections, races the next deploy's migration, and fills the logs; with a
non-idempotent revision each re-run is a failure alert.

## Example

```yaml
services:
  migrate:
    image: api:latest
    command: alembic upgrade head
    restart: "no"          # ignored by docker stack deploy
    deploy:
      replicas: 1
```

## How to fix

Under swarm: `deploy.restart_policy: {condition: on-failure, max_attempts: 3}` or
`mode: replicated-job`. Under compose: `restart: "no"` or `on-failure`.
"#,
};

impl Rule for MigrateServiceRestart {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in services(cx) {
            if s.role != ServiceRole::Migrate || s.job_mode() {
                continue;
            }
            let name = &s.svc.name;
            let new = |m: String| Diagnostic::new(RuleId::MigrateServiceRestart, m);
            if s.stack() {
                let help = "set `deploy.restart_policy: {condition: on-failure, max_attempts: 3}`, or `deploy.mode: replicated-job`";
                match &s.svc.restart_policy {
                    None => {
                        let mut d = new(format!(
                            "migrate service `{name}` has no `deploy.restart_policy`: swarm's default `condition: any` restarts the finished migration every 5 seconds"
                        ))
                        .primary(s.deploy_key(), "no `restart_policy`");
                        if let Some(r) = &s.svc.restart {
                            d = d.secondary(r.span, "ignored by `docker stack deploy`");
                        }
                        out.push(s.show_migration(d, "runs the migration").help(help));
                    }
                    Some((key, cond)) => {
                        let any = cond.as_ref().is_none_or(|c| c.lower() == "any");
                        if any {
                            let d = new(format!(
                                "migrate service `{name}` restarts on any exit: swarm starts the finished migration again and again"
                            ));
                            let d = match cond {
                                Some(c) => at_value(d, c, "`any` includes success"),
                                None => d.primary(*key, "no `condition`: the default is `any`"),
                            };
                            out.push(s.show_migration(d, "runs the migration").help(help));
                        }
                    }
                }
            } else if let Some(r) = &s.svc.restart {
                let v = r.lower();
                if v == "always" || v == "unless-stopped" {
                    let d = at_value(
                        new(format!(
                            "migrate service `{name}` has `restart: {v}`: compose starts the finished migration again"
                        )),
                        r,
                        "restarts after success",
                    );
                    out.push(
                        s.show_migration(d, "runs the migration")
                            .help("set `restart: \"no\"` or `restart: on-failure`"),
                    );
                }
            }
        }
    }
}
