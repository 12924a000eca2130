use crate::diagnostic::{Diagnostic, Severity};
use crate::model::workflow::{eval_on, Concurrency, SHARED_TRIGGERS};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct CancelInProgressMigration;

static META: RuleMeta = RuleMeta {
    id: RuleId::CancelInProgressMigration,
    category: Category::Workflow,
    summary: "`cancel-in-progress` on a workflow or job that migrates or deploys",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds `concurrency.cancel-in-progress: true` (or an expression that is true for a push,
release or scheduled run) on a workflow or job whose steps migrate a real database (on the
runner, or over SSH). An expression such as `${{ github.event_name == 'pull_request' }}`,
false outside pull requests, is not reported, and neither is a group that names the run
(`${{ github.event.pull_request.number || github.run_id }}` outside pull requests), or a job
that only deploys: a migration the platform runs (a Fly `release_command`, a Heroku release
phase, a Kubernetes Job) keeps running when the workflow is cancelled.

## Why is this bad?

A new push cancels the running deploy: the runner kills the migration process mid-way. On
MySQL (no transactional DDL), or with `transaction_per_migration`, the database is left
between revisions; on PostgreSQL the current transaction is rolled back but a
`CREATE INDEX CONCURRENTLY` leaves an invalid index behind.

## Example

```yaml
concurrency:
  group: deploy
  cancel-in-progress: true
```

## How to fix

`cancel-in-progress: false`: queue the next run behind the current one.
"#,
};

/// Whether a step of the job migrates a real database itself.
fn job_migrates(cx: &Context, workflow: usize, job: usize) -> bool {
    cx.deploy.deploy_surfaces().any(|s| {
        matches!(s.kind, crate::model::deploy::SurfaceKind::Step { workflow: w, job: j, .. } if w == workflow && j == job)
            && s.runs.iter().any(|r| r.migrates())
    })
}

impl Rule for CancelInProgressMigration {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (wi, wf) in cx.deploy.workflows.iter().enumerate() {
            // Jobs whose own steps migrate (on the runner, or over SSH, which a cancelled
            // run hangs up on). A deploy whose migration runs on the platform (a Fly
            // `release_command`, a Heroku release phase, a Kubernetes Job) keeps running
            // when the workflow is cancelled.
            let jobs: Vec<_> = cx
                .deploy
                .deploying_jobs(wi)
                .into_iter()
                .filter(|d| d.migrates || job_migrates(cx, wi, d.job))
                .collect();
            if jobs.is_empty() {
                continue;
            }
            // Events for which the value matters: those that deploy.
            let events: Vec<&str> = wf
                .triggers
                .iter()
                .map(|(t, _)| t.as_str())
                .filter(|t| SHARED_TRIGGERS.contains(t) || *t == "workflow_dispatch")
                .collect();
            let cancels = |c: &Concurrency| {
                let v = c.cancel.as_ref()?;
                events
                    .iter()
                    .find(|e| eval_on(&v.text, e) == Some(true) && !c.unique_per_run(e))
                    .map(|e| (v.span, e.to_string()))
            };
            let per_migration = cx.deploy.env.iter().any(|e| e.transaction_per_migration);
            let mut report = |c: &Concurrency,
                              whose: String,
                              run: &crate::model::deploy::JobDeploy| {
                if let Some((span, event)) = cancels(c) {
                    let what = if run.migrates { "migration" } else { "deploy" };
                    out.push(
                        Diagnostic::new(
                            RuleId::CancelInProgressMigration,
                            format!(
                                "{whose} cancels a running {what} when a new `{event}` run starts: the runner kills the migration mid-way"
                            ),
                        )
                        .primary(span, format!("true for `{event}` runs"))
                        .secondary(run.span, format!("the {what} that gets cancelled"))
                        .help(if per_migration {
                            "set `cancel-in-progress: false`; env.py commits each revision on its own (`transaction_per_migration=True`), so a cancelled run leaves the database between revisions"
                        } else {
                            "set `cancel-in-progress: false`"
                        }),
                    );
                }
            };
            if let Some(c) = &wf.concurrency {
                let first = jobs.iter().find(|d| d.migrates).unwrap_or(&jobs[0]);
                report(c, "the workflow".to_string(), first);
            }
            for dep in &jobs {
                let job = &wf.jobs[dep.job];
                if let Some(c) = &job.concurrency {
                    report(c, format!("job `{}`", job.id), dep);
                }
            }
        }
    }
}
