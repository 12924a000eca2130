//! Rules about revlint's own comments.

use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct UnusedIgnore;

static META: RuleMeta = RuleMeta {
    id: RuleId::UnusedIgnore,
    category: Category::Meta,
    summary: "A `# revlint: ignore[...]` comment that suppresses nothing",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Reports suppression comments that do not do what they say: a rule in
`# revlint: ignore[rule-id, ...]` (or `ignore-file[...]`) that reported nothing on that line,
the next line or (for `ignore-file`) the file; an unknown rule id; a comment that starts with
`# revlint:` but cannot be read (`ignore` without a rule list suppresses nothing, never
everything); and, with `require-ignore-reason = true` in the settings, a suppression without
` -- reason`. The same `#` syntax works in Python, YAML, shell scripts and Dockerfiles.

## Why is this bad?

A stale suppression hides the next real finding on that line, and a mistyped rule id
silences nothing while looking like it does. Reviewers read suppressions as decisions; each
one should still be one.

## Example

```python
def upgrade():
    if not inspector.has_table("users"):
        op.create_table("users", sa.Column("id", sa.Integer))  # revlint: ignore[non-idempotent-ddl]
```

The guard already makes the call idempotent, so the suppression matches nothing.

## How to fix

Remove the unused rule ids (or the whole comment), correct mistyped ids (`revlint rules` lists
them), and give a reason after ` -- `: `# revlint: ignore[stamp-in-deploy] -- bootstrap of
an empty database`.
"#,
};

impl Rule for UnusedIgnore {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// The work happens after every other rule ran (`suppress::apply`), when it is known what
    /// each comment matched.
    fn check(&self, _cx: &Context, _out: &mut Vec<Diagnostic>) {}
}
