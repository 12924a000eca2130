use super::{describe, join_and};
use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct MultipleBases;

static META: RuleMeta = RuleMeta {
    id: RuleId::MultipleBases,
    category: Category::Graph,
    summary:
        "More than one revision starts the history (`down_revision = None`) without branch labels",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds projects with more than one base revision (`down_revision` is `None` or empty) when
the bases are not an intentional, labelled multi-base layout (each base with its own
`branch_labels`), and one of the bases is a revision the next deploy applies, chosen as
`non-idempotent-ddl` chooses them (the revisions a branch or `--diff-base` adds, else the
newest revision of each head, with the branch tips a merging head joins). A second base that
shipped years ago and was merged since is history; `--all-revisions` reports it.

## Why is this bad?

A second base is almost always an accident: a revision generated against an empty
database, or a `down_revision` reset to `None` to "fix" an error. On a fresh database
`upgrade heads` runs both histories in an undefined order; on an existing one the second
base's tables may already exist, and `upgrade` fails half-way.

## Example

```python
# versions/1a2b3c4d5e6f_initial.py
revision = "1a2b3c4d5e6f"
down_revision = None
# versions/9f8e7d6c5b4a_initial_again.py
revision = "9f8e7d6c5b4a"
down_revision = None
```

## How to fix

Point the accidental base's `down_revision` at the revision it was meant to follow. For an
intentional independent history, give each base its own `branch_labels` and create new
revisions with `alembic revision --head <label>@head`.
"#,
};

impl Rule for MultipleBases {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (project, g) in cx.projects.iter().zip(cx.graphs) {
            let pending = crate::rules::migration::pending_revisions(cx, project, Some(g));
            // A revision whose `down_revision` is unknown is not known to be a base.
            let bases: Vec<_> = g
                .bases
                .iter()
                .copied()
                .filter(|&b| !g.nodes[b].migration.parents_unknown())
                .collect();
            if bases.len() < 2 || !g.cycles.is_empty() || g.distinct_label_lineages(&bases) {
                continue;
            }
            // A second base that shipped long ago, joined since, is history: the finding is
            // for the change that adds one.
            if !bases
                .iter()
                .any(|&b| pending.contains(&g.nodes[b].migration.file))
            {
                continue;
            }
            let list: Vec<String> = bases.iter().map(|&b| describe(cx.db, g, b)).collect();
            let mut d = Diagnostic::new(
                RuleId::MultipleBases,
                format!(
                    "{} revisions start the history without branch labels: `upgrade` applies them in no set order",
                    bases.len(),
                ),
            )
            .help("point the accidental base's `down_revision` at the revision it follows, or give each base its own `branch_labels` if the separate histories are intended")
            .note(format!("the bases: {}", join_and(&list)));
            for &b in &bases {
                let m = g.nodes[b].migration;
                let span = m
                    .down_span
                    .or(m.revision.as_ref().map(|r| r.span))
                    .unwrap_or(Span::file_start(m.file));
                d = d.primary(span, format!("`{}` has no parent", g.nodes[b].id));
            }
            out.push(d);
        }
    }
}
