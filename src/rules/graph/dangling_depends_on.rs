use super::dangling_down_revision::closest;
use super::unknowns_note;
use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct DanglingDependsOn;

static META: RuleMeta = RuleMeta {
    id: RuleId::DanglingDependsOn,
    category: Category::Graph,
    summary: "`depends_on` names an unknown revision or branch label: every Alembic command fails",
    default_severity: Severity::Error,
    docs: r#"## What it does

Checks that every entry of `depends_on` is a revision id or a branch label declared in the
project. An id that another Alembic project of the repository declares is not reported: a
plugin's revisions that build on the core's run together with them, through the
`version_locations` the application assembles in code. Nor is any id when the repository's
Python adds version locations at run time (`cfg.set_main_option("version_locations", …)`,
`context.script.version_locations = …`, often from installed packages' entry points): the
id may be declared there, out of revlint's sight. A near-identical id of this project (a
likely typo) is still reported.

## Why is this bad?

Alembic resolves `depends_on` while it builds the revision map. An unknown name makes every
command fail with a `KeyError` traceback, including the `alembic upgrade head` of a deploy.
It usually means a dependency on another branch was renamed, or the dependent revision was
merged before the revision it depends on.

## Example

```python
revision = "7e8f9a0b1c2d"
down_revision = "3f2a9b1c7d4e"
depends_on = "billing_init"   # no revision declares branch_labels = ("billing_init",)
```

## How to fix

Name an existing revision id or a declared branch label, or drop the dependency.
"#,
};

impl Rule for DanglingDependsOn {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (pi, (project, g)) in cx.projects.iter().zip(cx.graphs).enumerate() {
            for d in &g.dangling_depends {
                let id = &d.reference.id;
                if super::may_be_declared_elsewhere(cx, pi, project, g, id) {
                    continue;
                }
                let help = match closest(g, id) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "name an existing revision id or declared branch label, or remove the dependency".into(),
                };
                out.push(
                    Diagnostic::new(
                        RuleId::DanglingDependsOn,
                        format!(
                            "`depends_on` names `{id}`, which is neither a revision nor a branch label in this project: every Alembic command fails with KeyError: '{id}'{}",
                            unknowns_note(project)
                        ),
                    )
                    .primary(d.reference.span, "no revision or branch label has this name")
                    .help(help),
                );
            }
        }
    }
}
