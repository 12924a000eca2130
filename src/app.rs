//! Orchestration: discover, build graphs, run rules, post-process. No printing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config;
use crate::diagnostic::{Diagnostic, Severity};
use crate::discover::{self, DiscoverOptions, Discovered, UsageError};
use crate::graph::RevisionGraph;
use crate::model::operation::SqlStats;
use crate::rules::{self, Context, RuleId, RuleOptions};

#[derive(Debug, Clone)]
pub struct LintOptions {
    pub discover: DiscoverOptions,
    /// Rules to run (default: all).
    pub select: Vec<RuleId>,
    /// `select` came from the command line: the settings' `select` does not apply.
    pub select_given: bool,
    /// Rules not to run, from the command line (applied after any `select`).
    pub ignore: Vec<RuleId>,
    pub rules: RuleOptions,
}

impl LintOptions {
    pub fn new(cwd: PathBuf, paths: Vec<PathBuf>) -> Self {
        LintOptions {
            discover: DiscoverOptions {
                paths,
                config: None,
                cwd,
                // `lint` turns these on for the rules it runs; graph views need neither.
                read_bodies: false,
                include_downgrade: false,
                scan_scripts: false,
                read_deploy: false,
            },
            select: RuleId::all().collect(),
            select_given: false,
            ignore: Vec::new(),
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
    /// The revlint settings file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// `fail-on` from the settings file, when it sets one.
    pub fail_on: Option<config::FailOn>,
    /// How the SQL strings in revisions and scripts were classified.
    pub sql_stats: SqlStats,
    /// Revisions `non-idempotent-ddl` left out as already deployed, in projects where it
    /// had evidence to judge them (`--all-revisions` judges them).
    pub revisions_not_judged: usize,
}

impl LintResult {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// SQL statements no classifier could read: where they are and why PostgreSQL's parser
    /// refused them, in file order.
    pub fn unclassified_sql(&self) -> Vec<(crate::source::Span, String)> {
        let mut out = Vec::new();
        let mut add = |t: &crate::model::operation::SqlText| {
            for st in &t.statements {
                if st.classified == crate::parse::sql::Classified::Unknown {
                    let why = st.parse_error.clone().unwrap_or_else(|| {
                        "a DO block whose control flow revlint does not follow".into()
                    });
                    out.push((t.statement_span(st), why));
                }
            }
        };
        for p in &self.discovered.projects {
            for m in p.migrations() {
                for op in m.upgrade_ops.iter().chain(&m.downgrade_ops) {
                    op.sql.iter().for_each(&mut add);
                }
            }
        }
        for s in &self.discovered.scripts {
            s.sql.iter().for_each(&mut add);
        }
        out
    }

    /// Whether any finding is at or above `fail_on`.
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.diagnostics.iter().any(|d| d.severity >= fail_on)
    }
}

/// Lint everything the options name.
pub fn lint(options: &LintOptions) -> Result<LintResult, UsageError> {
    let started = Instant::now();
    let start = options
        .discover
        .paths
        .first()
        .map(|p| discover::absolute(&options.discover.cwd, p))
        .unwrap_or_else(|| options.discover.cwd.clone());
    let loaded = config::find(&start)?;
    let mut rule_options = options.rules.clone();
    let mut select = options.select.clone();
    let mut discover_options = options.discover.clone();
    if let Some(l) = &loaded {
        let f = &l.options;
        rule_options.allow_multiple_heads |= f.allow_multiple_heads.unwrap_or(false);
        rule_options.include_downgrade |= f.include_downgrade.unwrap_or(false);
        if f.require_idempotent_ddl == Some(true) {
            rule_options.require_idempotent_ddl = Some(l.path.clone());
        }
        rule_options
            .provisioned_extensions
            .extend(f.provisioned_extensions.iter().flatten().cloned());
        rule_options.postgresql_version = rule_options.postgresql_version.or(f.postgresql_version);
        // `validate` has checked every id when the file was read.
        if !options.select_given && f.select.is_some() {
            select = config::strings(&f.select)
                .into_iter()
                .map(str::parse::<RuleId>)
                .collect::<Result<_, _>>()
                .map_err(UsageError)?;
        }
        for id in config::strings(&f.ignore) {
            let rule: RuleId = id.parse().map_err(UsageError)?;
            select.retain(|r| *r != rule);
        }
        for (id, level) in f.levels() {
            let rule: RuleId = id.parse().map_err(UsageError)?;
            if level == config::Level::Off {
                select.retain(|r| *r != rule);
            }
        }
        rule_options.migrate_services = l.migrate_services()?;
    }
    select.retain(|r| !options.ignore.contains(r));
    let overrides = match &loaded {
        Some(l) => config::PathRules::new(l)?,
        None => config::PathRules::default(),
    };
    // Judging whether a suppression is used needs the findings of the rules it names: with
    // `unused-ignore` selected every rule runs, and only the selected ones are reported.
    let run_set: Vec<RuleId> = if select.contains(&RuleId::UnusedIgnore) {
        RuleId::all().collect()
    } else {
        select.clone()
    };
    discover_options.read_bodies = run_set.iter().any(|r| r.reads_operations());
    discover_options.include_downgrade = rule_options.include_downgrade;
    discover_options.scan_scripts = run_set.contains(&RuleId::VersionTableEdit)
        || run_set.contains(&RuleId::MissingExtension)
        || run_set.contains(&RuleId::ExtensionOnlyInInitScript);
    // YAML that does not load is reported (parse-error) only when deploy rules read it.
    discover_options.read_deploy = run_set.iter().any(|r| r.reads_deploy_files());
    let discovered = discover::discover(&discover_options)?;
    if run_set.contains(&RuleId::NonIdempotentDdl) {
        rule_options.revision_scope = resolve_scope(&rule_options, &discovered, &start);
    }
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
        scripts: &discovered.scripts,
        deploy: &discovered.deploy,
        options: &rule_options,
        cwd: &options.discover.cwd,
    };
    let mut diagnostics = rules::run(&cx, &run_set);
    let revisions_not_judged = if run_set.contains(&RuleId::NonIdempotentDdl) {
        rules::migration::non_idempotent_ddl::revisions_not_judged(&cx)
    } else {
        0
    };
    let require_reason = loaded
        .as_ref()
        .and_then(|l| l.options.require_ignore_reason)
        .unwrap_or(false);
    crate::suppress::apply(&discovered.db, &mut diagnostics, &run_set, require_reason);
    diagnostics.retain(|d| select.contains(&d.rule));
    if let Some(l) = &loaded {
        // Levels from the settings, then per-path overrides.
        for d in &mut diagnostics {
            if let Some(level) = l.level(d.rule) {
                d.severity = level;
            }
        }
        diagnostics.retain(|d| {
            d.main_span()
                .is_none_or(|s| !overrides.ignores(&discovered.db.get(s.file).path, d.rule))
        });
    }
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
    let mut sql_stats = SqlStats::default();
    for p in &discovered.projects {
        for m in p.migrations() {
            for op in m.upgrade_ops.iter().chain(&m.downgrade_ops) {
                op.sql.iter().for_each(|t| sql_stats.add_text(t));
            }
        }
    }
    for s in &discovered.scripts {
        s.sql.iter().for_each(|t| sql_stats.add_text(t));
    }
    Ok(LintResult {
        discovered,
        diagnostics,
        elapsed: started.elapsed(),
        fail_on: loaded.as_ref().and_then(|l| l.options.fail_on),
        config_file: loaded.map(|l| l.path),
        sql_stats,
        revisions_not_judged,
    })
}

/// Which revisions `non-idempotent-ddl` judges. `Auto` asks git only when some project has
/// evidence of a re-run (the rest of the time the answer changes nothing); an `Added` set
/// keeps the database's own paths of the revision files it holds, so the rule compares
/// without touching the filesystem.
fn resolve_scope(
    options: &RuleOptions,
    d: &Discovered,
    start: &std::path::Path,
) -> rules::RevisionScope {
    use rules::RevisionScope;
    let added = match &options.revision_scope {
        RevisionScope::Auto => {
            if !rules::migration::non_idempotent_ddl::may_judge(&d.projects, options) {
                return RevisionScope::Heads;
            }
            let dir = if start.is_dir() {
                start.to_path_buf()
            } else {
                start.parent().map(PathBuf::from).unwrap_or_default()
            };
            match crate::diffbase::branch_added(&dir) {
                Some(a) => a,
                None => return RevisionScope::Heads,
            }
        }
        RevisionScope::Added(a) => a.clone(),
        other => return other.clone(),
    };
    let mut ours = std::collections::BTreeSet::new();
    for p in &d.projects {
        for m in p.migrations() {
            let path = &d.db.get(m.file).path;
            if added.contains(path) || std::fs::canonicalize(path).is_ok_and(|c| added.contains(&c))
            {
                ours.insert(path.clone());
            }
        }
    }
    RevisionScope::Added(ours)
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
    // One fact reached two ways (a script that a Dockerfile and a compose service both run)
    // is one finding: keep the first, with the other's related labels added.
    let mut merged: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    for d in diagnostics.drain(..) {
        if let Some(prev) = merged.last_mut() {
            if prev.rule == d.rule
                && prev.message == d.message
                && prev.severity == d.severity
                && prev.help == d.help
                && prev.main_span() == d.main_span()
            {
                for l in d.labels {
                    if !prev.labels.contains(&l) {
                        prev.labels.push(l);
                    }
                }
                continue;
            }
        }
        merged.push(d);
    }
    *diagnostics = merged;
}
