use crate::diagnostic::{Diagnostic, Severity};
use crate::model::migration::is_lower_hex;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct RevisionIdMismatch;

static META: RuleMeta = RuleMeta {
    id: RuleId::RevisionIdMismatch,
    category: Category::Graph,
    summary: "The file name starts with a revision id other than the one the file declares",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Compares the revision-like hex token at the start of a revision file's name with the
`revision` the file declares, and reports a mismatch when the name's id is one the project
knows: another file declares it, or a `down_revision`/`depends_on` names it (the file was
copied from that revision). Names without such a token, names that contain the declared id
elsewhere (date-prefixed `file_template`s), and names whose id nothing knows (a typo Alembic
ignores) are not reported.

Only revisions the next deploy applies are judged, chosen as `non-idempotent-ddl` chooses
them (the revisions a branch or `--diff-base` adds, else the newest revision of each head):
the copy is worth renaming while it is under review. A misnamed file that shipped years ago
is history; `--all-revisions` lists those too.

## Why is this bad?

A file copied from another revision and edited keeps the old name. Reviewers, `git log`
and people grepping for an id from an error message are then sent to the wrong file, and
the copy often keeps a stale `down_revision` too.

## Example

```python
# versions/1c2d3e4f5a6b_add_orders.py, copied from 1c2d3e4f5a6b_create_users.py
revision = "7e8f9a0b1c2d"
```

## How to fix

Rename the file so its name starts with the declared id (`7e8f9a0b1c2d_add_orders.py`),
or, if the id is the mistake, fix `revision` and the children that point at it.
"#,
};

impl Rule for RevisionIdMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (project, graph) in cx.projects.iter().zip(cx.graphs) {
            let pending = crate::rules::migration::pending_revisions(cx, project, Some(graph));
            // Ids the project knows: declared by a file or named by a reference. A file named
            // for an id nobody declares or references is only misnamed; Alembic ignores names.
            let known: std::collections::BTreeSet<&str> = project
                .migrations()
                .flat_map(|m| {
                    m.revision
                        .iter()
                        .chain(&m.down_revisions)
                        .chain(&m.depends_on)
                        .map(|r| r.id.as_str())
                })
                .collect();
            for m in project.migrations() {
                let (Some(rev), false) = (&m.revision, m.revision_from_filename) else {
                    continue;
                };
                if !pending.contains(&m.file) {
                    continue;
                }
                let file = cx.db.get(m.file);
                let name = file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let stem = name.strip_suffix(".py").unwrap_or(&name);
                let token = stem.split(['_', '-', '.']).next().unwrap_or("");
                let revision_like = is_lower_hex(token)
                    && (token.len() == 12 || token.len() == rev.id.len())
                    && token.bytes().any(|b| b.is_ascii_digit());
                if !revision_like
                    || token == rev.id
                    || stem.contains(rev.id.as_str())
                    || !known.contains(token)
                {
                    continue;
                }
                let renamed = format!("{}{}", rev.id, &name[token.len()..]);
                out.push(
                    Diagnostic::new(
                        RuleId::RevisionIdMismatch,
                        format!(
                            "{name} is named for revision `{token}` but declares revision `{}` (a copied file?)",
                            rev.id
                        ),
                    )
                    .primary(rev.span, format!("the file name says `{token}`"))
                    .help(format!(
                        "rename the file to {renamed}, or if the id is what is wrong, fix `revision` and the revisions that point at it"
                    )),
                );
            }
        }
    }
}
