use super::at_run;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::command::{CommandKind, Target};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct UpgradeHeadsInDeploy;

static META: RuleMeta = RuleMeta {
    id: RuleId::UpgradeHeadsInDeploy,
    category: Category::Workflow,
    summary: "`alembic upgrade heads` in a deploy of a single-branch project",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds `alembic upgrade heads` in deploy surfaces of a project that is not a labelled
multi-branch layout (no revision has `branch_labels`, and `allow-multiple-heads` is not set).

## Why is this bad?

`heads` upgrades every head there is. In a single-branch project a second head is an accident:
two pull requests that each added a revision on the same parent. `upgrade heads` applies both in
an order nobody reviewed and hides the divergence that `multiple-heads` exists to catch.

## Example

```yaml
- run: alembic upgrade heads
```

## How to fix

Merge the heads in a reviewed revision (`alembic merge heads -m "merge"`) and deploy `head`.
"#,
};

impl Rule for UpgradeHeadsInDeploy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        if cx.options.allow_multiple_heads {
            return;
        }
        let labelled = cx
            .projects
            .iter()
            .any(|p| p.migrations().any(|m| !m.branch_labels.is_empty()));
        if labelled {
            return;
        }
        for s in cx.deploy.deploy_surfaces() {
            for run in &s.runs {
                if !matches!(
                    run.kind,
                    CommandKind::Migrate {
                        target: Target::Heads,
                        ..
                    }
                ) {
                    continue;
                }
                let d = Diagnostic::new(
                    RuleId::UpgradeHeadsInDeploy,
                    "the deploy runs `upgrade heads` in a project without branch labels: unmerged heads are applied in an order nobody reviewed",
                );
                out.push(
                    at_run(d, run, "every head")
                        .help("merge the heads in a reviewed revision and deploy `head`"),
                );
            }
        }
    }
}
