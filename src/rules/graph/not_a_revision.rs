use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::Span;

pub struct NotARevision;

static META: RuleMeta = RuleMeta {
    id: RuleId::NotARevision,
    category: Category::Graph,
    summary: "A Python file in a version location is not a revision: Alembic fails every command",
    default_severity: Severity::Error,
    docs: r#"## What it does

Finds `.py` files in a version location that do not declare `revision` (and whose file
name is not a bare lowercase hex id, Alembic's legacy fallback), or that declare
`revision` but no `down_revision`.

## Why is this bad?

Alembic imports every `*.py` in its version locations except `__init__*` and editor lock
files. A helper script dropped there ("fix_purchases_table.py", "reset_migrations.py")
makes every command fail with "Could not determine revision id from filename", and a file
without `down_revision` fails with an `AttributeError`. The deploy's `upgrade` stops before
it starts.

## Example

```python
# versions/fix_purchases_table.py: a one-off repair script
from sqlalchemy import create_engine, text
engine = create_engine(DATABASE_URL)
```

## How to fix

Move the script out of the version location (for example to `scripts/`). If it was meant
to be a revision, create it with `alembic revision -m "..."` so it gets `revision` and
`down_revision`.
"#,
};

impl Rule for NotARevision {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for project in cx.projects {
            for m in project.migrations() {
                let file = cx.db.get(m.file);
                let name = file
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default();
                let location = file
                    .path
                    .parent()
                    .map(|p| crate::discover::display(cx.cwd, p))
                    .unwrap_or_default();
                if !m.declares_revision && !m.revision_from_filename {
                    if !m.syntax_errors.is_empty() {
                        continue; // parse-error says why nothing was found
                    }
                    out.push(
                        Diagnostic::new(
                            RuleId::NotARevision,
                            format!(
                                "{name} is in the version location {location} but declares no `revision`: Alembic imports it and every command fails with \"Could not determine revision id from filename\""
                            ),
                        )
                        .primary(Span::file_start(m.file), "not a revision file")
                        .help(format!(
                            "move it out of {location} (for example to scripts/); if it should be a revision, create one with `alembic revision -m \"...\"`"
                        )),
                    );
                } else if m.revision.is_some()
                    && !m.declares_down_revision
                    && m.syntax_errors.is_empty()
                {
                    let span = m
                        .revision
                        .as_ref()
                        .map(|r| r.span)
                        .unwrap_or(Span::file_start(m.file));
                    out.push(
                        Diagnostic::new(
                            RuleId::NotARevision,
                            format!(
                                "{name} declares a revision but no `down_revision`: Alembic fails every command with AttributeError: module has no attribute 'down_revision'"
                            ),
                        )
                        .primary(span, "revision without down_revision")
                        .help("add `down_revision = \"<parent id>\"`, or `down_revision = None` for the first revision"),
                    );
                }
            }
        }
    }
}
