use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::{names_database, SurfaceKind};
use crate::model::workflow::SHARED_TRIGGERS;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct DeployWithoutConcurrency;

static META: RuleMeta = RuleMeta {
    id: RuleId::DeployWithoutConcurrency,
    category: Category::Workflow,
    summary: "A deploying workflow that can run twice at once: no `concurrency`",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds GitHub workflows triggered by `push`, `release`, `schedule`, `workflow_run`,
`repository_dispatch` or `merge_group` with a job that deploys (`docker stack deploy`,
`docker service update`, `kubectl`, `helm upgrade`, `fly deploy`, `railway up`, `heroku`,
`gcloud run deploy`, `aws ecs update-service`, a remote `docker compose up`) or migrates a
real database (directly or through a repository script), when neither the workflow nor that
job sets `concurrency`. A workflow that only `workflow_dispatch` starts is not reported: its
runs overlap only when people start two by hand. Nor is a job on a GitHub-hosted runner that
only a `schedule` firing once a day or less starts (every `cron` names one minute and one
hour, the same in all: `0 2 1 */3 *`): a hosted job stops after 6 hours, before the next run. Nor is a job that no automatic trigger runs:
its `if:` (or that of a job it `needs`, unless it asks for `always()`) asks for a dispatch
(`github.event_name == 'workflow_dispatch'`), compares a dispatch input
(`github.event.inputs.environment == 'staging'`, empty on a push), or a branch
(`github.ref == 'refs/heads/main'`) when `on.push` filters only tags. A `pull_request`/`pull_request_target` workflow is reported when a job migrates a
database it reaches through a secret (`DATABASE_URL: ${{ secrets.PROD_DATABASE_URL }}`): two
pull requests can migrate that real database at once. `environment:` does not serialise runs.
A `fly deploy` of a folder that holds no Alembic project and whose `fly.toml` has no
`release_command` deploys a component that migrates nothing, and is not reported. Test jobs
are not deploys: those that migrate a `services:` database container (by its image, or a
custom image that sets `MYSQL_*`/`POSTGRES_*` variables or publishes port 3306 or 5432), a
localhost server or SQLite, or a stack the job starts on the runner itself (`docker compose up` without a remote
host or context, in a step or in a repository script the step runs, `kind create cluster`,
`minikube start`, `k3d cluster create`), or that migrate through `docker compose exec` on a
GitHub-hosted runner (a fresh machine: the job started that container), unless the step
reaches another host over SSH. A `self-hosted` runner may be the server itself, so a stack it
starts is not taken as a test. Only the repository root's `.github/workflows` are read: GitHub
never runs a workflow kept in a subfolder (`service/.github/workflows`) unless that subfolder
is a repository of its own (its own `.git`, as a submodule).

## Why is this bad?

Two pushes in quick succession start two runs; both deploy and both migrate, at the same
time, against the same database and the same swarm: concurrent migrations, `update out of
sequence`, and an older commit's rollout finishing last.

## Example

```yaml
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: docker stack deploy -c stack.yml app
```

## How to fix

```yaml
concurrency:
  group: deploy-production
  cancel-in-progress: false
```
"#,
};

/// Whether a job's migrating step reaches its database through a secret
/// (`DATABASE_URL: ${{ secrets.PROD_DATABASE_URL }}`): a real database, not a test one.
fn secret_database(cx: &Context, workflow: usize, job: usize) -> bool {
    cx.deploy.deploy_surfaces().any(|s| {
        matches!(s.kind, SurfaceKind::Step { workflow: w, job: j, .. } if w == workflow && j == job)
            && s.runs.iter().any(|r| r.migrates())
            && s.env
                .iter()
                .chain(s.runs.iter().flat_map(|r| &r.env))
                .any(|(k, v)| names_database(&[(k.clone(), v.clone())]) && v.contains("secrets."))
    })
}

/// `fly deploy <folder>` (or `-c <folder>/fly.toml`) of a folder of this repository that
/// holds no Alembic project and whose `fly.toml` has no `release_command`: a component that
/// migrates nothing (a proxy, a static site) deployed beside the application.
fn deploys_a_component_without_migrations(cx: &Context, span: Span) -> bool {
    let file = cx.db.get(span.file);
    let cmd = file
        .text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("");
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let Some(at) = words
        .windows(2)
        .position(|w| matches!(w[0], "fly" | "flyctl") && w[1] == "deploy")
    else {
        return false;
    };
    // Options of `fly deploy` that take a value.
    const VALUED: [&str; 12] = [
        "-a",
        "--app",
        "-c",
        "--config",
        "-e",
        "--env",
        "-i",
        "--image",
        "-r",
        "--region",
        "--build-arg",
        "--dockerfile",
    ];
    let mut folder: Option<String> = None;
    let mut i = at + 2;
    while i < words.len() {
        let w = words[i];
        if let Some(v) = w.strip_prefix("--config=").or_else(|| {
            matches!(w, "-c" | "--config")
                .then(|| words.get(i + 1).copied())
                .flatten()
        }) {
            let v = v.trim_matches(['"', '\'']);
            folder = Some(match v.rfind('/') {
                Some(k) => v[..k].to_string(),
                None => ".".to_string(),
            });
        } else if !w.starts_with('-') && !VALUED.contains(&words[i - 1]) && folder.is_none() {
            folder = Some(w.trim_matches(['"', '\'']).to_string());
        }
        i += 1;
    }
    let Some(folder) = folder.filter(|f| !f.contains('$') && !f.is_empty()) else {
        return false;
    };
    // The repository root: the folder that holds `.github/workflows/`.
    let Some(root) = file.path.ancestors().nth(3) else {
        return false;
    };
    let dir = root.join(folder.trim_start_matches("./"));
    if !dir.is_dir() || dir == root {
        return false;
    }
    let holds_alembic = cx.projects.iter().any(|p| {
        p.here.starts_with(&dir)
            || p.script_location
                .as_ref()
                .is_some_and(|s| s.starts_with(&dir))
    });
    if holds_alembic {
        return false;
    }
    // The walk read every fly.toml; one it did not read is not judged.
    cx.db
        .find(&dir.join("fly.toml"))
        .is_some_and(|id| !cx.db.get(id).text.contains("release_command"))
}

impl Rule for DeployWithoutConcurrency {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (wi, wf) in cx.deploy.workflows.iter().enumerate() {
            if wf.concurrency.is_some() {
                continue;
            }
            let shared = wf.shared_trigger();
            // A pull request's run that migrates a database addressed by a secret migrates a
            // real one: two pull requests can do it at once. Manual runs (`workflow_dispatch`)
            // overlap only when people start two by hand: not reported.
            let pull_request = wf
                .triggers
                .iter()
                .find(|(t, _)| t == "pull_request" || t == "pull_request_target");
            if shared.is_none() && pull_request.is_none() {
                continue;
            }
            for dep in cx.deploy.deploying_jobs(wi) {
                if !dep.migrates && deploys_a_component_without_migrations(cx, dep.span) {
                    continue;
                }
                let job = &wf.jobs[dep.job];
                if job.concurrency.is_some() {
                    continue;
                }
                // A job only manual runs start (its `if:` asks for a dispatch or a dispatch
                // input, or the jobs it needs do): the automatic triggers never run it.
                let automatic: Vec<&str> = wf
                    .triggers
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .filter(|t| {
                        SHARED_TRIGGERS.contains(t)
                            || *t == "pull_request"
                            || *t == "pull_request_target"
                    })
                    .collect();
                let runs_on: Vec<&str> = automatic
                    .into_iter()
                    .filter(|t| wf.job_runs_on(dep.job, t))
                    .collect();
                if runs_on.is_empty() {
                    continue;
                }
                // Only a schedule that fires once a day or less starts it, on a GitHub-hosted
                // runner, whose jobs stop after 6 hours: a run ends before the next begins.
                if runs_on == ["schedule"] && wf.schedule_daily && !job.self_hosted {
                    continue;
                }
                let by_pull_request =
                    shared.is_none() && !(dep.migrates && secret_database(cx, wi, dep.job));
                if by_pull_request {
                    continue;
                }
                let Some((trigger, trigger_span)) = shared.or(pull_request) else {
                    continue;
                };
                let trigger = trigger.as_str();
                let trigger_span = *trigger_span;
                let what = if dep.migrates { "migrates" } else { "deploys" };
                let mut d = Diagnostic::new(
                    RuleId::DeployWithoutConcurrency,
                    format!(
                        "job `{}` {what} and the workflow has no `concurrency`: two `{trigger}` runs can {} at the same time",
                        job.id,
                        if dep.migrates { "migrate" } else { "deploy" }
                    ),
                )
                .primary(job.key, "no `concurrency` here or on the workflow")
                .secondary(dep.span, format!("{what} here"))
                .secondary(trigger_span, "runs can overlap");
                for v in dep.via {
                    d = d.secondary(*v, "through this script");
                }
                if let Some(m) = job.matrix {
                    d = d.secondary(m, "a matrix: its entries also run at the same time");
                }
                if let Some(e) = job.environment {
                    d = d.secondary(e, "`environment` does not serialise runs");
                }
                out.push(d.help(
                    "add `concurrency: {group: deploy-<environment>, cancel-in-progress: false}` to the workflow or the job",
                ));
            }
        }
    }
}
