use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::{names_database, SurfaceKind};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

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
job sets `concurrency`. A workflow that only `workflow_dispatch` starts is reported as a
warning. A `pull_request`/`pull_request_target` workflow is reported when a job migrates a
database it reaches through a secret (`DATABASE_URL: ${{ secrets.PROD_DATABASE_URL }}`): two
pull requests can migrate that real database at once. `environment:` does not serialise runs.
Test jobs are not deploys: those that migrate a `services:` container, a localhost server or
SQLite, or a stack the job starts on the runner itself (`docker compose up` without a remote
host or context, `kind create cluster`, `minikube start`, `k3d cluster create`), unless the
step reaches another host over SSH.

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
            let dispatch = wf.has_trigger("workflow_dispatch");
            // A pull request's run that migrates a database addressed by a secret migrates a
            // real one: two pull requests can do it at once.
            let pull_request = wf
                .triggers
                .iter()
                .find(|(t, _)| t == "pull_request" || t == "pull_request_target");
            if shared.is_none() && !dispatch && pull_request.is_none() {
                continue;
            }
            for dep in cx.deploy.deploying_jobs(wi) {
                let job = &wf.jobs[dep.job];
                if job.concurrency.is_some() {
                    continue;
                }
                let by_pull_request = shared.is_none()
                    && !dispatch
                    && !(dep.migrates && secret_database(cx, wi, dep.job));
                if by_pull_request {
                    continue;
                }
                let shared = shared.or(pull_request.filter(|_| !dispatch));
                let what = if dep.migrates { "migrates" } else { "deploys" };
                let (trigger, trigger_span) = match shared {
                    Some((t, s)) => (t.as_str(), *s),
                    None => ("workflow_dispatch", wf.on.unwrap_or(job.key)),
                };
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
                if shared.is_none() {
                    d.severity = Severity::Warning;
                }
                out.push(d.help(
                    "add `concurrency: {group: deploy-<environment>, cancel-in-progress: false}` to the workflow or the job",
                ));
            }
        }
    }
}
