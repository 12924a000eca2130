use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};

pub struct ParseError;

static META: RuleMeta = RuleMeta {
    id: RuleId::ParseError,
    category: Category::Graph,
    summary: "A revision or config file cannot be read or parsed",
    default_severity: Severity::Error,
    docs: r#"## What it does

Reports files revlint must read but cannot: Python syntax errors in revision files (with
the parser's position), files that are not valid UTF-8 and declare no other encoding,
binary files, unreadable files, link loops, config files Alembic cannot parse, and
compose, stack and workflow YAML that does not load: syntax errors, duplicate keys, unknown
aliases, `<<` merges of non-mappings, alias-expansion bombs and nesting deeper than 256
levels.
The rest of the project is still linted: revlint's parser recovers, so a revision with a
syntax error keeps its place in the graph when its ids can be read.

## Why is this bad?

Alembic imports every revision file before any command runs. One file that does not
import, for example with leftover git conflict markers, stops every deploy's migration.

## Example

```python
revision = "3f2a9b1c7d4e"
<<<<<<< HEAD
down_revision = "9c1d2e3f4a5b"
=======
down_revision = "1a2b3c4d5e6f"
>>>>>>> feature/billing
```

## How to fix

Fix the syntax at the reported position (resolve the conflict), or save the file as UTF-8.
"#,
};

impl Rule for ParseError {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for issue in cx.walk_issues {
            out.push(
                Diagnostic::new(RuleId::ParseError, issue.message.clone())
                    .primary(issue.span, issue.label)
                    .help("make the path readable, or remove the link loop"),
            );
        }
        for issue in &cx.deploy.issues {
            out.push(
                Diagnostic::new(RuleId::ParseError, issue.message.clone())
                    .primary(issue.span, issue.label)
                    .help("fix the YAML here; revlint checks the rest of the file's deploy settings only once it loads"),
            );
        }
        for project in cx.projects {
            for issue in &project.file_issues {
                let file = cx.db.get(issue.span.file);
                out.push(
                    Diagnostic::new(RuleId::ParseError, issue.message.clone())
                        .primary(issue.span, issue.label)
                        .help(if file.path.extension().is_some_and(|e| e == "py") {
                            "save the file as UTF-8 text (or declare its encoding with a `# -*- coding: ... -*-` line)"
                        } else {
                            "fix the config so Alembic can read it"
                        }),
                );
            }
            for m in project.migrations() {
                let Some((first, span)) = m.syntax_errors.first() else {
                    continue;
                };
                let more = m.syntax_errors.len() - 1;
                let file = cx.db.get(m.file);
                let conflict =
                    file.text.contains("\n<<<<<<< ") || file.text.starts_with("<<<<<<< ");
                let mut message = format!("{} has a Python syntax error: {first}", file.display);
                if more > 0 {
                    message.push_str(&format!(" ({more} more after it)"));
                }
                message.push_str("; Alembic cannot import it, so every command fails");
                out.push(
                    Diagnostic::new(RuleId::ParseError, message)
                        .primary(*span, "syntax error")
                        .help(if conflict {
                            "resolve the git merge conflict left in this file"
                        } else {
                            "fix the syntax at this position"
                        }),
                );
            }
        }
    }
}
