use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct MergeRevisionHasOperations;

static META: RuleMeta = RuleMeta {
    id: RuleId::MergeRevisionHasOperations,
    category: Category::Graph,
    summary: "A merge revision's `upgrade()` does schema work",
    default_severity: Severity::Info,
    docs: r#"## What it does

Finds merge revisions (a tuple or list `down_revision`) that look like `alembic merge` output
(a file name that says "merge", or, when the file is named only by its revision id and dates,
a title that does) whose `upgrade()` contains statements other than
`pass`, `...`, a docstring or a bare `return` (after which nothing runs). A revision with two parents that is titled and named for its
work is read by reviewers as that work, and is not reported.

## Why is this bad?

Reviewers expect a merge revision to be empty: it only joins branches. Work hidden in a
merge is easy to miss in review, runs after both branches in an order that depends on the
database's current revision, and is lost if the merge is later regenerated.

## Example

```python
revision = "f709960167e7"
down_revision = ("850df83abd23", "a1b2c3d4e5f6")

def upgrade() -> None:
    op.add_column("teams", sa.Column("region", sa.String(32)))
```

## How to fix

Keep the merge empty (`pass`) and move the work into a normal revision on top of it.
"#,
};

impl Rule for MergeRevisionHasOperations {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for project in cx.projects {
            for m in project.migrations() {
                let (true, Some(up)) = (m.is_merge(), &m.upgrade) else {
                    continue;
                };
                // Reviewers skip what looks like `alembic merge` output ("merge heads", a
                // `*_merge_*.py` file); a merge revision titled for its work is read as work.
                let file = cx.db.get(m.file);
                let title = file.text.trim_start().trim_start_matches(['"', '\'', 'r']);
                let title = title.lines().next().unwrap_or("").to_ascii_lowercase();
                let name = file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_default();
                // The file name's words (`f028_workbench_menu_keys_backfill.py`), without
                // hex ids and version or date tokens: where they name something, they are what
                // a reviewer reads first, and they decide. A file named only by its id and
                // dates (`ae1027a6acf.py`) leaves it to the title.
                let stem = name.strip_suffix(".py").unwrap_or(&name);
                let words: Vec<&str> = stem
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_alphabetic()))
                    .collect();
                let says_merge = if words.is_empty() {
                    title.contains("merge")
                } else {
                    words.iter().any(|w| w.contains("merge"))
                };
                if !says_merge {
                    continue;
                }
                let Some(op) = up.first_operation else {
                    continue;
                };
                let id = m.id().unwrap_or("?");
                out.push(
                    Diagnostic::new(
                        RuleId::MergeRevisionHasOperations,
                        format!(
                            "merge revision `{id}` does work in upgrade(); merges are expected to be empty and reviewers skip them"
                        ),
                    )
                    .primary(op, "schema work in a merge revision")
                    .help("keep the merge's upgrade() as `pass` and move this work into a new revision on top of the merge (`alembic revision -m \"...\"`)"),
                );
            }
        }
    }
}
