use super::at_run;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::{local_database, names_database, Surface, SurfaceKind};
use crate::model::dialect;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MigrationInImageBuild;

static META: RuleMeta = RuleMeta {
    id: RuleId::MigrationInImageBuild,
    category: Category::Workflow,
    summary: "A Dockerfile `RUN` migrates a database",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds Dockerfile `RUN` instructions that run a migration (directly or through a repository
script), unless the database is a local SQLite file: `sqlite:` in the command or in an `ENV`,
or every Alembic project in the Dockerfile's folder has a SQLite `sqlalchemy.url` (or is
decided SQLite by its compose, `.env` or driver evidence, as `revlint check -v` shows) and
the image names no other database (the build creates the database file the image ships).
`CMD` and `ENTRYPOINT` run when the container starts and are not reported here. A script
run with a literal first argument (`RUN ./setup.sh install-deps`) runs only the matching arm
of its `case "$1" in`: a migration in another arm is not reported.

## Why is this bad?

The build has no business touching a database: it runs on a CI runner or a developer laptop
against whatever `DATABASE_URL` the build arguments leak, once per build rather than once per
deploy, and a cached layer skips the migration entirely on the next build.

## Example

```dockerfile
COPY . .
RUN alembic upgrade head
CMD ["gunicorn", "app:app"]
```

## How to fix

Migrate at deploy time: a one-shot service, a release command or a CI step before the
rollout.
"#,
};

/// Whether every Alembic project in the Dockerfile's folder keeps its database in a SQLite
/// file (the config's URL, which `env.py` uses on the command line, or the database the
/// repository's evidence decides) and the image names no other: the build creates the
/// database the image ships, as intended.
fn builds_sqlite_projects(cx: &Context, s: &Surface) -> bool {
    if names_database(&s.env) {
        return false;
    }
    let Some(dir) = cx.db.get(s.span.file).path.parent() else {
        return false;
    };
    let mut projects = cx
        .projects
        .iter()
        .filter(|p| p.here.starts_with(dir))
        .peekable();
    projects.peek().is_some()
        && projects.all(|p| {
            let ini_sqlite = p.dialect() == Some("sqlite")
                && p.env_file.is_some_and(|id| {
                    dialect::env_url(&cx.db.get(id).text).command_line_uses_config_url
                });
            ini_sqlite || p.dialect_facts.dialect() == Some(dialect::Dialect::Sqlite)
        })
}

impl Rule for MigrationInImageBuild {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in &cx.deploy.surfaces {
            if !matches!(s.kind, SurfaceKind::ImageBuild { .. }) {
                continue;
            }
            let text = &cx.db.get(s.span.file).text;
            let instr = text
                .get(s.span.start as usize..s.span.end as usize)
                .unwrap_or("");
            if local_database(&s.env, instr) || builds_sqlite_projects(cx, s) {
                continue;
            }
            for run in s.runs.iter().filter(|r| r.migrates()) {
                if local_database(&run.env, "") {
                    continue;
                }
                let d = Diagnostic::new(
                    RuleId::MigrationInImageBuild,
                    "a Dockerfile `RUN` migrates a database: the image build is not a deploy, and a cached layer skips it",
                );
                out.push(at_run(d, run, "runs at build time").help(
                    "migrate at deploy time (a one-shot service, a release command or a CI step), not in the image build",
                ));
            }
        }
    }
}
