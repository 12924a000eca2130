//! Rendering. The only module that knows lines, columns, colours and formats.
//! Every writer takes the `impl Write` it is handed.

pub mod concise;
pub mod github;
pub mod graph;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;

use crate::diagnostic::Label;
use crate::source::{FileDb, LineCol};

/// Start and end line/column of a label.
pub(crate) fn position(db: &FileDb, label: &Label) -> (LineCol, LineCol) {
    let f = db.get(label.span.file);
    (f.line_col(label.span.start), f.line_col(label.span.end))
}

/// `path:line:col` of the label a finding is reported at.
pub(crate) fn place(db: &FileDb, d: &crate::diagnostic::Diagnostic) -> Option<String> {
    d.main_label().map(|l| {
        let (start, _) = position(db, l);
        format!(
            "{}:{}:{}",
            db.get(l.span.file).display,
            start.line,
            start.column
        )
    })
}

/// "2 errors, 1 warning in 412 files (1 project, 38 ms)".
pub fn summary_line(result: &crate::LintResult) -> String {
    summary(result, Some(result.elapsed.as_millis()))
}

/// "2 errors, 1 warning in 412 files (1 project)": the summary without the time, the same
/// for the same tree.
pub fn counts_line(result: &crate::LintResult) -> String {
    summary(result, None)
}

fn summary(result: &crate::LintResult, millis: Option<u128>) -> String {
    use crate::diagnostic::Severity::*;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    for (sev, word) in [(Error, "error"), (Warning, "warning"), (Info, "info")] {
        let n = result.count(sev);
        if n > 0 || sev == Error {
            parts.push(if sev == Info {
                format!("{n} info")
            } else {
                plural(n, word)
            });
        }
    }
    let mut aside = vec![plural(result.discovered.projects.len(), "project")];
    aside.extend(millis.map(|ms| format!("{ms} ms")));
    format!(
        "{} in {} ({})",
        parts.join(", "),
        plural(result.discovered.db.len(), "file"),
        aside.join(", ")
    )
}
