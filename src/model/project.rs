//! An Alembic project: its configuration and its revision files in load order.

use std::path::PathBuf;

use super::dialect::DialectFacts;
use super::migration::Migration;
use super::operation::Operation;
use super::pin::AlembicPin;
use crate::source::{FileId, Span};

/// Where a project's configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `alembic.ini` (or the file given with `--config`).
    Ini(FileId),
    /// `pyproject.toml` with a `[tool.alembic]` table.
    Pyproject(FileId),
    /// No configuration: a `versions/` folder next to an `env.py`.
    EnvPy(FileId),
}

impl ConfigSource {
    pub fn file(&self) -> FileId {
        match self {
            ConfigSource::Ini(f) | ConfigSource::Pyproject(f) | ConfigSource::EnvPy(f) => *f,
        }
    }
}

/// A setting Alembic reads differently from how it looks.
#[derive(Debug, Clone)]
pub struct ConfigIssue {
    /// The config's `script_location` is no folder anywhere: if the repository has another
    /// environment with revisions, this config is a leftover nothing runs.
    pub points_at_nothing: bool,
    pub span: Span,
    pub message: String,
    pub help: String,
}

/// A file that could not be read or parsed (not a Python syntax error, which the migration
/// keeps): unreadable, not UTF-8, binary, or a broken config file.
#[derive(Debug, Clone)]
pub struct FileIssue {
    pub span: Span,
    /// The whole sentence, naming the file where the problem is the file itself.
    pub message: String,
    /// What the label at `span` says.
    pub label: &'static str,
}

/// A file in a version location that Alembic would load.
#[derive(Debug, Clone)]
pub enum VersionFile {
    /// Parsed; may still lack a revision.
    Migration(Box<Migration>),
    /// Could not be read or decoded; Alembic would fail on it too.
    Unreadable(FileId),
}

#[derive(Debug, Clone)]
pub struct Project {
    pub config: ConfigSource,
    /// Directory the config lives in (`%(here)s`).
    pub here: PathBuf,
    pub script_location: Option<PathBuf>,
    /// Version locations in config order, as absolute paths.
    pub version_locations: Vec<PathBuf>,
    pub recursive_version_locations: bool,
    /// Every file Alembic would load, in its load order.
    pub files: Vec<VersionFile>,
    pub config_issues: Vec<ConfigIssue>,
    pub file_issues: Vec<FileIssue>,
    /// `sqlalchemy.url` as written in the config.
    pub database_url: Option<String>,
    /// The Alembic version the project pins, when a dependency file says.
    pub alembic_pin: Option<AlembicPin>,
    pub env_file: Option<FileId>,
    /// What `env.py` runs (SQL before `run_migrations()`, `CREATE EXTENSION`).
    pub env_ops: Vec<Operation>,
    /// `version_table=` in `env.py`, lower-cased; `alembic_version` by default.
    pub version_table: String,
    /// Which database the project migrates, from the evidence in the repository.
    pub dialect_facts: DialectFacts,
    /// A `script_location` that is a template (`{alembic_dir}`) the application fills in:
    /// revlint cannot know the folder, so it reads no revisions and reports nothing.
    pub template_location: Option<String>,
    /// The repository's Python adds version locations at run time
    /// (`set_main_option("version_locations", …)`, `script.version_locations = …`): the
    /// path and byte offset of the first such code. Revisions Alembic then loads may live
    /// outside the locations revlint sees, so an id it cannot find is not proof of a dangling
    /// reference.
    pub locations_in_code: Option<(PathBuf, usize)>,
}

impl Project {
    /// A new project with no files read yet.
    pub fn new(config: ConfigSource, here: PathBuf) -> Project {
        Project {
            config,
            here,
            script_location: None,
            version_locations: Vec::new(),
            recursive_version_locations: false,
            files: Vec::new(),
            config_issues: Vec::new(),
            file_issues: Vec::new(),
            database_url: None,
            alembic_pin: None,
            env_file: None,
            env_ops: Vec::new(),
            version_table: "alembic_version".to_string(),
            dialect_facts: DialectFacts::default(),
            template_location: None,
            locations_in_code: None,
        }
    }

    /// The database dialect named by a literal `sqlalchemy.url` (`postgresql`, `mysql`,
    /// `sqlite`, …), when the URL is not computed at run time.
    pub fn dialect(&self) -> Option<&str> {
        let url = self.database_url.as_deref()?;
        if url.contains("%(") || url.contains("${") || url.contains("driver://") {
            return None;
        }
        let scheme = url.split("://").next()?;
        if scheme == url {
            return None;
        }
        let name = scheme.split('+').next()?;
        Some(match name {
            "postgres" | "postgresql" => "postgresql",
            "mariadb" => "mysql",
            other => other,
        })
    }

    /// Whether the database may be PostgreSQL (unknown counts as maybe).
    pub fn maybe_postgresql(&self) -> bool {
        self.dialect().is_none_or(|d| d == "postgresql")
    }
    pub fn migrations(&self) -> impl Iterator<Item = &Migration> {
        self.files.iter().filter_map(|f| match f {
            VersionFile::Migration(m) => Some(&**m),
            VersionFile::Unreadable(_) => None,
        })
    }

    /// Whether some file's graph attributes are unknown, so graph findings may be incomplete.
    pub fn has_unknowns(&self) -> bool {
        self.files.iter().any(|f| match f {
            VersionFile::Migration(m) => !m.fully_known(),
            VersionFile::Unreadable(_) => true,
        })
    }
}
