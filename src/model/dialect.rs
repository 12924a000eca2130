//! Which database a project migrates, from the evidence in the repository, and whether that
//! database rolls DDL back when a revision fails.
//!
//! Sources are ranked; the highest rank that says anything decides, and a rank whose
//! sources disagree decides "unknown" (lower ranks are not consulted, since a project that
//! names two databases in one place may deploy either):
//!
//! 1. the URL the migrations read: `sqlalchemy.url` in the Alembic config when `env.py`
//!    takes it as it is (`engine_from_config`, `get_main_option`), and URL literals in
//!    `env.py` itself (a default in `os.getenv("DATABASE_URL", "mysql://…")`);
//! 2. the deploy configuration: URLs in compose files and `.env` files, and the image of a
//!    compose database service (`mysql:8`, `mariadb`, `postgres:16`, `postgis/postgis`),
//!    outside test suites, documentation and examples;
//! 3. the driver in the dependencies (`pymysql`, `mysqlclient`, `asyncpg`, `psycopg`, …).
//!
//! Alembic's placeholder `driver://user:pass@localhost/dbname` is no evidence, and neither
//! is a config URL that `env.py` replaces (`set_main_option("sqlalchemy.url", …)`,
//! `create_engine(settings.…)`, or a connection the application passes in through
//! `config.attributes["connection"]`): that URL is a development default.

use crate::source::{FileDb, FileId, Span};

/// A database family, as far as transactional DDL goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    Postgresql,
    Mysql,
    Mariadb,
    Oracle,
    Sqlite,
    Mssql,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgresql => "PostgreSQL",
            Dialect::Mysql => "MySQL",
            Dialect::Mariadb => "MariaDB",
            Dialect::Oracle => "Oracle",
            Dialect::Sqlite => "SQLite",
            Dialect::Mssql => "SQL Server",
        }
    }

    /// MySQL and MariaDB are one family for deciding: a `mysql+pymysql://` URL to a
    /// `mariadb` image is one database.
    fn family(self) -> Dialect {
        match self {
            Dialect::Mariadb => Dialect::Mysql,
            d => d,
        }
    }

    /// From a URL scheme's backend (`mysql` in `mysql+pymysql`).
    pub fn from_backend(name: &str) -> Option<Dialect> {
        Some(match name.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "postgis" | "cockroachdb" | "timescaledb" => {
                Dialect::Postgresql
            }
            "mysql" => Dialect::Mysql,
            "mariadb" => Dialect::Mariadb,
            "oracle" => Dialect::Oracle,
            "sqlite" => Dialect::Sqlite,
            "mssql" => Dialect::Mssql,
            _ => return None,
        })
    }
}

/// One piece of evidence: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub dialect: Dialect,
    pub span: Span,
    /// `the URL in alembic.ini`, `the database image`, `the driver in pyproject.toml`.
    pub what: String,
    pub rank: u8,
}

/// What the repository says about a project's database.
#[derive(Debug, Clone, Default)]
pub struct DialectFacts {
    /// The deciding evidence, or empty when unknown or conflicting.
    pub deciding: Vec<Evidence>,
    /// Evidence of several databases at the deciding rank (then `deciding` is empty).
    pub conflicting: Vec<Evidence>,
    /// `env.py` makes SQLite transactional (`transactional_ddl=True` plus a `BEGIN` sent on
    /// the driver's begin event, SQLAlchemy's pysqlite recipe).
    pub sqlite_transactional: bool,
}

impl DialectFacts {
    /// The decided database, if the evidence agrees.
    pub fn dialect(&self) -> Option<Dialect> {
        self.deciding.first().map(|e| e.dialect)
    }

    /// The evidence that the database commits DDL as it goes: a failed revision leaves its
    /// earlier statements behind. `None` when the database is transactional or unknown.
    pub fn non_transactional(&self) -> Option<&Evidence> {
        let e = self.deciding.first()?;
        match e.dialect {
            Dialect::Mysql | Dialect::Mariadb | Dialect::Oracle => Some(e),
            Dialect::Sqlite if !self.sqlite_transactional => Some(e),
            _ => None,
        }
    }
}

/// Decide from every piece of evidence found.
pub fn decide(mut evidence: Vec<Evidence>, sqlite_transactional: bool) -> DialectFacts {
    evidence.sort_by_key(|e| (e.rank, e.span));
    let Some(top) = evidence.first().map(|e| e.rank) else {
        return DialectFacts {
            sqlite_transactional,
            ..DialectFacts::default()
        };
    };
    let at_top: Vec<Evidence> = evidence.into_iter().filter(|e| e.rank == top).collect();
    let first = at_top[0].dialect.family();
    if at_top.iter().all(|e| e.dialect.family() == first) {
        // MariaDB evidence wins over MySQL's where both appear: it is the more specific.
        let mut deciding = at_top;
        deciding.sort_by_key(|e| (e.dialect != Dialect::Mariadb, e.span));
        DialectFacts {
            deciding,
            conflicting: Vec::new(),
            sqlite_transactional,
        }
    } else {
        DialectFacts {
            deciding: Vec::new(),
            conflicting: at_top,
            sqlite_transactional,
        }
    }
}

/// Database URLs written in `text`: the dialect and the byte range of each URL's scheme and
/// host part. Alembic's placeholder `driver://` and templated schemes are skipped.
pub fn urls(text: &str) -> Vec<(Dialect, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(off) = text[from..].find("://") {
        let sep = from + off;
        from = sep + 3;
        let mut start = sep;
        while start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'+'
                || bytes[start - 1] == b'_')
        {
            start -= 1;
        }
        let scheme = &text[start..sep];
        let backend = scheme.split('+').next().unwrap_or("");
        let Some(d) = Dialect::from_backend(backend) else {
            continue;
        };
        if start > 0 && matches!(bytes[start - 1], b'$' | b'{' | b'%') {
            continue;
        }
        let mut end = sep + 3;
        while end < bytes.len()
            && !bytes[end].is_ascii_whitespace()
            && !matches!(bytes[end], b'"' | b'\'' | b'`' | b')' | b',')
        {
            end += 1;
        }
        out.push((d, start, end));
    }
    out
}

/// The database an image runs (`mysql:8.0`, `bitnami/mariadb`, `postgis/postgis:16`).
pub fn image_dialect(image: &str) -> Option<Dialect> {
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name
        .split([':', '@'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    let repo = image.to_ascii_lowercase();
    Some(match name.as_str() {
        "mysql" | "mysql-server" | "percona" | "percona-server" => Dialect::Mysql,
        "mariadb" => Dialect::Mariadb,
        "postgres" | "postgresql" | "postgis" | "pgvector" | "timescaledb" | "timescaledb-ha" => {
            Dialect::Postgresql
        }
        "oracle-xe" | "oracle-free" | "free"
            if repo.contains("oracle") || repo.contains("gvenzl") =>
        {
            Dialect::Oracle
        }
        "mssql-server" | "mssql" => Dialect::Mssql,
        _ => return None,
    })
}

/// Database drivers as they appear in dependency files.
const DRIVERS: &[(&str, Dialect)] = &[
    ("pymysql", Dialect::Mysql),
    ("mysqlclient", Dialect::Mysql),
    ("mysql-connector-python", Dialect::Mysql),
    ("aiomysql", Dialect::Mysql),
    ("asyncmy", Dialect::Mysql),
    ("mariadb", Dialect::Mariadb),
    ("psycopg2", Dialect::Postgresql),
    ("psycopg2-binary", Dialect::Postgresql),
    ("psycopg", Dialect::Postgresql),
    ("psycopg-binary", Dialect::Postgresql),
    ("asyncpg", Dialect::Postgresql),
    ("pg8000", Dialect::Postgresql),
    ("cx-oracle", Dialect::Oracle),
    ("oracledb", Dialect::Oracle),
    ("pymssql", Dialect::Mssql),
    ("pyodbc", Dialect::Mssql),
];

/// Drivers named in a dependency file (`requirements*.txt`, `pyproject.toml`), with their
/// byte ranges. Names are compared normalized (`_` and `.` as `-`, lower case), and only
/// where they start a requirement: at the start of a line or of a quoted string.
pub fn drivers(text: &str) -> Vec<(Dialect, usize, usize)> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed_off = line.len() - line.trim_start().len();
        let mut starts = vec![line_start + trimmed_off];
        for (i, c) in line.char_indices() {
            if c == '"' || c == '\'' {
                starts.push(line_start + i + 1);
            }
        }
        for s in starts {
            let rest = &text[s..];
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            let name = rest[..len].to_ascii_lowercase().replace(['_', '.'], "-");
            if let Some((_, d)) = DRIVERS.iter().find(|(n, _)| *n == name) {
                out.push((*d, s, s + len));
            }
        }
        line_start += line.len();
    }
    out
}

/// What `env.py` does with the database URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnvUrl {
    /// `env.py` reads the config's `sqlalchemy.url` as it is.
    pub uses_config_url: bool,
    /// `env.py` replaces it, or builds its engine from elsewhere.
    pub replaces_config_url: bool,
    /// SQLAlchemy's recipe for transactional DDL on pysqlite.
    pub sqlite_transactional: bool,
    /// The `alembic` command line reads the config's URL: `env.py` uses it, and replaces it
    /// only with a connection the application passes in (`config.attributes`), which the
    /// command line never does.
    pub command_line_uses_config_url: bool,
}

/// Read `env.py`'s text for what it does with the URL.
pub fn env_url(text: &str) -> EnvUrl {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let replaces = compact.contains("set_main_option(\"sqlalchemy.url\"")
        || compact.contains("set_main_option('sqlalchemy.url'")
        || compact.contains("set_section_option(")
        || compact.contains("create_engine(")
        || compact.contains("create_async_engine(")
        || compact.contains("[\"sqlalchemy.url\"]=")
        || compact.contains("['sqlalchemy.url']=")
        || imports_an_engine(&compact)
        || compact.contains("get_engine(")
        || compact.contains("url=os.")
        || compact.contains("url=settings")
        || compact.contains("url=get_");
    let passed_in = passed_in_by_caller(&compact);
    let uses = compact.contains("engine_from_config(")
        || compact.contains("get_main_option(\"sqlalchemy.url\")")
        || compact.contains("get_main_option('sqlalchemy.url')");
    let sqlite_transactional = compact.contains("transactional_ddl=True")
        && (compact.contains("\"BEGIN\"") || compact.contains("'BEGIN'"));
    EnvUrl {
        uses_config_url: uses && !replaces && !passed_in,
        replaces_config_url: replaces || passed_in,
        sqlite_transactional,
        command_line_uses_config_url: uses && !replaces,
    }
}

/// `config.attributes.get("connection")` (whitespace removed): the application runs the
/// migrations with a connection or engine of its own (Alembic's recipe for sharing a
/// connection), and the config URL serves only the command line.
fn passed_in_by_caller(compact: &str) -> bool {
    ["connection", "engine", "connectable"].iter().any(|k| {
        [
            format!("attributes.get(\"{k}\""),
            format!("attributes.get('{k}'"),
            format!("attributes[\"{k}\"]"),
            format!("attributes['{k}']"),
        ]
        .iter()
        .any(|p| compact.contains(p.as_str()))
    })
}

/// `from app.db import engine` (whitespace removed): the engine comes from application code.
fn imports_an_engine(compact: &str) -> bool {
    compact.match_indices("import").any(|(i, _)| {
        let rest = &compact[i + "import".len()..];
        rest.starts_with("engine")
            && !rest["engine".len()..].starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric())
    })
}

/// Evidence from URLs in a file's text.
pub fn url_evidence(db: &FileDb, file: FileId, rank: u8, what: &str) -> Vec<Evidence> {
    urls(&db.get(file).text)
        .into_iter()
        .map(|(dialect, s, e)| Evidence {
            dialect,
            span: Span::new(file, s, e),
            what: what.to_string(),
            rank,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_urls_and_skips_placeholders() {
        let found: Vec<_> = urls(
            "sqlalchemy.url = driver://user:pass@localhost/dbname\n\
             url = mysql+pymysql://root@db/app\n\
             DATABASE_URL=${SCHEME}://x\n\
             x = 'postgresql+asyncpg://u@h/d'",
        )
        .into_iter()
        .map(|(d, _, _)| d)
        .collect();
        assert_eq!(found, vec![Dialect::Mysql, Dialect::Postgresql]);
    }

    #[test]
    fn url_span_covers_the_url() {
        let t = "x = \"sqlite:///app.db\"\n";
        let (d, s, e) = urls(t)[0];
        assert_eq!(d, Dialect::Sqlite);
        assert_eq!(&t[s..e], "sqlite:///app.db");
    }

    #[test]
    fn images() {
        assert_eq!(image_dialect("mysql:8.0"), Some(Dialect::Mysql));
        assert_eq!(image_dialect("bitnami/mariadb:11"), Some(Dialect::Mariadb));
        assert_eq!(
            image_dialect("postgis/postgis:16-3.4"),
            Some(Dialect::Postgresql)
        );
        assert_eq!(image_dialect("redis:7"), None);
        assert_eq!(image_dialect("mysql-exporter"), None);
    }

    #[test]
    fn drivers_at_requirement_starts_only() {
        let t = "PyMySQL==1.1\n# not psycopg2 here\nfoo-asyncpg-helper\ndependencies = [\"asyncpg>=0.29\"]\n";
        let found: Vec<_> = drivers(t).into_iter().map(|(d, _, _)| d).collect();
        assert_eq!(found, vec![Dialect::Mysql, Dialect::Postgresql]);
    }

    #[test]
    fn a_rank_that_disagrees_decides_unknown() {
        let ev = |d, rank, at| Evidence {
            dialect: d,
            span: Span::new(FileId(0), at, at + 1),
            what: String::new(),
            rank,
        };
        let f = decide(
            vec![
                ev(Dialect::Mysql, 2, 0),
                ev(Dialect::Postgresql, 2, 5),
                ev(Dialect::Mysql, 3, 9),
            ],
            false,
        );
        assert_eq!(f.dialect(), None);
        assert_eq!(f.conflicting.len(), 2);
        let f = decide(
            vec![ev(Dialect::Mysql, 2, 0), ev(Dialect::Mariadb, 2, 5)],
            false,
        );
        assert_eq!(f.dialect(), Some(Dialect::Mariadb));
        assert!(f.non_transactional().is_some());
        let f = decide(vec![ev(Dialect::Sqlite, 1, 0)], true);
        assert!(f.non_transactional().is_none());
    }

    #[test]
    fn env_py_that_takes_the_callers_connection() {
        let e = env_url("connectable = config.attributes.get(\"connection\")\nif connectable is None:\n    connectable = engine_from_config(config.get_section(config.config_ini_section))\n");
        assert!(e.replaces_config_url && !e.uses_config_url);
        let plain = env_url(
            "connectable = engine_from_config(config.get_section(config.config_ini_section))\n",
        );
        assert!(plain.uses_config_url && !plain.replaces_config_url);
    }

    #[test]
    fn env_py_that_replaces_the_url() {
        let e = env_url("config.set_main_option(\"sqlalchemy.url\", settings.DB)\nconnectable = engine_from_config(config.get_section(config.config_ini_section))\n");
        assert!(e.replaces_config_url && !e.uses_config_url);
        let e = env_url("url = config.get_main_option(\"sqlalchemy.url\")\nconnectable = engine_from_config(\n  config.get_section(config.config_ini_section))\n");
        assert!(e.uses_config_url);
    }
}
