use super::unknowns_note;
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::RevisionGraph;
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct DanglingDownRevision;

static META: RuleMeta = RuleMeta {
    id: RuleId::DanglingDownRevision,
    category: Category::Graph,
    summary: "`down_revision` names a revision no file declares: every Alembic command fails",
    default_severity: Severity::Error,
    docs: r#"## What it does

Checks that every id in `down_revision` is the `revision` of some file in the project's
version locations. When the id is a typo or a truncated copy of an existing id, it suggests
that id. A branch label is not accepted here: only `depends_on` may name labels. An id that
another Alembic project of the repository declares is not reported: a plugin whose history
starts from the core's runs with it, through `version_locations` assembled in code. Nor is
any id when the repository's Python adds version locations at run time
(`cfg.set_main_option("version_locations", …)`, `context.script.version_locations = …`):
the parent may live there, out of revlint's sight. A near-identical id of this project (a
likely typo) is still reported.

## Why is this bad?

Alembic builds its revision map before doing anything else. A parent that does not exist
makes every command, `upgrade`, `heads`, `current`, even `history`, die with a bare Python
`KeyError` and a traceback. The usual causes are a revision deleted or renamed on another
branch, a hand-edited id, or a revision file that never got committed.

## Example

```python
revision = "3f2a9b1c7d4e"
down_revision = "9c1d2e3f4a5"   # the parent's id is 9c1d2e3f4a5b
```

## How to fix

Point `down_revision` at an existing revision (`alembic heads` or `revlint graph` lists
them), or commit the missing revision file.
"#,
};

impl Rule for DanglingDownRevision {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (pi, (project, g)) in cx.projects.iter().zip(cx.graphs).enumerate() {
            for d in &g.dangling_down {
                let id = &d.reference.id;
                if super::may_be_declared_elsewhere(cx, pi, project, g, id) {
                    continue;
                }
                let (message, help) = if d.names_label {
                    let owner = &g.nodes[g.label_owner[id]].id;
                    (
                        format!(
                            "`down_revision` names the branch label `{id}`, but only revision ids are allowed there: every Alembic command fails with KeyError: '{id}'"
                        ),
                        format!(
                            "use the revision id `{owner}` (the revision that declares the label), or move `{id}` to `depends_on`"
                        ),
                    )
                } else {
                    (
                        format!(
                            "`down_revision` names `{id}`, which no revision file declares: every Alembic command fails with KeyError: '{id}'{}",
                            unknowns_note(project)
                        ),
                        match closest(g, id) {
                            Some(s) => format!("did you mean `{s}`? write `{}`", quote_like(cx, d, &s)),
                            None => "point it at an existing revision (`revlint heads` lists the heads), or commit the missing revision file".into(),
                        },
                    )
                };
                let note = if d.names_label {
                    "a branch label, not a revision id"
                } else {
                    "no revision has this id"
                };
                out.push(
                    Diagnostic::new(RuleId::DanglingDownRevision, message)
                        .primary(d.reference.span, note)
                        .help(help),
                );
            }
        }
    }
}

/// The existing id the reference most likely meant: one it is a prefix of (a truncated
/// copy), or one a small edit away.
pub(crate) fn closest(g: &RevisionGraph, id: &str) -> Option<String> {
    if id.len() >= 4 {
        let mut prefixed: Vec<&str> = g
            .by_id
            .keys()
            .filter(|k| k.starts_with(id) || id.starts_with(k.as_str()))
            .map(String::as_str)
            .collect();
        prefixed.sort_unstable();
        if prefixed.len() == 1 {
            return Some(prefixed[0].to_string());
        }
    }
    let limit = (id.len() / 4).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for k in g.by_id.keys() {
        let dist = strsim::levenshtein(id, k);
        if dist <= limit && best.is_none_or(|(b, bk)| (dist, k.as_str()) < (b, bk)) {
            best = Some((dist, k));
        }
    }
    best.map(|(_, k)| k.to_string())
}

/// The suggestion written with the quote character the file uses.
fn quote_like(cx: &Context, d: &crate::graph::Dangling, id: &str) -> String {
    let span = d.reference.span;
    let text = &cx.db.get(span.file).text;
    let q = text[span.start as usize..]
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .unwrap_or('"');
    format!("{q}{id}{q}")
}
