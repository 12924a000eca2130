use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct UnresolvedIdentifier;

static META: RuleMeta = RuleMeta {
    id: RuleId::UnresolvedIdentifier,
    category: Category::Graph,
    summary: "A revision attribute is not a literal, so the graph cannot be known without running the file",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Reports `revision`, `down_revision`, `branch_labels` and `depends_on` values that revlint
cannot evaluate without executing the file: function calls, f-strings, imported names,
attribute lookups, or assignments inside `if`/`try` blocks. String literals (including
implicit concatenation), `None`, tuples and lists of them, and names bound to such literals
earlier in the same file are all understood.

## Why is this bad?

The revision graph is the contract between a pull request and the deploy. When an id is
computed, no reviewer and no static tool can tell what the graph is; revlint treats the
value as unknown, so heads, bases and dangling references involving this file may be
incomplete. It never guesses.

## Example

```python
from myapp.migrations.ids import BASE_REVISION

revision = make_revision_id(__file__)
down_revision = BASE_REVISION
```

## How to fix

Write the ids as string literals, as `alembic revision` generates them:
`revision = "3f2a9b1c7d4e"`.
"#,
};

impl Rule for UnresolvedIdentifier {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for project in cx.projects {
            for m in project.migrations() {
                for u in &m.unresolved {
                    out.push(
                        Diagnostic::new(
                            RuleId::UnresolvedIdentifier,
                            format!(
                                "`{}` is {}; revlint cannot evaluate it without running the file, so the revision graph treats it as unknown",
                                u.name, u.what
                            ),
                        )
                        .primary(u.span, "not a literal")
                        .help(format!(
                            "assign a literal, as `alembic revision` writes it: `{} = {}`",
                            u.name,
                            match u.name.as_str() {
                                "revision" => "\"3f2a9b1c7d4e\"",
                                "down_revision" => "\"<parent revision id>\"",
                                _ => "None",
                            }
                        )),
                    );
                }
            }
        }
    }
}
