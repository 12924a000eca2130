use super::at_run;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::command::{CommandKind, Target};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct HardCodedUpgradeTarget;

static META: RuleMeta = RuleMeta {
    id: RuleId::HardCodedUpgradeTarget,
    category: Category::Workflow,
    summary: "A deploy upgrades to a fixed revision id instead of `head`",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds `alembic upgrade <revision-id>` and `command.upgrade(cfg, "<revision-id>")` (a literal, or
a module constant holding one) in deploy surfaces. `head`, `heads`, `branch@head` and relative
targets (`+1`) are not reported.

## Why is this bad?

A revision id in a deploy script is a snapshot of the graph on the day it was written. It is
usually a "fallback head" picked when `upgrade head` failed with multiple heads: from then on
every deploy silently stops at that revision, and later revisions never reach production.

## Example

```python
FALLBACK_HEAD = "3eedf39b54dd"
command.upgrade(cfg, FALLBACK_HEAD)
```

## How to fix

Deploy `head`. When there are several heads, merge them in a reviewed revision
(`alembic merge heads`) instead of choosing one at deploy time.
"#,
};

impl Rule for HardCodedUpgradeTarget {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in cx.deploy.deploy_surfaces() {
            for run in &s.runs {
                let CommandKind::Migrate {
                    target: Target::Revision(rev),
                    ..
                } = &run.kind
                else {
                    continue;
                };
                let d = Diagnostic::new(
                    RuleId::HardCodedUpgradeTarget,
                    format!(
                        "the deploy upgrades to the fixed revision `{rev}`: revisions after it never run"
                    ),
                );
                out.push(at_run(d, run, "a hard-coded target").help(
                    "upgrade to `head`; merge multiple heads in a reviewed revision (`alembic merge heads`)",
                ));
            }
        }
    }
}
