//! Inline suppressions, one syntax for every file revlint reads (Python, YAML, shell,
//! Dockerfiles, all of which comment with `#`):
//!
//! ```text
//! op.create_table("users", ...)  # revlint: ignore[non-idempotent-ddl] -- created by the baseline dump
//! # revlint: ignore[migrate-service-rollout, migrate-service-restart] -- a replicated-job
//! # revlint: ignore-file[create-all-with-migrations] -- the test fixture loader
//! ```
//!
//! A line comment covers findings on its own line and on the next one; `ignore-file` covers
//! the whole file. A comment revlint cannot read, or an unknown rule id, suppresses nothing
//! and is reported (`unused-ignore`), as is a suppression that matched no finding.

use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Severity};
use crate::rules::RuleId;
use crate::source::{FileDb, FileId, Span};

#[derive(Debug, Clone)]
struct Suppression {
    span: Span,
    /// 1-based line of the comment.
    line: u32,
    file_level: bool,
    rules: Vec<RuleId>,
    has_reason: bool,
    used: Vec<bool>,
}

/// What the comments say and what they did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings removed by a suppression.
    pub suppressed: usize,
}

const MARKER: &str = "revlint:";

/// Parse the suppression comments of one file: the readable ones, and diagnostics for the
/// ones that are not.
fn scan(
    db: &FileDb,
    file: FileId,
    problems: &mut Vec<Diagnostic>,
    report: bool,
) -> Vec<Suppression> {
    let f = db.get(file);
    let text = &f.text;
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(text.as_bytes(), MARKER.as_bytes()) {
        // Only in a `#` comment: `#`, spaces, then the marker.
        let before = &text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let lead = before[line_start..].trim_end();
        let Some(hash) = lead.strip_suffix('#').map(|l| l.len()) else {
            continue;
        };
        let hash_at = line_start + hash;
        if hash > 0 && !lead[..hash].ends_with(char::is_whitespace) {
            continue;
        }
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let body = text[at + MARKER.len()..line_end]
            .trim_end_matches('\r')
            .trim();
        let span = Span::new(file, hash_at, line_end);
        let line = f.line_col(at as u32).line;
        let bad = |why: String, problems: &mut Vec<Diagnostic>| {
            if report {
                problems.push(
                    Diagnostic::new(RuleId::UnusedIgnore, why)
                        .primary(span, "suppresses nothing")
                        .help("write `# revlint: ignore[rule-id, ...] -- reason` (or `ignore-file[...]`); `revlint rules` lists the ids"),
                );
            }
        };
        let (file_level, rest) = if let Some(r) = body.strip_prefix("ignore-file") {
            (true, r)
        } else if let Some(r) = body.strip_prefix("ignore") {
            (false, r)
        } else {
            bad(
                format!("`{}` is not a revlint suppression", abbreviate(body)),
                problems,
            );
            continue;
        };
        let rest = rest.trim_start();
        let Some(close) = rest.strip_prefix('[').and_then(|r| r.find(']')) else {
            bad(
                "a suppression must name its rules in brackets (`ignore[rule-id]`); a bare `ignore` would silence everything, so it silences nothing".to_string(),
                problems,
            );
            continue;
        };
        let list = &rest[1..1 + close];
        let after = rest[close + 2..].trim();
        let has_reason = after
            .strip_prefix("--")
            .is_some_and(|r| !r.trim().is_empty());
        let mut rules = Vec::new();
        for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match id.parse::<RuleId>() {
                Ok(r) => rules.push(r),
                Err(_) => {
                    let near = RuleId::nearest(id)
                        .map(|r| format!(" (did you mean `{r}`?)"))
                        .unwrap_or_default();
                    bad(
                        format!(
                            "unknown rule `{id}` in a suppression{near}: it suppresses nothing"
                        ),
                        problems,
                    )
                }
            }
        }
        if rules.is_empty() {
            if !list.trim().is_empty() {
                continue; // every id was unknown: reported above
            }
            bad(
                "a suppression with an empty rule list suppresses nothing".to_string(),
                problems,
            );
            continue;
        }
        let used = vec![false; rules.len()];
        out.push(Suppression {
            span,
            line,
            file_level,
            rules,
            has_reason,
            used,
        });
    }
    out
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(40).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

/// Remove suppressed findings; add `unused-ignore` findings for comments that are malformed,
/// name unknown rules, lack a required reason, or matched nothing among the rules that ran.
pub fn apply(
    db: &FileDb,
    diagnostics: &mut Vec<Diagnostic>,
    ran: &[RuleId],
    require_reason: bool,
) -> Outcome {
    let report = ran.contains(&RuleId::UnusedIgnore);
    let mut problems = Vec::new();
    let mut outcome = Outcome::default();
    let mut by_file: Vec<(FileId, Vec<Suppression>)> = Vec::new();
    for i in 0..db.len() {
        let id = FileId(i as u32);
        if memchr::memmem::find(db.get(id).text.as_bytes(), MARKER.as_bytes()).is_none() {
            continue;
        }
        let s = scan(db, id, &mut problems, report);
        if !s.is_empty() {
            by_file.push((id, s));
        }
    }
    // A file can be in the database twice (read as a script and as a deploy file): judge
    // each comment once, by its position.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    by_file.retain(|(id, _)| seen.insert(db.get(*id).display.as_str()));
    diagnostics.retain(|d| {
        let Some(span) = d.main_span() else {
            return true;
        };
        let display = &db.get(span.file).display;
        let line = db.get(span.file).line_col(span.start).line;
        for (id, sups) in &mut by_file {
            if db.get(*id).display != *display {
                continue;
            }
            for s in sups.iter_mut() {
                if require_reason && !s.has_reason {
                    continue;
                }
                let covers = s.file_level || s.line == line || s.line + 1 == line;
                if !covers {
                    continue;
                }
                if let Some(k) = s.rules.iter().position(|r| *r == d.rule) {
                    s.used[k] = true;
                    outcome.suppressed += 1;
                    return false;
                }
            }
        }
        true
    });
    if report {
        for (_, sups) in &by_file {
            for s in sups {
                if require_reason && !s.has_reason {
                    problems.push(
                        Diagnostic::new(
                            RuleId::UnusedIgnore,
                            "this suppression gives no reason, and the settings require one (`require-ignore-reason`)",
                        )
                        .primary(s.span, "no `-- reason`")
                        .help("append ` -- <why this finding does not apply>`"),
                    );
                    continue;
                }
                for (r, used) in s.rules.iter().zip(&s.used) {
                    if *used || !ran.contains(r) {
                        continue;
                    }
                    let scope = if s.file_level {
                        "in this file"
                    } else {
                        "on this line or the next"
                    };
                    let mut d = Diagnostic::new(
                        RuleId::UnusedIgnore,
                        format!("`{r}` is suppressed here but reports nothing {scope}"),
                    )
                    .primary(s.span, "unused suppression")
                    .help(format!("remove `{r}` from the comment"));
                    d.severity = Severity::Warning;
                    problems.push(d);
                }
            }
        }
    }
    diagnostics.extend(problems);
    outcome
}
