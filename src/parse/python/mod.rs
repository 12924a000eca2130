//! Python parsing. The only module that names `ruff_python_*` types: everything else sees
//! [`PyModule`], plain data with byte spans.

pub mod app;
mod body;

pub use body::{BatchBlock, CallContext, CallSite, ExprKind, PyArg, PyExpr, StrPiece};

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_python_parser::{parse_unchecked, Mode, ParseOptions};
use ruff_text_size::Ranged;

/// A statically evaluated Python value, or the reason it could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Str {
        value: String,
        start: usize,
        end: usize,
    },
    None {
        start: usize,
        end: usize,
    },
    Seq {
        items: Vec<PyValue>,
        start: usize,
        end: usize,
    },
    Unknown {
        what: String,
        start: usize,
        end: usize,
    },
}

impl PyValue {
    pub fn range(&self) -> (usize, usize) {
        match self {
            PyValue::Str { start, end, .. }
            | PyValue::None { start, end }
            | PyValue::Seq { start, end, .. }
            | PyValue::Unknown { start, end, .. } => (*start, *end),
        }
    }
}

/// A module-level assignment to a name revlint cares about.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub name: String,
    /// Span of the whole statement.
    pub stmt: (usize, usize),
    pub value: PyValue,
}

/// A top-level function definition.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    /// Span of the function's name.
    pub name_span: (usize, usize),
    /// Span of the first statement that is not `pass`, `...` or a docstring.
    pub first_operation: Option<(usize, usize)>,
    /// Span of the last statement that runs, looking into a final `with` block: the
    /// statement after which the function does nothing more.
    pub last_operation: Option<(usize, usize)>,
    /// Span of the body.
    pub body: (usize, usize),
    /// Calls in the body, with their context (only when [`Wants::bodies`] is set).
    pub calls: Vec<CallSite>,
}

/// An import binding: the local name and the dotted path it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub local: String,
    pub path: String,
}

/// What to extract beyond the module-level assignments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    /// Byte ranges of comments.
    pub comments: bool,
    /// Calls in `upgrade()`.
    pub bodies: bool,
    /// Calls in `downgrade()` too.
    pub downgrade: bool,
    /// Calls anywhere in the module (scripts): module level, functions, methods.
    pub all_calls: bool,
}

#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

/// What revlint extracts from one Python file.
#[derive(Debug, Clone, Default)]
pub struct PyModule {
    pub assignments: Vec<Assignment>,
    pub functions: Vec<Function>,
    pub errors: Vec<SyntaxError>,
    /// Byte ranges of `#` comments.
    pub comments: Vec<(usize, usize)>,
    /// Import bindings anywhere in the module.
    pub imports: Vec<Import>,
    /// With [`Wants::all_calls`]: every call in the module.
    pub calls: Vec<CallSite>,
}

/// Names whose module-level value revlint extracts.
const WATCHED: [&str; 4] = ["revision", "down_revision", "branch_labels", "depends_on"];

/// Parse `source` and extract the module-level facts. Never fails: syntax errors are
/// reported in [`PyModule::errors`] and the recovered tree is still read.
pub fn parse_module(source: &str, wants: Wants) -> PyModule {
    let options =
        ParseOptions::from(Mode::Module).with_target_version(ruff_python_ast::PythonVersion::PY314);
    let parsed = parse_unchecked(source, options);
    let mut out = PyModule {
        errors: parsed
            .errors()
            .iter()
            .map(|e| SyntaxError {
                message: e.error.to_string(),
                start: e.location.start().to_usize(),
                end: e.location.end().to_usize(),
            })
            .collect(),
        comments: if wants.comments {
            parsed
                .tokens()
                .iter()
                .filter(|t| t.kind() == TokenKind::Comment)
                .map(|t| (t.range().start().to_usize(), t.range().end().to_usize()))
                .collect()
        } else {
            Vec::new()
        },
        ..PyModule::default()
    };
    let Some(module) = parsed.syntax().as_module() else {
        return out;
    };
    let mut env: Vec<(String, PyValue)> = Vec::new();
    let is_watched = |n: &str| WATCHED.contains(&n);
    for stmt in &module.body {
        match stmt {
            Stmt::Assign(a) => {
                let value = eval(&a.value, &env);
                for target in &a.targets {
                    if let Expr::Name(n) = target {
                        record(
                            &mut out,
                            &mut env,
                            &is_watched,
                            n.id.as_str(),
                            stmt,
                            value.clone(),
                        );
                    }
                }
            }
            Stmt::AnnAssign(a) => {
                if let (Expr::Name(n), Some(v)) = (&*a.target, &a.value) {
                    let value = eval(v, &env);
                    record(&mut out, &mut env, &is_watched, n.id.as_str(), stmt, value);
                }
            }
            Stmt::FunctionDef(f) => out.functions.push(function(f)),
            Stmt::If(_)
            | Stmt::Try(_)
            | Stmt::With(_)
            | Stmt::For(_)
            | Stmt::While(_)
            | Stmt::Match(_) => {
                // A watched name assigned inside a block is only known at run time.
                let mut names = Vec::new();
                assigned_names(stmt, &mut names);
                for (name, start, end) in names {
                    if is_watched(&name) {
                        let r = stmt.range();
                        let value = PyValue::Unknown {
                            what: "a value assigned inside a conditional or loop block".into(),
                            start,
                            end,
                        };
                        env.retain(|(n, _)| *n != name);
                        env.push((name.clone(), value.clone()));
                        out.assignments.push(Assignment {
                            name,
                            stmt: (r.start().to_usize(), r.end().to_usize()),
                            value,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if wants.bodies || wants.all_calls {
        collect_imports(&module.body, &mut out.imports);
        let mut constants = Vec::new();
        let probe = body::Walker::new(source, Vec::new());
        for stmt in &module.body {
            if let Stmt::Assign(a) = stmt {
                let value = probe.expr(&a.value);
                if matches!(value.kind, ExprKind::Str { .. }) {
                    for t in &a.targets {
                        if let Expr::Name(n) = t {
                            constants.push((n.id.to_string(), value.clone()));
                        }
                    }
                }
            }
        }
        if wants.all_calls {
            let mut w = body::Walker::new(source, constants.clone());
            all_calls(&mut w, &module.body);
            out.calls = w.calls;
        }
        if wants.bodies {
            for (f, stmt) in out
                .functions
                .iter_mut()
                .zip(module.body.iter().filter_map(|s| {
                    if let Stmt::FunctionDef(f) = s {
                        Some(f)
                    } else {
                        None
                    }
                }))
            {
                if f.name == "upgrade" || f.name == "downgrade" && wants.downgrade {
                    let helpers = module
                        .body
                        .iter()
                        .filter_map(|s| match s {
                            Stmt::FunctionDef(h)
                                if h.name.as_str() != "upgrade"
                                    && h.name.as_str() != "downgrade" =>
                            {
                                Some((h.name.as_str(), h))
                            }
                            _ => None,
                        })
                        .collect();
                    let mut w = body::Walker::new(source, constants.clone()).with_helpers(helpers);
                    w.block(&stmt.body, &CallContext::default());
                    f.calls = w.calls;
                }
            }
        }
    }
    out
}

/// Script mode: module-level statements and every function and method body.
fn all_calls(w: &mut body::Walker, stmts: &[Stmt]) {
    w.block(stmts, &CallContext::default());
    for stmt in stmts {
        match stmt {
            Stmt::FunctionDef(f) => all_calls(w, &f.body),
            Stmt::ClassDef(c) => all_calls(w, &c.body),
            Stmt::If(s) => {
                for st in s
                    .body
                    .iter()
                    .chain(s.elif_else_clauses.iter().flat_map(|c| c.body.iter()))
                {
                    if let Stmt::FunctionDef(f) = st {
                        all_calls(w, &f.body)
                    }
                }
            }
            _ => {}
        }
    }
}

fn collect_imports(stmts: &[Stmt], out: &mut Vec<Import>) {
    for stmt in stmts {
        match stmt {
            Stmt::Import(i) => {
                for a in &i.names {
                    let path = a.name.to_string();
                    let local = match &a.asname {
                        Some(x) => x.to_string(),
                        None => path.split('.').next().unwrap_or_default().to_string(),
                    };
                    let path = if a.asname.is_some() {
                        path
                    } else {
                        local.clone()
                    };
                    out.push(Import { local, path });
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map(|m| m.to_string()).unwrap_or_default();
                for a in &i.names {
                    let local = a
                        .asname
                        .as_ref()
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| a.name.to_string());
                    out.push(Import {
                        local,
                        path: format!("{module}.{}", a.name),
                    });
                }
            }
            Stmt::FunctionDef(f) => collect_imports(&f.body, out),
            Stmt::ClassDef(c) => collect_imports(&c.body, out),
            Stmt::If(s) => {
                collect_imports(&s.body, out);
                for c in &s.elif_else_clauses {
                    collect_imports(&c.body, out);
                }
            }
            Stmt::Try(t) => {
                collect_imports(&t.body, out);
                for h in &t.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = h;
                    collect_imports(&h.body, out);
                }
            }
            _ => {}
        }
    }
}

fn record(
    out: &mut PyModule,
    env: &mut Vec<(String, PyValue)>,
    is_watched: &dyn Fn(&str) -> bool,
    name: &str,
    stmt: &Stmt,
    value: PyValue,
) {
    env.retain(|(n, _)| n != name);
    env.push((name.to_string(), value.clone()));
    if is_watched(name) {
        let r = stmt.range();
        out.assignments.push(Assignment {
            name: name.to_string(),
            stmt: (r.start().to_usize(), r.end().to_usize()),
            value,
        });
    }
}

fn assigned_names(stmt: &Stmt, out: &mut Vec<(String, usize, usize)>) {
    let mut push = |e: &Expr| {
        if let Expr::Name(n) = e {
            let r = n.range();
            out.push((n.id.to_string(), r.start().to_usize(), r.end().to_usize()));
        }
    };
    match stmt {
        Stmt::Assign(a) => a.targets.iter().for_each(&mut push),
        Stmt::AnnAssign(a) => push(&a.target),
        Stmt::If(s) => {
            s.body.iter().for_each(|s| assigned_names(s, out));
            for c in &s.elif_else_clauses {
                c.body.iter().for_each(|s| assigned_names(s, out));
            }
        }
        Stmt::Try(s) => {
            for b in [&s.body, &s.orelse, &s.finalbody] {
                b.iter().for_each(|s| assigned_names(s, out));
            }
            for h in &s.handlers {
                let ast::ExceptHandler::ExceptHandler(h) = h;
                h.body.iter().for_each(|s| assigned_names(s, out));
            }
        }
        Stmt::With(s) => s.body.iter().for_each(|s| assigned_names(s, out)),
        Stmt::For(s) => s
            .body
            .iter()
            .chain(&s.orelse)
            .for_each(|s| assigned_names(s, out)),
        Stmt::While(s) => s
            .body
            .iter()
            .chain(&s.orelse)
            .for_each(|s| assigned_names(s, out)),
        Stmt::Match(s) => {
            for c in &s.cases {
                c.body.iter().for_each(|s| assigned_names(s, out));
            }
        }
        _ => {}
    }
}

fn function(f: &ast::StmtFunctionDef) -> Function {
    let name_range = f.name.range();
    let body_start = f
        .body
        .first()
        .map(|s| s.range().start().to_usize())
        .unwrap_or(0);
    let body_end = f
        .body
        .last()
        .map(|s| s.range().end().to_usize())
        .unwrap_or(0);
    // A bare `return` ends the body: what follows never runs.
    let first_operation = f
        .body
        .iter()
        .enumerate()
        .take_while(|(_, s)| !matches!(s, Stmt::Return(r) if r.value.is_none()))
        .find(|(i, s)| !is_trivial(s, *i == 0))
        .map(|(_, s)| (s.range().start().to_usize(), s.range().end().to_usize()));
    Function {
        name: f.name.to_string(),
        name_span: (name_range.start().to_usize(), name_range.end().to_usize()),
        first_operation,
        last_operation: last_statement(&f.body),
        body: (body_start, body_end),
        calls: Vec::new(),
    }
}

/// The last statement of a block that does work, before a bare `return`; a final `with`
/// block is looked into (its last statement is the last to run). A final `if`, loop or `try`
/// is returned whole: which statement inside it runs last is not known.
fn last_statement(body: &[Stmt]) -> Option<(usize, usize)> {
    let last = body
        .iter()
        .take_while(|s| !matches!(s, Stmt::Return(r) if r.value.is_none()))
        .filter(|s| !is_trivial(s, false))
        .last()?;
    if let Stmt::With(w) = last {
        return last_statement(&w.body);
    }
    Some((
        last.range().start().to_usize(),
        last.range().end().to_usize(),
    ))
}

/// `pass`, `...`, or a docstring (a string expression statement) do no work.
fn is_trivial(stmt: &Stmt, _first: bool) -> bool {
    match stmt {
        Stmt::Pass(_) => true,
        Stmt::Expr(e) => matches!(&*e.value, Expr::StringLiteral(_) | Expr::EllipsisLiteral(_)),
        _ => false,
    }
}

fn eval(expr: &Expr, env: &[(String, PyValue)]) -> PyValue {
    let r = expr.range();
    let (start, end) = (r.start().to_usize(), r.end().to_usize());
    let unknown = |what: &str| PyValue::Unknown {
        what: what.to_string(),
        start,
        end,
    };
    match expr {
        Expr::StringLiteral(s) => PyValue::Str {
            value: s.value.to_str().to_string(),
            start,
            end,
        },
        Expr::NoneLiteral(_) => PyValue::None { start, end },
        Expr::Tuple(t) => PyValue::Seq {
            items: t.elts.iter().map(|e| eval(e, env)).collect(),
            start,
            end,
        },
        Expr::List(l) => PyValue::Seq {
            items: l.elts.iter().map(|e| eval(e, env)).collect(),
            start,
            end,
        },
        Expr::Name(n) => match env.iter().rev().find(|(k, _)| k == n.id.as_str()) {
            // A name bound to a literal earlier in the module: the literal, reported here.
            Some((_, PyValue::Unknown { what, .. })) => unknown(&format!(
                "the name `{}`, itself {}",
                n.id,
                what.trim_start_matches("a ")
            )),
            Some((_, v)) => relocate(v, start, end),
            None => unknown(&format!(
                "the name `{}`, which is not a literal defined earlier in this file",
                n.id
            )),
        },
        Expr::FString(_) => unknown("an f-string"),
        Expr::TString(_) => unknown("a template string"),
        Expr::Call(_) => unknown("a function call"),
        Expr::Attribute(_) => unknown("an attribute lookup"),
        Expr::BinOp(_) => unknown("an expression"),
        Expr::BytesLiteral(_) => unknown("a bytes literal"),
        Expr::Subscript(_) => unknown("a subscript"),
        _ => unknown("an expression"),
    }
}

/// A constant's value, re-spanned to where the name is used.
fn relocate(v: &PyValue, start: usize, end: usize) -> PyValue {
    match v {
        PyValue::Str { value, .. } => PyValue::Str {
            value: value.clone(),
            start,
            end,
        },
        PyValue::None { .. } => PyValue::None { start, end },
        PyValue::Seq { items, .. } => PyValue::Seq {
            items: items.iter().map(|i| relocate(i, start, end)).collect(),
            start,
            end,
        },
        PyValue::Unknown { what, .. } => PyValue::Unknown {
            what: what.clone(),
            start,
            end,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(src: &str, name: &str) -> PyValue {
        let m = parse_module(src, Wants::default());
        m.assignments
            .iter()
            .rev()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
            .expect("assignment")
    }

    fn strs(v: &PyValue) -> Vec<String> {
        match v {
            PyValue::Str { value, .. } => vec![value.clone()],
            PyValue::Seq { items, .. } => items.iter().flat_map(strs).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn plain_annotated_and_concatenated() {
        let src = "from typing import Union\nrevision: str = 'ab' \"12\"\ndown_revision: Union[str, None] = ('a', 'b',)\nbranch_labels = None\ndepends_on = ['x']\n";
        assert_eq!(strs(&value_of(src, "revision")), ["ab12"]);
        assert_eq!(strs(&value_of(src, "down_revision")), ["a", "b"]);
        assert!(matches!(
            value_of(src, "branch_labels"),
            PyValue::None { .. }
        ));
        assert_eq!(strs(&value_of(src, "depends_on")), ["x"]);
    }

    #[test]
    fn constants_resolve_and_calls_do_not() {
        let src = "PARENT = 'abc'\ndown_revision = PARENT\nrevision = make()\ndepends_on = f'{PARENT}x'\n";
        assert_eq!(strs(&value_of(src, "down_revision")), ["abc"]);
        assert!(matches!(value_of(src, "revision"), PyValue::Unknown { .. }));
        assert!(matches!(
            value_of(src, "depends_on"),
            PyValue::Unknown { .. }
        ));
    }

    #[test]
    fn last_assignment_wins_and_blocks_are_unknown() {
        let src = "revision = 'a'\nrevision = 'b'\nif X:\n    down_revision = 'c'\n";
        assert_eq!(strs(&value_of(src, "revision")), ["b"]);
        assert!(matches!(
            value_of(src, "down_revision"),
            PyValue::Unknown { .. }
        ));
    }

    #[test]
    fn syntax_errors_keep_recovered_assignments() {
        let src =
            "revision = 'abc'\ndown_revision = None\ndef upgrade():\n    op.add_column('t', (\n";
        let m = parse_module(src, Wants::default());
        assert!(!m.errors.is_empty());
        assert_eq!(strs(&value_of(src, "revision")), ["abc"]);
    }

    #[test]
    fn last_operation_looks_into_a_final_with_but_not_a_loop() {
        fn last(src: &str) -> Option<&str> {
            let m = parse_module(src, Wants::default());
            m.functions[0].last_operation.map(|(s, e)| &src[s..e])
        }
        assert_eq!(
            last("def upgrade():\n    a()\n    with b() as x:\n        x.c()\n    # done\n    pass\n"),
            Some("x.c()")
        );
        assert_eq!(
            last("def upgrade():\n    a()\n    for t in ts:\n        b(t)\n"),
            Some("for t in ts:\n        b(t)")
        );
        assert_eq!(
            last("def upgrade():\n    a()\n    return\n    b()\n"),
            Some("a()")
        );
        assert_eq!(
            last("def upgrade():\n    \"\"\"Doc.\"\"\"\n    pass\n"),
            None
        );
    }

    #[test]
    fn modern_syntax_parses() {
        let src = "type Json = dict[str, object]\nrevision = 'a'\ndef upgrade():\n    x = f\"{'a' + f\"{1}\"}\"\n";
        let m = parse_module(src, Wants::default());
        assert!(m.errors.is_empty(), "{:?}", m.errors);
    }

    #[test]
    fn operations_are_found_past_docstrings() {
        let src = "def upgrade():\n    \"\"\"doc\"\"\"\n    pass\n\ndef downgrade():\n    op.drop_table('t')\n";
        let m = parse_module(src, Wants::default());
        assert!(m.functions[0].first_operation.is_none());
        assert!(m.functions[1].first_operation.is_some());
    }
}
