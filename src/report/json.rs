//! revlint's own JSON schema (version 1). Built explicitly, never by serializing internals,
//! so the schema changes only when this file does.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::position;
use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::FileDb;

pub const SCHEMA_VERSION: u32 = 1;

fn label(db: &FileDb, l: &Label) -> Value {
    let (start, end) = position(db, l);
    json!({
        "path": db.get(l.span.file).display,
        "line": start.line,
        "column": start.column,
        "end_line": end.line,
        "end_column": end.column,
        "byte_start": l.span.start,
        "byte_end": l.span.end,
        "message": l.message,
        "primary": l.primary,
    })
}

pub fn diagnostics_value(result: &crate::LintResult) -> Value {
    let db = &result.discovered.db;
    let items: Vec<Value> = result
        .diagnostics
        .iter()
        .map(|d: &Diagnostic| {
            let main = d.main_label();
            let (path, line, column) = match main {
                Some(l) => {
                    let (s, _) = position(db, l);
                    (
                        Value::from(db.get(l.span.file).display.clone()),
                        Value::from(s.line),
                        Value::from(s.column),
                    )
                }
                None => (Value::Null, Value::Null, Value::Null),
            };
            json!({
                "rule": d.rule.as_str(),
                "severity": d.severity.as_str(),
                "message": d.message,
                "help": d.help,
                "path": path,
                "line": line,
                "column": column,
                "labels": d.labels.iter().map(|l| label(db, l)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "revlint", "version": env!("CARGO_PKG_VERSION")},
        "diagnostics": items,
        "summary": {
            "errors": result.count(Severity::Error),
            "warnings": result.count(Severity::Warning),
            "infos": result.count(Severity::Info),
            "files": db.len(),
            "projects": result.discovered.projects.len(),
        },
    })
}

pub fn write(out: &mut impl Write, result: &crate::LintResult) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &diagnostics_value(result))?;
    writeln!(out)
}
