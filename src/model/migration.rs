//! What a revision file declares, in revlint's own terms (no parser types).

use super::operation::{self, Operation};
use crate::parse::python::{Import, PyModule, PyValue};
use crate::source::{FileId, Span};

/// A revision id, branch label or reference as written in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevRef {
    pub id: String,
    pub span: Span,
}

/// A value revlint could not evaluate statically.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub name: String,
    pub what: String,
    pub span: Span,
}

/// A top-level `upgrade()`/`downgrade()`.
#[derive(Debug, Clone)]
pub struct Body {
    pub name_span: Span,
    /// The first statement that does work (not `pass`, `...` or a docstring).
    pub first_operation: Option<Span>,
    /// The last statement that runs (a final `with` block looked into).
    pub last_operation: Option<Span>,
}

/// One revision file in a version location, in Alembic's load order.
#[derive(Debug, Clone)]
pub struct Migration {
    pub file: FileId,
    /// The declared revision; `None` when absent or not evaluable.
    pub revision: Option<RevRef>,
    /// True when the file has no `revision` and Alembic takes the (hex) file stem instead.
    pub revision_from_filename: bool,
    /// Whether the module defines `revision` at all (Alembic requires it, or a hex stem).
    pub declares_revision: bool,
    /// Whether the module defines `down_revision` (Alembic requires the attribute).
    pub declares_down_revision: bool,
    pub down_revisions: Vec<RevRef>,
    /// Span of the `down_revision` value (the whole tuple for merges).
    pub down_span: Option<Span>,
    pub depends_on: Vec<RevRef>,
    pub branch_labels: Vec<RevRef>,
    pub unresolved: Vec<Unresolved>,
    pub upgrade: Option<Body>,
    pub downgrade: Option<Body>,
    /// Python syntax errors in this file: (message, span).
    pub syntax_errors: Vec<(String, Span)>,
    pub imports: Vec<Import>,
    /// What `upgrade()` does, in source order (empty unless bodies were read).
    pub upgrade_ops: Vec<Operation>,
    /// What `downgrade()` does (only read with `--include-downgrade`).
    pub downgrade_ops: Vec<Operation>,
    /// The database this revision's SQL is plainly written for, when PostgreSQL's parser
    /// refused a statement that names another dialect (`mysql`, `sqlite`, `mssql`).
    pub foreign_sql: Option<&'static str>,
}

impl Migration {
    pub fn id(&self) -> Option<&str> {
        self.revision.as_ref().map(|r| r.id.as_str())
    }

    /// Whether `down_revision` could not be evaluated, so this revision's parents are unknown.
    pub fn parents_unknown(&self) -> bool {
        self.unresolved.iter().any(|u| u.name == "down_revision")
    }

    pub fn is_merge(&self) -> bool {
        self.down_revisions.len() > 1
    }

    /// Whether every graph attribute was evaluated statically.
    pub fn fully_known(&self) -> bool {
        self.revision.is_some() && self.unresolved.is_empty()
    }

    /// Build from parsed module facts. `stem` is the file name without `.py`.
    pub fn from_module(file: FileId, stem: &str, module: &PyModule) -> Migration {
        let mut m = Migration {
            file,
            revision: None,
            revision_from_filename: false,
            declares_revision: false,
            declares_down_revision: false,
            down_revisions: Vec::new(),
            down_span: None,
            depends_on: Vec::new(),
            branch_labels: Vec::new(),
            unresolved: Vec::new(),
            upgrade: None,
            downgrade: None,
            imports: module.imports.clone(),
            upgrade_ops: Vec::new(),
            downgrade_ops: Vec::new(),
            foreign_sql: None,
            syntax_errors: module
                .errors
                .iter()
                .map(|e| (e.message.clone(), Span::new(file, e.start, e.end)))
                .collect(),
        };
        let last = |name: &str| module.assignments.iter().rev().find(|a| a.name == name);
        if let Some(a) = last("revision") {
            m.declares_revision = true;
            match &a.value {
                PyValue::Str { value, start, end } => {
                    m.revision = Some(RevRef {
                        id: value.clone(),
                        span: Span::new(file, *start, *end),
                    })
                }
                other => m.unresolve("revision", other, "a string", file),
            }
        } else if is_lower_hex(stem) {
            m.revision = Some(RevRef {
                id: stem.to_string(),
                span: Span::file_start(file),
            });
            m.revision_from_filename = true;
        }
        if let Some(a) = last("down_revision") {
            m.declares_down_revision = true;
            let (s, e) = a.value.range();
            m.down_span = Some(Span::new(file, s, e));
            m.down_revisions = m.refs("down_revision", &a.value, file);
        }
        if let Some(a) = last("depends_on") {
            m.depends_on = m.refs("depends_on", &a.value, file);
        }
        if let Some(a) = last("branch_labels") {
            m.branch_labels = m.refs("branch_labels", &a.value, file);
        }
        for f in &module.functions {
            let body = Body {
                name_span: Span::new(file, f.name_span.0, f.name_span.1),
                first_operation: f.first_operation.map(|(s, e)| Span::new(file, s, e)),
                last_operation: f.last_operation.map(|(s, e)| Span::new(file, s, e)),
            };
            match f.name.as_str() {
                "upgrade" => {
                    m.upgrade = Some(body);
                    m.upgrade_ops = operation::operations(file, &f.calls, &module.imports);
                }
                "downgrade" => {
                    m.downgrade = Some(body);
                    m.downgrade_ops = operation::operations(file, &f.calls, &module.imports);
                }
                _ => {}
            }
        }
        m.foreign_sql = m
            .upgrade_ops
            .iter()
            .chain(&m.downgrade_ops)
            .flat_map(|o| &o.sql)
            .flat_map(|t| {
                t.statements
                    .iter()
                    .filter(|st| st.classified != crate::parse::sql::Classified::Parser)
                    .map(move |st| st.text(&t.text))
            })
            .find_map(operation::foreign_dialect);
        m
    }

    /// `None`, a string, or a tuple/list of strings, as Alembic's `to_tuple` accepts.
    fn refs(&mut self, name: &str, value: &PyValue, file: FileId) -> Vec<RevRef> {
        match value {
            PyValue::None { .. } => Vec::new(),
            PyValue::Str { value, start, end } => vec![RevRef {
                id: value.clone(),
                span: Span::new(file, *start, *end),
            }],
            PyValue::Seq { items, .. } => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        PyValue::Str { value, start, end } => out.push(RevRef {
                            id: value.clone(),
                            span: Span::new(file, *start, *end),
                        }),
                        other => self.unresolve(name, other, "a string", file),
                    }
                }
                out
            }
            other => {
                self.unresolve(
                    name,
                    other,
                    "None, a string, or a tuple or list of strings",
                    file,
                );
                Vec::new()
            }
        }
    }

    fn unresolve(&mut self, name: &str, value: &PyValue, expected: &str, file: FileId) {
        let (start, end) = value.range();
        let what = match value {
            PyValue::Unknown { what, .. } => what.clone(),
            PyValue::None { .. } => format!("None where {expected} is required"),
            PyValue::Seq { .. } => format!("a sequence where {expected} is required"),
            PyValue::Str { .. } => format!("a string where {expected} is required"),
        };
        self.unresolved.push(Unresolved {
            name: name.to_string(),
            what,
            span: Span::new(file, start, end),
        });
    }
}

/// Alembic's legacy rule: a file without `revision` whose whole stem is lowercase hex.
pub fn is_lower_hex(stem: &str) -> bool {
    !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
