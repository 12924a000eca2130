use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deploy::empty_database_check;
use crate::parse::python::app::{self as pyapp, EffectKind, PyFacts};
use crate::rules::{Category, Context, Rule, RuleId, RuleMeta};
use crate::source::{FileId, Span};

pub struct CreateAllWithMigrations;

static META: RuleMeta = RuleMeta {
    id: RuleId::CreateAllWithMigrations,
    category: Category::Cross,
    summary: "Application code calls `metadata.create_all()` in a project that has migrations",
    default_severity: Severity::Warning,
    docs: r#"## What it does

Finds `<Base>.metadata.create_all(...)` and Flask-SQLAlchemy `db.create_all()` outside tests
(`tests/`, `tests.py`, `test_*.py`, `*_test.py`, `conftest.py`) in a repository with Alembic
revisions, including scripts left in the versions folder, when revlint can show that the call
runs against the deployed database. The evidence is a related label:

- the call, or a function that calls it, runs when the application starts: a FastAPI lifespan
  or startup handler, a Flask `create_app()`-style factory, or module-level code of the module
  that builds the app;
- a script that calls it is run by a deploy file (`python scripts/init_db.py` in an
  entrypoint), or a CLI command that calls it (`@click.command("init-db")`,
  `@app.cli.command`) is run by one (`flask init-db` in `run.sh`);
- the call is module-level code of a module that runs: one a deploy file runs as a script,
  or one another module imports (a standalone script that nothing runs or imports is not
  reported);
- the call is in the `upgrade()` of a script left in the versions folder.

A deploy file here is not a development one: a compose file named for development
(`docker-compose.dev.yml`), an image built from a development Dockerfile (`Dockerfile.dev`),
or a compose service that builds one (`dockerfile: Dockerfile.dev`) starts a developer's
stack.

Callers are followed by name through the repository's Python files, up to four calls deep. A
caller in another module counts only when it imports the name or names the module; test files
are not callers. A call only the tests reach, a function nothing calls, and a command no
deploy file runs have no such evidence and are not reported, even when the call is in the
command's own body and `create_app()` registers it (`app.cli.add_command(reinstall_db)`
names the command; it does not run it). A caller that runs Alembic around
the call (upgrades first, or creates and then stamps, itself or through a function whose name
says it upgrades, migrates or stamps) makes the path safe.

Not reported either:

- a call inside an explicit "the database is empty" branch (`if not inspector.get_table_names():`,
  `if db_version is None:`, no row in `alembic_version`), or followed in the same function
  by a `stamp`, directly or through a helper of the same file (Alembic's cookbook bootstrap
  of a fresh database: `create_all()` then `command.stamp(cfg, "head")`);
- a call after an `upgrade` in the same function (the migrations made every table first);
- a call at application start when every deploy that starts the application runs a
  migration first that stops the start when it fails (`set -e; alembic upgrade head; exec
  uvicorn …`), or starts it only after a one-shot migrate service completed
  (`depends_on: {migrate: {condition: service_completed_successfully}}`): the tables exist
  before the call;
- a call on a metadata the file makes itself (`class Base(DeclarativeBase)`,
  `metadata = MetaData()`) in a module no `env.py` imports, or on a lower-case metadata name
  imported `from` a module (`from app.cache_tables import cache_metadata`) when no `env.py`
  names either: a separate database or a scratch table, not the schema the migrations own;
- a module-level call on a metadata the file has just made (`Base = declarative_base()` and
  then `Base.metadata.create_all(engine)`), with no line between them that names it or
  imports a module: the models are declared later, by modules that import this one, so the
  metadata is empty when the call runs;
- Flask-SQLAlchemy's `db.create_all()` when nothing in the repository declares a model or a
  table on `db` (no `db.Model` subclass, no `db.Table`, no `db.metadata`, no `metadata=` or
  `model_class=` given to `SQLAlchemy(…)`): its metadata is empty, as when the models are on
  a separate declarative base and `db` serves only sessions, so the call creates nothing;
- a call under a condition that names SQLite or a development, testing or debug setting
  (`if settings.environment == "development":`, `== "dev"`), or in a function whose docstring
  or comments say it is for tests or development only;
- a call under a setting that is off unless someone turns it on (`if
  settings.AUTO_CREATE_TABLES:`, declared `AUTO_CREATE_TABLES: bool = False` in a settings
  or config module) when no deploy file (compose, `.env`, Dockerfile, script, Procfile, TOML,
  JSON, INI) names the setting.

## Why is this bad?

`create_all` creates every table the models describe, outside Alembic. The tables exist before
the migrations run; the next revision that creates one of them fails with "already exists",
and columns the models have but no revision added never get a migration.

## Example

```python
app = FastAPI()
Base.metadata.create_all(bind=engine)
```

## How to fix

Let migrations own the schema: remove the call and run `alembic upgrade head`. To bootstrap an
empty database, call `create_all` and `alembic stamp head` only inside an explicit check that
the database has no tables.
"#,
};

/// What the rule knows beside the call: the file's text and display path, and the text of
/// every `env.py`.
struct Around<'a> {
    text: &'a str,
    display: &'a str,
    env_texts: &'a [&'a str],
    /// `text` without whitespace, made once per file when first needed.
    compact: std::cell::OnceCell<String>,
}

/// What a function's docstring or comments say when it is not for production.
const DEV_ONLY: [&str; 8] = [
    "only for test",
    "used only for tests",
    "for testing only",
    "testing only",
    "development only",
    "dev only",
    "only for development",
    "only in development",
];

/// The first name of the receiver: `Base` in `Base.metadata.create_all`.
fn receiver_root(call: &str) -> &str {
    call.split('.').next().unwrap_or("").trim()
}

/// Whether `name` is a metadata this file makes itself (`class Base(DeclarativeBase)`,
/// `Base = declarative_base()`, `metadata = MetaData()`), and no `env.py` imports this module:
/// a separate database's schema (an undo log, an account store, a scratch table), not the one
/// the migrations own.
fn separate_metadata(name: &str, a: &Around) -> bool {
    if name.is_empty() || name == "db" {
        return false;
    }
    let compact = a
        .compact
        .get_or_init(|| a.text.chars().filter(|c| !c.is_whitespace()).collect());
    let defined = compact.contains(&format!("class{name}("))
        || ["declarative_base(", "MetaData(", "registry("]
            .iter()
            .any(|f| {
                compact.contains(&format!("{name}={f}"))
                    || compact.contains(&format!("{name}=sa.{f}"))
                    || compact.contains(&format!("{name}=sqlalchemy.{f}"))
            });
    if !defined {
        return imported_separate_metadata(name, a);
    }
    // `careagents/models.py` is imported as `careagents.models` (or from its package).
    let module: Vec<&str> = a
        .display
        .trim_end_matches(".py")
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "src")
        .collect();
    let Some(stem) = module.last() else {
        return false;
    };
    // A module in a package is named by its package too: `careagents.models` is not the
    // `models` that `from models import db` imports.
    let imported = |env: &str| match module.len() {
        1 => env.contains(&format!("import {stem}")) || env.contains(&format!("from {stem} ")),
        n => {
            let parent = module[n - 2];
            env.contains(&format!("{parent}.{stem}"))
                || env.contains(&format!("from {parent} import {stem}"))
                || env.contains(&format!("from .{stem} "))
        }
    };
    !a.env_texts.iter().any(|env| imported(env))
}

/// Whether `word` occurs in `text` as a whole name (`.metadata` and `metadata,` count,
/// `target_metadata` does not).
fn mentions(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        !text[..i].chars().next_back().is_some_and(ident)
            && !text[i + word.len()..].chars().next().is_some_and(ident)
    })
}

/// Whether `name` is a metadata brought in by `from <module> import name` (a table module
/// of its own, `cache_metadata` from `cache/sql/tables.py`) that no `env.py` names, whether
/// by the name or by the module: env.py's `target_metadata` does not include it.
fn imported_separate_metadata(name: &str, a: &Around) -> bool {
    if a.env_texts.is_empty() || !name.chars().any(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let mut rest = a.text;
    while let Some(at) = rest.find("from ") {
        let line_start = at == 0 || rest[..at].ends_with('\n');
        let tail = &rest[at + 5..];
        rest = tail;
        if !line_start {
            continue;
        }
        let Some((module, after)) = tail.split_once(" import ") else {
            break;
        };
        if module.contains('\n') {
            continue;
        }
        let names = match after.trim_start().strip_prefix('(') {
            Some(list) => list.split(')').next().unwrap_or(""),
            None => after.lines().next().unwrap_or(""),
        };
        if !names
            .split([',', '\n'])
            .any(|n| n.split_whitespace().next() == Some(name))
        {
            continue;
        }
        let module = module.trim();
        let last = module.rsplit('.').next().unwrap_or("");
        return !last.is_empty()
            && a.env_texts
                .iter()
                .all(|env| !mentions(env, name) && !mentions(env, last));
    }
    false
}

/// Whether a module-level `create_all` runs on a metadata the file has just made, before
/// anything could put a table in it: after `Base = declarative_base()` (or `MetaData()`,
/// `registry()`, a `class Base(DeclarativeBase)`), no line before the call names it and none
/// imports a module (which could declare models on it). The models are declared later, in
/// modules that import this one, so the call creates nothing.
fn empty_at_call(name: &str, text: &str, call_start: usize) -> bool {
    if name.is_empty() {
        return false;
    }
    let before = text.get(..call_start).unwrap_or("");
    // The last line that makes `name`, and where the lines after it start.
    let mut made: Option<usize> = None;
    let mut at = 0;
    for line in before.split_inclusive('\n') {
        let t = line.trim_start();
        let indented = t.len() != line.len();
        let assigns = t
            .strip_prefix(name)
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
            .filter(|r| !r.starts_with('='))
            .is_some_and(|r| {
                ["declarative_base(", "MetaData(", "registry("]
                    .iter()
                    .any(|f| r.contains(f))
            });
        let class = t
            .strip_prefix("class ")
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.starts_with('(') && r.contains("DeclarativeBase"));
        if !indented && (assigns || class) {
            made = Some(at + line.len());
        }
        at += line.len();
    }
    let Some(from) = made else {
        return false;
    };
    let between = &before[from..];
    let mut in_class_body = text[..from]
        .lines()
        .last()
        .is_some_and(|l| l.starts_with("class "));
    for line in between.lines() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indented = t.len() != line.len();
        if in_class_body && indented {
            continue;
        }
        in_class_body = false;
        // The call's own line starts the call: `Base.metadata.create_all(engine)`.
        if t.starts_with("import ") || t.starts_with("from ") || mentions(t, name) {
            return false;
        }
    }
    true
}

/// Whether `name` is a Flask-SQLAlchemy object (`db = SQLAlchemy(app)`) on which nothing in
/// the repository declares a model or a table: no `db.Model` subclass (no `.Model` at all),
/// no `db.Table(…)`, no use of `db.metadata`, and no `metadata=` or `model_class=` handed to
/// `SQLAlchemy(…)`. Its metadata is empty, so `db.create_all()` creates nothing: the models
/// are on a separate declarative base, the one `env.py` migrates.
fn empty_flask_metadata(name: &str, cx: &Context) -> bool {
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return false;
    }
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = false;
    for app in &cx.deploy.apps {
        let text = cx.db.get(app.file).text.as_str();
        if text
            .match_indices(".Model")
            .any(|(i, w)| !text[i + w.len()..].chars().next().is_some_and(ident))
            || mentions(text, &format!("{name}.Table"))
            || mentions(text, &format!("{name}.metadata"))
        {
            return false;
        }
        if !text.contains("SQLAlchemy(") {
            continue;
        }
        // `db = SQLAlchemy(…)` at the start of a line; its arguments up to the first `)`.
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            let here = at;
            at += line.len();
            let Some(rest) = line.trim_start().strip_prefix(name) else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix('=') else {
                continue;
            };
            let rest = rest.trim_start();
            let Some(call) = rest
                .strip_prefix("SQLAlchemy(")
                .or_else(|| rest.strip_prefix("flask_sqlalchemy.SQLAlchemy("))
            else {
                continue;
            };
            let from = here + (line.len() - call.len());
            let args = text[from..].split(')').next().unwrap_or("");
            if args.contains("metadata") || args.contains("model_class") {
                return false;
            }
            found = true;
        }
    }
    found
}

fn report(
    file: FileId,
    facts: &PyFacts,
    a: &Around,
    reach: &mut Reach,
    in_versions: bool,
    out: &mut Vec<Diagnostic>,
) {
    for e in &facts.effects {
        if e.kind != EffectKind::CreateAll {
            continue;
        }
        // In the same function (or both at module level, a setup script): an upgrade before
        // it (the tables exist, `create_all` adds nothing), or a stamp after it (the cookbook
        // bootstrap of a fresh database: `create_all()` then `stamp head`).
        let same_function = |k: fn(&EffectKind) -> bool, after: bool| {
            facts.effects.iter().any(|o| {
                o.function == e.function
                    && k(&o.kind)
                    && if after {
                        o.start > e.end
                    } else {
                        o.end < e.start
                    }
            })
        };
        // The stamp may sit in a helper of the same file (`version_schema()` that calls
        // `command.stamp`), called from the function that creates the tables.
        let stamps_through_helper = e.function.is_some_and(|f| {
            facts.functions[f].refs.iter().any(|name| {
                facts.function(name).is_some_and(|h| {
                    h != f
                        && facts.effects.iter().any(|o| {
                            o.function == Some(h) && matches!(o.kind, EffectKind::Stamp { .. })
                        })
                })
            })
        });
        if same_function(|k| matches!(k, EffectKind::Upgrade { .. }), false)
            || same_function(|k| matches!(k, EffectKind::Stamp { .. }), true)
            || stamps_through_helper
        {
            continue;
        }
        let root = receiver_root(a.text.get(e.start..e.end).unwrap_or(""));
        if separate_metadata(root, a)
            || empty_flask_metadata(root, reach.cx)
            || (e.function.is_none() && empty_at_call(root, a.text, e.start))
        {
            continue;
        }
        // A function whose docstring or comments say it is for tests or development only.
        if let Some(f) = e.function {
            let head = a
                .text
                .get(facts.functions[f].name_start..e.start)
                .unwrap_or("")
                .to_ascii_lowercase();
            if DEV_ONLY.iter().any(|p| head.contains(p)) {
                continue;
            }
        }
        // The bootstrap shape, and a development-only database (SQLite, a dev/test setting).
        if e.guards.iter().any(|g| {
            empty_database_check(&g.text, g.negated)
                || (!g.negated && pyapp::dev_condition(&g.text))
                || (!g.negated && reach.cx.deploy.flags_off.contains(&g.text))
        }) {
            continue;
        }
        // Evidence that the call runs where the deployed database is: at application
        // startup, in a script or command a deploy file runs, or at import.
        let evidence = match e.function {
            // A script left in the versions folder: its `upgrade()` runs as a migration's
            // would, by whoever runs the folder's scripts.
            Some(f)
                if in_versions
                    && matches!(facts.functions[f].name.as_str(), "upgrade" | "downgrade") =>
            {
                let func = &facts.functions[f];
                Some((
                    Span::new(file, func.name_start, func.name_end),
                    "runs as a migration: the file sits in the versions folder".to_string(),
                ))
            }
            Some(f) => match reach.evidence(file, facts, f) {
                Some(ev) => Some(ev),
                None => continue,
            },
            None if e.main_guard => match reach.run_by_deploy(file) {
                Some(by) => Some((by, "a deploy file runs this script".to_string())),
                None => continue,
            },
            // Module-level code runs whenever the module is loaded: by a deploy that runs
            // it as a script, as the module that builds the application, or imported by
            // another module. A script nothing runs or imports has no such evidence.
            None => match module_level_evidence(reach, file, facts, a) {
                Some(ev) => Some(ev),
                None => continue,
            },
        };
        // At application start, where every deploy that starts the application migrates
        // first (an entrypoint's `alembic upgrade head && exec gunicorn`), every table a
        // revision makes exists before the call, which then creates nothing.
        let at_start = evidence
            .as_ref()
            .is_some_and(|(_, label)| label.contains("when the application"));
        if at_start && reach.migrated_before_every_start(&reach.cx.db.get(file).path) {
            continue;
        }
        let mut d = Diagnostic::new(
            RuleId::CreateAllWithMigrations,
            "`create_all()` creates tables behind Alembic's back: a revision that creates one then fails with \"already exists\"",
        )
        .primary(Span::new(file, e.start, e.end), "creates the schema behind Alembic's back")
        .help("let migrations own the schema: remove the call and run `alembic upgrade head`; bootstrap an empty database only inside an explicit emptiness check, followed by `alembic stamp head`");
        if let Some((span, label)) = evidence {
            d = d.secondary(span, label);
        }
        out.push(d);
    }
}

/// How deep the search for a caller goes: `create_all` in a helper, called by `init_db()`,
/// called by the startup handler is three levels.
const MAX_CALLER_DEPTH: usize = 4;

/// Whether a function runs where the deployed database is, found by following its callers
/// through the repository's Python files (by name; test files are not walked).
struct Reach<'a> {
    cx: &'a Context<'a>,
    /// Facts of files read only for this search (their text names a function searched for,
    /// but nothing the deploy model reads them for).
    parsed: BTreeMap<usize, PyFacts>,
    /// Spans of every command a deploy surface runs, and the text of those commands.
    deploy_spans: BTreeSet<Span>,
    deploy_words: BTreeSet<String>,
}

impl<'a> Reach<'a> {
    fn new(cx: &'a Context<'a>) -> Self {
        let mut deploy_spans = BTreeSet::new();
        let mut deploy_words = BTreeSet::new();
        for s in cx.deploy.deploy_surfaces() {
            for r in &s.runs {
                deploy_spans.insert(r.span);
                deploy_spans.extend(r.via.iter().copied());
                let text = cx.db.get(r.span.file).text.as_str();
                let cmd = text
                    .get(r.span.start as usize..r.span.end as usize)
                    .unwrap_or("");
                // The words of the command, not of a message it prints: `echo "could not
                // create the database"` runs no `create` command.
                let mut words = cmd
                    .split_whitespace()
                    .skip_while(|w| w.contains('=') && !w.starts_with('-'));
                if words
                    .next()
                    .is_none_or(|w| matches!(w, "echo" | "printf" | "logger" | "log" | ":"))
                {
                    continue;
                }
                deploy_words.extend(
                    words
                        .take_while(|w| !w.starts_with(['"', '\'']))
                        .flat_map(|w| {
                            w.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                        })
                        .filter(|w| !w.is_empty())
                        .map(str::to_string),
                );
            }
        }
        Reach {
            cx,
            parsed: BTreeMap::new(),
            deploy_spans,
            deploy_words,
        }
    }

    /// Read file `app` fully if the deploy model passed over it.
    fn ensure(&mut self, app: usize) {
        let a = &self.cx.deploy.apps[app];
        if a.facts.functions.is_empty() && !a.facts.builds_app {
            let text = &self.cx.db.get(a.file).text;
            self.parsed.entry(app).or_insert_with(|| pyapp::read(text));
        }
    }

    fn facts(&self, app: usize) -> &PyFacts {
        self.parsed
            .get(&app)
            .unwrap_or(&self.cx.deploy.apps[app].facts)
    }

    /// Whether some deploy starts the application and every one that does runs a migration
    /// before it, whose failure stops the start (`alembic upgrade head && exec gunicorn`).
    /// In a monorepo, a compose service or image whose build folder does not hold `file`
    /// starts another application and is left out.
    fn migrated_before_every_start(&self, file: &Path) -> bool {
        let mut starts = 0;
        for s in self.cx.deploy.deploy_surfaces() {
            if let Some(dir) = self.build_dir(s) {
                if !file.starts_with(&dir) {
                    continue;
                }
            }
            for (i, r) in s.runs.iter().enumerate() {
                if !(r.serves() || r.starts_an_app()) {
                    continue;
                }
                starts += 1;
                let migrated = s.runs[..i].iter().any(|m| {
                    m.migrates()
                        && m.failure_ignored.is_none()
                        && !m.unchecked_errexit_off
                        && !m.unchecked_no_errexit
                }) || self.gated_on_migrate_service(s)
                    || self.image_started_by_gated_services(s);
                if !migrated {
                    return false;
                }
            }
        }
        starts > 0
    }

    /// The folder an image is built from: a Dockerfile's, or a compose service's build
    /// context. `None` for other deploy files, and for a service that pulls an image.
    fn build_dir(&self, s: &crate::model::deploy::Surface) -> Option<std::path::PathBuf> {
        use crate::model::deploy::SurfaceKind;
        let deploy = self.cx.deploy;
        match s.kind {
            SurfaceKind::ImageStart { dockerfile } => self
                .cx
                .db
                .get(deploy.dockerfiles[dockerfile].file)
                .path
                .parent()
                .map(Path::to_path_buf),
            SurfaceKind::Service { compose, service } => {
                let c = &deploy.compose[compose];
                c.services[service].build_context(self.cx.db.get(c.file).path.parent()?)
            }
            _ => None,
        }
    }

    /// Whether a compose service starts only after a one-shot migrate service of the same
    /// file finished successfully (`depends_on: {migrate: {condition:
    /// service_completed_successfully}}`).
    fn gated_on_migrate_service(&self, s: &crate::model::deploy::Surface) -> bool {
        use crate::model::deploy::{ServiceRole, SurfaceKind};
        let SurfaceKind::Service { compose, service } = s.kind else {
            return false;
        };
        let file = &self.cx.deploy.compose[compose];
        file.services[service].depends_on.iter().any(|d| {
            d.condition
                .as_ref()
                .is_some_and(|c| c.lower() == "service_completed_successfully")
                && file
                    .services
                    .iter()
                    .position(|o| o.name == d.service)
                    .is_some_and(|o| {
                        self.cx.deploy.role(compose, o) == ServiceRole::Migrate
                            && self.cx.deploy.service_surface(compose, o).is_some_and(|m| {
                                m.runs.iter().filter(|r| r.migrates()).all(|r| {
                                    r.failure_ignored.is_none() && !r.unchecked_errexit_off
                                })
                            })
                    })
        })
    }

    /// Whether an image's own start (`CMD`) is how compose services start it, each of them
    /// gated on a migrate service: the compose file is the deploy that says when it starts.
    fn image_started_by_gated_services(&self, s: &crate::model::deploy::Surface) -> bool {
        use crate::model::deploy::SurfaceKind;
        let SurfaceKind::ImageStart { dockerfile } = s.kind else {
            return false;
        };
        let deploy = self.cx.deploy;
        let df_path = &self.cx.db.get(deploy.dockerfiles[dockerfile].file).path;
        let mut users = 0;
        for (ci, c) in deploy.compose.iter().enumerate() {
            let dir = self
                .cx
                .db
                .get(c.file)
                .path
                .parent()
                .unwrap_or(Path::new("/"));
            for (si, svc) in c.services.iter().enumerate() {
                if svc.dockerfile_path(dir).as_ref() != Some(df_path) {
                    continue;
                }
                let Some(surface) = deploy.service_surface(ci, si) else {
                    continue;
                };
                if surface.test {
                    continue;
                }
                // A service that runs something else (the migrate service) does not start
                // the application.
                if !surface.runs.iter().any(|r| r.serves() || r.starts_an_app()) {
                    continue;
                }
                if !self.gated_on_migrate_service(surface) {
                    return false;
                }
                users += 1;
            }
        }
        users > 0
    }

    /// The deploy command that runs this Python file as a script.
    fn run_by_deploy(&self, file: FileId) -> Option<Span> {
        self.cx
            .deploy
            .python_run_by
            .get(&file)?
            .iter()
            .find(|s| self.deploy_spans.contains(s))
            .copied()
    }

    /// Why function `f` of `file` runs against the deployed database, as a label: itself or
    /// a caller is a startup hook, a CLI command a deploy file runs, or code of a script a
    /// deploy file runs. `None` when no such path exists: only tests call it, nothing does,
    /// or every caller runs Alembic itself around it (creates then stamps, or upgrades
    /// first).
    fn evidence(&mut self, file: FileId, facts: &PyFacts, f: usize) -> Option<(Span, String)> {
        let apps = &self.cx.deploy.apps;
        if let Some(ev) = self.root(file, facts, f) {
            return Some(ev);
        }
        // A command-line command that no deploy file runs (`flask reinstall-db`): the code
        // that names it (`app.cli.add_command(reinstall_db)` in `create_app`) registers it and
        // does not call it.
        if is_cli_command(&facts.functions[f]) {
            return None;
        }
        let mut seen: BTreeSet<(FileId, String)> = BTreeSet::new();
        let mut frontier: Vec<(FileId, String)> = vec![(file, facts.functions[f].name.clone())];
        for _ in 0..MAX_CALLER_DEPTH {
            let mut next = Vec::new();
            for (callee_file, name) in std::mem::take(&mut frontier) {
                if !seen.insert((callee_file, name.clone())) {
                    continue;
                }
                for (ai, app) in apps.iter().enumerate() {
                    let afile = app.file;
                    let text = &self.cx.db.get(afile).text;
                    if memchr::memmem::find(text.as_bytes(), name.as_bytes()).is_none()
                        || (afile != callee_file
                            && !names_module(text, self.cx, callee_file, &name))
                    {
                        continue;
                    }
                    self.ensure(ai);
                    let caller_facts = self.facts(ai);
                    // Module-level code of the file calls it.
                    if caller_facts.module_refs.contains(&name) {
                        if caller_facts.builds_app {
                            return Some((
                                call_site(text, afile, &name),
                                "called when the application module loads".into(),
                            ));
                        }
                        if let Some(by) = self.run_by_deploy(afile) {
                            return Some((
                                by,
                                "a deploy file runs the script that calls it".into(),
                            ));
                        }
                    }
                    if caller_facts.main_refs.contains(&name) {
                        if let Some(by) = self.run_by_deploy(afile) {
                            return Some((
                                by,
                                "a deploy file runs the script that calls it".into(),
                            ));
                        }
                    }
                    for (gi, g) in caller_facts.functions.iter().enumerate() {
                        // A call made only on a development path (`if settings.DEBUG:`,
                        // `if LOCAL_ENVIRONMENT:`) is not a production caller.
                        if (afile == callee_file && g.name == name)
                            || !g.plain_refs.contains(&name)
                            || coordinates_alembic(caller_facts, gi)
                        {
                            continue;
                        }
                        if let Some(ev) = self.root(afile, caller_facts, gi) {
                            return Some(ev);
                        }
                        // A command registered by name is not called by its registrar: it
                        // runs only when invoked, and no deploy file invokes it.
                        if is_cli_command(g) {
                            continue;
                        }
                        next.push((afile, g.name.clone()));
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        None
    }

    /// Function `f` is itself where the deployed path starts.
    fn root(&self, file: FileId, facts: &PyFacts, f: usize) -> Option<(Span, String)> {
        let func = &facts.functions[f];
        let at = Span::new(file, func.name_start, func.name_end);
        if crate::model::deploy::startup_root(facts, f) {
            return Some((at, "runs when the application starts".into()));
        }
        if is_cli_command(func) {
            return self
                .command_run_by_deploy(func)
                .map(|w| (at, format!("the `{w}` command, which a deploy file runs")));
        }
        None
    }

    /// The command name of a CLI command function, when a deploy surface runs it.
    fn command_run_by_deploy(&self, func: &pyapp::Function) -> Option<String> {
        let mut names: Vec<String> = func
            .decorators
            .iter()
            .filter_map(|d| {
                let q = d.find(['"', '\''])?;
                let quote = d[q..].chars().next()?;
                let rest = &d[q + 1..];
                rest.find(quote).map(|e| rest[..e].to_string())
            })
            .collect();
        names.push(func.name.clone());
        names.push(func.name.replace('_', "-"));
        names.into_iter().find(|n| self.deploy_words.contains(n))
    }
}

/// Whether a module's text can reach `name` of another module: it imports the name, or
/// names the module (`from app.db import init_db`, `dbhelpers.create_all()`,
/// `model.repo.create_db()` for `model/__init__.py`). A bare name shared by unrelated
/// modules (`seed`, `create`) is not a call.
fn names_module(text: &str, cx: &Context, module: FileId, name: &str) -> bool {
    let path = &cx.db.get(module).path;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let stem = if stem == "__init__" {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or("")
    } else {
        stem
    };
    let word = |w: &str| {
        !w.is_empty()
            && text.match_indices(w).any(|(at, _)| {
                let ident = |c: char| c.is_alphanumeric() || c == '_';
                !text[..at].ends_with(ident) && !text[at + w.len()..].starts_with(ident)
            })
    };
    word(stem)
        || text.lines().any(|l| {
            let l = l.trim_start();
            (l.starts_with("from ") || l.starts_with("import "))
                && l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == name)
        })
}

/// Why module-level code of `file` runs where the deployed database is: a deploy file runs
/// the file as a script, the file builds the application, or another module imports it.
fn module_level_evidence(
    reach: &Reach,
    file: FileId,
    facts: &PyFacts,
    a: &Around,
) -> Option<(Span, String)> {
    if let Some(by) = reach.run_by_deploy(file) {
        return Some((by, "a deploy file runs this script".to_string()));
    }
    if facts.builds_app {
        let at = ["FastAPI(", "Flask(", "Starlette(", "Quart(", "Sanic("]
            .iter()
            .filter_map(|c| a.text.find(c).map(|i| (i, c.len() - 1)))
            .min();
        let span = at.map_or(Span::file_start(file), |(i, n)| Span::new(file, i, i + n));
        return Some((span, "runs when the application module loads".to_string()));
    }
    let cx = reach.cx;
    let path = &cx.db.get(file).path;
    let stem = match path.file_stem().and_then(|s| s.to_str()) {
        Some("__init__") => path.parent()?.file_name()?.to_str()?,
        Some(s) => s,
        None => return None,
    };
    for app in &cx.deploy.apps {
        if app.file == file {
            continue;
        }
        let text = &cx.db.get(app.file).text;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let t = line.trim_start();
            if (t.starts_with("from ") || t.starts_with("import ")) && mentions(t, stem) {
                let start = offset + (line.len() - t.len());
                let code = t.split('#').next().unwrap_or(t).trim_end();
                let end = start + code.len();
                return Some((
                    Span::new(app.file, start, end),
                    "imports the module, which runs the call when it loads".to_string(),
                ));
            }
            offset += line.len();
        }
    }
    None
}

/// Where a module calls `name` outside its definition: the first `name(` not after `def `,
/// else the start of the file.
fn call_site(text: &str, file: FileId, name: &str) -> Span {
    let pat = format!("{name}(");
    text.match_indices(&pat)
        .find(|(at, _)| {
            let before = text[..*at].trim_end_matches(|c: char| c.is_alphanumeric() || c == '_');
            !before.ends_with("def ")
                && !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, _)| Span::new(file, at, at + name.len()))
        .unwrap_or(Span::file_start(file))
}

/// A function decorated as a command-line command (`@click.command()`, `@app.cli.command`,
/// `@manager.command`, `@cli.command("init-db")`, typer's `@app.command()`).
fn is_cli_command(f: &pyapp::Function) -> bool {
    f.decorators.iter().any(|d| {
        let head = d.split('(').next().unwrap_or("");
        head == "command" || head.ends_with(".command") || head.ends_with("_command")
    })
}

/// A function that runs Alembic itself (an upgrade or a stamp, or a call to a function whose
/// name says it upgrades, migrates or stamps): a `create_all` it calls is the bootstrap of an empty
/// database (create, then stamp) or finds every table already made (upgrade, then create).
fn coordinates_alembic(facts: &PyFacts, f: usize) -> bool {
    let direct = facts.effects.iter().any(|e| {
        e.function == Some(f)
            && matches!(
                e.kind,
                EffectKind::Upgrade { .. } | EffectKind::Stamp { .. }
            )
    });
    direct
        || facts.functions[f].refs.iter().any(|r| {
            // `stamp_alembic_head`, `_perform_schema_migrations`, `migrate_db`; not the
            // Flask-Migrate object `migrate` (`migrate.init_app(app, db)`).
            let r = r.to_ascii_lowercase();
            let words: Vec<&str> = r.split('_').filter(|w| !w.is_empty()).collect();
            words
                .iter()
                .any(|w| w.contains("stamp") || w.contains("upgrade"))
                || (words.len() > 1 && words.iter().any(|w| w.starts_with("migrat")))
        })
}

impl Rule for CreateAllWithMigrations {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let has_revisions = cx
            .projects
            .iter()
            .any(|p| p.migrations().any(|m| m.id().is_some()));
        if !has_revisions {
            return;
        }
        let env_texts: Vec<&str> = cx
            .projects
            .iter()
            .filter_map(|p| p.env_file.map(|f| cx.db.get(f).text.as_str()))
            .collect();
        let around = |file: FileId| Around {
            text: &cx.db.get(file).text,
            display: &cx.db.get(file).display,
            env_texts: &env_texts,
            compact: std::cell::OnceCell::new(),
        };
        let mut reach = Reach::new(cx);
        for app in &cx.deploy.apps {
            report(
                app.file,
                &app.facts,
                &around(app.file),
                &mut reach,
                false,
                out,
            );
        }
        // Scripts that sit in a versions folder but are not revisions.
        for p in cx.projects {
            for m in p.migrations() {
                if m.id().is_some() {
                    continue;
                }
                let text = &cx.db.get(m.file).text;
                if pyapp::may_matter(text) {
                    report(
                        m.file,
                        &pyapp::read(text),
                        &around(m.file),
                        &mut reach,
                        true,
                        out,
                    );
                }
            }
        }
    }
}
