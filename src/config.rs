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
