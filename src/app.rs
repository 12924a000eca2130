//! Orchestration: discover, build graphs, run rules, post-process. No printing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::diagnostic::{Diagnostic, Severity};
use crate::discover::{self, DiscoverOptions, Discovered, UsageError};
use crate::graph::RevisionGraph;
use crate::rules::{self, Context, RuleId, RuleOptions};

#[derive(Debug, Clone)]
pub struct LintOptions {
    pub discover: DiscoverOptions,
    /// Rules to run (default: all).
    pub select: Vec<RuleId>,
    pub rules: RuleOptions,
}

impl LintOptions {
    pub fn new(cwd: PathBuf, paths: Vec<PathBuf>) -> Self {
        LintOptions {
            discover: DiscoverOptions {
                paths,
                config: None,
                cwd,
            },
            select: RuleId::all().collect(),
            rules: RuleOptions::default(),
        }
    }
}

#[derive(Debug)]
pub struct LintResult {
    pub discovered: Discovered,
    /// Sorted, de-duplicated, filtered to the selected paths.
    pub diagnostics: Vec<Diagnostic>,
    pub elapsed: Duration,
}

impl LintResult {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Whether any finding is at or above `fail_on`.
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.diagnostics.iter().any(|d| d.severity >= fail_on)
    }
}

/// Lint everything the options name.
pub fn lint(options: &LintOptions) -> Result<LintResult, UsageError> {
    let started = Instant::now();
    let discovered = discover::discover(&options.discover)?;
    let graphs: Vec<RevisionGraph> = discovered
        .projects
        .iter()
        .map(RevisionGraph::build)
        .collect();
    let cx = Context {
        db: &discovered.db,
        projects: &discovered.projects,
        graphs: &graphs,
        walk_issues: &discovered.walk_issues,
        options: &options.rules,
        cwd: &options.discover.cwd,
    };
    let mut diagnostics = rules::run(&cx, &options.select);
    if !options.discover.paths.is_empty() {
        let selected = &discovered.selected;
        diagnostics.retain(|d| {
            d.labels.iter().any(|l| {
                let path = &discovered.db.get(l.span.file).path;
                selected.iter().any(|s| path.starts_with(s))
            })
        });
    }
    sort_and_dedupe(&discovered, &mut diagnostics);
    Ok(LintResult {
        discovered,
        diagnostics,
        elapsed: started.elapsed(),
    })
}

fn sort_and_dedupe(d: &Discovered, diagnostics: &mut Vec<Diagnostic>) {
    let key = |x: &Diagnostic| {
        let span = x.main_span();
        (
            span.map(|s| d.db.get(s.file).display.clone()),
            span.map(|s| (s.start, s.end)),
            x.rule,
            x.message.clone(),
        )
    };
    diagnostics.sort_by_cached_key(key);
    diagnostics.dedup();
}
