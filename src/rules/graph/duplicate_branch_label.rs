use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct DuplicateBranchLabel;

static META: RuleMeta = RuleMeta {
    id: RuleId::DuplicateBranchLabel,
    category: Category::Graph,
    summary:
        "A branch label is declared twice, or equals a revision id: every Alembic command fails",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds a `branch_labels` entry declared by two revisions, or equal to an existing revision
id. Labels inherited by descendants are not declarations and are fine.

## Why is this bad?

Alembic maps labels and ids into one namespace while it loads the history. A repeated
label raises "Branch name 'x' in revision ... already used by revision ...", and every
command, the deploy's `upgrade` included, fails.

## Example

```python
# versions/1a2b3c4d5e6f_billing_base.py
branch_labels = ("billing",)
# versions/9f8e7d6c5b4a_invoices_base.py
branch_labels = ("billing",)
```

## How to fix

Give each independent branch its own label; a revision on an existing branch needs no
label (it inherits it).
"#,
};

impl Rule for DuplicateBranchLabel {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for g in cx.graphs {
            for c in &g.label_conflicts {
                let label = &c.label.id;
                let first = &g.nodes[c.first];
                let (message, note) = if c.first_is_revision {
                    (
                        format!(
                            "branch label `{label}` of revision `{}` is also the id of revision `{}`: Alembic fails with \"Branch name '{label}' ... already used\"",
                            g.nodes[c.node].id, first.id
                        ),
                        "the revision with this id",
                    )
                } else {
                    (
                        format!(
                            "branch label `{label}` is declared by revision `{}` and again by `{}`: Alembic fails every command with \"Branch name '{label}' in revision {} already used by revision {}\"",
                            first.id, g.nodes[c.node].id, g.nodes[c.node].id, first.id
                        ),
                        "first declared here",
                    )
                };
                let first_span = if c.first_is_revision {
                    super::revision_span(g, c.first)
                } else {
                    first
                        .migration
                        .branch_labels
                        .iter()
                        .find(|l| &l.id == label)
                        .map(|l| l.span)
                        .unwrap_or_else(|| super::revision_span(g, c.first))
                };
                out.push(
                    Diagnostic::new(RuleId::DuplicateBranchLabel, message)
                        .primary(c.label.span, "label already used")
                        .secondary(first_span, note)
                        .help(format!(
                            "rename one of the labels (each independent branch needs its own), or drop `{label}` here if this revision is on that branch already: labels are inherited"
                        )),
                );
            }
        }
    }
}
