use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct AlembicConfigMistake;

static META: RuleMeta = RuleMeta {
    id: RuleId::AlembicConfigMistake,
    category: Category::Graph,
    summary: "An Alembic setting that Alembic reads differently from how it looks",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Checks `alembic.ini` and `pyproject.toml [tool.alembic]` for settings that look right but
are read otherwise by Alembic:

- `recursive_version_locations = True`: only the exact lowercase `true` is true;
- inline comments (`path_separator = os  # note`): the ini format has none, the comment
  becomes part of the value;
- `version_locations` set while `<script_location>/versions` still holds revisions, which
  Alembic then no longer reads;
- a `script_location` that is not a directory (unless another environment of the repository
  loads revisions: then this config is a leftover copy, and the deploy runs the other), or a
  missing `script_location` (an ini with no
  `[alembic]` section whose other sections set one holds an environment per database, run
  with `alembic -n NAME`: the first is read). An absolute
  path outside the repository is read as a path inside an image (its longest suffix that
  exists in the repository); when none exists it is made in the image or on the server (a
  symlink, a volume) and is not reported;
- a lone `%` in a `[tool.alembic]` value (Python %-formatting needs `%%`).

## Why is this bad?

Each one silently changes which revision files Alembic loads, or breaks every command
only on the machine where it runs: revisions in a subfolder never apply, or the deploy
fails on a `ValueError` the developer never saw.

## Example

```ini
[alembic]
script_location = %(here)s/migrations
recursive_version_locations = True
path_separator = os  # keep in sync with setup.cfg
```

## How to fix

Write the value exactly as Alembic expects: `recursive_version_locations = true`, comments
on their own lines, every folder holding revisions listed in `version_locations`.
"#,
};

impl Rule for AlembicConfigMistake {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for (pi, project) in cx.projects.iter().enumerate() {
            // A config whose scripts are nowhere, beside another config whose revisions load:
            // a leftover copy that nothing runs (the deploy uses the other one). A folder of
            // revisions no config names is no such evidence: it may be what this one meant.
            let elsewhere = || {
                cx.projects.iter().enumerate().any(|(qi, q)| {
                    qi != pi
                        && !matches!(q.config, crate::model::project::ConfigSource::EnvPy(_))
                        && q.migrations().next().is_some()
                })
            };
            for issue in &project.config_issues {
                if issue.points_at_nothing && elsewhere() {
                    continue;
                }
                out.push(
                    Diagnostic::new(RuleId::AlembicConfigMistake, issue.message.clone())
                        .primary(issue.span, "read differently by Alembic")
                        .help(issue.help.clone()),
                );
            }
        }
    }
}
