//! Baselines: today's findings recorded in a file, so a repository with old findings can
//! adopt revlint and fail only on new ones.
//!
//! A finding is keyed by its rule, the path of its main label relative to the baseline
//! file, and a fingerprint of every label's file and text with whitespace collapsed. Line
//! numbers are not part of the key, so the baseline survives lines moving; the text of every
//! label is, so a finding that grows (a third head joins two recorded ones) no longer
//! matches and is reported. Equal keys are counted: two identical findings in a file need
//! two entries.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::source::FileDb;

pub const SCHEMA_VERSION: u32 = 1;
pub const DEFAULT_FILE: &str = "revlint-baseline.json";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub schema_version: u32,
    pub findings: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub rule: String,
    /// The main label's file, relative to the baseline file, with `/` separators.
    pub path: String,
    pub fingerprint: String,
    /// How many findings share this key.
    pub count: usize,
    /// The message when recorded, for people reading the file; not matched.
    pub message: String,
}

type Key = (String, String, String);

/// FNV-1a, 64 bits: stable across runs, platforms and Rust versions.
pub(crate) fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The text under `span` with each run of whitespace collapsed to one space: what a
/// fingerprint keeps of a finding's place, unchanged when lines move or are re-indented.
pub(crate) fn collapsed_text(db: &FileDb, span: crate::source::Span) -> String {
    let text = db
        .get(span.file)
        .text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `path` relative to `root` with `/` separators, or as given when outside it.
fn relative(path: &Path, root: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let rel = abs.strip_prefix(root).unwrap_or(&abs);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn key(db: &FileDb, d: &Diagnostic, root: &Path) -> Key {
    let path = d
        .main_span()
        .map(|s| relative(&db.get(s.file).path, root))
        .unwrap_or_default();
    let mut parts: Vec<String> = d
        .labels
        .iter()
        .map(|l| {
            format!(
                "{}\0{}",
                relative(&db.get(l.span.file).path, root),
                collapsed_text(db, l.span)
            )
        })
        .collect();
    parts.sort();
    if parts.is_empty() {
        parts.push(d.message.clone());
    }
    let mut all: Vec<&str> = vec![d.rule.as_str()];
    all.extend(parts.iter().map(String::as_str));
    (d.rule.as_str().to_string(), path, fnv(&all))
}

/// The directory paths in `file` are relative to.
fn root_of(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The baseline of `diagnostics`, sorted.
pub fn record(db: &FileDb, diagnostics: &[Diagnostic], file: &Path) -> Baseline {
    let root = root_of(file);
    let mut entries: BTreeMap<Key, Entry> = BTreeMap::new();
    for d in diagnostics {
        let k = key(db, d, &root);
        entries
            .entry(k.clone())
            .and_modify(|e| e.count += 1)
            .or_insert_with(|| Entry {
                rule: k.0,
                path: k.1,
                fingerprint: k.2,
                count: 1,
                message: d.message.clone(),
            });
    }
    Baseline {
        schema_version: SCHEMA_VERSION,
        findings: entries.into_values().collect(),
    }
}

/// Write `baseline` to `file`, which must not exist yet.
pub fn write(baseline: &Baseline, file: &Path) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "{} already exists: revlint does not overwrite it; delete it to record a new baseline",
                    file.display()
                )
            } else {
                format!("cannot create {}: {e}", file.display())
            }
        })?;
    let mut text = serde_json::to_string_pretty(baseline).map_err(|e| e.to_string())?;
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// Read a baseline file.
pub fn read(file: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{} does not exist: record one with `revlint baseline write`",
                file.display()
            )
        } else {
            format!("cannot read {}: {e}", file.display())
        }
    })?;
    let b: Baseline = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a revlint baseline: {e}",
            file.display(),
            e.line(),
            e.column()
        )
    })?;
    if b.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "{}: baseline schema version {} is not {SCHEMA_VERSION}, the one this revlint reads",
            file.display(),
            b.schema_version
        ));
    }
    Ok(b)
}

/// What a baseline left of the findings.
#[derive(Debug, Default)]
pub struct Applied {
    /// Findings the baseline matched, removed from the list.
    pub matched: usize,
    /// Baseline entries (counted) that matched nothing: fixed since it was recorded.
    pub stale: usize,
}

/// Remove from `diagnostics` the findings `baseline` records.
pub fn apply(
    baseline: &Baseline,
    db: &FileDb,
    diagnostics: &mut Vec<Diagnostic>,
    file: &Path,
) -> Applied {
    let root = root_of(file);
    let mut left: BTreeMap<Key, usize> = BTreeMap::new();
    for e in &baseline.findings {
        *left
            .entry((e.rule.clone(), e.path.clone(), e.fingerprint.clone()))
            .or_default() += e.count;
    }
    let mut applied = Applied::default();
    diagnostics.retain(|d| match left.get_mut(&key(db, d, &root)) {
        Some(n) if *n > 0 => {
            *n -= 1;
            applied.matched += 1;
            false
        }
        _ => true,
    });
    applied.stale = left.values().sum();
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv(&[]), "cbf29ce484222325");
        assert_ne!(fnv(&["ab", "c"]), fnv(&["a", "bc"]));
    }
}
