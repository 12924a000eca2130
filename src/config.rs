//! revlint's own settings: `revlint.toml`, or `[tool.revlint]` in `pyproject.toml`, the
//! nearest one from the linted path up to the repository root. Unknown keys, wrong types,
//! unknown rule ids and bad globs are errors that name the file, line and column and show
//! the offending TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::discover::{self, UsageError};
use crate::rules::RuleId;

/// The on-disk schema. Keys are kebab-case. Rule ids and globs keep their place in the file
/// so that a bad one can be shown.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileOptions {
    /// Extensions created outside the repository (platform images, managed databases).
    pub provisioned_extensions: Option<Vec<String>>,
    /// The PostgreSQL major version the project runs (`gen_random_uuid()` is core from 13).
    pub postgresql_version: Option<u32>,
    /// Check `downgrade()` as well as `upgrade()`.
    pub include_downgrade: Option<bool>,
    /// Multiple heads are intentional in this repository.
    pub allow_multiple_heads: Option<bool>,
    /// The team requires every migration to be re-runnable: `non-idempotent-ddl` judges
    /// DDL on any database, without other evidence of a re-run.
    pub require_idempotent_ddl: Option<bool>,
    /// Only these rules run (ids, as `--select` takes them).
    pub select: Option<Vec<Spanned<String>>>,
    /// Rules not to run (ids, as `--ignore` takes them).
    pub ignore: Option<Vec<Spanned<String>>>,
    /// The lowest severity that fails the run, as `--fail-on` takes it.
    pub fail_on: Option<FailOn>,
    /// Inline suppressions count only with a ` -- reason`.
    pub require_ignore_reason: Option<bool>,
    /// Severity per rule id: `error`, `warning`, `info`, or `off`.
    pub rules: Option<BTreeMap<Spanned<String>, Level>>,
    /// Rules not reported for files matching globs (relative to the settings file's folder).
    pub per_path: Option<Vec<PathOverride>>,
    /// Compose service names (globs) that are migrate services even when revlint cannot see
    /// their command (it is baked into the image).
    pub migrate_services: Option<Vec<Spanned<String>>>,
}

/// Plain strings of a spanned list.
pub fn strings(v: &Option<Vec<Spanned<String>>>) -> Vec<&str> {
    v.iter().flatten().map(|s| s.get_ref().as_str()).collect()
}

impl FileOptions {
    /// Rule ids and their levels, as written.
    pub fn levels(&self) -> impl Iterator<Item = (&str, Level)> {
        self.rules
            .iter()
            .flatten()
            .map(|(k, l)| (k.get_ref().as_str(), *l))
    }
}

/// `fail-on`, in the settings and on the command line.
#[derive(Debug, Clone, Copy, Deserialize, clap::ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailOn {
    Error,
    Warning,
    Info,
    /// Report findings but always exit 0 (usage errors still exit 2).
    Never,
}

impl FailOn {
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warning => "warning",
            FailOn::Info => "info",
            FailOn::Never => "never",
        }
    }

    /// The lowest severity that fails, or `None` for never.
    pub fn threshold(self) -> Option<crate::diagnostic::Severity> {
        use crate::diagnostic::Severity;
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

/// A rule's level in the settings.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Error,
    Warning,
    Info,
    Off,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Off => "off",
        }
    }
}

/// `[[per-path]]`: `paths = ["tests/**"]`, `ignore = ["rule-id"]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathOverride {
    pub paths: Vec<Spanned<String>>,
    pub ignore: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}

/// Other tools' tables are not ours to judge.
#[derive(Debug, Deserialize)]
struct Tool {
    revlint: Option<FileOptions>,
}

/// A loaded settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub path: PathBuf,
    pub options: FileOptions,
}

/// Find and read the nearest settings file above `start`.
pub fn find(start: &Path) -> Result<Option<Loaded>, UsageError> {
    let start = if start.is_dir() {
        start.to_path_buf()
    } else {
        start.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    for dir in start.ancestors() {
        let own = dir.join("revlint.toml");
        if own.is_file() {
            return read(&own, false).map(Some);
        }
        let pyproject = dir.join("pyproject.toml");
        if pyproject.is_file() {
            let text = discover::read_text(&pyproject).map_err(|e| UsageError(e.to_string()))?;
            if text.contains("[tool.revlint") {
                return read(&pyproject, true).map(Some);
            }
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    Ok(None)
}

/// `path:line:col: message`, then the TOML around `span` with the place marked.
pub fn snippet_error(
    path: &Path,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> UsageError {
    let Some(span) = span else {
        return UsageError(format!("{}: {message}", path.display()));
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let col = text[..start].rfind('\n').map_or(start, |p| start - p - 1) + 1;
    let name = path.display().to_string();
    let report = miette::Report::new(
        miette::MietteDiagnostic::new(message.to_string())
            .with_label(miette::LabeledSpan::at(span, "here")),
    )
    .with_source_code(miette::NamedSource::new(name.clone(), text.to_string()));
    let mut shown = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    if handler.render_report(&mut shown, report.as_ref()).is_err() {
        shown.clear();
    }
    // The message comes first, maybe wrapped; the snippet starts at its frame.
    let body: Vec<&str> = shown.lines().skip_while(|l| !l.contains('╭')).collect();
    UsageError(format!(
        "{name}:{line}:{col}: {message}\n{}",
        body.join("\n").trim_end()
    ))
}

fn read(path: &Path, pyproject: bool) -> Result<Loaded, UsageError> {
    let text = discover::read_text(path)
        .map_err(|why| UsageError(format!("{}: {why}", path.display())))?;
    let bad = |e: toml::de::Error| snippet_error(path, &text, e.span(), e.message().trim_end());
    let options = if pyproject {
        // The whole document, so that positions are the file's.
        let doc: Pyproject = toml::from_str(&text).map_err(bad)?;
        doc.tool.and_then(|t| t.revlint).unwrap_or_default()
    } else {
        toml::from_str(&text).map_err(bad)?
    };
    validate(&options, path, &text)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        options,
    })
}

/// Rule ids must name rules, globs must compile.
fn validate(f: &FileOptions, path: &Path, text: &str) -> Result<(), UsageError> {
    let rule = |id: &Spanned<String>, key: &str| -> Result<RuleId, UsageError> {
        id.get_ref()
            .parse::<RuleId>()
            .map_err(|e| snippet_error(path, text, Some(id.span()), &format!("`{key}`: {e}")))
    };
    let glob = |g: &Spanned<String>, key: &str| -> Result<globset::Glob, UsageError> {
        globset::Glob::new(g.get_ref()).map_err(|e| {
            snippet_error(
                path,
                text,
                Some(g.span()),
                &format!("`{key}`: bad glob `{}`: {}", g.get_ref(), e.kind()),
            )
        })
    };
    for id in f.select.iter().flatten() {
        rule(id, "select")?;
    }
    for id in f.ignore.iter().flatten() {
        rule(id, "ignore")?;
    }
    for id in f.rules.iter().flatten().map(|(k, _)| k) {
        rule(id, "rules")?;
    }
    for o in f.per_path.iter().flatten() {
        for p in &o.paths {
            glob(p, "per-path.paths")?;
        }
        for id in &o.ignore {
            rule(id, "per-path.ignore")?;
        }
    }
    for p in f.migrate_services.iter().flatten() {
        glob(p, "migrate-services")?;
    }
    Ok(())
}

/// The compiled globs of a settings list `validate` has accepted.
fn glob_set(
    patterns: &[Spanned<String>],
    file: &Path,
    key: &str,
) -> Result<globset::GlobSet, UsageError> {
    let bad = |e: globset::Error| UsageError(format!("{}: `{key}`: {e}", file.display()));
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        b.add(globset::Glob::new(p.get_ref()).map_err(bad)?);
    }
    b.build().map_err(bad)
}

impl Loaded {
    /// Service-name globs of `migrate-services`.
    pub fn migrate_services(&self) -> Result<Option<globset::GlobSet>, UsageError> {
        self.options
            .migrate_services
            .as_deref()
            .map(|p| glob_set(p, &self.path, "migrate-services"))
            .transpose()
    }

    /// The severity the settings give a rule, if any (`off` rules are not run at all).
    pub fn level(&self, rule: crate::rules::RuleId) -> Option<crate::diagnostic::Severity> {
        use crate::diagnostic::Severity;
        self.options
            .levels()
            .find(|(id, _)| *id == rule.as_str())
            .and_then(|(_, l)| match l {
                Level::Error => Some(Severity::Error),
                Level::Warning => Some(Severity::Warning),
                Level::Info => Some(Severity::Info),
                Level::Off => None,
            })
    }
}

/// Compiled `[[per-path]]` overrides.
#[derive(Debug, Default)]
pub struct PathRules {
    base: PathBuf,
    entries: Vec<(globset::GlobSet, Vec<crate::rules::RuleId>)>,
}

impl PathRules {
    /// Compiled from settings `validate` has accepted.
    pub fn new(l: &Loaded) -> Result<PathRules, UsageError> {
        let base = l.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut entries = Vec::new();
        for o in l.options.per_path.iter().flatten() {
            let set = glob_set(&o.paths, &l.path, "per-path.paths")?;
            let rules = o
                .ignore
                .iter()
                .map(|id| id.get_ref().parse().map_err(UsageError))
                .collect::<Result<Vec<_>, _>>()?;
            entries.push((set, rules));
        }
        Ok(PathRules { base, entries })
    }

    /// Whether `rule` is ignored for `path`.
    pub fn ignores(&self, path: &Path, rule: crate::rules::RuleId) -> bool {
        let rel = path.strip_prefix(&self.base).unwrap_or(path);
        self.entries
            .iter()
            .any(|(set, rules)| rules.contains(&rule) && set.is_match(rel))
    }
}
