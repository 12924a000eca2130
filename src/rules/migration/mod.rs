//! Rules about what revisions do: DDL, SQL, extensions, the version table.

pub mod concurrent_index_in_transaction;
pub mod missing_extension;
pub mod non_idempotent_ddl;
pub mod version_table_edit;

use std::collections::BTreeSet;

use crate::graph::RevisionGraph;
use crate::model::migration::Migration;
use crate::model::operation::Operation;
use crate::model::project::Project;
use crate::rules::{Context, RevisionScope};
use crate::source::{FileId, Span};

/// The bodies a rule checks: `upgrade()`, and `downgrade()` with `--include-downgrade`.
pub(crate) fn bodies<'a>(
    cx: &'a Context,
    m: &'a Migration,
) -> impl Iterator<Item = (&'static str, &'a [Operation])> {
    let down = cx.options.include_downgrade;
    [("upgrade", m.upgrade_ops.as_slice())]
        .into_iter()
        .chain(down.then_some(("downgrade", m.downgrade_ops.as_slice())))
}

/// Whether SQL and PostgreSQL-specific keywords apply here: the project's URL, the revision's
/// own SQL (none of it plainly another dialect's) and any enclosing
/// `if ….dialect.name == …` allow PostgreSQL.
pub(crate) fn postgresql_applies(project: &Project, m: &Migration, op: &Operation) -> bool {
    if !project.maybe_postgresql() || m.foreign_sql.is_some() {
        return false;
    }
    match &op.context.dialect {
        Some((name, true)) => name == "postgresql" || name == "postgres",
        Some((name, false)) => name != "postgresql" && name != "postgres",
        None => true,
    }
}

/// Whether [`pending_revisions`] falls back to each head's newest revision for `project`:
/// no `--all-revisions`, and no change or branch that adds a revision to it.
pub(crate) fn judges_heads(cx: &Context, project: &Project) -> bool {
    match &cx.options.revision_scope {
        RevisionScope::All => false,
        RevisionScope::Added(paths) => !project
            .migrations()
            .any(|m| paths.contains(&cx.db.get(m.file).path)),
        RevisionScope::Auto | RevisionScope::Heads => true,
    }
}

/// The day a revision was made: the `Create Date:` of its docstring (Alembic's template
/// writes it), else a date its file name starts with (`2024_12_18_…`, `20241218_…`,
/// `2025-08-10-…`, from a dated `file_template`).
pub(crate) fn created_on(cx: &Context, m: &Migration) -> Option<chrono::NaiveDate> {
    let file = cx.db.get(m.file);
    date_in_docstring(&file.text).or_else(|| date_in_file_name(file.path.file_name()?.to_str()?))
}

/// The date of a `Create Date:` line near the top of a revision.
fn date_in_docstring(text: &str) -> Option<chrono::NaiveDate> {
    let head = &text[..text.floor_char_boundary(text.len().min(4096))];
    let at = memchr::memmem::find(head.as_bytes(), b"Create Date:")?;
    let rest = head[at + "Create Date:".len()..].trim_start();
    chrono::NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
}

/// The date a file name starts with: `YYYYMMDD`, `YYYY_MM_DD` or `YYYY-MM-DD`.
fn date_in_file_name(name: &str) -> Option<chrono::NaiveDate> {
    let b = name.as_bytes();
    let digits: String = match (b.get(4), b.get(7)) {
        (Some(&s), Some(&t)) if (s == b'_' || s == b'-') && t == s => {
            [name.get(..4)?, name.get(5..7)?, name.get(8..10)?].concat()
        }
        _ => name.get(..8)?.to_string(),
    };
    if !digits.bytes().all(|c| c.is_ascii_digit()) || digits.len() != 8 {
        return None;
    }
    chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d").ok()
}

/// The revision files judged: every one with `--all-revisions`; those the branch or change
/// adds when it adds some to this project; otherwise the newest revision of each head (and,
/// for a head that merges branches, each branch's newest revision),
/// which is what the next deploy applies.
pub(crate) fn pending_revisions(
    cx: &Context,
    project: &Project,
    graph: Option<&RevisionGraph>,
) -> BTreeSet<FileId> {
    let all = || project.migrations().map(|m| m.file).collect();
    match &cx.options.revision_scope {
        RevisionScope::All => return all(),
        RevisionScope::Added(paths) => {
            let added: BTreeSet<FileId> = project
                .migrations()
                .filter(|m| paths.contains(&cx.db.get(m.file).path))
                .map(|m| m.file)
                .collect();
            if !added.is_empty() {
                return added;
            }
        }
        RevisionScope::Auto | RevisionScope::Heads => {}
    }
    match graph {
        // A head that merges branches brings their tips with it: the branches were just
        // joined, so their newest revisions are as new as the merge.
        Some(g) => g
            .heads
            .iter()
            .flat_map(|&h| {
                let n = &g.nodes[h];
                let tips = if n.parents.len() > 1 {
                    &n.parents[..]
                } else {
                    &[]
                };
                std::iter::once(h).chain(tips.iter().copied())
            })
            .map(|ix| g.nodes[ix].migration.file)
            .collect(),
        None => all(),
    }
}

/// The source text of a span.
pub(crate) fn source<'a>(cx: &'a Context, span: Span) -> &'a str {
    &cx.db.get(span.file).text[span.start as usize..span.end as usize]
}

/// SQL shortened for a message: whitespace collapsed, at most `max` characters.
pub(crate) fn abbreviate(sql: &str, max: usize) -> String {
    let collapsed = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(max).collect();
    // End at a word boundary.
    let cut = match cut.rfind(' ') {
        Some(p) if p > max / 2 => cut[..p].to_string(),
        _ => cut,
    };
    format!("{cut} …")
}

/// A table name as compared: lower-cased, unquoted, without its schema.
pub(crate) fn bare_table(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.trim_matches(|c| c == '"' || c == '`')
        .to_ascii_lowercase()
}

/// `isolation_level="AUTOCOMMIT"` in a file: the byte range of the value.
pub(crate) fn autocommit_bind(text: &str) -> Option<(usize, usize)> {
    let at = text.find("isolation_level")?;
    let rest = &text[at..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let v = rest[..line_end].find("AUTOCOMMIT")?;
    Some((at + v, at + v + "AUTOCOMMIT".len()))
}

/// What a SQL statement does to the migration's transaction: `Some(true)` when it ends it
/// (`COMMIT`, `END`), `Some(false)` when it opens one (`BEGIN`, `START TRANSACTION`).
pub(crate) fn transaction_control(statement: &str) -> Option<bool> {
    let w = statement.trim_start().to_ascii_uppercase();
    if w.starts_with("COMMIT") || w == "END" || w.starts_with("END ") {
        Some(true)
    } else if w.starts_with("BEGIN") || w.starts_with("START TRANSACTION") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{date_in_docstring, date_in_file_name};

    fn day(s: &str) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn dates_in_file_names() {
        assert_eq!(
            date_in_file_name("2024_08_21_1130_5d0e2c7a9b14_users.py"),
            day("2024-08-21")
        );
        assert_eq!(
            date_in_file_name("20241218_57eba0a293f2_unbound_host.py"),
            day("2024-12-18")
        );
        assert_eq!(
            date_in_file_name("2025-08-10-1345_73393d61a2f9.py"),
            day("2025-08-10")
        );
        assert_eq!(
            date_in_file_name("20250810-1345_73393d61a2f9.py"),
            day("2025-08-10")
        );
        // Revision ids, not dates.
        assert_eq!(date_in_file_name("000000000002_filter_criterias.py"), None);
        assert_eq!(date_in_file_name("12345678abcd_add_x.py"), None);
        assert_eq!(date_in_file_name("1f0c9a7d3b21_create.py"), None);
        assert_eq!(date_in_file_name("2024_x.py"), None);
        assert_eq!(date_in_file_name("é.py"), None);
    }

    #[test]
    fn dates_in_docstrings() {
        let doc = "\"\"\"x\n\nRevision ID: a\nRevises:\nCreate Date: 2018-03-19 10:00:00.000000\n\"\"\"\n";
        assert_eq!(date_in_docstring(doc), day("2018-03-19"));
        assert_eq!(date_in_docstring("Create Date: ${create_date}"), None);
        assert_eq!(date_in_docstring("Create Date:"), None);
        assert_eq!(date_in_docstring("revision = 'a'"), None);
    }
}
