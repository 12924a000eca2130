//! revlint's own settings: `revlint.toml`, or `[tool.revlint]` in `pyproject.toml`, the
//! nearest one from the linted path up to the repository root. Unknown keys and wrong types
//! are errors that name the file, line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::discover::{self, UsageError};

/// The on-disk schema. Keys are kebab-case.
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
    /// Rules not to run (ids, as `--ignore` takes them).
    pub ignore: Option<Vec<String>>,
    /// Inline suppressions count only with a ` -- reason`.
    pub require_ignore_reason: Option<bool>,
    /// Severity per rule id: `error`, `warning`, `info`, or `off`.
    pub rules: Option<std::collections::BTreeMap<String, Level>>,
    /// Rules not reported for files matching globs (relative to the settings file's folder).
    pub per_path: Option<Vec<PathOverride>>,
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
    pub paths: Vec<String>,
    pub ignore: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}

#[derive(Debug, Deserialize)]
struct Tool {
    revlint: Option<toml::Value>,
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

fn read(path: &Path, pyproject: bool) -> Result<Loaded, UsageError> {
    let text = discover::read_text(path)
        .map_err(|why| UsageError(format!("{}: {why}", path.display())))?;
    let bad = |e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                let col = s.start - text[..s.start].rfind('\n').map_or(0, |p| p + 1) + 1;
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        UsageError(format!(
            "{}{at}: {}",
            path.display(),
            e.message().trim_end()
        ))
    };
    let options = if pyproject {
        // Parse the whole document for positions, then the table itself for the schema.
        let doc: Pyproject = toml::from_str(&text).map_err(bad)?;
        match doc.tool.and_then(|t| t.revlint) {
            Some(v) => FileOptions::deserialize(v).map_err(|e| {
                UsageError(format!(
                    "{} [tool.revlint]: {}",
                    path.display(),
                    e.message().trim_end()
                ))
            })?,
            None => FileOptions::default(),
        }
    } else {
        toml::from_str(&text).map_err(bad)?
    };
    Ok(Loaded {
        path: path.to_path_buf(),
        options,
    })
}

impl Loaded {
    /// The severity the settings give a rule, if any (`off` rules are not run at all).
    pub fn level(&self, rule: crate::rules::RuleId) -> Option<crate::diagnostic::Severity> {
        use crate::diagnostic::Severity;
        let levels = self.options.rules.as_ref()?;
        levels
            .iter()
            .find(|(id, _)| id.as_str() == rule.as_str())
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
    pub fn new(l: &Loaded) -> Result<PathRules, UsageError> {
        let base = l.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut entries = Vec::new();
        for (i, o) in l.options.per_path.iter().flatten().enumerate() {
            let mut b = globset::GlobSetBuilder::new();
            for p in &o.paths {
                let g = globset::Glob::new(p).map_err(|e| {
                    UsageError(format!(
                        "{} `per-path` entry {}: bad glob `{p}`: {e}",
                        l.path.display(),
                        i + 1
                    ))
                })?;
                b.add(g);
            }
            let set = b
                .build()
                .map_err(|e| UsageError(format!("{} `per-path`: {e}", l.path.display())))?;
            let mut rules = Vec::new();
            for id in &o.ignore {
                rules.push(id.parse().map_err(|e| {
                    UsageError(format!(
                        "{} `per-path` entry {}: {e}",
                        l.path.display(),
                        i + 1
                    ))
                })?);
            }
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
