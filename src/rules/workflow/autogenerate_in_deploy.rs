use super::at_run;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::command::CommandKind;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct AutogenerateInDeploy;

static META: RuleMeta = RuleMeta {
    id: RuleId::AutogenerateInDeploy,
    category: Category::Workflow,
    summary: "A deploy creates revisions: `revision --autogenerate`, `merge`, `flask db migrate`",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds `alembic revision --autogenerate`, `alembic merge`, `flask db migrate`, `flask db init`
and their Python API forms in deploy surfaces (workflow jobs, entrypoint and deploy scripts,
compose commands, Dockerfiles, Procfile). A Makefile target or a test script is not a deploy
surface, nor a `Procfile` process other than `web`, `release` or `postdeploy` that only runs
Alembic (`makemigrations: flask db migrate`: the platform never starts it, someone types
`heroku run makemigrations`), nor a workflow step that runs in a container the job started on a GitHub-hosted
runner (`docker compose exec tests alembic revision --autogenerate` as a drift check).
A Python script's revision call that runs only under a command-line flag the deploy does not
pass (`if make_migrations:` for a click or argparse `--make-migrations`, when the command is
`python migrate.py --run-migrations` and no deploy file sets the option's `envvar`) is a
developer's step, not the deploy's, as is a shell script's command in an arm of the `case` that
reads its `getopts` options (`m) flask db migrate`) when the deploy runs it without that option
(`./migrate.sh -u`). So is an image only development stacks build (a compose
file named `*.dev.yml`, or whose service reads `.env.dev`), when a `Procfile`, Railway or Fly
deploys the source and no `heroku.yml`, workflow or script pushes an image.

## Why is this bad?

A revision generated inside a container at deploy time is never reviewed or committed: it may
drop a table autogenerate misread, it differs between replicas, and the next deploy generates
another one on top. The repository no longer describes the schema.

## Example

```sh
flask db migrate -m "auto"
flask db upgrade
```

## How to fix

Generate revisions on a developer machine, review and commit them; deploy only runs
`upgrade head`.
"#,
};

impl Rule for AutogenerateInDeploy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in cx.deploy.deploy_surfaces() {
            for run in &s.runs {
                let what = match run.kind {
                    CommandKind::Autogenerate => "generates a revision with autogenerate",
                    CommandKind::Merge => "creates a merge revision",
                    CommandKind::FlaskDbInit => "creates a migration environment",
                    _ => continue,
                };
                let d = Diagnostic::new(
                    RuleId::AutogenerateInDeploy,
                    format!("the deploy {what}: a revision created in a container is never reviewed or committed"),
                );
                out.push(at_run(d, run, "creates a revision at deploy time").help(
                    "create revisions in development, review and commit them; deploy only `upgrade head`",
                ));
            }
        }
    }
}
