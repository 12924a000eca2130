//! The Alembic version a project pins, read from lock files, `pyproject.toml` dependencies
//! and `requirements*.txt`. The lowest version a specifier allows is what revlint assumes,
//! so a suggested keyword exists in every version the project may install.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let mut parts = s.split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Where the assumed Alembic version came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlembicPin {
    pub version: Version,
    /// Display path of the file, and the 1-based line.
    pub origin: String,
    pub line: usize,
    /// The requirement as written (`alembic>=1.12,<2`).
    pub written: String,
}

/// The lowest version a PEP 440 or Poetry specifier allows, if it has a lower bound.
pub fn lowest_allowed(spec: &str) -> Option<Version> {
    let mut best: Option<Version> = None;
    for clause in spec.split(',') {
        let c = clause.trim();
        let v = if let Some(r) = c.strip_prefix("===") {
            Version::parse(r)
        } else if let Some(r) = c.strip_prefix("==") {
            Version::parse(r.trim_end_matches(".*"))
        } else if let Some(r) = c.strip_prefix("~=") {
            Version::parse(r)
        } else if let Some(r) = c.strip_prefix(">=") {
            Version::parse(r)
        } else if let Some(r) = c.strip_prefix('>') {
            Version::parse(r)
        } else if let Some(r) = c.strip_prefix('^') {
            Version::parse(r)
        } else if let Some(r) = c.strip_prefix('~') {
            Version::parse(r)
        } else if c.starts_with(|ch: char| ch.is_ascii_digit()) {
            Version::parse(c)
        } else {
            None
        };
        if let Some(v) = v {
            best = Some(best.map_or(v, |b| b.max(v)));
        }
    }
    best
}

/// A requirement line naming alembic: `alembic==1.13.2`, `alembic[tz] >= 1.12 ; python_version > "3"`.
fn requirement(line: &str) -> Option<(String, Version)> {
    let line = line.split('#').next()?.trim();
    let line = line.split(';').next()?.trim();
    let lower = line.to_ascii_lowercase();
    let rest = lower.strip_prefix("alembic")?;
    let rest = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']')?.1,
        None => rest,
    };
    let rest = rest.trim().trim_start_matches('(').trim_end_matches(')');
    if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return None; // alembic-utils, alembic_postgresql_enum, …
    }
    Some((line.to_string(), lowest_allowed(rest)?))
}

/// Search a `requirements*.txt` text.
pub fn from_requirements(text: &str) -> Option<(usize, String, Version)> {
    text.lines().enumerate().find_map(|(i, l)| {
        let (written, v) = requirement(l)?;
        Some((i + 1, written, v))
    })
}

fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|p| text[..p].matches('\n').count() + 1)
        .unwrap_or(1)
}

/// `uv.lock` / `poetry.lock`: `[[package]] name = "alembic" version = "…"`.
pub fn from_lock(text: &str) -> Option<(usize, String, Version)> {
    let doc: toml::Table = text.parse().ok()?;
    let packages = doc.get("package")?.as_array()?;
    for p in packages {
        if p.get("name").and_then(|n| n.as_str()) == Some("alembic") {
            let v = p.get("version")?.as_str()?;
            let written = format!("alembic {v}");
            return Some((
                line_of(text, "name = \"alembic\""),
                written,
                Version::parse(v)?,
            ));
        }
    }
    None
}

/// `pyproject.toml`: `[project] dependencies`, optional dependencies, dependency groups,
/// `[tool.poetry.dependencies]`.
pub fn from_pyproject(text: &str) -> Option<(usize, String, Version)> {
    let doc: toml::Table = text.parse().ok()?;
    let mut lists: Vec<&toml::Value> = Vec::new();
    if let Some(p) = doc.get("project") {
        lists.extend(p.get("dependencies"));
        if let Some(opt) = p.get("optional-dependencies").and_then(|o| o.as_table()) {
            lists.extend(opt.values());
        }
    }
    if let Some(groups) = doc.get("dependency-groups").and_then(|g| g.as_table()) {
        lists.extend(groups.values());
    }
    for list in lists {
        for item in list.as_array().into_iter().flatten() {
            if let Some((written, v)) = item.as_str().and_then(requirement) {
                return Some((line_of(text, &written), written, v));
            }
        }
    }
    let poetry = doc.get("tool")?.get("poetry")?;
    let mut tables: Vec<&toml::Value> = poetry.get("dependencies").into_iter().collect();
    if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
        tables.extend(groups.values().filter_map(|g| g.get("dependencies")));
    }
    for t in tables {
        let Some(spec) = t.get("alembic") else {
            continue;
        };
        let s = match spec {
            toml::Value::String(s) => s.clone(),
            toml::Value::Table(t) => t.get("version")?.as_str()?.to_string(),
            _ => continue,
        };
        let v = lowest_allowed(&s)?;
        return Some((line_of(text, "alembic"), format!("alembic = \"{s}\""), v));
    }
    None
}

/// `Pipfile.lock` (JSON): `default.alembic.version = "==1.13.2"`.
pub fn from_pipfile_lock(text: &str) -> Option<(usize, String, Version)> {
    let doc: serde_json::Value = serde_json::from_str(text).ok()?;
    for section in ["default", "develop"] {
        if let Some(v) = doc
            .get(section)
            .and_then(|s| s.get("alembic"))
            .and_then(|a| a.get("version"))
            .and_then(|v| v.as_str())
        {
            return Some((
                line_of(text, "\"alembic\""),
                format!("alembic{v}"),
                lowest_allowed(v)?,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers() {
        assert_eq!(lowest_allowed("==1.13.2"), Some(Version(1, 13, 2)));
        assert_eq!(lowest_allowed(">=1.12,<2"), Some(Version(1, 12, 0)));
        assert_eq!(lowest_allowed("^1.16"), Some(Version(1, 16, 0)));
        assert_eq!(lowest_allowed("<2"), None);
        assert_eq!(lowest_allowed("*"), None);
    }

    #[test]
    fn requirement_lines() {
        let t = "# deps\nalembic-utils==0.8\nalembic[tz]>=1.13.3 ; python_version >= '3.9'\n";
        let (line, _, v) = from_requirements(t).unwrap();
        assert_eq!((line, v), (3, Version(1, 13, 3)));
        assert!(from_requirements("sqlalchemy==2.0\n").is_none());
    }

    #[test]
    fn lock_and_pyproject() {
        let lock = "[[package]]\nname = \"sqlalchemy\"\nversion = \"2.0.1\"\n\n[[package]]\nname = \"alembic\"\nversion = \"1.16.4\"\n";
        assert_eq!(from_lock(lock).unwrap().2, Version(1, 16, 4));
        let pp = "[project]\nname='x'\ndependencies = [\"alembic>=1.11.2\"]\n";
        assert_eq!(from_pyproject(pp).unwrap().2, Version(1, 11, 2));
        let poetry =
            "[tool.poetry.dependencies]\npython = \"^3.11\"\nalembic = { version = \"^1.13.1\" }\n";
        assert_eq!(from_pyproject(poetry).unwrap().2, Version(1, 13, 1));
    }
}
