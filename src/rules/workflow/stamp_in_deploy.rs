use super::at_command;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::command::{CommandKind, Target};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct StampInDeploy;

static META: RuleMeta = RuleMeta {
    id: RuleId::StampInDeploy,
    category: Category::Workflow,
    summary: "`alembic stamp` in a deploy surface",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds `alembic stamp`, `flask db stamp` and `command.stamp(...)` in deploy surfaces: workflow
jobs, entrypoint/start/deploy scripts referenced by a Dockerfile, compose file or workflow,
Dockerfile commands, Procfile. A stamp inside an explicit "the database is empty" branch (the
bootstrap shape: `create_all()` then `stamp head` only when no schema exists yet) is not
reported, nor a stamp to a revision the script computes (`stamp "$REVISION"`) followed by an
upgrade: the script adopts the revision its schema already has, found from the
application's own version record, then upgrades from there. So is a stamp to a named
revision under a condition, followed by an upgrade (`if strategy == ADOPT:
command.stamp(cfg, BASELINE)` then `command.upgrade(cfg, "head")`): a database made before
Alembic is adopted at its baseline. A stamp to `base`, or to a literal revision id on every
deploy, is reported. `alembic upgrade head || alembic stamp head` is reported
with its own message. A Python script run with an Alembic command as its first argument
(`python migrate.py upgrade head`) does not reach a `command.stamp` under
`if cmd == "stamp":`: the argument picks another branch. A `Procfile` process other than
`web`, `release` or `postdeploy` that only runs Alembic (`stamphead: flask db stamp head`) is
a task someone starts with `heroku run`, not part of the deploy.

## Why is this bad?

`stamp` writes a revision into `alembic_version` without running it. After a failed or
half-applied upgrade it records migrations as done that never ran; the schema and the record
disagree, and every later revision builds on columns that are not there.

## Example

```sh
alembic upgrade head || alembic stamp head
```

## How to fix

Never stamp after a failed upgrade: let the deploy fail and fix the revision. Stamp by hand,
once, after inspecting the database.
"#,
};

impl Rule for StampInDeploy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in cx.deploy.deploy_surfaces() {
            for (i, run) in s.runs.iter().enumerate() {
                let CommandKind::Stamp { target } = &run.kind else {
                    continue;
                };
                if run.in_empty_database_guard() {
                    continue;
                }
                // Then `upgrade head`, after either of two stamps that adopt the schema the
                // database already has, so that nothing past it is recorded unrun:
                // - `stamp "$REVISION"`: the script computed the revision (from the
                //   application's own version record);
                // - under a condition, a stamp to a named revision other than `base`: a
                //   legacy database the script found to hold that revision's schema
                //   (`if strategy == ADOPT: command.stamp(cfg, BASELINE)`).
                let adopts = !run.after_failed_migrate
                    && match target {
                        Target::Unknown(t) => !t.is_empty(),
                        Target::Revision(t) => t != "base" && !run.guards.is_empty(),
                        _ => false,
                    }
                    && s.runs[i + 1..].iter().any(|r| r.migrates());
                if adopts {
                    continue;
                }
                let d = if run.after_failed_migrate {
                    Diagnostic::new(
                        RuleId::StampInDeploy,
                        "the deploy stamps the database when the upgrade fails: revisions that never ran are recorded as applied",
                    )
                } else {
                    Diagnostic::new(
                        RuleId::StampInDeploy,
                        "the deploy runs `stamp`: it records revisions in `alembic_version` without running them",
                    )
                };
                out.push(at_command(d, run, "stamps on every deploy").help(
                    "remove the stamp: let a failed upgrade fail the deploy; stamp by hand after inspecting the database",
                ));
            }
        }
    }
}
