//! Rules about what revisions do: DDL, SQL, extensions, the version table.

pub mod concurrent_index_in_transaction;
pub mod missing_extension;
pub mod non_idempotent_ddl;
pub mod version_table_edit;

use crate::model::migration::Migration;
use crate::model::operation::Operation;
use crate::model::project::Project;
use crate::rules::Context;
use crate::source::Span;

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
