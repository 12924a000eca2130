//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use revlint::report;
use revlint::rules::RuleId;
use revlint::{lint, LintOptions, LintResult};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lint `dir` as if revlint were run inside it, with only `rules` enabled.
pub fn lint_dir(dir: &Path, rules: Option<&[RuleId]>) -> LintResult {
    let mut o = LintOptions::new(dir.to_path_buf(), Vec::new());
    if let Some(r) = rules {
        o.select = r.to_vec();
    }
    lint(&o).expect("lint runs")
}

/// [`lint_dir`] judging every revision (`--all-revisions`), not only those the next deploy
/// applies.
pub fn lint_dir_all_revisions(dir: &Path, rules: Option<&[RuleId]>) -> LintResult {
    let mut o = LintOptions::new(dir.to_path_buf(), Vec::new());
    if let Some(r) = rules {
        o.select = r.to_vec();
    }
    o.rules.revision_scope = revlint::rules::RevisionScope::All;
    lint(&o).expect("lint runs")
}

/// The smallest Alembic project: `alembic.ini` with `script_location`, `migrations/env.py`
/// and an empty `migrations/versions`, which it returns.
pub fn alembic_skeleton(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\n",
    )
    .unwrap();
    let versions = dir.join("migrations/versions");
    std::fs::create_dir_all(&versions).unwrap();
    std::fs::write(
        dir.join("migrations/env.py"),
        "from alembic import context\n",
    )
    .unwrap();
    versions
}

/// Concise and human renderings, without colour, for snapshots.
pub fn render(result: &LintResult) -> String {
    let mut concise = Vec::new();
    report::concise::write(&mut concise, &result.discovered.db, &result.diagnostics).unwrap();
    let mut human = Vec::new();
    report::human::write(
        &mut human,
        &result.discovered.db,
        &result.diagnostics,
        &report::human::HumanOptions {
            color: false,
            width: 100,
        },
    )
    .unwrap();
    format!(
        "{}\n----- human -----\n{}",
        String::from_utf8(concise).unwrap(),
        String::from_utf8(human).unwrap()
    )
}

/// Sorted `rule path:line` for every primary label of every finding.
pub fn finding_lines(result: &LintResult) -> Vec<String> {
    let db = &result.discovered.db;
    let mut out: Vec<String> = result
        .diagnostics
        .iter()
        .flat_map(|d| {
            d.labels.iter().filter(|l| l.primary).map(move |l| {
                let f = db.get(l.span.file);
                let line = f.line_col(l.span.start).line;
                format!("{} {}:{}", d.rule, f.display, line)
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Subdirectories of `dir`, sorted.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Copy a fixture tree into a temporary folder (so a test can change it).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
