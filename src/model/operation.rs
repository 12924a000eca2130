//! What a revision's `upgrade()`/`downgrade()` does: every `op.*` call (batch aliases
//! followed), every SQL string it executes, the guard each sits under, and the extension
//! types and functions it uses.

use super::extension::{self, ExtensionUse};
use crate::parse::python::{CallContext, CallSite, ExprKind, Import, PyExpr, StrPiece};
use crate::parse::sql::{self, Action, Classified, Object, SqlStatement};
use crate::source::{FileId, Span};

/// The operations revlint has policy for; everything else is [`OpKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    CreateTable,
    DropTable,
    CreateIndex,
    DropIndex,
    AddColumn,
    DropColumn,
    CreateUniqueConstraint,
    CreateForeignKey,
    DropConstraint,
    RenameTable,
    /// `op.execute`, `conn.execute`, `sa.text(...)`: raw SQL.
    Sql,
    Other,
}

impl OpKind {
    fn from_method(m: &str) -> OpKind {
        match m {
            "create_table" => OpKind::CreateTable,
            "drop_table" => OpKind::DropTable,
            "create_index" => OpKind::CreateIndex,
            "drop_index" => OpKind::DropIndex,
            "add_column" => OpKind::AddColumn,
            "drop_column" => OpKind::DropColumn,
            "create_unique_constraint" => OpKind::CreateUniqueConstraint,
            "create_foreign_key" => OpKind::CreateForeignKey,
            "drop_constraint" => OpKind::DropConstraint,
            "rename_table" => OpKind::RenameTable,
            _ => OpKind::Other,
        }
    }
}

/// A SQL string as executed, with its statements classified.
#[derive(Debug, Clone)]
pub struct SqlText {
    /// The Python expression the string came from.
    pub span: Span,
    pub text: String,
    /// Part of the string is computed at run time (f-string, `%`, `.format`).
    pub partial: bool,
    pub statements: Vec<SqlStatement>,
    pieces: Vec<StrPiece>,
}

impl SqlText {
    pub fn new(file: FileId, expr: &PyExpr) -> Option<SqlText> {
        let ExprKind::Str {
            value,
            partial,
            pieces,
        } = &expr.kind
        else {
            return None;
        };
        Some(SqlText {
            span: Span::new(file, expr.start, expr.end),
            statements: sql::analyse(value),
            text: value.clone(),
            partial: *partial,
            pieces: pieces.clone(),
        })
    }

    /// SQL that appears verbatim in a file at `start` (a `.sql` file, a shell string).
    pub fn verbatim(file: FileId, start: usize, text: &str) -> SqlText {
        SqlText {
            span: Span::new(file, start, start + text.len()),
            text: text.to_string(),
            partial: false,
            statements: sql::analyse(text),
            pieces: vec![StrPiece {
                value_start: 0,
                source_start: start,
                len: text.len(),
                hole: false,
            }],
        }
    }

    /// The source position of a byte of the value, when that byte is in a mapped piece.
    fn source_pos(&self, at: usize, is_end: bool) -> Option<usize> {
        self.pieces.iter().find_map(|p| {
            let inside = if is_end {
                p.value_start < at && at <= p.value_start + p.len
            } else {
                p.value_start <= at && at < p.value_start + p.len
            };
            inside.then(|| p.source_start + (at - p.value_start))
        })
    }

    /// The source span of a statement: exact when both its ends map into the literal,
    /// otherwise the whole string expression.
    pub fn statement_span(&self, st: &SqlStatement) -> Span {
        match (
            self.source_pos(st.start, false),
            self.source_pos(st.end, true),
        ) {
            (Some(s), Some(e)) if s < e => Span::new(self.span.file, s, e),
            _ => self.span,
        }
    }

    /// A statement's text for messages, run-time parts shown as `{…}`.
    pub fn statement_text(&self, st: &SqlStatement) -> String {
        self.humanize(st.text(&self.text))
    }

    /// Replace the stand-ins for run-time values in `s` (a statement or its rewrite) by `{…}`.
    pub fn humanize(&self, s: &str) -> String {
        let mut holes: Vec<&str> = self
            .pieces
            .iter()
            .filter(|p| p.hole)
            .filter_map(|p| self.text.get(p.value_start..p.value_start + p.len))
            .collect();
        if holes.is_empty() {
            return s.to_string();
        }
        holes.sort_by_key(|h| std::cmp::Reverse(h.len()));
        holes.dedup();
        let mut out = s.to_string();
        for h in holes {
            out = out.replace(h, "{…}");
        }
        out
    }
}

/// A type created implicitly by `sa.Enum(...)` inside `op.create_table`.
#[derive(Debug, Clone)]
pub struct ImplicitEnum {
    pub name: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    /// The method called (`create_table`, `execute`, `text`).
    pub method: String,
    /// The whole call.
    pub span: Span,
    pub callee_span: Span,
    /// The first argument as written (for messages that quote the call).
    pub first_arg: Option<Span>,
    /// The table acted on.
    pub table: Option<String>,
    /// The index, column or constraint acted on.
    pub object: Option<String>,
    /// `if_not_exists=True` / `if_exists=True` given.
    pub keyword_guard: bool,
    /// `postgresql_concurrently=True` given.
    pub concurrently: bool,
    pub context: CallContext,
    /// SQL this call executes.
    pub sql: Vec<SqlText>,
    /// For `create_table`: PostgreSQL enum types it creates implicitly.
    pub implicit_enums: Vec<ImplicitEnum>,
    /// Extension-provided types and functions used by the call's arguments.
    pub uses: Vec<ExtensionUse>,
    /// Index of an earlier unguarded `create_table` of [`Operation::table`] in this body.
    pub table_created_by: Option<usize>,
    /// Index of an earlier idempotent create (keyword or guard) of the same table.
    pub table_created_idempotently_by: Option<usize>,
    /// In a `batch_alter_table` block that SQLite runs by rebuilding the table ("move and
    /// copy"): `recreate="always"`, or the default `"auto"` with an operation SQLite's
    /// `ALTER TABLE` cannot do (anything but `add_column`, `create_index`, `drop_index`, or an
    /// `add_column` whose server default is a SQL expression), as Alembic's SQLite
    /// implementation decides.
    pub batch_rebuilds_on_sqlite: bool,
}

impl Operation {
    /// Under an existence check (an `if`, an early return).
    pub fn guarded(&self) -> bool {
        self.context.guard.is_some()
    }

    /// Extensions created by this operation's SQL, with the statement's span.
    pub fn creates_extensions(&self) -> impl Iterator<Item = (String, Span)> + '_ {
        self.sql.iter().flat_map(|t| {
            t.statements.iter().flat_map(move |st| {
                st.facts
                    .iter()
                    .filter(|f| f.action == Action::CreateExtension)
                    .map(move |f| (f.name.to_ascii_lowercase(), t.statement_span(st)))
            })
        })
    }
}

/// The database a statement PostgreSQL's parser refused was written for, when it says so
/// plainly (backtick identifiers, `PRAGMA`, `[bracketed]` names, …).
pub fn foreign_dialect(sql: &str) -> Option<&'static str> {
    let upper = sql.trim_start().to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or("");
    if first == "PRAGMA" || upper.contains("AUTOINCREMENT") || upper.starts_with("INSERT OR ") {
        return Some("sqlite");
    }
    if first == "EXEC" || upper.contains("SP_RENAME") || has_bracketed_name(sql) {
        return Some("mssql");
    }
    if sql.contains('`')
        || [
            "AUTO_INCREMENT",
            "ENGINE=",
            "ENGINE =",
            " MODIFY ",
            "FOREIGN_KEY_CHECKS",
            " CHANGE COLUMN ",
        ]
        .iter()
        .any(|m| upper.contains(m))
    {
        return Some("mysql");
    }
    None
}

/// `[Name]`: SQL Server's identifier quoting.
fn has_bracketed_name(sql: &str) -> bool {
    let b = sql.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'['
            && b.get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')
            && b[i + 1..]
                .iter()
                .take_while(|x| x.is_ascii_alphanumeric() || **x == b'_')
                .count()
                > 0
            && b[i + 1..]
                .iter()
                .find(|x| !(x.is_ascii_alphanumeric() || **x == b'_'))
                == Some(&b']')
    })
}

/// SQL-statement counts, for `--verbose`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqlStats {
    pub strings: usize,
    pub statements: usize,
    pub parsed: usize,
    pub keywords: usize,
    pub unknown: usize,
}

impl SqlStats {
    pub fn add_text(&mut self, t: &SqlText) {
        self.strings += 1;
        for st in &t.statements {
            self.statements += 1;
            match st.classified {
                Classified::Parser => self.parsed += 1,
                Classified::Keywords => self.keywords += 1,
                Classified::Unknown => self.unknown += 1,
            }
        }
    }

    pub fn merge(&mut self, o: &SqlStats) {
        self.strings += o.strings;
        self.statements += o.statements;
        self.parsed += o.parsed;
        self.keywords += o.keywords;
        self.unknown += o.unknown;
    }
}

/// Method names that run SQL given as their first argument.
const EXECUTORS: [&str; 3] = ["execute", "exec_driver_sql", "executescript"];

fn is_text_call(callee: &[String]) -> bool {
    callee.last().is_some_and(|l| l == "text")
        && (callee.len() == 1
            || matches!(
                callee[0].as_str(),
                "sa" | "sqlalchemy" | "sql" | "expression"
            ))
}

/// The SQL string in an executor's first argument: a literal, or `text("...")` around one.
fn sql_argument(call: &PyExpr) -> Option<&PyExpr> {
    let first = call.positional(0).or_else(|| call.kwarg("sqltext"))?;
    match &first.kind {
        ExprKind::Str { .. } => Some(first),
        ExprKind::Call { callee, .. } if is_text_call(callee) => first
            .positional(0)
            .filter(|a| matches!(a.kind, ExprKind::Str { .. })),
        _ => None,
    }
}

fn str_arg(call: &PyExpr, pos: usize, kw: &str) -> Option<String> {
    call.kwarg(kw)
        .or_else(|| call.positional(pos))
        .and_then(|e| e.as_str())
        .map(str::to_string)
}

/// Build the operations of one body. `script` mode (not a revision) keeps only SQL.
pub fn operations(file: FileId, calls: &[CallSite], imports: &[Import]) -> Vec<Operation> {
    let mut ops: Vec<Operation> = Vec::new();
    let mut needs_rebuild: Vec<bool> = Vec::new();
    let mut sql_spans: Vec<(usize, usize)> = Vec::new();
    for site in calls {
        let ExprKind::Call {
            callee,
            callee_span,
            ..
        } = &site.call.kind
        else {
            continue;
        };
        let call = &site.call;
        let batch = site.context.batch.as_ref();
        let (is_op, in_batch) = match callee.as_slice() {
            [root, _] if root == "op" => (true, false),
            [root, _] if batch.is_some_and(|b| !b.alias.is_empty() && b.alias == *root) => {
                (true, true)
            }
            _ => (false, false),
        };
        let method = callee.last().cloned().unwrap_or_default();
        let mut kind = if is_op {
            OpKind::from_method(&method)
        } else {
            OpKind::Other
        };
        let mut sql = Vec::new();
        // A `text(...)` inside another call is that call's business (an executor picks it
        // up; inside `op.create_table` it is a server default, not a statement).
        if EXECUTORS.contains(&method.as_str()) || !site.nested && is_text_call(callee) {
            let arg = if is_text_call(callee) {
                call.positional(0)
            } else {
                sql_argument(call)
            };
            if let Some(arg) = arg {
                let range = (arg.start, arg.end);
                if !sql_spans.contains(&range) {
                    if let Some(t) = SqlText::new(file, arg) {
                        sql_spans.push(range);
                        sql.push(t);
                        kind = OpKind::Sql;
                    }
                }
            }
        }
        if kind == OpKind::Other && !is_op {
            continue;
        }
        let batch_table = batch.and_then(|b| str_arg(&b.call, 0, "table_name"));
        let (table, object) = match (kind, in_batch) {
            (OpKind::CreateTable | OpKind::DropTable, _) => (str_arg(call, 0, "table_name"), None),
            (OpKind::CreateIndex, false) => (
                str_arg(call, 1, "table_name"),
                str_arg(call, 0, "index_name"),
            ),
            (OpKind::CreateIndex, true) => (batch_table.clone(), str_arg(call, 0, "index_name")),
            (OpKind::DropIndex, false) => (
                str_arg(call, 1, "table_name"),
                str_arg(call, 0, "index_name"),
            ),
            (OpKind::DropIndex, true) => (batch_table.clone(), str_arg(call, 0, "index_name")),
            (OpKind::AddColumn, false) => (
                str_arg(call, 0, "table_name"),
                call.positional(1).and_then(column_name),
            ),
            (OpKind::AddColumn, true) => (
                batch_table.clone(),
                call.positional(0).and_then(column_name),
            ),
            (OpKind::DropColumn, false) => (
                str_arg(call, 0, "table_name"),
                str_arg(call, 1, "column_name"),
            ),
            (OpKind::DropColumn, true) => (batch_table.clone(), str_arg(call, 0, "column_name")),
            (OpKind::CreateUniqueConstraint, false) => (
                str_arg(call, 1, "table_name"),
                str_arg(call, 0, "constraint_name"),
            ),
            (OpKind::CreateForeignKey, false) => (
                str_arg(call, 1, "source_table"),
                str_arg(call, 0, "constraint_name"),
            ),
            (OpKind::CreateUniqueConstraint | OpKind::CreateForeignKey, true) => {
                (batch_table.clone(), str_arg(call, 0, "constraint_name"))
            }
            (OpKind::DropConstraint, false) => (
                str_arg(call, 1, "table_name"),
                str_arg(call, 0, "constraint_name"),
            ),
            (OpKind::DropConstraint, true) => {
                (batch_table.clone(), str_arg(call, 0, "constraint_name"))
            }
            (OpKind::RenameTable, _) => (
                str_arg(call, 0, "old_table_name"),
                str_arg(call, 1, "new_table_name"),
            ),
            _ => (None, None),
        };
        let keyword_guard = call.kwarg("if_not_exists").is_some_and(PyExpr::is_true)
            || call.kwarg("if_exists").is_some_and(PyExpr::is_true);
        let concurrently = call
            .kwarg("postgresql_concurrently")
            .is_some_and(PyExpr::is_true);
        let implicit_enums = if kind == OpKind::CreateTable {
            implicit_enums(file, call, imports)
        } else {
            Vec::new()
        };
        // An executor's own SQL is read below; its arguments are not column definitions.
        let mut uses = if kind == OpKind::Sql {
            Vec::new()
        } else {
            extension::uses_in_call(file, call, imports)
        };
        for t in &sql {
            for st in &t.statements {
                uses.extend(extension::uses_in_sql(t.statement_span(st), st));
            }
        }
        // What SQLite's `ALTER TABLE` cannot do in a batch block: anything but `add_column`,
        // `create_index` and `drop_index`, and an `add_column` whose server default is a SQL
        // expression (`sa.text(...)`, `sa.false()`, `func.now()`).
        needs_rebuild.push(match method.as_str() {
            "create_index" | "drop_index" => false,
            "add_column" => call
                .positional(if in_batch { 0 } else { 1 })
                .or_else(|| call.kwarg("column"))
                .and_then(|c| c.kwarg("server_default"))
                .is_some_and(|d| matches!(d.kind, ExprKind::Call { .. })),
            _ => true,
        });
        ops.push(Operation {
            kind,
            method,
            span: Span::new(file, call.start, call.end),
            callee_span: Span::new(file, callee_span.0, callee_span.1),
            first_arg: match &call.kind {
                ExprKind::Call { args, .. } => args
                    .first()
                    .map(|a| Span::new(file, a.value.start, a.value.end)),
                _ => None,
            },
            table,
            object,
            keyword_guard,
            concurrently,
            context: site.context.clone(),
            sql,
            implicit_enums,
            uses,
            table_created_by: None,
            table_created_idempotently_by: None,
            batch_rebuilds_on_sqlite: false,
        });
    }
    // Which batch blocks SQLite rebuilds, read before the calls without a policy go.
    let rebuilding: Vec<bool> = ops
        .iter()
        .map(|op| {
            let Some(block) = &op.context.batch else {
                return false;
            };
            match block.call.kwarg("recreate").and_then(|r| r.as_str()) {
                Some("always") => true,
                Some("never") => false,
                _ => ops.iter().zip(&needs_rebuild).any(|(o, &needs)| {
                    needs && o.context.batch.as_ref().is_some_and(|b| **b == **block)
                }),
            }
        })
        .collect();
    for (op, r) in ops.iter_mut().zip(rebuilding) {
        op.batch_rebuilds_on_sqlite = r;
    }
    // Calls revlint has no policy for are kept only for what they use or run.
    // alembic_utils' `op.create_entity(...)` is kept: it may create an extension.
    ops.retain(|o| {
        o.kind != OpKind::Other
            || !o.uses.is_empty()
            || !o.sql.is_empty()
            || matches!(o.method.as_str(), "create_entity" | "replace_entity")
    });
    link_created_tables(&mut ops);
    ops
}

/// `sa.Column("name", ...)`'s name.
fn column_name(e: &PyExpr) -> Option<String> {
    e.positional(0).and_then(|n| n.as_str()).map(str::to_string)
}

/// Mark operations on a table that an earlier operation of the same body creates.
fn link_created_tables(ops: &mut [Operation]) {
    let mut created: Vec<(String, usize, bool)> = Vec::new();
    #[allow(clippy::needless_range_loop)] // ops[i] is written while earlier ops are read
    for i in 0..ops.len() {
        let op = &ops[i];
        if let Some(t) = &op.table {
            if let Some((_, by, idempotent)) = created.iter().rev().find(|(n, _, _)| n == t) {
                if *idempotent {
                    ops[i].table_created_idempotently_by = Some(*by);
                } else {
                    ops[i].table_created_by = Some(*by);
                }
            }
        }
        let op = &ops[i];
        if op.kind == OpKind::CreateTable {
            if let Some(t) = &op.table {
                created.push((t.clone(), i, op.keyword_guard || op.guarded()));
            }
        }
        for t in &op.sql {
            for st in &t.statements {
                for f in &st.facts {
                    if f.action == Action::Create(Object::Table) {
                        created.push((f.name.clone(), i, f.guarded || op.guarded()));
                    }
                }
            }
        }
    }
}

/// `sa.Enum(...)` / `postgresql.ENUM(...)` column types that make `create_table` emit
/// `CREATE TYPE` on PostgreSQL.
fn implicit_enums(file: FileId, call: &PyExpr, imports: &[Import]) -> Vec<ImplicitEnum> {
    let mut out = Vec::new();
    call.walk(&mut |e| {
        let ExprKind::Call { callee, .. } = &e.kind else {
            return;
        };
        let Some(last) = callee.last() else {
            return;
        };
        let resolved = extension::resolve(callee, imports);
        let is_enum = match last.as_str() {
            "Enum" => {
                resolved.starts_with("sqlalchemy")
                    || callee.len() == 1 && resolved == "Enum"
                    || callee[0] == "sa"
            }
            "ENUM" => resolved.contains("postgresql") || callee[0] == "postgresql",
            _ => false,
        };
        if !is_enum {
            return;
        }
        let off = |k: &str| {
            e.kwarg(k)
                .is_some_and(|v| matches!(v.kind, ExprKind::Bool(false)))
        };
        if off("create_type") || off("native_enum") {
            return;
        }
        out.push(ImplicitEnum {
            name: e.kwarg("name").and_then(|n| n.as_str()).map(str::to_string),
            span: Span::new(file, e.start, e.end),
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::python::{parse_module, Wants};

    fn ops(body: &str) -> Vec<Operation> {
        let src = format!(
            "from alembic import op\nimport sqlalchemy as sa\nSQL = 'DROP TABLE legacy'\n\ndef upgrade():\n{}\n",
            body.lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let m = parse_module(
            &src,
            Wants {
                bodies: true,
                ..Default::default()
            },
        );
        let f = m.functions.iter().find(|f| f.name == "upgrade").unwrap();
        operations(FileId(0), &f.calls, &m.imports)
    }

    #[test]
    fn batch_alias_autocommit_and_keywords() {
        let o = ops("with op.batch_alter_table('users', recreate='never') as b:\n    b.add_column(sa.Column('tz', sa.String()))\nwith op.get_context().autocommit_block():\n    op.create_index('ix', 't', ['a'], postgresql_concurrently=True, if_not_exists=True)");
        assert_eq!(o[0].kind, OpKind::AddColumn);
        assert_eq!(o[0].table.as_deref(), Some("users"));
        assert_eq!(o[0].object.as_deref(), Some("tz"));
        assert!(o[0].context.batch.is_some());
        assert_eq!(o[1].kind, OpKind::CreateIndex);
        assert!(o[1].context.autocommit.is_some() && o[1].concurrently && o[1].keyword_guard);
    }

    #[test]
    fn guards_early_returns_and_swallowed_errors() {
        let o = ops("insp = sa.inspect(op.get_bind())\ntables = insp.get_table_names()\nif 'a' not in tables:\n    op.create_table('a')\nop.create_table('b')\ntry:\n    op.create_table('c')\nexcept sa.exc.ProgrammingError:\n    pass\nif insp.has_table('d'):\n    return\nop.create_table('d')");
        let by = |t: &str| o.iter().find(|x| x.table.as_deref() == Some(t)).unwrap();
        assert!(by("a").guarded());
        assert!(!by("b").guarded());
        assert!(!by("c").guarded() && by("c").context.swallowed.is_some());
        assert!(
            by("d").guarded(),
            "after an early return under an existence check"
        );
    }

    #[test]
    fn sql_sources_and_what_is_not_sql() {
        let o = ops("op.execute(sa.text('CREATE TABLE a (id int)'))\nconn = op.get_bind()\nconn.execute(SQL)\nop.create_table('t', sa.Column('id', sa.Uuid(), server_default=sa.text('gen_random_uuid()')))\nop.execute(f\"DROP TABLE {name}\")");
        let sql: Vec<_> = o.iter().flat_map(|x| x.sql.iter()).collect();
        assert_eq!(sql.len(), 3, "{sql:?}");
        assert_eq!(sql[0].text, "CREATE TABLE a (id int)");
        // A module constant, reported where it was written.
        assert_eq!(sql[1].text, "DROP TABLE legacy");
        assert!(sql[2].partial);
        // The server default's text() is part of create_table, not a statement of its own.
        let ct = o.iter().find(|x| x.kind == OpKind::CreateTable).unwrap();
        assert!(ct.sql.is_empty());
    }

    #[test]
    fn dialect_branches_and_tables_created_here() {
        let o = ops("if op.get_bind().dialect.name == 'postgresql':\n    op.execute('CREATE INDEX i ON t (a)')\nelse:\n    op.execute('CREATE INDEX i ON t (a)')\nop.create_table('n')\nop.create_index('ix_n', 'n', ['a'])");
        assert_eq!(o[0].context.dialect, Some(("postgresql".into(), true)));
        assert_eq!(o[1].context.dialect, Some(("postgresql".into(), false)));
        assert_eq!(o[3].table_created_by, Some(2));
    }

    #[test]
    fn module_level_helpers_are_followed_one_level() {
        let src = "from alembic import op\n\ndef _inner():\n    op.drop_table('deep')\n\ndef _helper():\n    op.create_table('a')\n    _inner()\n\ndef upgrade():\n    if not op.get_bind().dialect.has_table(op.get_bind(), 'a'):\n        _helper()\n";
        let m = parse_module(
            src,
            Wants {
                bodies: true,
                ..Default::default()
            },
        );
        let f = m.functions.iter().find(|f| f.name == "upgrade").unwrap();
        let o = operations(FileId(0), &f.calls, &m.imports);
        let tables: Vec<_> = o.iter().filter_map(|x| x.table.as_deref()).collect();
        // `_helper` is read (under the caller's guard); `_inner`, two levels down, is not.
        assert_eq!(tables, vec!["a"]);
        assert!(o[0].guarded());
    }

    #[test]
    fn implicit_enum_types() {
        let o = ops("op.create_table('t', sa.Column('a', sa.Enum('x', name='a_kind')), sa.Column('b', sa.Enum('y', name='b_kind', native_enum=False)), sa.Column('c', sa.Enum('z', name='c_kind', create_type=False)))");
        let names: Vec<_> = o[0].implicit_enums.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, vec![Some("a_kind".to_string())]);
    }
}
