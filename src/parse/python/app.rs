//! What a Python file outside the revision folders does to the schema: the Alembic and
//! Flask-Migrate API calls, `metadata.create_all`, the shell commands it hands to `subprocess`
//! and `os.system`, the advisory-lock SQL it holds, and where each call sits (which function,
//! which `if`, the `__main__` guard). Plain data with byte spans; `model/` decides what a call
//! path means (application startup or a deploy script).

use std::collections::BTreeMap;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_python_parser::{parse_unchecked, Mode, ParseOptions};
use ruff_text_size::Ranged;

/// A call that matters for deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectKind {
    /// `command.upgrade(cfg, target)` or `flask_migrate.upgrade(revision=...)`.
    Upgrade {
        target: Target,
        flask: bool,
    },
    Stamp {
        target: Target,
    },
    Downgrade {
        target: Target,
    },
    /// `command.revision(cfg, autogenerate=True)`, `flask_migrate.migrate()`.
    Autogenerate,
    /// `command.merge(...)`, `flask_migrate.init()`.
    Merge,
    /// `<x>.metadata.create_all(...)`, `db.create_all()`.
    CreateAll,
    /// `subprocess.run([...])`, `os.system("...")`: the command, as a shell line or argv.
    Shell {
        line: Option<String>,
        argv: Vec<(String, usize, usize)>,
    },
    /// A string holding `pg_advisory_lock` and friends, or MySQL `GET_LOCK`.
    AdvisoryLock,
    /// `context.run_migrations()` (env.py).
    RunMigrations,
}

/// A migration target as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A string literal (or a module-level constant holding one), with its span.
    Literal {
        value: String,
        start: usize,
        end: usize,
    },
    /// Not given: Alembic's and Flask-Migrate's default (`head`).
    Default,
    /// Computed at run time.
    Unknown { start: usize, end: usize },
}

#[derive(Debug, Clone)]
pub struct Effect {
    pub kind: EffectKind,
    pub start: usize,
    pub end: usize,
    /// Index into [`PyFacts::functions`] of the outermost function around the call.
    pub function: Option<usize>,
    /// Under `if __name__ == "__main__":`.
    pub main_guard: bool,
    /// Conditions of the `if` statements around the call (source text, innermost last),
    /// with `negated` set for the `else` branch.
    pub guards: Vec<Guard>,
    /// Inside a `try` whose handler does not re-raise.
    pub swallowed: bool,
}

#[derive(Debug, Clone)]
pub struct Guard {
    pub text: String,
    pub negated: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Function {
    pub name: String,
    pub name_start: usize,
    pub name_end: usize,
    /// Decorators, as source text without the `@`.
    pub decorators: Vec<String>,
    /// Names the body refers to (calls and references such as `to_thread(run_migrations)`).
    pub refs: Vec<String>,
    /// The names of `refs` referred to at least once outside an `if` that selects a
    /// development, local, test or debug setup (`if settings.LOCAL_ENVIRONMENT:`,
    /// `if app.debug:`): a name missing here is used only on such a path.
    pub plain_refs: Vec<String>,
    /// Each reference made under an `if` on a bare name (`if make_migrations:`,
    /// `if args.make_migrations:`): the name referred to and those condition names.
    pub flag_refs: Vec<(String, Vec<String>)>,
}

/// Whether an `if` condition selects a development, local, test or debug setup, or SQLite.
pub fn dev_condition(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["sqlite", "development", "testing", "debug"]
        .iter()
        .any(|w| t.contains(w))
        || t.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| matches!(w, "dev" | "local"))
}

#[derive(Debug, Clone, Default)]
pub struct PyFacts {
    pub effects: Vec<Effect>,
    /// Module-level functions (and methods, by bare name), in source order.
    pub functions: Vec<Function>,
    /// Names passed as `lifespan=` (FastAPI/Starlette).
    pub lifespan_refs: Vec<String>,
    /// Names referenced by module-level code outside the `__main__` guard.
    pub module_refs: Vec<String>,
    /// Names referenced under the `__main__` guard: what the file does when run as a script.
    pub main_refs: Vec<String>,
    /// Whether the module constructs a web application (`FastAPI(`, `Flask(`, `Starlette(`,
    /// `Quart(`, `Sanic(`).
    pub builds_app: bool,
    pub syntax_errors: usize,
}

impl PyFacts {
    pub fn function(&self, name: &str) -> Option<usize> {
        self.functions.iter().position(|f| f.name == name)
    }

    /// The effect whose call holds byte `at`.
    pub fn effect_at(&self, at: usize) -> Option<&Effect> {
        self.effects
            .iter()
            .find(|e| e.start <= at && at < e.end.max(e.start + 1))
    }
}

/// Cheap pre-filter: could this file hold anything [`read`] reports?
pub fn may_matter(text: &str) -> bool {
    const WORDS: [&str; 9] = [
        "alembic",
        "flask_migrate",
        "create_all",
        "subprocess",
        "os.system",
        "advisory",
        "get_lock",
        "run_migrations",
        "flask db",
    ];
    let lower = text.to_ascii_lowercase();
    WORDS
        .iter()
        .any(|w| memchr::memmem::find(lower.as_bytes(), w.as_bytes()).is_some())
}

pub fn read(source: &str) -> PyFacts {
    let parsed = parse_unchecked(
        source,
        ParseOptions::from(Mode::Module).with_target_version(ruff_python_ast::PythonVersion::PY314),
    );
    let mut v = Collector {
        src: source,
        facts: PyFacts {
            syntax_errors: parsed.errors().len(),
            ..PyFacts::default()
        },
        imports: BTreeMap::new(),
        constants: BTreeMap::new(),
        function: None,
        depth: 0,
        main_guard: false,
        guards: Vec::new(),
        swallowed: 0,
    };
    let Some(module) = parsed.syntax().as_module() else {
        return v.facts;
    };
    // Imports and module-level string constants first: calls may precede them textually
    // inside functions.
    for stmt in &module.body {
        v.prescan(stmt);
    }
    for stmt in &module.body {
        v.visit_stmt(stmt);
    }
    v.facts
}

struct Collector<'s> {
    src: &'s str,
    facts: PyFacts,
    /// Local name → dotted path (`command` → `alembic.command`).
    imports: BTreeMap<String, String>,
    /// Module-level `NAME = "literal"`.
    constants: BTreeMap<String, (String, usize, usize)>,
    function: Option<usize>,
    depth: usize,
    main_guard: bool,
    guards: Vec<Guard>,
    swallowed: usize,
}

const APP_CLASSES: [&str; 5] = ["FastAPI", "Flask", "Starlette", "Quart", "Sanic"];
const LOCK_WORDS: [&str; 4] = [
    "pg_advisory_lock",
    "pg_try_advisory_lock",
    "pg_advisory_xact_lock",
    "get_lock(",
];

impl<'s> Collector<'s> {
    fn text(&self, r: impl Ranged) -> &'s str {
        let r = r.range();
        self.src
            .get(r.start().to_usize()..r.end().to_usize())
            .unwrap_or("")
    }

    fn prescan(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(i) => {
                for a in &i.names {
                    let full = a.name.to_string();
                    let local = match &a.asname {
                        Some(n) => n.to_string(),
                        None => full.split('.').next().unwrap_or("").to_string(),
                    };
                    let path = if a.asname.is_some() {
                        full
                    } else {
                        local.clone()
                    };
                    self.imports.insert(local, path);
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map(|m| m.to_string()).unwrap_or_default();
                for a in &i.names {
                    let local = a.asname.as_ref().unwrap_or(&a.name).to_string();
                    self.imports
                        .insert(local, format!("{module}.{}", a.name.as_str()));
                }
            }
            Stmt::Assign(a) => {
                if let [Expr::Name(n)] = &a.targets[..] {
                    self.constant(n, &a.value);
                }
            }
            Stmt::AnnAssign(a) => {
                if let (Expr::Name(n), Some(v)) = (&*a.target, &a.value) {
                    self.constant(n, v);
                }
            }
            Stmt::If(i) => {
                for s in &i.body {
                    self.prescan(s);
                }
                for c in &i.elif_else_clauses {
                    for s in &c.body {
                        self.prescan(s);
                    }
                }
            }
            Stmt::Try(t) => {
                for s in &t.body {
                    self.prescan(s);
                }
            }
            _ => {}
        }
    }

    /// Record `NAME = "literal"` (a module constant a target may name).
    fn constant(&mut self, name: &ast::ExprName, value: &Expr) {
        if let Expr::StringLiteral(s) = value {
            let r = s.range();
            self.constants.insert(
                name.id.to_string(),
                (
                    s.value.to_str().to_string(),
                    r.start().to_usize(),
                    r.end().to_usize(),
                ),
            );
        }
    }

    /// The dotted path of a callee with its first name resolved through the imports.
    fn callee(&self, e: &Expr) -> Option<Vec<String>> {
        let mut parts = Vec::new();
        let mut cur = e;
        loop {
            match cur {
                Expr::Attribute(a) => {
                    parts.push(a.attr.to_string());
                    cur = &a.value;
                }
                Expr::Name(n) => {
                    parts.push(n.id.to_string());
                    break;
                }
                Expr::Call(c) => {
                    // `get_engine().connect` → keep going through the call's callee.
                    parts.push("()".into());
                    cur = &c.func;
                }
                _ => return None,
            }
        }
        parts.reverse();
        if let Some(path) = self.imports.get(&parts[0]) {
            let mut full: Vec<String> = path.split('.').map(str::to_string).collect();
            full.extend(parts.drain(1..));
            return Some(full);
        }
        Some(parts)
    }

    fn target(&self, e: Option<&Expr>) -> Target {
        match e {
            None => Target::Default,
            Some(Expr::StringLiteral(s)) => {
                let r = s.range();
                Target::Literal {
                    value: s.value.to_str().to_string(),
                    start: r.start().to_usize(),
                    end: r.end().to_usize(),
                }
            }
            Some(Expr::Name(n)) => match self.constants.get(n.id.as_str()) {
                Some((value, _, _)) => {
                    let r = n.range();
                    Target::Literal {
                        value: value.clone(),
                        start: r.start().to_usize(),
                        end: r.end().to_usize(),
                    }
                }
                None => {
                    let r = n.range();
                    Target::Unknown {
                        start: r.start().to_usize(),
                        end: r.end().to_usize(),
                    }
                }
            },
            Some(other) => {
                let r = other.range();
                Target::Unknown {
                    start: r.start().to_usize(),
                    end: r.end().to_usize(),
                }
            }
        }
    }

    fn push(&mut self, kind: EffectKind, r: impl Ranged) {
        let r = r.range();
        self.facts.effects.push(Effect {
            kind,
            start: r.start().to_usize(),
            end: r.end().to_usize(),
            function: self.function,
            main_guard: self.main_guard,
            guards: self.guards.clone(),
            swallowed: self.swallowed > 0,
        });
    }

    fn call(&mut self, c: &ast::ExprCall) {
        let Some(path) = self.callee(&c.func) else {
            return;
        };
        let last = path.last().map(String::as_str).unwrap_or("");
        let joined = path.join(".");
        let pos = |i: usize| c.arguments.args.get(i);
        let kw = |name: &str| {
            c.arguments
                .keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
                .map(|k| &k.value)
        };
        let alembic = joined.starts_with("alembic.command.");
        let flask = joined.starts_with("flask_migrate.");
        if alembic || flask {
            // Alembic: (config, revision); Flask-Migrate: (directory, revision).
            let rev = || kw("revision").or_else(|| pos(1));
            let kind = match last {
                "upgrade" => Some(EffectKind::Upgrade {
                    target: self.target(rev()),
                    flask,
                }),
                "stamp" => Some(EffectKind::Stamp {
                    target: self.target(rev()),
                }),
                "downgrade" => Some(EffectKind::Downgrade {
                    target: self.target(rev()),
                }),
                "revision" => kw("autogenerate")
                    .is_some_and(|v| matches!(v, Expr::BooleanLiteral(b) if b.value))
                    .then_some(EffectKind::Autogenerate),
                "migrate" if flask => Some(EffectKind::Autogenerate),
                "merge" => Some(EffectKind::Merge),
                "init" if flask => Some(EffectKind::Merge),
                _ => None,
            };
            if let Some(k) = kind {
                self.push(k, c);
            }
            return;
        }
        if last == "create_all" {
            // Recorded where the attribute is read (also `run_sync(Base.metadata.create_all)`).
            return;
        }
        if last == "run_migrations" && path.len() >= 2 && path[path.len() - 2] == "context" {
            self.push(EffectKind::RunMigrations, c);
            return;
        }
        if APP_CLASSES.contains(&last) && path.len() <= 2 {
            self.facts.builds_app = true;
        }
        let shell = matches!(
            joined.as_str(),
            "subprocess.run"
                | "subprocess.call"
                | "subprocess.check_call"
                | "subprocess.check_output"
                | "subprocess.Popen"
                | "os.system"
                | "os.popen"
        );
        if shell {
            if let Some(first) = pos(0) {
                let kind = match first {
                    Expr::StringLiteral(s) => Some(EffectKind::Shell {
                        line: Some(s.value.to_str().to_string()),
                        argv: Vec::new(),
                    }),
                    Expr::List(l) => Some(self.argv(&l.elts)),
                    Expr::Tuple(t) => Some(self.argv(&t.elts)),
                    _ => None,
                };
                if let Some(k) = kind {
                    self.push(k, c);
                }
            }
        }
    }

    fn argv(&self, elts: &[Expr]) -> EffectKind {
        let argv = elts
            .iter()
            .map(|e| {
                let r = e.range();
                let text = match e {
                    Expr::StringLiteral(s) => s.value.to_str().to_string(),
                    Expr::Name(n) => match self.constants.get(n.id.as_str()) {
                        Some((v, _, _)) => v.clone(),
                        None => format!("${}", n.id),
                    },
                    _ => "$?".to_string(),
                };
                (text, r.start().to_usize(), r.end().to_usize())
            })
            .collect();
        EffectKind::Shell { line: None, argv }
    }

    fn note_ref(&mut self, name: &str) {
        match self.function {
            Some(i) => {
                let dev = self
                    .guards
                    .iter()
                    .any(|g| !g.negated && dev_condition(&g.text));
                let flags = flag_names(&self.guards);
                let f = &mut self.facts.functions[i];
                if !dev && !f.plain_refs.iter().any(|r| r == name) {
                    f.plain_refs.push(name.to_string());
                }
                f.refs.push(name.to_string());
                if !flags.is_empty() {
                    f.flag_refs.push((name.to_string(), flags));
                }
            }
            None if !self.main_guard => self.facts.module_refs.push(name.to_string()),
            None => self.facts.main_refs.push(name.to_string()),
        }
    }
}

/// The name an `if` condition tests when it is a bare name or an attribute of the parsed
/// arguments: `make_migrations`, `args.make_migrations`, `options.make_migrations`.
fn flag_name(cond: &str) -> Option<&str> {
    let c = cond.trim();
    let name = match c.split_once('.') {
        Some(("args" | "options" | "opts" | "ns", attr)) => attr,
        Some(_) => return None,
        None => c,
    };
    (!name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !name.starts_with(|ch: char| ch.is_ascii_digit()))
    .then_some(name)
}

/// The names the `if` conditions around a call test as flags (the `else` branches left out).
fn flag_names(guards: &[Guard]) -> Vec<String> {
    guards
        .iter()
        .filter(|g| !g.negated)
        .filter_map(|g| flag_name(&g.text))
        .map(str::to_string)
        .collect()
}

/// Whether a command-line flag of the script is off for this run: the script declares the
/// option `--make-migrations` (click, argparse, typer) for the name `make_migrations`, the
/// run's arguments do not pass it, and no environment variable the option reads is set
/// (`envvar="MAKE_MIGRATIONS"`, asked of `env_set`).
fn flag_off(text: &str, name: &str, args: &[&str], env_set: &dyn Fn(&str) -> bool) -> bool {
    let option = format!("--{}", name.replace('_', "-"));
    let declared = [format!("\"{option}\""), format!("'{option}'")]
        .into_iter()
        .find_map(|q| text.find(&q));
    let Some(at) = declared else {
        return false;
    };
    if args
        .iter()
        .any(|a| *a == option || a.strip_prefix(&option).is_some_and(|r| r.starts_with('=')))
    {
        return false;
    }
    // The option's declaration runs to the next decorator, function or option.
    let rest = &text[at..];
    let end = ["\n@", "\ndef ", "add_argument("]
        .iter()
        .filter_map(|m| rest[1..].find(m).map(|i| i + 1))
        .min()
        .unwrap_or(rest.len());
    let decl = &rest[..end];
    match decl.split_once("envvar") {
        None => true,
        Some((_, after)) => envvar_value(after).is_some_and(|v| !v.is_empty() && !env_set(v)),
    }
}

/// The quoted name an option's `envvar=` gives, from the text right after `envvar`:
/// `MAKE_MIGRATIONS` for `envvar="MAKE_MIGRATIONS"`; `None` when it is not a string literal.
pub fn envvar_value(after: &str) -> Option<&str> {
    let value = after.trim_start().trim_start_matches('=').trim_start();
    let q = value.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    value[1..].split(q).next()
}

/// Alembic's command names, as a script's first argument picks one (`migrate.py upgrade`).
const ALEMBIC_COMMANDS: [&str; 10] = [
    "upgrade",
    "downgrade",
    "stamp",
    "current",
    "history",
    "revision",
    "merge",
    "heads",
    "check",
    "init",
];

/// Whether the effect at `at` runs only when the script's first argument names another
/// Alembic command: `migrate.py upgrade` does not reach `elif cmd == "stamp":` in a script
/// that reads its arguments (`sys.argv`, argparse, click, typer).
pub fn subcommand_off(facts: &PyFacts, text: &str, at: usize, args: &[&str]) -> bool {
    let Some(first) = args.iter().find(|a| !a.starts_with('-')) else {
        return false;
    };
    if !ALEMBIC_COMMANDS.contains(first)
        || !["sys.argv", "argparse", "click", "typer"]
            .iter()
            .any(|w| text.contains(w))
    {
        return false;
    }
    let Some(e) = facts.effect_at(at) else {
        return false;
    };
    e.guards.iter().filter(|g| !g.negated).any(|g| {
        let Some((l, r)) = g.text.split_once("==") else {
            return false;
        };
        let word = |x: &str| {
            let x = x.trim();
            x.strip_prefix('"')
                .and_then(|y| y.strip_suffix('"'))
                .or_else(|| x.strip_prefix('\'').and_then(|y| y.strip_suffix('\'')))
                .map(str::to_string)
        };
        let ident = |x: &str| flag_name(x).is_some();
        let other = match (word(l), word(r)) {
            (None, Some(w)) if ident(l) => w,
            (Some(w), None) if ident(r) => w,
            _ => return false,
        };
        ALEMBIC_COMMANDS.contains(&other.as_str()) && other != *first
    })
}

/// Whether the effect at `at` runs only under a command-line flag the run does not pass:
/// its own `if make_migrations:`, or every call of its function in the file is under one
/// (and neither module-level code nor the `__main__` block calls it directly).
pub fn flag_gated_off(
    facts: &PyFacts,
    text: &str,
    at: usize,
    args: &[&str],
    env_set: &dyn Fn(&str) -> bool,
) -> bool {
    let Some(e) = facts.effect_at(at) else {
        return false;
    };
    let off = |names: &[String]| names.iter().any(|n| flag_off(text, n, args, env_set));
    let own = flag_names(&e.guards);
    if off(&own) {
        return true;
    }
    let Some(f) = e.function else {
        return false;
    };
    let name = facts.functions[f].name.as_str();
    if facts
        .module_refs
        .iter()
        .chain(&facts.main_refs)
        .any(|r| r == name)
    {
        return false;
    }
    let mut calls = 0;
    for (i, g) in facts.functions.iter().enumerate() {
        if i == f {
            continue;
        }
        let all = g.refs.iter().filter(|r| *r == name).count();
        let gated: Vec<&Vec<String>> = g
            .flag_refs
            .iter()
            .filter(|(r, _)| r == name)
            .map(|(_, n)| n)
            .collect();
        if gated.len() < all || !gated.iter().all(|n| off(n)) {
            return false;
        }
        calls += all;
    }
    calls > 0
}

fn is_main_guard(test: &Expr) -> bool {
    if let Expr::Compare(c) = test {
        let name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
        let main = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "__main__");
        if let [right] = &c.comparators[..] {
            return (name(&c.left) && main(right)) || (main(&c.left) && name(right));
        }
    }
    false
}

/// Whether an `except` body only logs or passes (the error does not propagate).
fn handler_swallows(body: &[Stmt]) -> bool {
    !body.iter().any(|s| {
        matches!(s, Stmt::Raise(_))
            || matches!(s, Stmt::Return(_))
            || matches!(s, Stmt::Expr(e) if matches!(&*e.value, Expr::Call(c)
                if matches!(&*c.func, Expr::Attribute(a) if a.attr.as_str() == "exit")
                    || matches!(&*c.func, Expr::Name(n) if n.id.as_str() == "exit")))
    })
}

impl<'a> Visitor<'a> for Collector<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > 200 {
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::FunctionDef(f) => {
                for d in &f.decorator_list {
                    self.visit_expr(&d.expression);
                }
                if self.function.is_none() {
                    let r = f.name.range();
                    self.facts.functions.push(Function {
                        name: f.name.to_string(),
                        name_start: r.start().to_usize(),
                        name_end: r.end().to_usize(),
                        decorators: f
                            .decorator_list
                            .iter()
                            .map(|d| self.text(&d.expression).to_string())
                            .collect(),
                        refs: Vec::new(),
                        plain_refs: Vec::new(),
                        flag_refs: Vec::new(),
                    });
                    let outer_guards = std::mem::take(&mut self.guards);
                    let outer_main = self.main_guard;
                    self.function = Some(self.facts.functions.len() - 1);
                    self.visit_body(&f.body);
                    self.function = None;
                    self.guards = outer_guards;
                    self.main_guard = outer_main;
                } else {
                    self.visit_body(&f.body);
                }
            }
            Stmt::ClassDef(c) => {
                // Methods are read as functions of their own, by bare name.
                for s in &c.body {
                    self.visit_stmt(s);
                }
            }
            Stmt::If(i) => {
                self.visit_expr(&i.test);
                if self.function.is_none() && is_main_guard(&i.test) {
                    let outer = self.main_guard;
                    self.main_guard = true;
                    self.visit_body(&i.body);
                    self.main_guard = outer;
                    for c in &i.elif_else_clauses {
                        self.visit_body(&c.body);
                    }
                } else {
                    self.guards.push(Guard {
                        text: self.text(&*i.test).to_string(),
                        negated: false,
                    });
                    self.visit_body(&i.body);
                    self.guards.pop();
                    let mut negated = vec![Guard {
                        text: self.text(&*i.test).to_string(),
                        negated: true,
                    }];
                    for c in &i.elif_else_clauses {
                        if let Some(t) = &c.test {
                            self.visit_expr(t);
                        }
                        let n = negated.len();
                        self.guards.extend(negated.iter().cloned());
                        if let Some(t) = &c.test {
                            self.guards.push(Guard {
                                text: self.text(t).to_string(),
                                negated: false,
                            });
                        }
                        self.visit_body(&c.body);
                        let keep = self.guards.len() - n - usize::from(c.test.is_some());
                        self.guards.truncate(keep);
                        if let Some(t) = &c.test {
                            negated.push(Guard {
                                text: self.text(t).to_string(),
                                negated: true,
                            });
                        }
                    }
                }
            }
            Stmt::Try(t) => {
                let swallows = t.handlers.iter().any(|h| {
                    let ast::ExceptHandler::ExceptHandler(h) = h;
                    handler_swallows(&h.body)
                });
                if swallows {
                    self.swallowed += 1;
                }
                self.visit_body(&t.body);
                if swallows {
                    self.swallowed -= 1;
                }
                for h in &t.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = h;
                    self.visit_body(&h.body);
                }
                self.visit_body(&t.orelse);
                self.visit_body(&t.finalbody);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth > 200 {
            return;
        }
        self.depth += 1;
        match expr {
            Expr::Call(c) => {
                self.call(c);
                for k in &c.arguments.keywords {
                    if k.arg.as_ref().is_some_and(|a| a.as_str() == "lifespan") {
                        if let Expr::Name(n) = &k.value {
                            self.facts.lifespan_refs.push(n.id.to_string());
                        }
                    }
                }
                visitor::walk_expr(self, expr);
            }
            Expr::Name(n) => self.note_ref(n.id.as_str()),
            Expr::Attribute(a) => {
                if a.attr.as_str() == "create_all" {
                    let recv = match &*a.value {
                        Expr::Attribute(r) => r.attr.to_string(),
                        Expr::Name(n) => n.id.to_string(),
                        _ => String::new(),
                    };
                    if recv.ends_with("metadata") || recv == "db" {
                        self.push(EffectKind::CreateAll, a);
                    }
                }
                // `self.run_migrations()` / `module.fn` reach a function by its bare name.
                self.note_ref(a.attr.as_str());
                visitor::walk_expr(self, expr);
            }
            Expr::StringLiteral(s) => {
                let v = s.value.to_str().to_ascii_lowercase();
                if LOCK_WORDS.iter().any(|w| v.contains(w)) {
                    self.push(EffectKind::AdvisoryLock, s);
                }
            }
            _ => visitor::walk_expr(self, expr),
        }
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<EffectKind> {
        read(src).effects.into_iter().map(|e| e.kind).collect()
    }

    #[test]
    fn alembic_api_calls_and_targets() {
        let src = "from alembic import command\nFALLBACK = 'abc123'\n\
                   def main():\n    command.upgrade(cfg, 'head')\n    command.upgrade(cfg, FALLBACK)\n    command.stamp(cfg, 'head')\n";
        let k = kinds(src);
        assert!(
            matches!(&k[0], EffectKind::Upgrade { target: Target::Literal { value, .. }, flask: false } if value == "head")
        );
        assert!(
            matches!(&k[1], EffectKind::Upgrade { target: Target::Literal { value, .. }, .. } if value == "abc123")
        );
        assert!(matches!(&k[2], EffectKind::Stamp { .. }));
    }

    #[test]
    fn flask_migrate_and_create_all() {
        let src = "from flask_migrate import upgrade\nimport alembic.command\n\
                   def create_app():\n    upgrade()\n    db.create_all()\n    Base.metadata.create_all(bind=engine)\n    alembic.command.revision(cfg, autogenerate=True)\n    things.create_all()\n";
        let f = read(src);
        let k: Vec<_> = f.effects.iter().map(|e| &e.kind).collect();
        assert!(matches!(
            k[0],
            EffectKind::Upgrade {
                target: Target::Default,
                flask: true
            }
        ));
        assert_eq!(k[1], &EffectKind::CreateAll);
        assert_eq!(k[2], &EffectKind::CreateAll);
        assert_eq!(k[3], &EffectKind::Autogenerate);
        assert_eq!(k.len(), 4, "{k:?}");
        let passed =
            read("async def go(conn):\n    await conn.run_sync(Base.metadata.create_all)\n");
        assert_eq!(passed.effects[0].kind, EffectKind::CreateAll);
        assert_eq!(f.effects[0].function, Some(0));
    }

    #[test]
    fn effects_under_another_subcommand() {
        let src = "import sys\nfrom alembic import command\n\ndef main(cmd, rev):\n    if cmd == 'upgrade':\n        command.upgrade(cfg, rev)\n    elif cmd == \"stamp\":\n        command.stamp(cfg, rev)\n\nmain(sys.argv[1], sys.argv[2])\n";
        let f = read(src);
        let stamp = f
            .effects
            .iter()
            .find(|e| matches!(e.kind, EffectKind::Stamp { .. }))
            .unwrap()
            .start;
        assert!(subcommand_off(&f, src, stamp, &["upgrade", "head"]));
        assert!(!subcommand_off(&f, src, stamp, &["stamp", "head"]));
        assert!(!subcommand_off(&f, src, stamp, &["--verbose"]));
        let up = f
            .effects
            .iter()
            .find(|e| matches!(e.kind, EffectKind::Upgrade { .. }))
            .unwrap()
            .start;
        assert!(!subcommand_off(&f, src, up, &["upgrade"]));
    }

    #[test]
    fn effects_under_a_flag_the_run_does_not_pass() {
        let src = "import click\nfrom alembic import command\n\n@click.command()\n@click.option(\"--make-migrations\", is_flag=True)\n@click.option('--run-migrations', is_flag=True)\ndef main(make_migrations, run_migrations):\n    if make_migrations:\n        make()\n    if run_migrations:\n        command.upgrade(cfg, 'head')\n\ndef make():\n    command.revision(cfg, autogenerate=True)\n";
        let f = read(src);
        let at = |k: EffectKind| f.effects.iter().find(|e| e.kind == k).unwrap().start;
        let auto = at(EffectKind::Autogenerate);
        let none = |_: &str| false;
        assert!(flag_gated_off(&f, src, auto, &["--run-migrations"], &none));
        assert!(!flag_gated_off(
            &f,
            src,
            auto,
            &["--make-migrations"],
            &none
        ));
        assert!(!flag_gated_off(
            &f,
            src,
            auto,
            &["--make-migrations=1"],
            &none
        ));
        // The upgrade is under `--run-migrations`, which is passed.
        let up = f
            .effects
            .iter()
            .find(|e| matches!(e.kind, EffectKind::Upgrade { .. }))
            .unwrap()
            .start;
        assert!(!flag_gated_off(&f, src, up, &["--run-migrations"], &none));
        assert!(flag_gated_off(&f, src, up, &[], &none));
    }

    #[test]
    fn guards_main_and_refs() {
        let src = "from alembic import command\nfrom fastapi import FastAPI\n\
                   def run():\n    if is_db_empty():\n        command.stamp(cfg, 'head')\n    else:\n        command.upgrade(cfg, 'head')\n\
                   async def lifespan(app):\n    await asyncio.to_thread(run)\n    yield\n\
                   app = FastAPI(lifespan=lifespan)\n\
                   if __name__ == '__main__':\n    command.upgrade(cfg, 'head')\n";
        let f = read(src);
        assert!(f.builds_app);
        assert_eq!(f.lifespan_refs, vec!["lifespan"]);
        assert!(f.functions[1].refs.contains(&"run".to_string()));
        assert_eq!(f.effects[0].guards[0].text, "is_db_empty()");
        assert!(!f.effects[0].guards[0].negated);
        assert!(f.effects[1].guards[0].negated);
        assert!(f.effects[2].main_guard);
        assert!(!f.module_refs.contains(&"command".to_string()));
    }

    #[test]
    fn subprocess_and_locks() {
        let src = "import subprocess, os\nfrom sqlalchemy import text\n\
                   subprocess.run(['alembic', 'upgrade', 'head'], check=True)\nos.system('alembic stamp head')\n\
                   conn.execute(text('SELECT pg_advisory_lock(42)'))\n# pg_advisory_lock in a comment\n";
        let k = kinds(src);
        assert!(
            matches!(&k[0], EffectKind::Shell { line: None, argv } if argv.len() == 3 && argv[2].0 == "head")
        );
        assert!(
            matches!(&k[1], EffectKind::Shell { line: Some(l), .. } if l == "alembic stamp head")
        );
        assert_eq!(k[2], EffectKind::AdvisoryLock);
        assert_eq!(k.len(), 3);
    }

    #[test]
    fn swallowed_try() {
        let src = "from alembic import command\ntry:\n    command.upgrade(cfg, 'head')\nexcept Exception:\n    log.exception('x')\n\
                   try:\n    command.upgrade(cfg, 'head')\nexcept Exception:\n    raise\n";
        let f = read(src);
        assert!(f.effects[0].swallowed);
        assert!(!f.effects[1].swallowed);
    }

    #[test]
    fn broken_python_does_not_panic() {
        let _ = read("def (:\n  command.upgrade(\n");
        let deep = "(".repeat(5000);
        let _ = read(&deep);
    }
}
