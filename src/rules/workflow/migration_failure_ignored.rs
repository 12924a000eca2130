use super::at_command;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::SurfaceKind;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MigrationFailureIgnored;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrationFailureIgnored,
    category: Category::Workflow,
    summary: "A migration whose failure the deploy ignores",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds migration commands in deploy surfaces (workflow steps, entrypoint and deploy scripts,
compose commands, Dockerfile commands, Procfile) whose failure is swallowed:
`alembic upgrade head || true`, `|| :`, `|| echo ...`, `|| exit 0`; a migration after
`set +e`, or in a shell without `set -e` (an entrypoint script, a Procfile line, a compose
or Dockerfile command), followed by another command with no check of `$?`; a workflow step
(or job) with `continue-on-error: true` that migrates. `|| exit 1`, `&& next`, an explicit
`if [ $? -ne 0 ]`, a migration that is the script's last command or the last of its `case` or
`if` arm (its status is the script's), a script whose last command is a Dockerfile
instruction pasted into it (`CMD gunicorn …`: "command not found", so the script fails and
starts nothing whatever the migration did), and a script sourced (`. script.sh`) by a shell with
`set -e` are not reported. Workflow `run:` steps run under `bash -e` and are judged by
their `set +e`. Not deploy surfaces: CI jobs that migrate a throwaway database, and compose
files and Dockerfiles named for development or tests (`docker-compose.dev.yml`,
`Dockerfile.dev`, `local.dockerfile`), or whose server runs with `--reload`.

## Why is this bad?

The deploy carries on with a schema the new code does not expect: the app starts, requests fail
on missing columns, and the one log line that said why scrolled past in the migration step.

## Example

```sh
#!/bin/sh
alembic upgrade head || true
exec gunicorn app:app
```

## How to fix

Let it fail: drop the `|| true` (and `set -e` in scripts), so the deploy stops at the
migration that broke.
"#,
};

impl Rule for MigrationFailureIgnored {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in cx.deploy.deploy_surfaces() {
            for run in s.runs.iter().filter(|r| r.migrates()) {
                let new = |m: &str| Diagnostic::new(RuleId::MigrationFailureIgnored, m.to_string());
                if let Some((how, span)) = &run.failure_ignored {
                    let mut d = new(&format!(
                        "the migration's failure is ignored (`{how}`): the deploy continues on a schema the code does not expect"
                    ))
                    .primary(*span, "swallows the exit status")
                    .secondary(run.span, "the migration");
                    for v in &run.via {
                        d = d.secondary(*v, "runs the script this is in");
                    }
                    out.push(d.help(format!("remove `{how}` and let the deploy fail")));
                } else if run.unchecked_errexit_off {
                    let d = at_command(
                        new("a failed migration does not stop this script: it runs after `set +e` and nothing checks its status"),
                        run,
                        "its failure is not checked",
                    );
                    out.push(d.help(
                        "run it under `set -e`, or check `$?` right after it and exit non-zero",
                    ));
                } else if run.unchecked_no_errexit {
                    let d = at_command(
                        new("a failed migration does not stop this script: there is no `set -e`, and the next command runs anyway"),
                        run,
                        "nothing checks its exit status",
                    );
                    out.push(d.help("add `set -e` at the top of the script, or chain with `&&` (`alembic upgrade head && exec gunicorn ...`)"));
                }
            }
            if let SurfaceKind::Step {
                workflow,
                job,
                step,
            } = s.kind
            {
                let Some(run) = s.migrate() else { continue };
                let j = &cx.deploy.workflows[workflow].jobs[job];
                let st = &j.steps[step];
                let coe = st
                    .continue_on_error
                    .as_ref()
                    .or(j.continue_on_error.as_ref())
                    .filter(|v| v.lower() == "true");
                if let Some(v) = coe {
                    out.push(
                        new_step(v.span, run.span)
                            .help("remove `continue-on-error: true` from the step that migrates"),
                    );
                }
            }
        }
    }
}

fn new_step(at: crate::source::Span, run: crate::source::Span) -> Diagnostic {
    Diagnostic::new(
        RuleId::MigrationFailureIgnored,
        "a step that migrates has `continue-on-error: true`: the deploy goes on when the migration fails",
    )
    .primary(at, "failure ignored")
    .secondary(run, "the migration")
}
