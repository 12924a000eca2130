use super::revision_span;
use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct DuplicateRevision;

static META: RuleMeta = RuleMeta {
    id: RuleId::DuplicateRevision,
    category: Category::Graph,
    summary: "Two files declare the same revision id: one is silently shadowed and stays a head",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds revision ids declared by more than one file in a project.

## Why is this bad?

Alembic only warns ("Revision ... is present more than once"): the file loaded last wins
the id, the other is shadowed, yet the shadowed copy still counts as a head forever.
`alembic heads` lists the id twice, `upgrade head` fails with "Multiple head revisions are
present", and `alembic merge heads` cannot repair it ("Duplicate head revisions
specified"). Placeholder ids such as `a1b2c3d4e5f6` written by hand are the usual cause.

## Example

```python
# versions/a1b2c3d4e5f6_platform_config.py
revision = "a1b2c3d4e5f6"
# versions/a1b2c3d4e5f6_add_audit_log.py
revision = "a1b2c3d4e5f6"
```

## How to fix

Give one copy a new id (Alembic makes them with `uuid.uuid4().hex[-12:]`), rename its
file, and point its children's `down_revision` at the new id.
"#,
};

impl Rule for DuplicateRevision {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for g in cx.graphs {
            for group in &g.duplicates {
                let id = &g.nodes[group[0]].id;
                let winner = *group.last().expect("group has members");
                let files: Vec<String> = group
                    .iter()
                    .map(|&i| {
                        let path = &cx.db.get(g.nodes[i].migration.file).path;
                        path.file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    })
                    .collect();
                let mut d = Diagnostic::new(
                    RuleId::DuplicateRevision,
                    format!(
                        "revision `{id}` is declared by {} files ({}): Alembic keeps only {}, and the shadowed copy stays a head, so `upgrade head` fails and `alembic merge` cannot repair it",
                        group.len(),
                        files.join(", "),
                        files.last().expect("group has members"),
                    ),
                )
                .help(format!(
                    "give one copy a new id, e.g. from `python -c \"import uuid; print(uuid.uuid4().hex[-12:])\"`, rename its file, and re-point the `down_revision` of its children; `{id}` stays with the other"
                ));
                for &i in group {
                    if i == winner {
                        d = d.secondary(revision_span(g, i), "Alembic keeps this one");
                    } else {
                        d = d.primary(
                            revision_span(g, i),
                            "shadowed by a later file with the same id",
                        );
                    }
                }
                out.push(d);
            }
        }
    }
}
