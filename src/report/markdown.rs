//! A Markdown report for GitHub's job summary (`$GITHUB_STEP_SUMMARY`) and pull-request
//! comments: a count line, a findings table and, for each project whose revision graph has a
//! finding, the graph as Mermaid inside `<details>` with a text rendering beside it for
//! viewers that do not draw Mermaid.
//!
//! GitHub refuses a step summary over 1 MiB and draws no Mermaid block over 50,000
//! characters, so the report is built against a byte budget: table rows stop with a line
//! saying how many were left out, and a graph too large to draw keeps only its text form (or
//! a note, when even that does not fit).

use std::collections::BTreeSet;
use std::io::{self, Write};

use crate::diagnostic::Severity;
use crate::graph::RevisionGraph;
use crate::rules::Category;
use crate::source::FileId;
use crate::LintResult;

/// GitHub's limit for one step's summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;
/// What the report allows itself: the limit less room for anything else the step writes.
pub const BUDGET: usize = SUMMARY_LIMIT - 64 * 1024;
/// The largest Mermaid source GitHub renders.
pub const MERMAID_LIMIT: usize = 50_000;

/// Text safe inside a table cell: no line breaks, pipes escaped, HTML inert.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {}
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span holding `s`, with a fence longer than any backtick run inside it.
fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    // Entities are not decoded inside a code span; only a pipe needs escaping there.
    let inner = s.replace('|', "\\|").replace(['\r', '\n'], " ");
    format!("{fence}{pad}{inner}{pad}{fence}")
}

/// A fenced block for `body`, with a fence longer than any backtick run in it.
fn fenced(info: &str, body: &str) -> String {
    let mut longest = 0;
    for line in body.lines() {
        let run = line.chars().take_while(|&c| c == '`').count();
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{info}\n{}\n{fence}\n", body.trim_end_matches('\n'))
}

pub fn write(out: &mut impl Write, result: &LintResult) -> io::Result<()> {
    out.write_all(render(result, BUDGET).as_bytes())
}

/// The report, at most `budget` bytes long.
pub fn render(result: &LintResult, budget: usize) -> String {
    let db = &result.discovered.db;
    let diagnostics = &result.diagnostics;
    let mut doc = String::new();
    let counts = super::counts_line(result);
    let mark = if result.count(Severity::Error) > 0 {
        "❌"
    } else if diagnostics.is_empty() {
        "✅"
    } else {
        "⚠️"
    };
    doc.push_str(&format!("## {mark} revlint\n\n{}\n", cell(&counts)));

    // Graphs first reserve what they need, up to half the budget, so a long table cannot
    // crowd out the picture that explains the most serious finding.
    let graphs = graph_sections(result, budget / 2);
    let graph_len: usize = graphs.iter().map(String::len).sum();

    if !diagnostics.is_empty() {
        doc.push_str("\n| Severity | Rule | Location | Message |\n|---|---|---|---|\n");
        let room = budget.saturating_sub(graph_len + 200);
        let mut left_out = 0usize;
        for d in diagnostics {
            let row = format!(
                "| {} | {} | {} | {} |\n",
                d.severity.as_str(),
                code(d.rule.as_str()),
                super::place(db, d).map(|p| code(&p)).unwrap_or_default(),
                cell(&d.message)
            );
            if left_out > 0 || doc.len() + row.len() > room {
                left_out += 1;
                continue;
            }
            doc.push_str(&row);
        }
        if left_out > 0 {
            doc.push_str(&format!(
                "\n{left_out} more finding{} not shown here: the annotations and the SARIF file have all of them.\n",
                if left_out == 1 { "" } else { "s" }
            ));
        }
    }
    for g in graphs {
        doc.push('\n');
        doc.push_str(&g);
    }
    doc
}

/// One `<details>` section per project whose graph has a finding.
fn graph_sections(result: &LintResult, budget: usize) -> Vec<String> {
    let db = &result.discovered.db;
    let mut sections = Vec::new();
    let mut used = 0usize;
    for project in &result.discovered.projects {
        let mut files: BTreeSet<FileId> = project.migrations().map(|m| m.file).collect();
        files.insert(project.config.file());
        let rules: BTreeSet<&str> = result
            .diagnostics
            .iter()
            .filter(|d| d.rule.meta().category == Category::Graph)
            .filter(|d| d.labels.iter().any(|l| files.contains(&l.span.file)))
            .map(|d| d.rule.as_str())
            .collect();
        if rules.is_empty() {
            continue;
        }
        let g = RevisionGraph::build(project);
        let name = db.get(project.config.file()).display.clone();
        let mut mermaid = Vec::new();
        let mut text = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = super::graph::write_mermaid(&mut mermaid, &g);
        let _ = super::graph::write_text(&mut text, db, project, &g);
        let mermaid = String::from_utf8_lossy(&mermaid).into_owned();
        let text = String::from_utf8_lossy(&text).into_owned();
        let head = format!(
            "<details><summary>Revision graph of <code>{}</code>: {} head{}, {} revision{} ({})</summary>\n\n",
            cell(&name),
            g.heads.len(),
            if g.heads.len() == 1 { "" } else { "s" },
            g.nodes.len(),
            if g.nodes.len() == 1 { "" } else { "s" },
            rules.into_iter().collect::<Vec<_>>().join(", ")
        );
        let tail = "</details>\n";
        let left = budget.saturating_sub(used + head.len() + tail.len() + 200);
        let mermaid_block = fenced("mermaid", &mermaid);
        let text_block = fenced("text", &text);
        let mut body = String::new();
        if mermaid.len() <= MERMAID_LIMIT && mermaid_block.len() + text_block.len() <= left {
            body.push_str(&mermaid_block);
            body.push_str("\nAs text:\n\n");
            body.push_str(&text_block);
        } else if text_block.len() <= left {
            body.push_str(&format!(
                "The graph is too large to draw here ({} bytes of Mermaid); as text:\n\n",
                mermaid.len()
            ));
            body.push_str(&text_block);
        } else {
            // Only the revisions that give the graph its shape (heads, bases, branch and
            // merge points, labels), with the plain runs between them counted.
            let outline = outline(&text);
            let intro = "The graph is too large for a job summary. Its outline, the revisions marked in `revlint graph` (run it for all of them):\n\n";
            let room = left.saturating_sub(intro.len() + 120);
            let mut kept = String::new();
            let mut shown = 0;
            for line in outline.lines() {
                if kept.len() + line.len() + 1 > room {
                    break;
                }
                kept.push_str(line);
                kept.push('\n');
                shown += 1;
            }
            let total = outline.lines().count();
            if shown > 1 {
                if shown < total {
                    kept.push_str(&format!("… {} more lines\n", total - shown));
                }
                body.push_str(intro);
                body.push_str(&fenced("text", &kept));
            } else {
                body.push_str(
                    "The graph is too large for a job summary; run `revlint graph` to see it.\n",
                );
            }
        }
        let section = format!("{head}{body}\n{tail}");
        used += section.len();
        sections.push(section);
    }
    sections
}

/// Whether a line of the text graph is a revision with markers: `| *  id (head)  file`.
fn marked(line: &str) -> bool {
    line.find("*  ").is_some_and(|p| {
        line[p + 3..]
            .split_once(' ')
            .is_some_and(|(_, rest)| rest.starts_with('('))
    })
}

fn gap(n: usize) -> String {
    format!("⋮  {n} line{}\n", if n == 1 { "" } else { "s" })
}

/// The text graph's title and marked revisions, each run of other lines replaced by a count.
fn outline(text: &str) -> String {
    let mut out = String::new();
    let mut skipped = 0usize;
    for (i, line) in text.lines().enumerate() {
        if i == 0 || marked(line) {
            if skipped > 0 {
                out.push_str(&gap(skipped));
                skipped = 0;
            }
            out.push_str(line);
            out.push('\n');
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        out.push_str(&gap(skipped));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(cell("a|b\nc<script>&"), "a\\|b c&lt;script&gt;&amp;");
    }

    #[test]
    fn code_spans_outgrow_backticks_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
    }

    #[test]
    fn the_outline_keeps_marked_revisions_and_counts_the_rest() {
        let text = "# alembic.ini\n*  c (head)  c.py\n*  b  b.py\n| *  d (head)  d.py\n| /\n*  a (base) (branch point)  a.py\n";
        assert_eq!(
            outline(text),
            "# alembic.ini\n*  c (head)  c.py\n⋮  1 line\n| *  d (head)  d.py\n⋮  1 line\n*  a (base) (branch point)  a.py\n"
        );
        assert!(!marked("*  b  b_(old).py"));
    }

    #[test]
    fn fences_outgrow_fences_inside() {
        assert_eq!(fenced("text", "a\n```\nb\n"), "````text\na\n```\nb\n````\n");
        assert_eq!(fenced("", "x"), "```\nx\n```\n");
    }
}
