//! A script outside the version locations that runs SQL: a Python file (every `execute` and
//! `text(...)` call anywhere in it), a shell script (quoted strings and heredoc lines that read
//! as SQL), or a `.sql` file.

use std::path::Path;

use super::operation::{self, Operation, SqlText};
use crate::parse::python;
use crate::source::FileId;

#[derive(Debug, Clone)]
pub struct Script {
    pub file: FileId,
    /// The SQL the script runs.
    pub sql: Vec<SqlText>,
    /// Alembic operations it calls directly (`op.drop_table(...)` in a helper script).
    pub ops: Vec<Operation>,
}

/// SQL verbs that start a statement worth classifying in a shell script.
const VERBS: [&str; 7] = [
    "drop", "truncate", "delete", "update", "insert", "alter", "create",
];

impl Script {
    pub fn read(file: FileId, path: &Path, text: &str) -> Script {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "py" => {
                let module = python::parse_module(
                    text,
                    python::Wants {
                        all_calls: true,
                        ..Default::default()
                    },
                );
                let ops = operation::operations(file, &module.calls, &module.imports);
                let sql = ops.iter().flat_map(|o| o.sql.iter().cloned()).collect();
                Script {
                    file,
                    sql,
                    ops: ops
                        .into_iter()
                        .filter(|o| o.kind != operation::OpKind::Sql)
                        .collect(),
                }
            }
            "sql" => Script {
                file,
                sql: vec![SqlText::verbatim(file, 0, text)],
                ops: Vec::new(),
            },
            _ => Script {
                file,
                sql: shell_sql(file, text),
                ops: Vec::new(),
            },
        }
    }
}

/// SQL in a shell script: quoted strings (`psql -c "…"`) and bare lines (heredocs) that start
/// with a data-changing verb. Comment lines are skipped.
fn shell_sql(file: FileId, text: &str) -> Vec<SqlText> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            continue;
        }
        let lead = line.len() - trimmed.len();
        let starts_with_verb = |s: &str| {
            let len = s.bytes().take_while(u8::is_ascii_alphabetic).count();
            let ends_word = s[len..].chars().next().is_none_or(char::is_whitespace);
            ends_word && VERBS.contains(&s[..len].to_ascii_lowercase().as_str())
        };
        if starts_with_verb(trimmed) {
            let body = trimmed.trim_end();
            out.push(SqlText::verbatim(file, start + lead, body));
            continue;
        }
        // Quoted strings on the line.
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let q = bytes[i];
            if q == b'"' || q == b'\'' {
                if let Some(len) = line[i + 1..].find(q as char) {
                    let inner = &line[i + 1..i + 1 + len];
                    if starts_with_verb(inner.trim_start()) {
                        out.push(SqlText::verbatim(file, start + i + 1, inner));
                    }
                    i += len + 2;
                    continue;
                }
            }
            i += 1;
        }
    }
    out
}
