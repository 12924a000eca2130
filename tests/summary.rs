//! The Markdown report behind the GitHub Action's job summary.

mod common;

use std::fs;
use std::path::Path;

use common::{lint_dir, root};
use revlint::report::markdown::{render, BUDGET, MERMAID_LIMIT};

#[test]
fn a_second_head_gets_a_table_row_and_the_graph_in_details() {
    let result = lint_dir(&root().join("fixtures/projects/multiple-heads"), None);
    assert!(result
        .diagnostics
        .iter()
        .any(|d| d.rule.as_str() == "multiple-heads"));
    let md = render(&result, BUDGET);
    assert!(md.starts_with("## ❌ revlint\n"), "{md}");
    assert!(
        md.contains("| Severity | Rule | Location | Message |"),
        "{md}"
    );
    assert!(md.contains("| error | `multiple-heads` | `"), "{md}");
    let details = md.find("<details>").expect("graph section");
    let mermaid = md.find("```mermaid\nflowchart BT").expect("mermaid block");
    let text = md.find("```text\n").expect("text fallback");
    assert!(details < mermaid && mermaid < text, "{md}");
    assert!(md.contains("2 heads"), "{md}");
    assert!(md.trim_end().ends_with("</details>"), "{md}");
    // Same tree, same bytes: no timing in the report.
    let again = render(
        &lint_dir(&root().join("fixtures/projects/multiple-heads"), None),
        BUDGET,
    );
    assert_eq!(md, again);
}

#[test]
fn a_clean_project_has_no_table_and_no_graph() {
    let result = lint_dir(
        &root().join("fixtures/projects/multiple-heads-merged"),
        None,
    );
    assert!(result.diagnostics.is_empty());
    let md = render(&result, BUDGET);
    assert!(md.starts_with("## ✅ revlint\n"), "{md}");
    assert!(!md.contains("| Severity"), "{md}");
    assert!(!md.contains("<details>"), "{md}");
}

/// Table rows: one per finding shown.
fn rows(md: &str) -> usize {
    md.lines()
        .filter(|l| {
            ["| error |", "| warning |", "| info |"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .count()
}

#[test]
fn findings_beyond_the_budget_are_counted_not_dropped() {
    let result = lint_dir(&root().join("fixtures/projects/recovery-scripts"), None);
    let n = result.diagnostics.len();
    assert!(n >= 5, "{n}");
    let full = render(&result, BUDGET);
    assert_eq!(rows(&full), n, "{full}");
    let small = render(&result, 1200);
    assert!(small.len() <= 1200, "{} bytes", small.len());
    let shown = rows(&small);
    assert!(shown < n, "{small}");
    assert!(
        small.contains(&format!("{} more finding", n - shown)),
        "{small}"
    );
}

/// A chain of `n` revisions plus a second head on the first one.
fn long_history(dir: &Path, n: usize) {
    let versions = common::alembic_skeleton(dir);
    let id = |i: usize| format!("{i:012x}");
    for i in 1..=n {
        let down = if i == 1 {
            "None".to_string()
        } else {
            format!("'{}'", id(i - 1))
        };
        fs::write(
            versions.join(format!("{}_step.py", id(i))),
            format!("revision = '{}'\ndown_revision = {down}\n\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n", id(i)),
        )
        .unwrap();
    }
    fs::write(
        versions.join("ffffffffffff_side.py"),
        format!("revision = 'ffffffffffff'\ndown_revision = '{}'\n\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n", id(1)),
    )
    .unwrap();
}

#[test]
fn a_graph_too_large_for_mermaid_keeps_its_text_form() {
    let tmp = tempfile::tempdir().unwrap();
    long_history(tmp.path(), 2000);
    let result = lint_dir(tmp.path(), None);
    assert!(result
        .diagnostics
        .iter()
        .any(|d| d.rule.as_str() == "multiple-heads"));
    let md = render(&result, BUDGET);
    assert!(
        !md.contains("```mermaid"),
        "Mermaid over {MERMAID_LIMIT} bytes"
    );
    assert!(md.contains("too large to draw here"));
    assert!(md.contains("```text\n"));
    assert!(md.len() <= BUDGET);
    // With too little room for all of the text, its outline: heads, bases, branch points.
    let tight = render(&result, 20_000);
    assert!(tight.len() <= 20_000, "{}", tight.len());
    assert!(tight.contains("Its outline"), "{tight}");
    assert!(
        tight.contains("0000000007d0 (head)"),
        "the main head: {tight}"
    );
    assert!(
        tight.contains("ffffffffffff (head)"),
        "the side head: {tight}"
    );
    assert!(tight.contains("(base) (branch point)"), "{tight}");
    assert!(tight.contains("⋮  1998 lines"), "{tight}");
    // With no room at all, a note says where to look.
    let none = render(&result, 800);
    assert!(none.contains("run `revlint graph` to see it"), "{none}");
}
