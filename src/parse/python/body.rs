//! Calls inside function bodies, with the syntactic context each sits in: the `if` it is
//! guarded by, the `with` blocks around it, the `try` that swallows its errors. Plain data
//! with byte spans; what the calls mean is decided in `model/`.

use ruff_python_ast::{self as ast, CmpOp, Expr, Stmt};
use ruff_text_size::Ranged;

/// A Python expression, reduced to what revlint reads.
#[derive(Debug, Clone, PartialEq)]
pub struct PyExpr {
    pub kind: ExprKind,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A string, possibly built at run time (`partial`): f-string holes and `%`/`.format`
    /// substitutions are replaced by same-length identifiers (`_hhh`), so offsets in `value`
    /// map onto the source through `pieces`.
    Str {
        value: String,
        partial: bool,
        pieces: Vec<StrPiece>,
    },
    Bool(bool),
    None,
    Num,
    /// A dotted name: `sa.String` is `["sa", "String"]`.
    Name(Vec<String>),
    /// A call; the callee is dotted, with calls in it written `get_bind()`.
    Call {
        callee: Vec<String>,
        callee_span: (usize, usize),
        args: Vec<PyArg>,
    },
    Seq(Vec<PyExpr>),
    Dict(Vec<(PyExpr, PyExpr)>),
    Other(Vec<PyExpr>),
}

/// A run of a string's value that appears verbatim in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrPiece {
    pub value_start: usize,
    pub source_start: usize,
    pub len: usize,
    /// A run-time value (an f-string hole), not text from the source.
    pub hole: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PyArg {
    pub keyword: Option<String>,
    pub value: PyExpr,
}

impl PyExpr {
    /// The keyword argument `name` of a call.
    pub fn kwarg(&self, name: &str) -> Option<&PyExpr> {
        match &self.kind {
            ExprKind::Call { args, .. } => args
                .iter()
                .find(|a| a.keyword.as_deref() == Some(name))
                .map(|a| &a.value),
            _ => None,
        }
    }

    /// The `i`-th positional argument of a call.
    pub fn positional(&self, i: usize) -> Option<&PyExpr> {
        match &self.kind {
            ExprKind::Call { args, .. } => args.iter().filter(|a| a.keyword.is_none()).nth(i),
            _ => None,
        }
        .map(|a| &a.value)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Str {
                value,
                partial: false,
                ..
            } => Some(value),
            _ => None,
        }
    }

    pub fn is_true(&self) -> bool {
        matches!(self.kind, ExprKind::Bool(true))
    }

    /// Visit this expression and every expression inside it, depth first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a PyExpr)) {
        f(self);
        match &self.kind {
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.value.walk(f)),
            ExprKind::Seq(items) | ExprKind::Other(items) => items.iter().for_each(|i| i.walk(f)),
            ExprKind::Dict(items) => items.iter().for_each(|(k, v)| {
                k.walk(f);
                v.walk(f);
            }),
            _ => {}
        }
    }
}

/// A `with op.batch_alter_table(...) as alias:` block around a call.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchBlock {
    pub alias: String,
    /// The `batch_alter_table(...)` call.
    pub call: PyExpr,
}

/// The syntactic context of a call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallContext {
    /// The innermost `if` (or early-return `if`) whose test checks existence.
    pub guard: Option<(usize, usize)>,
    /// A `try` whose handler swallows database errors without re-raising.
    pub swallowed: Option<(usize, usize)>,
    /// Inside `with ….autocommit_block():`: the range of that call.
    pub autocommit: Option<(usize, usize)>,
    /// Inside `with ….begin_nested():` (a savepoint).
    pub savepoint: bool,
    pub batch: Option<std::sync::Arc<BatchBlock>>,
    /// `(dialect, equal)` from an enclosing `if ….dialect.name == "x"` (`equal` false in the
    /// `else` branch or for `!=`).
    pub dialect: Option<(String, bool)>,
}

/// A call in a body, in source order. Calls nested in another call's arguments are listed
/// too, after their parent, with `nested` set.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSite {
    pub call: PyExpr,
    pub context: CallContext,
    pub nested: bool,
}

/// Method and function names that ask the database whether something exists.
const EXISTENCE_CALLS: [&str; 18] = [
    "has_table",
    "has_index",
    "has_column",
    "has_sequence",
    "has_schema",
    "has_type",
    "get_table_names",
    "get_columns",
    "get_indexes",
    "get_unique_constraints",
    "get_foreign_keys",
    "get_check_constraints",
    "get_enums",
    "get_view_names",
    "get_sequence_names",
    "get_pk_constraint",
    "get_schema_names",
    "get_materialized_view_names",
];

/// Catalog names whose presence in a query string marks it as an existence check.
const CATALOG_WORDS: [&str; 24] = [
    "information_schema",
    "pg_catalog",
    "to_regclass",
    "to_regtype",
    "to_regproc",
    "pg_indexes",
    "pg_type",
    "pg_class",
    "pg_extension",
    "pg_constraint",
    "pg_tables",
    "pg_views",
    "pg_matviews",
    "pg_sequences",
    "pg_policies",
    "pg_policy",
    "pg_trigger",
    "pg_proc",
    "pg_enum",
    "pg_attribute",
    "pg_namespace",
    "sqlite_master",
    "sqlite_schema",
    "table_info",
];

fn is_existence_name(name: &str) -> bool {
    EXISTENCE_CALLS.contains(&name)
        || name.contains("exist")
        || name.starts_with("has_")
        || name.starts_with("_has_")
}

pub(super) struct Walker<'s> {
    source: &'s str,
    /// Module-level functions a body may call: followed one level deep, so a revision whose
    /// `upgrade()` delegates to `_create_tables()` is read too.
    helpers: Vec<(&'s str, &'s ast::StmtFunctionDef)>,
    depth: usize,
    /// Local names bound to a string literal, and names bound to an existence check.
    strings: Vec<(String, PyExpr)>,
    existence_vars: Vec<String>,
    /// Local names bound to a dialect name (`dialect = bind.dialect.name`).
    dialect_vars: Vec<String>,
    pub calls: Vec<CallSite>,
}

impl<'s> Walker<'s> {
    pub fn new(source: &'s str, module_strings: Vec<(String, PyExpr)>) -> Self {
        Walker {
            source,
            helpers: Vec::new(),
            depth: 0,
            strings: module_strings,
            existence_vars: Vec::new(),
            dialect_vars: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// Follow calls to these module-level functions (one level deep).
    pub fn with_helpers(mut self, helpers: Vec<(&'s str, &'s ast::StmtFunctionDef)>) -> Self {
        self.helpers = helpers;
        self
    }

    pub fn block(&mut self, stmts: &[Stmt], cx: &CallContext) {
        let mut cx = cx.clone();
        for stmt in stmts {
            self.stmt(stmt, &cx);
            // `if <existence check>: return` guards everything after it.
            if let Stmt::If(s) = stmt {
                if s.elif_else_clauses.is_empty()
                    && s.body.iter().any(|b| matches!(b, Stmt::Return(_)))
                    && self.is_existence_test(&s.test)
                {
                    let r = s.range();
                    cx.guard = Some((r.start().to_usize(), r.end().to_usize()));
                }
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt, cx: &CallContext) {
        match stmt {
            Stmt::Expr(e) => {
                self.collect(&e.value, cx);
                // `_create_tables()` / `_create_index("t")`: read the helper's body in place.
                if let Expr::Call(c) = &*e.value {
                    if let Expr::Name(n) = &*c.func {
                        let helper = self
                            .helpers
                            .iter()
                            .find(|(name, _)| *name == n.id.as_str())
                            .map(|(_, f)| *f);
                        if let Some(f) = helper.filter(|_| self.depth == 0) {
                            self.depth += 1;
                            self.block(&f.body, cx);
                            self.depth -= 1;
                        }
                    }
                }
            }
            Stmt::Assign(a) => {
                let value = self.expr(&a.value);
                let existence = self.is_existence_test(&a.value);
                let names_dialect = is_dialect_name(&a.value);
                for t in &a.targets {
                    if let Expr::Name(n) = t {
                        let name = n.id.to_string();
                        self.strings.retain(|(k, _)| *k != name);
                        self.existence_vars.retain(|k| *k != name);
                        self.dialect_vars.retain(|k| *k != name);
                        if names_dialect {
                            self.dialect_vars.push(name.clone());
                        }
                        if matches!(value.kind, ExprKind::Str { .. }) {
                            self.strings.push((name.clone(), value.clone()));
                        }
                        if existence {
                            self.existence_vars.push(name);
                        }
                    }
                }
                self.collect(&a.value, cx);
            }
            Stmt::AnnAssign(a) => {
                if let Some(v) = &a.value {
                    if let Expr::Name(n) = &*a.target {
                        let value = self.expr(v);
                        if matches!(value.kind, ExprKind::Str { .. }) {
                            self.strings.push((n.id.to_string(), value));
                        }
                        if self.is_existence_test(v) {
                            self.existence_vars.push(n.id.to_string());
                        }
                    }
                    self.collect(v, cx);
                }
            }
            Stmt::AugAssign(a) => self.collect(&a.value, cx),
            Stmt::Return(r) => {
                if let Some(v) = &r.value {
                    self.collect(v, cx)
                }
            }
            Stmt::If(s) => {
                let existence = self.is_existence_test(&s.test);
                let dialect = self.dialect_test(&s.test);
                let r = s.range();
                let guard = existence.then_some((r.start().to_usize(), r.end().to_usize()));
                let mut body_cx = cx.clone();
                if guard.is_some() {
                    body_cx.guard = guard;
                }
                if let Some(d) = &dialect {
                    body_cx.dialect = Some(d.clone());
                }
                self.block(&s.body, &body_cx);
                let mut previous_dialect = dialect;
                for clause in &s.elif_else_clauses {
                    let mut else_cx = cx.clone();
                    if guard.is_some() {
                        else_cx.guard = guard;
                    }
                    match &clause.test {
                        Some(t) => {
                            if self.is_existence_test(t) {
                                let r = clause.range();
                                else_cx.guard = Some((r.start().to_usize(), r.end().to_usize()));
                            }
                            if let Some(d) = self.dialect_test(t) {
                                else_cx.dialect = Some(d.clone());
                                previous_dialect = Some(d);
                            }
                        }
                        None => {
                            if let Some((name, eq)) = &previous_dialect {
                                else_cx.dialect = Some((name.clone(), !eq));
                            }
                        }
                    }
                    self.block(&clause.body, &else_cx);
                }
            }
            Stmt::With(w) => {
                let mut inner = cx.clone();
                for item in &w.items {
                    let callee = match &item.context_expr {
                        Expr::Call(c) => dotted(&c.func),
                        _ => Vec::new(),
                    };
                    match callee.last().map(String::as_str) {
                        Some("autocommit_block") => {
                            let r = item.context_expr.range();
                            inner.autocommit = Some((r.start().to_usize(), r.end().to_usize()));
                        }
                        Some("begin_nested") => inner.savepoint = true,
                        Some("batch_alter_table") => {
                            let alias = match item.optional_vars.as_deref() {
                                Some(Expr::Name(n)) => n.id.to_string(),
                                _ => String::new(),
                            };
                            inner.batch = Some(std::sync::Arc::new(BatchBlock {
                                alias,
                                call: self.expr(&item.context_expr),
                            }));
                        }
                        _ => self.collect(&item.context_expr, cx),
                    }
                }
                self.block(&w.body, &inner);
            }
            Stmt::Try(t) => {
                let mut inner = cx.clone();
                if t.handlers.iter().any(swallows) {
                    let r = t.range();
                    inner.swallowed = Some((r.start().to_usize(), r.end().to_usize()));
                }
                self.block(&t.body, &inner);
                for h in &t.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = h;
                    self.block(&h.body, cx);
                }
                self.block(&t.orelse, cx);
                self.block(&t.finalbody, cx);
            }
            Stmt::For(f) => {
                self.collect(&f.iter, cx);
                // Looping over what a catalog query returns only touches what exists.
                let mut body_cx = cx.clone();
                if self.is_existence_test(&f.iter) {
                    let r = f.range();
                    body_cx.guard = Some((r.start().to_usize(), r.end().to_usize()));
                }
                self.block(&f.body, &body_cx);
                self.block(&f.orelse, cx);
            }
            Stmt::While(w) => {
                self.block(&w.body, cx);
                self.block(&w.orelse, cx);
            }
            Stmt::Match(m) => {
                for case in &m.cases {
                    self.block(&case.body, cx);
                }
            }
            _ => {}
        }
    }

    /// Record every call in `e` (outermost first).
    fn collect(&mut self, e: &Expr, cx: &CallContext) {
        let mut found = Vec::new();
        calls_in(e, false, &mut found);
        for (call, nested) in found {
            if !self.may_matter(call, cx) {
                continue;
            }
            let call = self.expr(call);
            self.calls.push(CallSite {
                call,
                context: cx.clone(),
                nested,
            });
        }
    }

    /// Calls whose meaning revlint may read: `op.*`, a batch alias's methods, SQL executors,
    /// `text(...)`, and calls configuring a version table. The rest (column and type
    /// constructors, helpers) are only read as arguments of these.
    fn may_matter(&self, call: &Expr, cx: &CallContext) -> bool {
        let Expr::Call(c) = call else {
            return false;
        };
        let (root, last) = match &*c.func {
            Expr::Attribute(a) => {
                let mut base = &*a.value;
                while let Expr::Attribute(inner) = base {
                    base = &inner.value;
                }
                let root = match base {
                    Expr::Name(n) => n.id.as_str(),
                    _ => "",
                };
                (root, a.attr.as_str())
            }
            Expr::Name(n) => ("", n.id.as_str()),
            _ => return false,
        };
        root == "op"
            || cx.batch.as_ref().is_some_and(|b| b.alias == root)
            || matches!(
                last,
                "execute" | "exec_driver_sql" | "executescript" | "text"
            )
            || c.arguments.keywords.iter().any(|k| {
                k.arg
                    .as_ref()
                    .is_some_and(|a| a.as_str() == "version_table")
            })
    }

    /// Whether `name` is a module-level helper whose body asks the database whether
    /// something exists (`def _get_column(insp, t, c): for col in insp.get_columns(t): …`).
    fn helper_checks_existence(&self, name: &str) -> bool {
        self.helpers.iter().any(|(n, f)| {
            *n == name && {
                let r = f.range();
                let body =
                    self.source[r.start().to_usize()..r.end().to_usize()].to_ascii_lowercase();
                EXISTENCE_CALLS
                    .iter()
                    .any(|c| body.contains(&format!("{c}(")))
                    || CATALOG_WORDS.iter().any(|w| body.contains(w))
            }
        })
    }

    fn is_existence_test(&self, e: &Expr) -> bool {
        let mut yes = false;
        visit_expr(e, &mut |x| match x {
            Expr::Call(c)
                if dotted(&c.func)
                    .last()
                    .is_some_and(|n| is_existence_name(n) || self.helper_checks_existence(n)) =>
            {
                yes = true;
            }
            Expr::Name(n) => {
                if self.existence_vars.iter().any(|v| v == n.id.as_str()) {
                    yes = true;
                }
                if let Some((
                    _,
                    PyExpr {
                        kind: ExprKind::Str { value, .. },
                        ..
                    },
                )) = self.strings.iter().rev().find(|(k, _)| k == n.id.as_str())
                {
                    let lower = value.to_ascii_lowercase();
                    if CATALOG_WORDS.iter().any(|w| lower.contains(w)) {
                        yes = true;
                    }
                }
            }
            Expr::StringLiteral(s) => {
                let lower = s.value.to_str().to_ascii_lowercase();
                if CATALOG_WORDS.iter().any(|w| lower.contains(w)) {
                    yes = true;
                }
            }
            _ => {}
        });
        yes
    }

    /// Reduce an expression to a [`PyExpr`].
    pub fn expr(&self, e: &Expr) -> PyExpr {
        let r = e.range();
        let (start, end) = (r.start().to_usize(), r.end().to_usize());
        let kind = match e {
            Expr::StringLiteral(s) => {
                let mut value = String::new();
                let mut pieces = Vec::new();
                for part in s.value.iter() {
                    let pr = part.range();
                    let (cs, ce) =
                        content_range(self.source, pr.start().to_usize(), pr.end().to_usize());
                    if self.source.get(cs..ce) == Some(&*part.value) {
                        pieces.push(StrPiece {
                            value_start: value.len(),
                            source_start: cs,
                            len: part.value.len(),
                            hole: false,
                        });
                    }
                    value.push_str(&part.value);
                }
                ExprKind::Str {
                    value,
                    partial: false,
                    pieces,
                }
            }
            Expr::FString(f) => {
                let mut value = String::new();
                let mut pieces = Vec::new();
                for part in f.value.iter() {
                    match part {
                        ast::FStringPart::Literal(lit) => {
                            let pr = lit.range();
                            let (cs, ce) = content_range(
                                self.source,
                                pr.start().to_usize(),
                                pr.end().to_usize(),
                            );
                            if self.source.get(cs..ce) == Some(&*lit.value) {
                                pieces.push(StrPiece {
                                    value_start: value.len(),
                                    source_start: cs,
                                    len: lit.value.len(),
                                    hole: false,
                                });
                            }
                            value.push_str(&lit.value);
                        }
                        ast::FStringPart::FString(fs) => {
                            for el in fs.elements.iter() {
                                let er = el.range();
                                let (es, ee) = (er.start().to_usize(), er.end().to_usize());
                                match el {
                                    ast::InterpolatedStringElement::Literal(l) => {
                                        if self.source.get(es..ee) == Some(&*l.value) {
                                            pieces.push(StrPiece {
                                                value_start: value.len(),
                                                source_start: es,
                                                len: l.value.len(),
                                                hole: false,
                                            });
                                        }
                                        value.push_str(&l.value);
                                    }
                                    ast::InterpolatedStringElement::Interpolation(_) => {
                                        let hole = hole(ee - es);
                                        pieces.push(StrPiece {
                                            value_start: value.len(),
                                            source_start: es,
                                            len: hole.len(),
                                            hole: true,
                                        });
                                        value.push_str(&hole);
                                    }
                                }
                            }
                        }
                    }
                }
                ExprKind::Str {
                    value,
                    partial: true,
                    pieces,
                }
            }
            // "..." % args: Python-side formatting.
            Expr::BinOp(b) if matches!(b.op, ast::Operator::Mod) => match self.expr(&b.left).kind {
                ExprKind::Str {
                    value, mut pieces, ..
                } => {
                    let filled = fill_percent_holes(&value);
                    mark_holes(&value, &filled, &mut pieces);
                    ExprKind::Str {
                        value: filled,
                        partial: true,
                        pieces,
                    }
                }
                _ => ExprKind::Other(vec![self.expr(&b.left), self.expr(&b.right)]),
            },
            // "...".format(...)
            Expr::Call(c) if matches!(&*c.func, Expr::Attribute(a) if a.attr.as_str() == "format" && matches!(&*a.value, Expr::StringLiteral(_))) =>
            {
                let Expr::Attribute(a) = &*c.func else {
                    unreachable!("matched above")
                };
                match self.expr(&a.value).kind {
                    ExprKind::Str {
                        value, mut pieces, ..
                    } => {
                        let filled = fill_brace_holes(&value);
                        mark_holes(&value, &filled, &mut pieces);
                        ExprKind::Str {
                            value: filled,
                            partial: true,
                            pieces,
                        }
                    }
                    other => other,
                }
            }
            Expr::BooleanLiteral(b) => ExprKind::Bool(b.value),
            Expr::NoneLiteral(_) => ExprKind::None,
            Expr::NumberLiteral(_) => ExprKind::Num,
            Expr::Name(n) => match self.strings.iter().rev().find(|(k, _)| k == n.id.as_str()) {
                // A local or module string constant: its literal, where it was written.
                Some((_, v)) => return v.clone(),
                None => ExprKind::Name(vec![n.id.to_string()]),
            },
            Expr::Attribute(_) => {
                let d = dotted(e);
                if d.is_empty() {
                    ExprKind::Other(Vec::new())
                } else {
                    ExprKind::Name(d)
                }
            }
            Expr::Call(c) => {
                let fr = c.func.range();
                let mut args: Vec<PyArg> = c
                    .arguments
                    .args
                    .iter()
                    .map(|a| PyArg {
                        keyword: None,
                        value: self.expr(a),
                    })
                    .collect();
                args.extend(c.arguments.keywords.iter().map(|k| PyArg {
                    keyword: k.arg.as_ref().map(|a| a.to_string()),
                    value: self.expr(&k.value),
                }));
                ExprKind::Call {
                    callee: dotted(&c.func),
                    callee_span: (fr.start().to_usize(), fr.end().to_usize()),
                    args,
                }
            }
            Expr::Tuple(t) => ExprKind::Seq(t.elts.iter().map(|x| self.expr(x)).collect()),
            Expr::List(l) => ExprKind::Seq(l.elts.iter().map(|x| self.expr(x)).collect()),
            Expr::Set(l) => ExprKind::Seq(l.elts.iter().map(|x| self.expr(x)).collect()),
            Expr::Dict(d) => ExprKind::Dict(
                d.items
                    .iter()
                    .filter_map(|item| {
                        Some((self.expr(item.key.as_ref()?), self.expr(&item.value)))
                    })
                    .collect(),
            ),
            other => {
                let mut children = Vec::new();
                visit_children(other, &mut |c| children.push(self.expr(c)));
                ExprKind::Other(children)
            }
        };
        PyExpr { kind, start, end }
    }
}

/// Record the runs where `filled` differs from `value` (same length) as holes.
fn mark_holes(value: &str, filled: &str, pieces: &mut Vec<StrPiece>) {
    let (a, b) = (value.as_bytes(), filled.as_bytes());
    let mut i = 0;
    while i < a.len().min(b.len()) {
        if a[i] != b[i] {
            // A hole starts where `_h…` begins in the filled text.
            let start = i;
            let mut end = i + 1;
            while end < b.len() && b[end] == b'h' && end < a.len() {
                end += 1;
            }
            pieces.push(StrPiece {
                value_start: start,
                source_start: 0,
                len: end - start,
                hole: true,
            });
            i = end;
        } else {
            i += 1;
        }
    }
}

/// The identifier that stands in for a run-time value of `len` bytes (at least 2).
fn hole(len: usize) -> String {
    let mut s = String::from("_");
    s.push_str(&"h".repeat(len.max(2) - 1));
    s
}

fn fill_percent_holes(value: &str) -> String {
    let b = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if b.get(i + 1) == Some(&b'%') {
                out.push_str("%%");
                i += 2;
                continue;
            }
            let mut j = i + 1;
            if b.get(j) == Some(&b'(') {
                match value[j..].find(')') {
                    Some(p) => j += p + 1,
                    None => {
                        out.push('%');
                        i += 1;
                        continue;
                    }
                }
            }
            while j < b.len() && b"-+ #0123456789.".contains(&b[j]) {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_alphabetic() {
                out.push_str(&hole(j + 1 - i));
                i = j + 1;
                continue;
            }
        }
        let ch = value[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn fill_brace_holes(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(p) = rest.find('{') {
        out.push_str(&rest[..p]);
        if rest[p..].starts_with("{{") {
            out.push_str("{{");
            rest = &rest[p + 2..];
            continue;
        }
        match rest[p..].find('}') {
            Some(q) => {
                out.push_str(&hole(q + 1));
                rest = &rest[p + q + 1..];
            }
            None => {
                out.push_str(&rest[p..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The content of a string literal token: after its prefix and opening quote, before its
/// closing quote.
fn content_range(source: &str, start: usize, end: usize) -> (usize, usize) {
    let text = &source[start..end];
    let prefix = text.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
    let rest = &text[prefix..];
    let q = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        3
    } else {
        1
    };
    let cs = start + prefix + q;
    let ce = end.saturating_sub(q).max(cs);
    (cs, ce)
}

/// `a.b.c` as `["a", "b", "c"]`; a call inside is written `name()`.
pub(super) fn dotted(e: &Expr) -> Vec<String> {
    match e {
        Expr::Name(n) => vec![n.id.to_string()],
        Expr::Attribute(a) => {
            let mut base = dotted(&a.value);
            if base.is_empty() {
                return base;
            }
            base.push(a.attr.to_string());
            base
        }
        Expr::Call(c) => {
            let mut base = dotted(&c.func);
            if let Some(last) = base.last_mut() {
                last.push_str("()");
            }
            base
        }
        _ => Vec::new(),
    }
}

/// `….dialect.name` (or `.name` on an engine or bind).
fn is_dialect_name(e: &Expr) -> bool {
    let path = dotted(e);
    path.last().is_some_and(|l| l == "name")
        && path
            .iter()
            .any(|p| p.contains("dialect") || p.contains("engine") || p.contains("bind"))
}

impl Walker<'_> {
    /// `….dialect.name == "x"` (or `!=`, or a variable holding the dialect name).
    fn dialect_test(&self, e: &Expr) -> Option<(String, bool)> {
        let Expr::Compare(c) = e else {
            return None;
        };
        let [op] = &*c.ops else {
            return None;
        };
        let [right] = &*c.comparators else {
            return None;
        };
        let is_var = matches!(&*c.left, Expr::Name(n) if self.dialect_vars.iter().any(|v| v == n.id.as_str()));
        if !is_dialect_name(&c.left) && !is_var {
            return None;
        }
        let Expr::StringLiteral(s) = right else {
            return None;
        };
        let eq = match op {
            CmpOp::Eq => true,
            CmpOp::NotEq => false,
            _ => return None,
        };
        Some((s.value.to_str().to_string(), eq))
    }
}

/// Whether an `except` clause catches database errors and carries on without re-raising.
fn swallows(h: &ast::ExceptHandler) -> bool {
    let ast::ExceptHandler::ExceptHandler(h) = h;
    let catches_db = match h.type_.as_deref() {
        None => true,
        Some(t) => {
            let mut yes = false;
            visit_expr(t, &mut |x| {
                if let Some(last) = dotted(x).last() {
                    if last.ends_with("Error")
                        || last == "Exception"
                        || last.starts_with("Duplicate")
                    {
                        yes = true;
                    }
                }
            });
            yes
        }
    };
    let mut raises = false;
    for s in &h.body {
        if matches!(s, Stmt::Raise(_)) {
            raises = true;
        }
    }
    catches_db && !raises
}

/// Calls in `e`, outermost first; lambdas and comprehensions included.
fn calls_in<'a>(e: &'a Expr, nested: bool, out: &mut Vec<(&'a Expr, bool)>) {
    if let Expr::Call(_) = e {
        out.push((e, nested));
        visit_children(e, &mut |c| calls_in(c, true, out));
    } else {
        visit_children(e, &mut |c| calls_in(c, nested, out));
    }
}

/// Every expression in `e`, `e` included.
fn visit_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    visit_children(e, &mut |c| visit_expr(c, f));
}

/// The direct child expressions of `e`.
fn visit_children<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    match e {
        Expr::BoolOp(b) => b.values.iter().for_each(f),
        Expr::Named(n) => {
            f(&n.target);
            f(&n.value)
        }
        Expr::BinOp(b) => {
            f(&b.left);
            f(&b.right)
        }
        Expr::UnaryOp(u) => f(&u.operand),
        Expr::Lambda(l) => f(&l.body),
        Expr::If(i) => {
            f(&i.test);
            f(&i.body);
            f(&i.orelse)
        }
        Expr::Dict(d) => d.items.iter().for_each(|item| {
            if let Some(k) = &item.key {
                f(k)
            }
            f(&item.value)
        }),
        Expr::Set(s) => s.elts.iter().for_each(f),
        Expr::ListComp(c) => {
            f(&c.elt);
            c.generators.iter().for_each(|g| {
                f(&g.iter);
                g.ifs.iter().for_each(&mut *f)
            })
        }
        Expr::SetComp(c) => {
            f(&c.elt);
            c.generators.iter().for_each(|g| {
                f(&g.iter);
                g.ifs.iter().for_each(&mut *f)
            })
        }
        Expr::Generator(c) => {
            f(&c.elt);
            c.generators.iter().for_each(|g| {
                f(&g.iter);
                g.ifs.iter().for_each(&mut *f)
            })
        }
        Expr::DictComp(c) => {
            if let Some(k) = c.key.as_deref() {
                f(k);
            }
            f(&c.value);
            c.generators.iter().for_each(|g| {
                f(&g.iter);
                g.ifs.iter().for_each(&mut *f)
            })
        }
        Expr::Await(a) => f(&a.value),
        Expr::Compare(c) => {
            f(&c.left);
            c.comparators.iter().for_each(f)
        }
        Expr::Call(c) => {
            f(&c.func);
            c.arguments.args.iter().for_each(&mut *f);
            c.arguments.keywords.iter().for_each(|k| f(&k.value))
        }
        Expr::Attribute(a) => f(&a.value),
        Expr::Subscript(s) => {
            f(&s.value);
            f(&s.slice)
        }
        Expr::Starred(s) => f(&s.value),
        Expr::List(l) => l.elts.iter().for_each(f),
        Expr::Tuple(t) => t.elts.iter().for_each(f),
        Expr::FString(fs) => {
            for part in fs.value.iter() {
                if let ast::FStringPart::FString(s) = part {
                    for el in s.elements.iter() {
                        if let ast::InterpolatedStringElement::Interpolation(i) = el {
                            f(&i.expression)
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_keep_length() {
        let v = "CREATE INDEX %s ON t (%(col)s) -- 100%% sure";
        let f = fill_percent_holes(v);
        assert_eq!(f.len(), v.len());
        assert!(f.starts_with("CREATE INDEX _h ON t (_hhhhhh)"), "{f}");
        let v = "DROP TABLE {name} {{x}}";
        let f = fill_brace_holes(v);
        assert_eq!(f.len(), v.len());
        assert_eq!(f, "DROP TABLE _hhhhh {{x}}");
    }
}
