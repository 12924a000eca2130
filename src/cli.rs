//! Command-line interface: clap definitions and the commands. Flags fold into
//! [`LintOptions`], the type the library runs on.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::{lint, LintOptions, LintResult};
use crate::diagnostic::Severity;
use crate::discover::UsageError;
use crate::graph::RevisionGraph;
use crate::report;
use crate::rules::RuleId;

#[derive(Debug, Parser)]
#[command(
    name = "revlint",
    version,
    about = "Static linter for Alembic migrations and the files that deploy them",
    long_about = "Static linter for Alembic migrations and the files that deploy them.\n\nWithout a command, `revlint [PATHS]` runs `revlint check [PATHS]`.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub check: CheckArgs,

    /// Lint only the project this Alembic config (alembic.ini or pyproject.toml) describes.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// When to use colours in human output (NO_COLOR is honoured with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint the projects below PATHS (default). Findings are shown when one of their
    /// labels is in a PATH; the whole project is always loaded.
    Check(CheckArgs),
    /// Print the revision graph: heads, bases, merges and branch points marked.
    Graph(GraphArgs),
    /// Print the head revisions, as `alembic heads` does, without running Python.
    Heads(HeadsArgs),
    /// Write the merge revision of each project with several heads, as `alembic merge` does
    /// (never overwrites a file).
    Fix(FixArgs),
    /// Record today's findings in a baseline file, or check against one: a repository with
    /// old findings fails only on new ones.
    Baseline(BaselineArgs),
    /// Print the resolved settings and where each comes from.
    Config(ConfigArgs),
    /// List the rules.
    Rules(RulesArgs),
    /// Explain a rule: what it does, why, an example, and the fix.
    Explain {
        /// A rule id, e.g. multiple-heads.
        rule: String,
    },
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub action: BaselineAction,
}

#[derive(Debug, Subcommand)]
pub enum BaselineAction {
    /// Record the findings `check` would report (with the same options) in FILE, which must
    /// not exist yet.
    Write {
        /// The baseline file; paths in it are relative to its directory.
        #[arg(long, value_name = "FILE", default_value = crate::baseline::DEFAULT_FILE)]
        file: PathBuf,
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Run `check` and report only the findings FILE does not record.
    Check {
        /// The baseline file.
        #[arg(long, value_name = "FILE", default_value = crate::baseline::DEFAULT_FILE)]
        file: PathBuf,
        #[command(flatten)]
        check: CheckArgs,
    },
}

#[derive(Debug, Args, Default)]
pub struct CheckArgs {
    /// Files or directories (default: the working directory).
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Run only these rules (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub select: Vec<String>,

    /// Do not run these rules (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub ignore: Vec<String>,

    /// Exit 1 when a finding is at or above this severity [default: the settings'
    /// `fail-on`, else error].
    #[arg(long, value_enum)]
    pub fail_on: Option<crate::config::FailOn>,

    /// Multiple heads are intentional here: do not report multiple-heads.
    #[arg(long)]
    pub allow_multiple_heads: bool,

    /// Check downgrade() as well as upgrade().
    #[arg(long)]
    pub include_downgrade: bool,

    /// Judge every revision for non-idempotent-ddl, not only the ones not deployed yet
    /// (those a branch adds, else the newest of each head): for audits.
    #[arg(long)]
    pub all_revisions: bool,

    /// Extensions created outside the repository (comma-separated; adds to the config's list).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub provisioned_extension: Vec<String>,

    /// The PostgreSQL major version the project runs.
    #[arg(long, value_name = "MAJOR")]
    pub postgresql_version: Option<u32>,

    /// Print what was read (settings file, projects, SQL classification) to stderr.
    #[arg(short, long)]
    pub verbose: bool,

    /// Show only what the change introduces: findings with a label in a file changed since
    /// the merge base with REF (committed, uncommitted or untracked), using `git`.
    #[arg(long, value_name = "REF")]
    pub diff_base: Option<String>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Files or directories whose projects to show (default: the working directory).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct HeadsArgs {
    pub paths: Vec<PathBuf>,
    /// Exit 0 even when there is more than one head.
    #[arg(long)]
    pub allow_multiple: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Where to look for the settings file from (default: the working directory).
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    pub paths: Vec<PathBuf>,
    /// Print the revision that would be written instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum Format {
    /// Graphical: source snippets, labels and help.
    #[default]
    Human,
    /// One line per finding: path:line:col: severity[rule] message.
    Concise,
    /// revlint's versioned JSON schema.
    Json,
    /// GitHub Actions workflow commands: annotations on the pull request.
    Github,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// JUnit XML: one failing test case per finding.
    Junit,
    /// Markdown for a GitHub job summary or a pull-request comment: a findings table and,
    /// when a revision graph has a problem, the graph in Mermaid and as text.
    Markdown,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Text,
    Mermaid,
    Dot,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RulesFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Exit codes.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;

/// Run a parsed command line. Returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("revlint: cannot read the working directory: {e}");
            return EXIT_USAGE;
        }
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let result = match cli.command {
        None => check(cwd, cli.config, cli.check, color),
        Some(Command::Check(args)) => check(cwd, cli.config, args, color),
        Some(Command::Graph(args)) => graph(cwd, cli.config, args),
        Some(Command::Heads(args)) => heads(cwd, cli.config, args),
        Some(Command::Fix(args)) => fix(cwd, cli.config, args),
        Some(Command::Baseline(args)) => baseline(cwd, cli.config, args, color),
        Some(Command::Config(args)) => show_config(cwd, args),
        Some(Command::Rules(args)) => rules(args),
        Some(Command::Explain { rule }) => explain(&rule),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("revlint: {msg}");
            EXIT_USAGE
        }
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(Failure::Io(e)) => {
            eprintln!("revlint: cannot write output: {e}");
            EXIT_INTERNAL
        }
    }
}

enum Failure {
    Usage(String),
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Self {
        Failure::Usage(e.0)
    }
}

/// `--verbose`: what was read, on stderr.
fn verbose(result: &LintResult) {
    let mut err = anstream::stderr();
    let config = result
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "none".into());
    let _ = writeln!(err, "settings file: {config}");
    for p in &result.discovered.projects {
        let db = &result.discovered.db;
        let pin = p
            .alembic_pin
            .as_ref()
            .map(|a| {
                format!(
                    "alembic {} (`{}` in {}:{})",
                    a.version, a.written, a.origin, a.line
                )
            })
            .unwrap_or_else(|| "no pinned Alembic version found".into());
        let place = |e: &crate::model::dialect::Evidence| {
            let f = db.get(e.span.file);
            let line = f.line_col(e.span.start).line;
            format!("{} ({}:{line})", e.dialect.name(), f.display)
        };
        let facts = &p.dialect_facts;
        let database = match (facts.deciding.first(), facts.conflicting.is_empty()) {
            (Some(e), _) => format!("database {} from {}", place(e), e.what),
            (None, false) => format!(
                "database unknown: the evidence conflicts ({})",
                facts
                    .conflicting
                    .iter()
                    .map(place)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, true) => "database unknown: no evidence".to_string(),
        };
        let _ = writeln!(
            err,
            "project {}: {} revision files, {database}, {pin}",
            db.get(p.config.file()).display,
            p.files.len(),
        );
        if let Some(t) = &p.template_location {
            let _ = writeln!(
                err,
                "  script_location `{t}` is not in the repository (a template the application fills in, or a path inside an image): its revisions are not read"
            );
        }
    }
    let s = result.sql_stats;
    let _ = writeln!(
        err,
        "scripts touching a version table: {}",
        result.discovered.scripts.len()
    );
    let _ = writeln!(
        err,
        "SQL: {} strings, {} statements: {} parsed by PostgreSQL's parser, {} recognised by keywords, {} not classified (no finding drawn from them)",
        s.strings, s.statements, s.parsed, s.keywords, s.unknown
    );
    let db = &result.discovered.db;
    for (span, why) in result.unclassified_sql() {
        let f = db.get(span.file);
        let at = f.line_col(span.start);
        let _ = writeln!(
            err,
            "  {}:{}:{}: SQL not classified: {why}",
            f.display, at.line, at.column
        );
    }
}

fn parse_rules(ids: &[String]) -> Result<Vec<RuleId>, Failure> {
    ids.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<RuleId>().map_err(Failure::Usage))
        .collect()
}

fn options(cwd: PathBuf, config: Option<PathBuf>, paths: Vec<PathBuf>) -> LintOptions {
    let mut o = LintOptions::new(cwd, paths);
    o.discover.config = config;
    o
}

fn check(
    cwd: PathBuf,
    config: Option<PathBuf>,
    args: CheckArgs,
    color: bool,
) -> Result<u8, Failure> {
    let result = run_check(cwd, config, &args)?;
    emit(result, &args, color)
}

fn baseline(
    cwd: PathBuf,
    config: Option<PathBuf>,
    args: BaselineArgs,
    color: bool,
) -> Result<u8, Failure> {
    match args.action {
        BaselineAction::Write { file, check } => {
            let file = cwd.join(file);
            let result = run_check(cwd, config, &check)?;
            let b = crate::baseline::record(&result.discovered.db, &result.diagnostics, &file);
            crate::baseline::write(&b, &file).map_err(Failure::Usage)?;
            let rules: std::collections::BTreeSet<&str> =
                b.findings.iter().map(|e| e.rule.as_str()).collect();
            println!(
                "{}: recorded {} finding{} of {} rule{}",
                file.display(),
                result.diagnostics.len(),
                if result.diagnostics.len() == 1 {
                    ""
                } else {
                    "s"
                },
                rules.len(),
                if rules.len() == 1 { "" } else { "s" },
            );
            Ok(EXIT_OK)
        }
        BaselineAction::Check { file, check: args } => {
            let file = cwd.join(file);
            let b = crate::baseline::read(&file).map_err(Failure::Usage)?;
            let mut result = run_check(cwd, config, &args)?;
            let applied =
                crate::baseline::apply(&b, &result.discovered.db, &mut result.diagnostics, &file);
            eprintln!(
                "revlint: {} finding{} in the baseline {} left out",
                applied.matched,
                if applied.matched == 1 { "" } else { "s" },
                if applied.matched == 1 { "was" } else { "were" },
            );
            if applied.stale > 0 {
                eprintln!(
                    "revlint: {} baseline entr{} no longer occur{} (fixed?); delete {} and run `revlint baseline write` to shrink it",
                    applied.stale,
                    if applied.stale == 1 { "y" } else { "ies" },
                    if applied.stale == 1 { "s" } else { "" },
                    file.display()
                );
            }
            emit(result, &args, color)
        }
    }
}

/// Lint and keep what `--diff-base` asks for.
fn run_check(
    cwd: PathBuf,
    config: Option<PathBuf>,
    args: &CheckArgs,
) -> Result<LintResult, Failure> {
    let mut o = options(cwd, config, args.paths.clone());
    let select = parse_rules(&args.select)?;
    let ignore = parse_rules(&args.ignore)?;
    if !select.is_empty() {
        o.select = select;
        o.select_given = true;
    }
    o.ignore = ignore;
    o.rules.allow_multiple_heads = args.allow_multiple_heads;
    o.rules.include_downgrade = args.include_downgrade;
    o.rules.provisioned_extensions = args.provisioned_extension.clone();
    o.rules.postgresql_version = args.postgresql_version;
    // The repository is the one holding the first path (a checkout may sit in a subfolder
    // of the working directory).
    let cwd_for_diff = args
        .paths
        .first()
        .map(|p| crate::discover::absolute(&o.discover.cwd, p))
        .map(|p| {
            if p.is_dir() {
                p
            } else {
                p.parent().map(PathBuf::from).unwrap_or(p)
            }
        })
        .unwrap_or_else(|| o.discover.cwd.clone());
    let changed = match &args.diff_base {
        Some(base) => {
            Some(crate::diffbase::changed_since(&cwd_for_diff, base).map_err(Failure::Usage)?)
        }
        None => None,
    };
    o.rules.revision_scope = match &changed {
        _ if args.all_revisions => crate::rules::RevisionScope::All,
        Some(c) => crate::rules::RevisionScope::Added(c.added.clone()),
        None => crate::rules::RevisionScope::Auto,
    };
    let mut result = lint(&o)?;
    if let Some(changed) = changed {
        let db = &result.discovered.db;
        let in_change = |l: &crate::diagnostic::Label| {
            let p = &db.get(l.span.file).path;
            changed.files.contains(p)
                || std::fs::canonicalize(p).is_ok_and(|c| changed.files.contains(&c))
        };
        result.diagnostics.retain_mut(|d| {
            let Some(k) = d.labels.iter().position(in_change) else {
                return changed.python_removed
                    && d.rule.meta().category == crate::rules::Category::Graph;
            };
            // Annotations go on the first primary label: when it lies outside the change (the
            // old head of a new pair), a label inside the change takes its place, so that the
            // pull request shows the finding on its own diff.
            if !d.labels.iter().find(|l| l.primary).is_some_and(in_change) {
                if !d.labels.iter().any(|l| l.primary && in_change(l)) {
                    for (i, l) in d.labels.iter_mut().enumerate() {
                        l.primary = i == k;
                    }
                }
                d.labels.sort_by_key(|l| !(l.primary && in_change(l)));
            }
            true
        });
    }
    Ok(result)
}

/// Print `result` in the chosen format; the exit code `--fail-on` gives.
fn emit(result: LintResult, args: &CheckArgs, color: bool) -> Result<u8, Failure> {
    if args.verbose {
        verbose(&result);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Human => {
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            report::human::write(
                &mut out,
                &result.discovered.db,
                &result.diagnostics,
                &report::human::HumanOptions { color, width },
            )?;
        }
        Format::Concise => {
            report::concise::write(&mut out, &result.discovered.db, &result.diagnostics)?
        }
        Format::Json => report::json::write(&mut out, &result)?,
        Format::Github => {
            report::github::write(&mut out, &result.discovered.db, &result.diagnostics)?
        }
        Format::Sarif => {
            report::sarif::write(&mut out, &result.discovered.db, &result.diagnostics)?
        }
        Format::Junit => {
            report::junit::write(&mut out, &result.discovered.db, &result.diagnostics)?
        }
        Format::Markdown => report::markdown::write(&mut out, &result)?,
    }
    out.flush()?;
    if args.format == Format::Human {
        summarize(&result);
    }
    let fail_on = args
        .fail_on
        .or(result.fail_on)
        .map_or(Some(Severity::Error), crate::config::FailOn::threshold);
    let code = if fail_on.is_some_and(|f| result.fails(f)) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    };
    // The process ends here: freeing every parsed file one by one would only cost time
    // (about 6% of a run on a 1,000-revision project).
    std::mem::forget(result);
    Ok(code)
}

fn summarize(result: &LintResult) {
    if result.discovered.projects.is_empty() {
        eprintln!("revlint: no Alembic project found (looked for alembic.ini, pyproject.toml [tool.alembic], and versions/ folders next to an env.py)");
    }
    eprintln!("{}", report::summary_line(result));
    let mut by_rule: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for d in &result.diagnostics {
        *by_rule.entry(d.rule.as_str()).or_default() += 1;
    }
    if !by_rule.is_empty() {
        let counts: Vec<String> = by_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
        eprintln!("by rule: {}", counts.join(", "));
    }
    if result.revisions_not_judged > 0 {
        let n = result.revisions_not_judged;
        eprintln!(
            "non-idempotent-ddl: {n} older revision{} not judged (already deployed); `--all-revisions` judges every revision",
            if n == 1 { "" } else { "s" }
        );
    }
}

/// Load projects only (no rules) for the graph views.
fn load(
    cwd: PathBuf,
    config: Option<PathBuf>,
    paths: Vec<PathBuf>,
) -> Result<crate::discover::Discovered, Failure> {
    let o = options(cwd, config, paths);
    Ok(crate::discover::discover(&o.discover)?)
}

fn graph(cwd: PathBuf, config: Option<PathBuf>, args: GraphArgs) -> Result<u8, Failure> {
    let d = load(cwd.clone(), config, args.paths)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let graphs: Vec<RevisionGraph> = d.projects.iter().map(RevisionGraph::build).collect();
    match args.format {
        GraphFormat::Json => {
            let projects: Vec<_> = d
                .projects
                .iter()
                .zip(&graphs)
                .map(|(p, g)| report::graph::project_value(&d.db, &cwd, p, g))
                .collect();
            let v = serde_json::json!({"schema_version": report::json::SCHEMA_VERSION, "projects": projects});
            serde_json::to_writer_pretty(&mut out, &v).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        fmt => {
            for (k, (p, g)) in d.projects.iter().zip(&graphs).enumerate() {
                if k > 0 {
                    writeln!(out)?;
                }
                match fmt {
                    GraphFormat::Text => report::graph::write_text(&mut out, &d.db, p, g)?,
                    GraphFormat::Mermaid => report::graph::write_mermaid(&mut out, g)?,
                    GraphFormat::Dot => report::graph::write_dot(&mut out, g)?,
                    GraphFormat::Json => unreachable!("handled above"),
                }
            }
        }
    }
    out.flush()?;
    if d.projects.is_empty() {
        eprintln!("revlint: no Alembic project found");
    }
    Ok(EXIT_OK)
}

fn heads(cwd: PathBuf, config: Option<PathBuf>, args: HeadsArgs) -> Result<u8, Failure> {
    let d = load(cwd, config, args.paths)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut code = EXIT_OK;
    for (p, project) in d.projects.iter().enumerate() {
        let g = RevisionGraph::build(project);
        if d.projects.len() > 1 {
            if p > 0 {
                writeln!(out)?;
            }
            writeln!(out, "# {}", d.db.get(project.config.file()).display)?;
        }
        report::graph::write_heads(&mut out, &g)?;
        let broken = !g.cycles.is_empty()
            || !g.dependency_cycles.is_empty()
            || !g.dangling_down.is_empty()
            || !g.dangling_depends.is_empty()
            || !g.label_conflicts.is_empty()
            || project
                .migrations()
                .any(|m| !m.declares_revision && !m.revision_from_filename);
        if broken {
            out.flush()?;
            eprintln!(
                "revlint: {}: the revision graph has errors that make Alembic fail; run `revlint check` for details",
                d.db.get(project.config.file()).display
            );
            code = EXIT_FINDINGS;
        } else if g.heads.len() > 1 && !args.allow_multiple {
            code = EXIT_FINDINGS;
        }
    }
    out.flush()?;
    if d.projects.is_empty() {
        eprintln!("revlint: no Alembic project found");
    }
    Ok(code)
}

fn show_config(cwd: PathBuf, args: ConfigArgs) -> Result<u8, Failure> {
    let start = args
        .path
        .map(|p| crate::discover::absolute(&cwd, &p))
        .unwrap_or_else(|| cwd.clone());
    let loaded = crate::config::find(&start)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let (src, f) = match &loaded {
        Some(l) => (crate::discover::display(&cwd, &l.path), l.options.clone()),
        None => ("default".to_string(), crate::config::FileOptions::default()),
    };
    match &loaded {
        Some(_) => writeln!(out, "# settings file: {src}")?,
        None => writeln!(
            out,
            "# no settings file (revlint.toml or [tool.revlint] in pyproject.toml) from here up to the repository root: defaults"
        )?,
    }
    let from = |set: bool| if set { src.as_str() } else { "default" };
    let list = |v: Vec<&str>| {
        format!(
            "[{}]",
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let spanned = |v: &Option<Vec<toml::Spanned<String>>>| list(crate::config::strings(v));
    writeln!(
        out,
        "provisioned-extensions = {}  # {}",
        list(
            f.provisioned_extensions
                .iter()
                .flatten()
                .map(String::as_str)
                .collect()
        ),
        from(f.provisioned_extensions.is_some())
    )?;
    match f.postgresql_version {
        Some(v) => writeln!(out, "postgresql-version = {v}  # {src}")?,
        None => writeln!(
            out,
            "# postgresql-version: not set (gen_random_uuid() counts as core)"
        )?,
    }
    for (key, v) in [
        ("include-downgrade", f.include_downgrade),
        ("allow-multiple-heads", f.allow_multiple_heads),
        ("require-idempotent-ddl", f.require_idempotent_ddl),
        ("require-ignore-reason", f.require_ignore_reason),
    ] {
        writeln!(
            out,
            "{key} = {}  # {}",
            v.unwrap_or(false),
            from(v.is_some())
        )?;
    }
    match &f.select {
        Some(_) => writeln!(out, "select = {}  # {src}", spanned(&f.select))?,
        None => writeln!(out, "# select: not set (every rule runs)")?,
    }
    writeln!(
        out,
        "ignore = {}  # {}",
        spanned(&f.ignore),
        from(f.ignore.is_some())
    )?;
    writeln!(
        out,
        "fail-on = {:?}  # {}",
        f.fail_on.map_or("error", |v| v.as_str()),
        from(f.fail_on.is_some())
    )?;
    writeln!(
        out,
        "migrate-services = {}  # {}",
        spanned(&f.migrate_services),
        from(f.migrate_services.is_some())
    )?;
    for o in f.per_path.iter().flatten() {
        let strs =
            |v: &[toml::Spanned<String>]| list(v.iter().map(|s| s.get_ref().as_str()).collect());
        writeln!(
            out,
            "[[per-path]] paths = {}, ignore = {}  # {src}",
            strs(&o.paths),
            strs(&o.ignore)
        )?;
    }
    writeln!(out, "\n# rule levels")?;
    for r in RuleId::all() {
        let set = f
            .levels()
            .find(|(id, _)| *id == r.as_str())
            .map(|(_, l)| l.as_str());
        let unselected =
            f.select.is_some() && !crate::config::strings(&f.select).contains(&r.as_str());
        let ignored = crate::config::strings(&f.ignore).contains(&r.as_str());
        let (level, origin) = match set {
            _ if ignored => ("off", format!("{src} (ignore)")),
            _ if unselected => ("off", format!("{src} (not in select)")),
            Some(l) => (l, src.clone()),
            None => (r.meta().default_severity.as_str(), "default".to_string()),
        };
        writeln!(out, "{:<34} {:<8} # {origin}", r.as_str(), level)?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn fix(cwd: PathBuf, config: Option<PathBuf>, args: FixArgs) -> Result<u8, Failure> {
    let d = load(cwd.clone(), config, args.paths)?;
    let plans = crate::fix::plans(&d);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if plans.is_empty() {
        writeln!(out, "nothing to fix: every project has a single head")?;
    }
    for plan in &plans {
        let shown = crate::discover::display(&cwd, &plan.path);
        if let Some(note) = &plan.template_note {
            eprintln!("revlint: {}: {note}", plan.project);
        }
        if args.dry_run {
            writeln!(out, "# {} (would merge {})", shown, plan.heads.join(", "))?;
            write!(out, "{}", plan.text)?;
            continue;
        }
        match crate::fix::write(plan) {
            Ok(()) => writeln!(
                out,
                "wrote {shown}: merge revision `{}` of {}",
                plan.revision,
                plan.heads.join(", ")
            )?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Failure::Usage(format!(
                    "{shown} already exists; revlint never overwrites a file"
                )))
            }
            Err(e) => return Err(Failure::Usage(format!("{shown}: cannot be written: {e}"))),
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn rules(args: RulesArgs) -> Result<u8, Failure> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        RulesFormat::Text => {
            for id in RuleId::all() {
                let m = id.meta();
                writeln!(
                    out,
                    "{:<32} {:<8} {:<8} {}",
                    m.id.as_str(),
                    m.category.as_str(),
                    m.default_severity.as_str(),
                    m.summary
                )?;
            }
        }
        RulesFormat::Json => {
            let v: Vec<_> = RuleId::all()
                .map(|id| {
                    let m = id.meta();
                    serde_json::json!({
                        "id": m.id.as_str(),
                        "category": m.category.as_str(),
                        "default_severity": m.default_severity.as_str(),
                        "summary": m.summary,
                        "docs": m.docs,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &v).map_err(io::Error::from)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn explain(rule: &str) -> Result<u8, Failure> {
    let id: RuleId = rule.parse().map_err(Failure::Usage)?;
    let mut out = io::stdout().lock();
    writeln!(out, "{}", crate::docs::explain(id.meta()))?;
    Ok(EXIT_OK)
}
