//! The files that run migrations, and what each runs: workflow steps, compose services,
//! Dockerfiles, Procfile/Railway/Fly start commands, the repo scripts they call (followed one
//! level deep), application code that migrates at startup, and the `env.py` facts that make
//! concurrent runs safe. Computed once here; rules only read it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::command::{self, CommandKind, CommandList, Deploy as DeployKind, Lang, Target, Workers};
use super::compose::{span, ComposeFile, Service, StackReason};
use super::project::FileIssue;
use super::workflow::Workflow;
use crate::parse::python::app::{self as pyapp, EffectKind, PyFacts};
use crate::parse::shell;
use crate::source::{FileDb, FileId, Span};

/// One command a deploy surface runs, where it is written, and how it was reached.
#[derive(Debug, Clone)]
pub struct Run {
    pub kind: CommandKind,
    pub span: Span,
    /// The migration target as written (`3eedf39b54dd`, `heads`).
    pub target: Option<Span>,
    /// The references that led here, outermost first (`command: ./entrypoint.sh`).
    pub via: Vec<Span>,
    /// `|| true` and friends: how, and where.
    pub failure_ignored: Option<(String, Span)>,
    /// After `set +e` with no check of `$?`.
    pub unchecked_errexit_off: bool,
    /// In a shell without `set -e`, followed by another command, and nothing checks its
    /// exit status: the next command runs whether it failed or not.
    pub unchecked_no_errexit: bool,
    /// Conditions of the `if` blocks around the command (text, negated).
    pub guards: Vec<(String, bool)>,
    /// `upgrade … || <this>`: runs only when a migration failed.
    pub after_failed_migrate: bool,
    pub env: Vec<(String, String)>,
    /// Runs on another machine (`ssh host '…'`, `fly ssh console -C`).
    pub over_ssh: bool,
    /// Runs in a container that is already running (`docker compose exec`, `docker exec`).
    pub in_running_container: bool,
}

impl Run {
    pub fn migrates(&self) -> bool {
        matches!(self.kind, CommandKind::Migrate { .. })
    }

    pub fn serves(&self) -> bool {
        matches!(self.kind, CommandKind::Serve { .. })
    }

    /// Runs the application's own long-running entry script (`python main.py`, `python -m
    /// app`, `python bot.py`): what a service starts after migrating, and keeps running.
    pub fn starts_an_app(&self) -> bool {
        let CommandKind::RunScript { path, lang } = &self.kind else {
            return false;
        };
        if *lang != crate::model::command::Lang::Python {
            return false;
        }
        let stem = path
            .trim_end_matches(".py")
            .rsplit(['/', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        // `main.py`, `bot.py`, and a longer name built from a long-running noun
        // (`audio_service.py`, `alert_worker.py`); not a task named for what it does once
        // (`run_db_migrations.py`, `seed.py`, `init_db.py`).
        let words: Vec<&str> = stem.split(['_', '-']).collect();
        let one_shot = words
            .iter()
            .any(|w| w.starts_with("migrat") || matches!(*w, "seed" | "init" | "setup" | "db"));
        matches!(
            stem.as_str(),
            "main" | "app" | "run" | "server" | "serve" | "bot" | "wsgi" | "asgi" | "__main__"
        ) || (!one_shot
            && words.iter().any(|w| {
                matches!(
                    *w,
                    "server"
                        | "service"
                        | "bot"
                        | "worker"
                        | "daemon"
                        | "listener"
                        | "consumer"
                        | "scheduler"
                )
            }))
    }

    /// Inside an explicit "the database is empty" branch (the redash bootstrap shape).
    pub fn in_empty_database_guard(&self) -> bool {
        self.guards
            .iter()
            .any(|(text, negated)| empty_database_check(text, *negated))
    }
}

/// Whether an `if` condition (taken or, with `negated`, not taken) means "the database has
/// no schema yet".
pub fn empty_database_check(text: &str, negated: bool) -> bool {
    let t = text.to_ascii_lowercase();
    let says_empty = t.contains("empty")
        || t.contains("no tables")
        || t.contains("not initiali")
        || t.contains("fresh");
    let asks_exists = t.contains("alembic_version")
        || t.contains("has_table")
        || t.contains("table_names")
        || t.contains("inspector.")
        || t.contains("table_exists")
        || t.contains("current_rev")
        || t.contains("current_heads")
        || t.contains("db_version")
        || t.contains("schema_version")
        || t.contains("version_num")
        || t.contains("initiali");
    let negative = t.starts_with('!')
        || t.starts_with("not ")
        || t.contains("! ")
        || t.contains(" not ")
        || t.contains("-z ")
        || t.contains("is none")
        || t.contains("== 0")
        || t.contains("-eq 0")
        || t.contains("= \"0\"")
        || t.contains("== \"0\"");
    (says_empty && !negated) || (asks_exists && (negative != negated))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurfaceKind {
    /// A workflow step: indices into `workflows`, its jobs and steps.
    Step {
        workflow: usize,
        job: usize,
        step: usize,
    },
    /// A compose service's effective entrypoint + command.
    Service { compose: usize, service: usize },
    /// A Dockerfile `RUN`.
    ImageBuild { dockerfile: usize },
    /// A Dockerfile's `ENTRYPOINT` + `CMD`.
    ImageStart { dockerfile: usize },
    /// A Procfile process, Railway `startCommand`, Fly process.
    PlatformStart,
    /// Procfile `release:`, Fly `release_command`, Railway `preDeployCommand`: runs once per
    /// deploy, before the new version starts.
    ReleasePhase,
}

#[derive(Debug, Clone)]
pub struct Surface {
    pub kind: SurfaceKind,
    pub span: Span,
    pub runs: Vec<Run>,
    /// Environment the commands see (compose `environment`, Dockerfile `ENV`, step `env`).
    pub env: Vec<(String, String)>,
    /// Not a deploy surface: a workflow step that migrates a throwaway database (a
    /// `services:` container, a localhost server, SQLite), or a step of a job that neither
    /// deploys nor migrates (a pull-request job that generates a revision for review).
    pub test: bool,
}

impl Surface {
    pub fn migrate(&self) -> Option<&Run> {
        self.runs.iter().find(|r| r.migrates())
    }

    pub fn serve(&self) -> Option<&Run> {
        self.runs.iter().find(|r| r.serves())
    }

    /// Worker processes of the server this surface starts, when known.
    pub fn workers(&self) -> Option<(u32, Span)> {
        let r = self.serve()?;
        let CommandKind::Serve { workers, .. } = &r.kind else {
            return None;
        };
        let n = match workers {
            Workers::Count(n) => Some(*n),
            Workers::Env(name) => r
                .env
                .iter()
                .chain(&self.env)
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.trim().parse().ok()),
            Workers::Default => self
                .env
                .iter()
                .chain(&r.env)
                .find(|(k, _)| k == "WEB_CONCURRENCY")
                .and_then(|(_, v)| v.trim().parse().ok()),
        };
        n.map(|n| (n, r.span))
    }
}

/// A Dockerfile's instructions that matter here.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub file: FileId,
    pub env: Vec<(String, String)>,
    pub entrypoint: Option<(Span, CommandList)>,
    pub cmd: Option<(Span, CommandList)>,
    /// `COPY`/`ADD` of the final stage: (destination in the image, source in the context).
    pub copies: Vec<(String, String)>,
    pub workdir: String,
    /// Every named stage (`FROM … AS name`, lower-cased) as it stands at its end, for a compose
    /// `build.target`; the fields above are the final stage's, the image built by default.
    pub stages: Vec<(String, Dockerfile)>,
}

impl Dockerfile {
    /// The image built for `target` (a stage name), or the final stage without one. An
    /// unknown target gives `None`: Docker refuses that build.
    pub fn stage(&self, target: Option<&str>) -> Option<&Dockerfile> {
        match target {
            None => Some(self),
            Some(t) => self
                .stages
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(t))
                .map(|(_, d)| d),
        }
    }
}

/// Application or script code with the calls that matter.
#[derive(Debug, Clone)]
pub struct AppFile {
    pub file: FileId,
    pub facts: PyFacts,
    /// Effects (indices into `facts.effects`) on an application startup path.
    pub startup: Vec<usize>,
}

/// What `env.py` does around `run_migrations()`.
#[derive(Debug, Clone, Default)]
pub struct EnvFacts {
    /// The advisory lock it takes.
    pub advisory_lock: Option<Span>,
    pub transaction_per_migration: bool,
}

#[derive(Debug, Default)]
pub struct DeployModel {
    pub compose: Vec<ComposeFile>,
    pub workflows: Vec<Workflow>,
    pub dockerfiles: Vec<Dockerfile>,
    pub surfaces: Vec<Surface>,
    pub apps: Vec<AppFile>,
    /// Per project, in project order.
    pub env: Vec<EnvFacts>,
    /// YAML files that could not be read fully.
    pub issues: Vec<FileIssue>,
    /// (compose file, service) → index into `surfaces`.
    by_service: BTreeMap<(usize, usize), usize>,
    /// Conditions around a `create_all()` that name a setting which is off unless someone
    /// turns it on (`settings.AUTO_CREATE_TABLES`, declared `AUTO_CREATE_TABLES: bool =
    /// False`) and which no deploy file names: the call never runs in a deploy.
    pub flags_off: BTreeSet<String>,
    /// Python files a deploy file, or a script it runs, runs (`python scripts/init_db.py`,
    /// `python -m app.prestart`), with the commands that run them. Some of those commands
    /// may belong to test surfaces: check them against [`DeployModel::deploy_surfaces`].
    pub python_run_by: BTreeMap<FileId, Vec<Span>>,
}

impl DeployModel {
    pub fn service_surface(&self, compose: usize, service: usize) -> Option<&Surface> {
        self.by_service
            .get(&(compose, service))
            .map(|&i| &self.surfaces[i])
    }

    /// Whether any project's `env.py` takes an advisory lock.
    pub fn env_lock(&self) -> Option<Span> {
        self.env.iter().find_map(|e| e.advisory_lock)
    }
}

/// The files discovery found, by kind.
#[derive(Debug, Default, Clone)]
pub struct DeployInputs {
    pub root: PathBuf,
    pub compose: Vec<PathBuf>,
    pub workflows: Vec<PathBuf>,
    pub dockerfiles: Vec<PathBuf>,
    pub platform: Vec<PathBuf>,
    pub python: Vec<PathBuf>,
    /// Every file of the repository outside test paths, for resolving script references.
    pub files: BTreeSet<PathBuf>,
}

/// Read a file into the database once; `None` when it cannot be read as text.
type Reader<'a> = dyn FnMut(&Path, &mut FileDb) -> Option<FileId> + 'a;

struct Builder<'a> {
    db: &'a mut FileDb,
    read: &'a mut Reader<'a>,
    files: &'a BTreeSet<PathBuf>,
    root: PathBuf,
    /// Runs of each followed script, computed once.
    script_runs: BTreeMap<PathBuf, Option<Vec<Run>>>,
    python_run_by: BTreeMap<FileId, Vec<Span>>,
    py: BTreeMap<PathBuf, (FileId, PyFacts)>,
    /// The Dockerfile whose start command is being expanded: its COPY/WORKDIR map image
    /// paths back to repository files.
    image: Option<Dockerfile>,
}

pub fn build(
    inputs: &DeployInputs,
    db: &mut FileDb,
    env_files: &[Option<FileId>],
    read: &mut Reader<'_>,
) -> DeployModel {
    let mut m = DeployModel::default();
    // env.py facts first: they do not depend on anything else.
    for env in env_files {
        let facts = env.map(|id| {
            let text = &db.get(id).text;
            let py = pyapp::read(text);
            EnvFacts {
                advisory_lock: py
                    .effects
                    .iter()
                    .find(|e| e.kind == EffectKind::AdvisoryLock)
                    .map(|e| Span::new(id, e.start, e.end)),
                transaction_per_migration: text.contains("transaction_per_migration=True"),
            }
        });
        m.env.push(facts.unwrap_or_default());
    }
    let mut b = Builder {
        db,
        read,
        files: &inputs.files,
        root: inputs.root.clone(),
        script_runs: BTreeMap::new(),
        python_run_by: BTreeMap::new(),
        py: BTreeMap::new(),
        image: None,
    };
    // Python application code.
    for p in &inputs.python {
        if let Some((id, facts)) = b.python(p) {
            m.apps.push(AppFile {
                file: id,
                facts,
                startup: Vec::new(),
            });
        }
    }
    // Workflows: read in order, parsed in parallel.
    let ids: Vec<FileId> = inputs
        .workflows
        .iter()
        .filter_map(|p| (b.read)(p, b.db))
        .collect();
    let db: &FileDb = b.db;
    let parsed: Vec<(Vec<Workflow>, Vec<FileIssue>)> = ids
        .par_iter()
        .map(|&id| {
            let mut issues = Vec::new();
            let docs = load_yaml(id, db, &mut issues);
            (docs.iter().map(|d| Workflow::read(id, d)).collect(), issues)
        })
        .collect();
    for (wfs, issues) in parsed {
        m.workflows.extend(wfs);
        m.issues.extend(issues);
    }
    let root = b.root.clone();
    for (wi, wf) in m.workflows.iter().enumerate() {
        for (ji, job) in wf.jobs.iter().enumerate() {
            for (si, step) in job.steps.iter().enumerate() {
                let Some((sp, list)) = &step.run else {
                    continue;
                };
                let runs = b.expand(list, wf.file, &root, &[]);
                let mut env = wf.env.clone();
                env.extend(job.env.iter().cloned());
                env.extend(step.env.iter().cloned());
                m.surfaces.push(Surface {
                    kind: SurfaceKind::Step {
                        workflow: wi,
                        job: ji,
                        step: si,
                    },
                    span: *sp,
                    runs,
                    env,
                    test: false,
                });
            }
        }
    }
    // Dockerfiles.
    let mut dockerfile_paths: Vec<PathBuf> = Vec::new();
    for p in &inputs.dockerfiles {
        let Some(id) = (b.read)(p, b.db) else {
            continue;
        };
        let dir = p.parent().unwrap_or(Path::new("/")).to_path_buf();
        let (df, builds) = b.dockerfile(id, &dir);
        b.image = None;
        let di = m.dockerfiles.len();
        for (sp, runs) in builds {
            m.surfaces.push(Surface {
                kind: SurfaceKind::ImageBuild { dockerfile: di },
                span: sp,
                runs,
                env: df.env.clone(),
                test: false,
            });
        }
        let mut runs = Vec::new();
        let mut at = None;
        b.image = Some(df.clone());
        for (sp, list) in df.entrypoint.iter().chain(&df.cmd) {
            at.get_or_insert(*sp);
            runs.extend(b.expand(list, id, &dir, &[]));
        }
        b.image = None;
        if let Some(sp) = at {
            // `Dockerfile.dev`, `local.dockerfile`: a developer's image, not the one deployed.
            let dev = crate::model::compose::dev_path(p);
            m.surfaces.push(Surface {
                kind: SurfaceKind::ImageStart { dockerfile: di },
                span: sp,
                runs,
                env: df.env.clone(),
                test: dev,
            });
        }
        m.dockerfiles.push(df);
        dockerfile_paths.push(crate::discover::normalize(p));
    }
    // Procfile, railway.toml, fly.toml.
    for p in &inputs.platform {
        let Some(id) = (b.read)(p, b.db) else {
            continue;
        };
        let dir = p.parent().unwrap_or(Path::new("/")).to_path_buf();
        for (kind, sp, list) in platform_commands(id, p, &b.db.get(id).text) {
            let runs = b.expand(&list, id, &dir, &[]);
            m.surfaces.push(Surface {
                kind,
                span: sp,
                runs,
                env: Vec::new(),
                test: false,
            });
        }
    }
    // Compose files: those found by name, then those a deploy command names.
    let mut compose_paths: Vec<(PathBuf, Option<Span>)> =
        inputs.compose.iter().map(|p| (p.clone(), None)).collect();
    // Any repository script that runs `docker stack deploy`, called from a workflow or not.
    let mut stack_scripts: Vec<Surface> = Vec::new();
    // A script or workflow pushes an image to a registry: what it built is deployed elsewhere.
    let mut pushes_image = m
        .workflows
        .iter()
        .any(|w| pushes_an_image(&b.db.get(w.file).text));
    for p in inputs
        .files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sh" || e == "bash"))
    {
        let Ok(text) = std::fs::read_to_string(p) else {
            continue;
        };
        pushes_image |= pushes_an_image(&text);
        if !text.contains("stack deploy") {
            continue;
        }
        let Some(id) = (b.read)(p, b.db) else {
            continue;
        };
        let list = CommandList::from_shell(&text);
        let runs: Vec<Run> = list.commands.iter().map(|c| run_of(c, id)).collect();
        stack_scripts.push(Surface {
            kind: SurfaceKind::PlatformStart,
            span: Span::file_start(id),
            runs,
            env: script_assignments(&text),
            test: false,
        });
    }
    for s in m.surfaces.iter().chain(&stack_scripts) {
        for r in &s.runs {
            if let CommandKind::Deploy(DeployKind::StackDeploy { files, .. }) = &r.kind {
                let file = b.db.get(r.span.file);
                let base = file.path.parent().map(Path::to_path_buf);
                let mut vars = s.env.clone();
                vars.extend(script_assignments(&file.text));
                vars.extend(r.env.iter().cloned());
                for f in files {
                    let base = base.clone().unwrap_or_else(|| root.clone());
                    let Some(name) = expand_vars(&f.text, &vars) else {
                        continue;
                    };
                    if let Some(path) = b.resolve(&name, &base) {
                        compose_paths.push((path, Some(r.span)));
                        continue;
                    }
                    // `docker compose -f F config > docker-stack.yml`, then
                    // `docker stack deploy -c docker-stack.yml`: the file is generated, and
                    // F is what is deployed.
                    for source in rendered_from(&file.text, &name) {
                        // `F=${F:-docker-compose.yml}`: the caller's value where it sets one
                        // (a workflow's `env:`), else the default.
                        let Some(once) = expand_vars(&source, &vars) else {
                            continue;
                        };
                        let given: Vec<(String, String)> = vars
                            .iter()
                            .filter(|(_, v)| !v.contains('$'))
                            .cloned()
                            .collect();
                        let src = if once.contains('$') {
                            expand_vars(&once, &given)
                        } else {
                            Some(once)
                        };
                        if let Some(path) = src.and_then(|s| b.resolve(&s, &base)) {
                            compose_paths.push((path, Some(r.span)));
                        }
                    }
                }
            }
        }
    }
    // Read in order (first mention wins; a later `docker stack deploy` marks the file),
    // parse in parallel.
    let mut seen: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut files: Vec<(PathBuf, FileId, Option<Span>)> = Vec::new();
    for (p, deployed_by) in compose_paths {
        if let Some(&i) = seen.get(&p) {
            if let (Some(by), Some(f)) = (deployed_by, files.get_mut(i)) {
                f.2.get_or_insert(by);
            }
            continue;
        }
        let Some(id) = (b.read)(&p, b.db) else {
            continue;
        };
        seen.insert(p.clone(), files.len());
        files.push((p, id, deployed_by));
    }
    let db: &FileDb = b.db;
    let parsed: Vec<(Option<ComposeFile>, Vec<FileIssue>)> = files
        .par_iter()
        .map(|(p, id, deployed_by)| {
            let mut issues = Vec::new();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let docs = load_yaml(*id, db, &mut issues);
            let c = docs.first().map(|doc| {
                let mut c = ComposeFile::read(*id, &name, doc);
                if let Some(by) = deployed_by {
                    c.stack = Some(StackReason::DeployedBy(*by));
                }
                c
            });
            (c, issues)
        })
        .collect();
    // Where the repository names the files `docker stack deploy` takes, those are its stack
    // files: another file that merely looks like one (its name, a swarm key) is run with
    // `docker compose`, or not at all.
    let explicit = files.iter().any(|(_, _, by)| by.is_some());
    let parsed: Vec<(Option<ComposeFile>, Vec<FileIssue>)> = parsed
        .into_iter()
        .map(|(c, issues)| {
            let c = c.map(|mut c| {
                if explicit && !matches!(c.stack, Some(StackReason::DeployedBy(_))) {
                    c.stack = None;
                }
                c
            });
            (c, issues)
        })
        .collect();
    let mut compose_dirs: Vec<PathBuf> = Vec::new();
    for ((p, id, _), (c, issues)) in files.iter().zip(parsed) {
        m.issues.extend(issues);
        let Some(c) = c else { continue };
        let ci = m.compose.len();
        let dir = p.parent().unwrap_or(Path::new("/")).to_path_buf();
        for (si, svc) in c.services.iter().enumerate() {
            let (runs, env) = b.service_runs(svc, *id, &dir, &m.dockerfiles);
            m.surfaces.push(Surface {
                kind: SurfaceKind::Service {
                    compose: ci,
                    service: si,
                },
                span: svc.key,
                runs,
                env,
                // A development compose file starts a developer's stack, not a deploy; so
                // does a service that builds a developer's image (`dockerfile: Dockerfile.dev`).
                test: c.dev
                    || svc
                        .build
                        .as_ref()
                        .and_then(|(_, name)| name.as_deref())
                        .is_some_and(|n| crate::model::compose::dev_path(Path::new(n))),
            });
        }
        m.compose.push(c);
        compose_dirs.push(dir);
    }
    let heroku_yml = inputs
        .files
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == "heroku.yml"));
    if !heroku_yml && !pushes_image {
        developers_images(&mut m, &dockerfile_paths, &compose_dirs);
    }
    m.python_run_by = std::mem::take(&mut b.python_run_by);
    m.flags_off = b.flags_off(&m.apps);
    // Which application code runs at startup.
    for app in &mut m.apps {
        app.startup = startup_effects(&app.facts);
    }
    let tests: Vec<bool> = m.surfaces.iter().map(|s| m.test_database(s)).collect();
    for (s, t) in m.surfaces.iter_mut().zip(tests) {
        s.test |= t;
    }
    // A workflow job is a deploy surface when it deploys or migrates a real database.
    let deploying: BTreeSet<(usize, usize)> = (0..m.workflows.len())
        .flat_map(|w| {
            m.deploying_jobs(w)
                .into_iter()
                .map(move |d| (w, d.job))
                .collect::<Vec<_>>()
        })
        .collect();
    for s in &mut m.surfaces {
        if let SurfaceKind::Step { workflow, job, .. } = s.kind {
            s.test |= !deploying.contains(&(workflow, job));
        }
    }
    m.surfaces
        .sort_by_key(|s| (s.span.file, s.span.start, s.span.end));
    for (i, s) in m.surfaces.iter().enumerate() {
        if let SurfaceKind::Service { compose, service } = s.kind {
            m.by_service.insert((compose, service), i);
        }
    }
    m
}

/// A file where a deploy may set an environment variable or a setting: `.env*`, a
/// Dockerfile, a `Procfile`, YAML, a shell script, TOML, JSON, INI or `.cfg`.
fn may_set_variables(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.starts_with(".env")
        || name.starts_with("dockerfile")
        || name == "procfile"
        || [
            ".yml", ".yaml", ".sh", ".toml", ".json", ".env", ".ini", ".cfg",
        ]
        .iter()
        .any(|e| name.ends_with(e))
}

/// The setting a condition reads when it is only a dotted name ending in an identifier:
/// `DATABASE_AUTO_CREATE_TABLES` in `settings.DATABASE_AUTO_CREATE_TABLES`. A bare name, a
/// call or a comparison is not a setting.
fn setting_name(cond: &str) -> Option<&str> {
    let cond = cond.trim();
    let (owner, name) = cond.rsplit_once('.')?;
    let ident = |w: &str| {
        !w.is_empty()
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !w.starts_with(|c: char| c.is_ascii_digit())
    };
    (owner.split('.').all(ident) && ident(name) && name.len() > 3).then_some(name)
}

/// How a settings module declares `name` at the start of a line: `Some(false)` for
/// `name: bool = False` (or `= False`, `= Field(False)`, `= Field(default=False)`),
/// `Some(true)` for any other value, `None` when it does not declare it.
fn declared_default(text: &str, name: &str) -> Option<bool> {
    let mut found = None;
    for line in text.lines() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix(name) else {
            continue;
        };
        let rest = rest.trim_start();
        let value = if let Some(r) = rest.strip_prefix(':') {
            match r.split_once('=') {
                Some((_, v)) => v,
                None => continue,
            }
        } else if let Some(v) = rest.strip_prefix('=') {
            if v.starts_with('=') {
                continue;
            }
            v
        } else {
            continue;
        };
        let v: String = value
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let off = matches!(
            v.as_str(),
            "False"
                | "Field(False)"
                | "Field(default=False)"
                | "Field(False,"
                | "Field(default=False,"
        ) || v.starts_with("Field(False,")
            || v.starts_with("Field(default=False,");
        if !off {
            return Some(true);
        }
        found = Some(false);
    }
    found
}

/// Load a YAML file, reporting what the loader refused; `parse-error` shows them.
fn load_yaml(
    id: FileId,
    db: &FileDb,
    issues: &mut Vec<FileIssue>,
) -> Vec<crate::parse::yaml::YamlNode> {
    let f = db.get(id);
    // A Jinja template (`{% if ... %}`) is not YAML until rendered.
    if f.text.contains("{%") && f.text.contains("%}") {
        return Vec::new();
    }
    let loaded = crate::parse::yaml::load(&f.text);
    for i in &loaded.issues {
        issues.push(FileIssue {
            span: span(id, i.loc),
            message: format!("{}: {}", f.display, i.message),
            label: match i.kind {
                crate::parse::yaml::IssueKind::DuplicateKey => "duplicate key",
                crate::parse::yaml::IssueKind::AliasBudget => "alias expansion refused here",
                crate::parse::yaml::IssueKind::TooDeep => "nested too deeply",
                crate::parse::yaml::IssueKind::InvalidMerge => "not a mapping",
                crate::parse::yaml::IssueKind::UnresolvedAlias => "unknown alias",
                crate::parse::yaml::IssueKind::Syntax => "invalid YAML",
            },
        });
    }
    loaded.documents
}

impl Builder<'_> {
    /// The guards of `create_all()` calls that read a setting declared `False` by default in
    /// a settings module (a file whose name says `config` or `settings`), where no deploy
    /// file (compose, `.env`, Dockerfile, script, Procfile, TOML or JSON) names the setting.
    fn flags_off(&mut self, apps: &[AppFile]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let guards: BTreeSet<(String, String)> = apps
            .iter()
            .flat_map(|a| &a.facts.effects)
            .filter(|e| e.kind == pyapp::EffectKind::CreateAll)
            .flat_map(|e| &e.guards)
            .filter(|g| !g.negated)
            .filter_map(|g| setting_name(&g.text).map(|n| (g.text.clone(), n.to_string())))
            .collect();
        if guards.is_empty() {
            return out;
        }
        let lower = |p: &Path| p.to_string_lossy().to_ascii_lowercase();
        let settings: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|p| {
                let l = lower(p);
                l.ends_with(".py") && (l.contains("config") || l.contains("settings"))
            })
            .cloned()
            .collect();
        let deployish: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|p| may_set_variables(p))
            .cloned()
            .collect();
        // Per setting: declared `False` in some settings module, and otherwise in none.
        let mut defaults: BTreeMap<&str, (bool, bool)> = guards
            .iter()
            .map(|(_, n)| (n.as_str(), (false, false)))
            .collect();
        for p in &settings {
            let Some(id) = (self.read)(p, self.db) else {
                continue;
            };
            let text = &self.db.get(id).text;
            for (name, (off, other)) in defaults.iter_mut() {
                match declared_default(text, name) {
                    Some(false) => *off = true,
                    Some(true) => *other = true,
                    None => {}
                }
            }
        }
        // Those no deploy file names, each file read and upper-cased once.
        let mut unnamed: BTreeSet<String> = defaults
            .iter()
            .filter(|(_, (off, other))| *off && !*other)
            .map(|(n, _)| n.to_ascii_uppercase())
            .collect();
        for p in &deployish {
            if unnamed.is_empty() {
                break;
            }
            if let Some(id) = (self.read)(p, self.db) {
                let upper = self.db.get(id).text.to_ascii_uppercase();
                unnamed.retain(|n| !upper.contains(n.as_str()));
            }
        }
        for (text, name) in &guards {
            if unnamed.contains(&name.to_ascii_uppercase()) {
                out.insert(text.clone());
            }
        }
        out
    }

    fn python(&mut self, p: &Path) -> Option<(FileId, PyFacts)> {
        if let Some(v) = self.py.get(p) {
            return Some(v.clone());
        }
        let id = (self.read)(p, self.db)?;
        let text = &self.db.get(id).text;
        let facts = if pyapp::may_matter(text) {
            pyapp::read(text)
        } else {
            PyFacts::default()
        };
        self.py.insert(p.to_path_buf(), (id, facts.clone()));
        Some((id, facts))
    }

    /// A path as a command names it, relative to `base`, to the repository root, or (for an
    /// absolute path inside an image, `/app/scripts/migrate.sh`) by its longest suffix that is
    /// a repository file.
    fn resolve(&self, name: &str, base: &Path) -> Option<PathBuf> {
        if name.is_empty() || name.contains('$') {
            return None;
        }
        if let Some(p) = self.in_image(name, base) {
            return Some(p);
        }
        let rel = name.trim_start_matches("./");
        if !name.starts_with('/') {
            for dir in [base, self.root.as_path()] {
                let p = crate::discover::normalize(&dir.join(rel));
                if self.files.contains(&p) {
                    return Some(p);
                }
            }
        }
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        for i in 0..parts.len() {
            let tail = parts[i..].join("/");
            for dir in [base, self.root.as_path()] {
                let p = crate::discover::normalize(&dir.join(&tail));
                if self.files.contains(&p) {
                    return Some(p);
                }
            }
        }
        None
    }

    /// A path inside the image of the Dockerfile being read, mapped back through its
    /// `WORKDIR` and `COPY` instructions to a repository file (context: the Dockerfile's
    /// folder, then the repository root).
    fn in_image(&self, name: &str, base: &Path) -> Option<PathBuf> {
        let df = self.image.as_ref()?;
        let abs = image_path(&df.workdir, name);
        for (dest, src) in df.copies.iter().rev() {
            let src = src.trim_start_matches("./");
            let rest = if abs == *dest {
                if dest.ends_with('/') || src == "." || src.is_empty() {
                    continue;
                }
                Some(String::new())
            } else {
                abs.strip_prefix(&format!("{}/", dest.trim_end_matches('/')))
                    .map(str::to_string)
            };
            let Some(rest) = rest else { continue };
            let rel = if rest.is_empty() {
                src.to_string()
            } else if src == "." || src.is_empty() {
                rest.clone()
            } else if dest.ends_with('/') && !src.ends_with('/') && rest == basename(src) {
                src.to_string()
            } else {
                format!("{}/{rest}", src.trim_end_matches('/'))
            };
            for dir in [base, self.root.as_path()] {
                let p = crate::discover::normalize(&dir.join(&rel));
                if self.files.contains(&p) {
                    return Some(p);
                }
            }
        }
        None
    }

    /// Whether a Python script's run happens only under a command-line flag that this
    /// invocation (by a command in file `by`) does not pass, nor sets through the
    /// environment variable the option reads, or under another Alembic command than the
    /// one its first argument names.
    fn flag_off(&mut self, r: &Run, args: &[String], by: FileId) -> bool {
        let path = self.db.get(r.span.file).path.clone();
        let Some((_, facts)) = self.py.get(&path).cloned() else {
            return false;
        };
        let text = self.db.get(r.span.file).text.clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let at = r.span.start as usize;
        if pyapp::subcommand_off(&facts, &text, at, &args) {
            return true;
        }
        if !pyapp::flag_gated_off(&facts, &text, at, &args, &|_| false) {
            return false;
        }
        if !text.contains("envvar") {
            return true;
        }
        // The option reads an environment variable: is it set anywhere a deploy could set
        // it (the file that runs the script, compose, `.env`, Dockerfiles, scripts, YAML)?
        let mut vars: Vec<String> = Vec::new();
        for (i, w) in text.match_indices("envvar") {
            if let Some(v) = pyapp::envvar_value(&text[i + w.len()..]) {
                if !v.is_empty() && !v.contains('\n') {
                    vars.push(v.to_string());
                }
            }
        }
        let mut set: BTreeSet<String> = BTreeSet::new();
        let by_text = self.db.get(by).text.clone();
        set.extend(
            vars.iter()
                .filter(|v| by_text.contains(v.as_str()))
                .cloned(),
        );
        let deployish = may_set_variables;
        let candidates: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|p| deployish(p))
            .cloned()
            .collect();
        for p in candidates {
            if set.len() == vars.len() {
                break;
            }
            if let Some(id) = (self.read)(&p, self.db) {
                let t = &self.db.get(id).text;
                set.extend(vars.iter().filter(|v| t.contains(v.as_str())).cloned());
            }
        }
        pyapp::flag_gated_off(&facts, &text, at, &args, &|v| set.contains(v))
    }

    /// The runs of a command list, following repo scripts one level deep.
    fn expand(&mut self, list: &CommandList, file: FileId, base: &Path, via: &[Span]) -> Vec<Run> {
        let mut out = Vec::new();
        let text = self.db.get(file).text.clone();
        let vars = script_assignments(&text);
        let mut last_migrate_end: Option<u32> = None;
        // The functions (and the top level, `None`) whose last command is a Dockerfile
        // instruction (`CMD gunicorn …` pasted into a shell script): they end with "command
        // not found" whatever the migration did, so they fail and start nothing. Found once,
        // not per command.
        let mut last: BTreeMap<&Option<String>, bool> = BTreeMap::new();
        for n in list.commands.iter().filter(|n| !n.subshell_or_substitution) {
            let keyword = n
                .argv
                .first()
                .is_some_and(|w| DOCKERFILE_INSTRUCTIONS.contains(&w.text.as_str()));
            last.insert(&n.in_function, keyword);
        }
        let ends_failing: BTreeSet<&Option<String>> = last
            .into_iter()
            .filter(|(_, k)| *k)
            .map(|(f, _)| f)
            .collect();
        for (i, c) in list.commands.iter().enumerate() {
            let mut run = run_of(c, file);
            // A later command at the same level runs after this one whatever its status; one
            // in a later arm of the same `case` (past a `;;` and before `esac`) does not run.
            let followed = list.commands[i + 1..].iter().any(|n| {
                n.in_function == c.in_function
                    && !n.subshell_or_substitution
                    && !n.background
                    && !other_case_arm(text.get(c.end as usize..n.start as usize).unwrap_or(""))
                    && !other_if_arm(text.get(c.end as usize..n.start as usize).unwrap_or(""))
            });
            let ends_failing = ends_failing.contains(&c.in_function);
            run.unchecked_no_errexit = !c.errexit
                && !c.errexit_off
                && !c.status_checked
                && !c.in_condition
                && !c.subshell_or_substitution
                && c.failure_ignored.is_none()
                && followed
                && !ends_failing;
            run.via = via.to_vec();
            if let Some(end) = last_migrate_end {
                let between = text.get(end as usize..c.start as usize).unwrap_or("");
                run.after_failed_migrate = between.trim().starts_with("||");
            }
            if run.migrates() {
                last_migrate_end = Some(c.end);
            }
            let concrete = |p: &str| {
                // `. "$PRE_START_PATH"` with `PRE_START_PATH=${PRE_START_PATH:-/app/prestart.sh}`.
                let once = expand_vars(p, &vars)?;
                if once.contains('$') {
                    // `X=${X:-default}`: the environment does not set it, so the default.
                    expand_vars(&once, &[])
                } else {
                    Some(once)
                }
            };
            let script = match &c.kind {
                CommandKind::RunScript { path, lang } => concrete(path).map(|p| (p, *lang)),
                CommandKind::Source { path } => concrete(path).map(|p| (p, Lang::Shell)),
                _ => None,
            };
            let span = run.span;
            out.push(run);
            if via.len() >= 2 {
                continue;
            }
            if let Some((path, lang)) = script {
                let mut chain = via.to_vec();
                chain.push(span);
                // A sourced script runs in this shell: under this shell's `set -e`.
                let inherits_errexit =
                    matches!(c.kind, CommandKind::Source { .. }) && c.errexit && !c.errexit_off;
                // The words after the script (`setup.sh install-deps`, `migrate.sh -u`,
                // `app.py --run-migrations`, `entrypoint.sh gunicorn app:app`).
                let after = c
                    .argv
                    .iter()
                    .position(|w| concrete(&w.text).as_ref() == Some(&path))
                    .map_or(&c.argv[..0], |at| &c.argv[at + 1..]);
                // The script's first argument, when it is a literal, picks one arm of a
                // `case "$1" in` and the other arms do not run.
                let first_arg = after
                    .first()
                    .map(|w| w.text.clone())
                    .filter(|a| !a.contains('$') && !a.starts_with('-'));
                // The option letters given, for a script that reads them with `getopts`.
                // Unknown when a word after the script is not literal.
                let flags: Option<Vec<char>> = (!after.is_empty()
                    && !after.iter().any(|w| w.text.contains('$'))
                    && after[0].text.starts_with('-'))
                .then(|| {
                    after
                        .iter()
                        .filter(|w| w.text.starts_with('-') && !w.text.starts_with("--"))
                        .flat_map(|w| w.text[1..].chars())
                        .collect()
                });
                // For the effects a Python script runs only under a flag (`if
                // make_migrations:`).
                let py_args: Option<Vec<String>> =
                    (lang == Lang::Python).then(|| after.iter().map(|w| w.text.clone()).collect());
                for mut r in self.script(&path, lang, base, span) {
                    if let Some(args) = &py_args {
                        if self.flag_off(&r, args, file) {
                            continue;
                        }
                    }
                    if lang == Lang::Shell {
                        let text = &self.db.get(r.span.file).text;
                        let at = r.span.start as usize;
                        if first_arg
                            .as_ref()
                            .is_some_and(|a| !case_arm_runs(text, at, a))
                            || flags
                                .as_ref()
                                .is_some_and(|f| !getopts_arm_runs(text, at, f))
                        {
                            continue;
                        }
                    }
                    let mut v = chain.clone();
                    v.extend(r.via.iter().copied());
                    r.via = v;
                    if inherits_errexit {
                        r.unchecked_no_errexit = false;
                    }
                    out.push(r);
                }
                // `entrypoint.sh gunicorn app:app`: the words after the script are the
                // command it hands over to (`exec "$@"`).
                if lang == Lang::Shell && !after.is_empty() {
                    let rest: Vec<(String, u32, u32)> = after
                        .iter()
                        .map(|w| (w.text.clone(), w.start, w.end))
                        .collect();
                    let handed = CommandList::from_exec(&rest);
                    for h in &handed.commands {
                        if !matches!(h.kind, CommandKind::Other) {
                            out.push(run_of(h, file));
                        }
                    }
                }
            }
        }
        out
    }

    /// The runs a repo script makes itself (not following further).
    fn script(&mut self, name: &str, lang: Lang, base: &Path, by: Span) -> Vec<Run> {
        let candidates: Vec<String> = match lang {
            Lang::Python if !name.ends_with(".py") => {
                // `python -m pkg.mod`
                let m = name.replace('.', "/");
                vec![format!("{m}.py"), format!("{m}/__main__.py")]
            }
            _ => vec![name.to_string()],
        };
        let Some(path) = candidates.iter().find_map(|c| self.resolve(c, base)) else {
            return Vec::new();
        };
        let is_py = path.extension().is_some_and(|e| e == "py") || lang == Lang::Python;
        if is_py {
            if let Some((id, _)) = self.python(&path) {
                let by_list = self.python_run_by.entry(id).or_default();
                if !by_list.contains(&by) {
                    by_list.push(by);
                }
            }
        }
        if let Some(done) = self.script_runs.get(&path) {
            return done.clone().unwrap_or_default();
        }
        // Mark first: a script that names itself is read once.
        self.script_runs.insert(path.clone(), None);
        let runs = if is_py {
            match self.python(&path) {
                Some((id, facts)) => python_runs(id, &facts, &self.db.get(id).text),
                None => Vec::new(),
            }
        } else {
            match (self.read)(&path, self.db) {
                Some(id) => {
                    let text = self.db.get(id).text.clone();
                    let list = CommandList::from_shell(&text);
                    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
                    // The marker tells `expand` it is inside a script; a script the
                    // script runs is followed too (each script is read once, so a cycle
                    // or a script that sources itself ends here).
                    let marker = Span::file_start(id);
                    let mut runs = self.expand(&list, id, &dir, &[marker]);
                    for r in &mut runs {
                        if r.via.first() == Some(&marker) {
                            r.via.remove(0);
                        }
                    }
                    runs
                }
                None => Vec::new(),
            }
        };
        self.script_runs.insert(path, Some(runs.clone()));
        runs
    }

    fn dockerfile(&mut self, id: FileId, dir: &Path) -> (Dockerfile, Vec<(Span, Vec<Run>)>) {
        let text = self.db.get(id).text.clone();
        let mut df = Dockerfile {
            file: id,
            env: Vec::new(),
            entrypoint: None,
            cmd: None,
            copies: Vec::new(),
            workdir: "/".into(),
            stages: Vec::new(),
        };
        let mut stages: Vec<(String, Dockerfile)> = Vec::new();
        let mut stage_name: Option<String> = None;
        let mut builds = Vec::new();
        for ins in shell::dockerfile_instructions(&text) {
            let sp = Span::new(id, ins.start as usize, ins.end as usize);
            let list = CommandList::from_instr(&ins);
            match ins.keyword.as_str() {
                "FROM" => {
                    if let Some(n) = stage_name.take() {
                        stages.push((n, df.clone()));
                    }
                    // `FROM <image> [AS <name>]`; flags such as `--platform` are apart.
                    let words: Vec<&str> = match &ins.form {
                        shell::Form::Shell(t) => t.split_whitespace().collect(),
                        shell::Form::Exec(_) => Vec::new(),
                    };
                    let base = words.first().map(|w| w.to_ascii_lowercase());
                    stage_name = match words.as_slice() {
                        [_, kw, name, ..] if kw.eq_ignore_ascii_case("as") => {
                            Some(name.to_ascii_lowercase())
                        }
                        _ => None,
                    };
                    // A stage built on an earlier stage inherits its start command, variables
                    // and files; any other base starts a fresh image as far as we can see.
                    match base.and_then(|b| stages.iter().rev().find(|(n, _)| *n == b)) {
                        Some((_, earlier)) => df = earlier.clone(),
                        None => {
                            df.entrypoint = None;
                            df.cmd = None;
                            df.copies.clear();
                            df.workdir = "/".into();
                        }
                    }
                }
                "WORKDIR" => {
                    if let shell::Form::Shell(w) = &ins.form {
                        df.workdir = image_path(&df.workdir, w.trim());
                    }
                }
                "COPY" | "ADD" => {
                    let from_stage = ins.flags.iter().any(|(f, _, _)| f.starts_with("--from"));
                    let words: Vec<String> = match &ins.form {
                        shell::Form::Shell(t) => t.split_whitespace().map(str::to_string).collect(),
                        shell::Form::Exec(a) => a.iter().map(|(t, _, _)| t.clone()).collect(),
                    };
                    if let (false, Some((dest, srcs))) = (from_stage, words.split_last()) {
                        let dest = image_path(&df.workdir, dest);
                        for src in srcs {
                            df.copies.push((dest.clone(), src.clone()));
                        }
                    }
                }
                "ENV" => {
                    if let shell::Form::Shell(s) = &ins.form {
                        df.env.extend(dockerfile_env(s));
                    }
                }
                "RUN" => {
                    self.image = Some(df.clone());
                    let runs = self.expand(&list, id, dir, &[]);
                    builds.push((sp, runs));
                }
                "CMD" => df.cmd = Some((sp, list)),
                "ENTRYPOINT" => df.entrypoint = Some((sp, list)),
                _ => {}
            }
        }
        if let Some(n) = stage_name.take() {
            stages.push((n, df.clone()));
        }
        df.stages = stages;
        (df, builds)
    }

    /// A service's effective start: its `entrypoint` (or the image's) then its `command` (or
    /// the image's `CMD` when the service sets neither).
    fn service_runs(
        &mut self,
        svc: &Service,
        file: FileId,
        dir: &Path,
        dockerfiles: &[Dockerfile],
    ) -> (Vec<Run>, Vec<(String, String)>) {
        // The image is the Dockerfile's `build.target` stage, or its final stage.
        let image = svc.dockerfile_path(dir).and_then(|df| {
            dockerfiles
                .iter()
                .find(|d| self.db.get(d.file).path == df)
                .and_then(|d| d.stage(svc.build_target.as_deref()))
                .cloned()
        });
        let mut runs = Vec::new();
        let mut env = svc.environment.clone();
        // Commands run inside the image: relative paths are relative to its WORKDIR, which
        // holds the build context; without a build, to the compose file's folder.
        let context = svc.build_context(dir).unwrap_or_else(|| dir.to_path_buf());
        let dir = context.as_path();
        self.image = image.clone();
        match (&svc.entrypoint, &image) {
            (Some(e), _) => runs.extend(self.expand(&e.list, file, dir, &[])),
            (None, Some(df)) => {
                if let Some((_, l)) = &df.entrypoint {
                    let d = self.db.get(df.file).path.parent().map(Path::to_path_buf);
                    runs.extend(self.expand(l, df.file, &d.unwrap_or_default(), &[]));
                }
            }
            _ => {}
        }
        match (&svc.command, &image) {
            (Some(c), _) => runs.extend(self.expand(&c.list, file, dir, &[])),
            (None, Some(df)) if svc.entrypoint.is_none() => {
                if let Some((_, l)) = &df.cmd {
                    let d = self.db.get(df.file).path.parent().map(Path::to_path_buf);
                    runs.extend(self.expand(l, df.file, &d.unwrap_or_default(), &[]));
                }
            }
            _ => {}
        }
        if let Some(df) = &image {
            env.extend(df.env.iter().cloned());
        }
        self.image = None;
        (runs, env)
    }
}

fn run_of(c: &command::Command, file: FileId) -> Run {
    let target_text = match &c.kind {
        CommandKind::Migrate { target, .. }
        | CommandKind::Stamp { target }
        | CommandKind::Downgrade { target } => target.text().map(str::to_string),
        _ => None,
    };
    let target = target_text.and_then(|t| {
        c.argv
            .iter()
            .rev()
            .find(|w| w.text == t)
            .map(|w| Span::new(file, w.start as usize, w.end as usize))
    });
    Run {
        kind: c.kind.clone(),
        span: Span::new(file, c.start as usize, c.end as usize),
        target,
        via: Vec::new(),
        failure_ignored: c.failure_ignored.as_ref().map(|i| {
            (
                i.how.clone(),
                Span::new(file, i.start as usize, i.end as usize),
            )
        }),
        unchecked_errexit_off: c.errexit_off && !c.status_checked,
        unchecked_no_errexit: false,
        guards: c
            .guards
            .iter()
            .map(|g| (g.text.clone(), g.negated))
            .collect(),
        after_failed_migrate: false,
        env: c.env.clone(),
        over_ssh: c.wrappers.iter().any(|w| w.contains("ssh")),
        in_running_container: c
            .wrappers
            .iter()
            .any(|w| w == "docker compose exec" || w == "docker exec")
            && !c.wrappers.iter().any(|w| w == command::REMOTE_DOCKER),
    }
}

/// The runs a Python script makes: Alembic/Flask-Migrate API calls and shell commands.
pub fn python_runs(id: FileId, facts: &PyFacts, text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    for e in &facts.effects {
        let sp = Span::new(id, e.start, e.end);
        let lit = |t: &pyapp::Target| match t {
            pyapp::Target::Literal { value, start, end } => {
                (Target::parse(value), Some(Span::new(id, *start, *end)))
            }
            pyapp::Target::Default => (Target::Head, None),
            pyapp::Target::Unknown { start, end } => (
                Target::Unknown(text.get(*start..*end).unwrap_or("").to_string()),
                Some(Span::new(id, *start, *end)),
            ),
        };
        let (kind, target) = match &e.kind {
            EffectKind::Upgrade { target, flask } => {
                let (t, s) = lit(target);
                (
                    CommandKind::Migrate {
                        tool: if *flask {
                            command::Tool::FlaskDb
                        } else {
                            command::Tool::Alembic
                        },
                        target: t,
                    },
                    s,
                )
            }
            EffectKind::Stamp { target } => {
                let (t, s) = lit(target);
                (CommandKind::Stamp { target: t }, s)
            }
            EffectKind::Downgrade { target } => {
                let (t, s) = lit(target);
                (CommandKind::Downgrade { target: t }, s)
            }
            EffectKind::Autogenerate => (CommandKind::Autogenerate, None),
            EffectKind::Merge => (CommandKind::Merge, None),
            EffectKind::Shell { line, argv } => {
                let mut list = match line {
                    Some(l) => {
                        let mut l = CommandList::from_shell(l);
                        let at = e.start as u32;
                        l.map_offsets(|_| at);
                        l
                    }
                    None => {
                        let args: Vec<(String, u32, u32)> = argv
                            .iter()
                            .map(|(t, s, en)| (t.clone(), *s as u32 + 1, *en as u32))
                            .collect();
                        CommandList::from_exec(&args)
                    }
                };
                for c in std::mem::take(&mut list.commands) {
                    let mut r = run_of(&c, id);
                    if r.span.start == r.span.end {
                        r.span = sp;
                    }
                    r.guards = e
                        .guards
                        .iter()
                        .map(|g| (g.text.clone(), g.negated))
                        .collect();
                    out.push(r);
                }
                continue;
            }
            _ => continue,
        };
        out.push(Run {
            kind,
            span: sp,
            target,
            via: Vec::new(),
            failure_ignored: None,
            unchecked_errexit_off: false,
            unchecked_no_errexit: false,
            guards: e
                .guards
                .iter()
                .map(|g| (g.text.clone(), g.negated))
                .collect(),
            after_failed_migrate: false,
            env: Vec::new(),
            over_ssh: false,
            in_running_container: false,
        });
    }
    out
}

/// Whether function `i` runs when the application starts: a FastAPI lifespan or startup
/// handler, a Flask `create_app`-style factory, or a function module-level code of a module
/// that builds the app calls.
pub fn startup_root(f: &PyFacts, i: usize) -> bool {
    let func = &f.functions[i];
    let deco = func.decorators.iter().any(|d| {
        let d = d.replace('\'', "\"");
        d.contains("on_event(\"startup\")")
            || d.ends_with("before_first_request")
            || d.ends_with("before_serving")
            || d.ends_with("on_startup")
            || d.ends_with(".startup")
    });
    let named = match func.name.as_str() {
        "create_app" | "make_app" | "build_app" | "get_app" => true,
        // A lifespan the module's own app does not take (`FastAPI()` without `lifespan=`)
        // never runs; one defined for an app built elsewhere may.
        "lifespan" | "app_lifespan" => !f.builds_app || f.lifespan_refs.contains(&func.name),
        _ => false,
    };
    deco || named
        || f.lifespan_refs.contains(&func.name)
        || (f.builds_app && f.module_refs.contains(&func.name))
}

/// Effects of a Python file that run when the application starts: in FastAPI lifespan or
/// startup handlers, Flask `create_app`, or at import of a module that builds the app,
/// and in the module's functions those call.
pub fn startup_effects(f: &PyFacts) -> Vec<usize> {
    let roots: Vec<usize> = (0..f.functions.len())
        .filter(|&i| startup_root(f, i))
        .collect();
    let mut reach = vec![false; f.functions.len()];
    let mut stack = roots;
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut reach[i], true) {
            continue;
        }
        for r in &f.functions[i].refs {
            if let Some(j) = f.function(r) {
                if !reach[j] {
                    stack.push(j);
                }
            }
        }
    }
    f.effects
        .iter()
        .enumerate()
        .filter(|(_, e)| match e.function {
            Some(i) => reach[i],
            None => f.builds_app && !e.main_guard,
        })
        .map(|(i, _)| i)
        .collect()
}

/// An image path: absolute, or relative to `workdir`; `.` and `..` resolved.
fn image_path(workdir: &str, p: &str) -> String {
    let joined = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{p}", workdir.trim_end_matches('/'))
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if p.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

/// `ENV A=1 B="2"` and the legacy `ENV A 1`.
fn dockerfile_env(s: &str) -> Vec<(String, String)> {
    let s = s.trim();
    if !s.contains('=')
        || s.split_whitespace()
            .next()
            .is_some_and(|w| !w.contains('='))
    {
        if let Some((k, v)) = s.split_once(char::is_whitespace) {
            return vec![(k.to_string(), v.trim().to_string())];
        }
    }
    s.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// Start commands of Procfile, `railway.toml` and `fly.toml`.
fn platform_commands(id: FileId, path: &Path, text: &str) -> Vec<(SurfaceKind, Span, CommandList)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = Vec::new();
    if name == "procfile" {
        let mut off = 0usize;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_end();
            if let Some((proc_name, cmd)) = trimmed.split_once(':') {
                if !proc_name.starts_with('#') && !proc_name.contains(' ') {
                    let cmd_start = off + proc_name.len() + 1;
                    let mut l = CommandList::from_shell(cmd);
                    let base = cmd_start as u32;
                    l.map_offsets(|o| base + o);
                    let proc_name = proc_name.trim();
                    // A process type other than `web` that only runs Alembic (`init: flask db
                    // init`, `stamph: alembic stamp head`) is a task someone starts with
                    // `heroku run NAME`: the platform starts only `web` by itself, and such a
                    // process exits at once, so it is never scaled to run. `release` (and
                    // Scalingo's `postdeploy`) run on every deploy.
                    let one_off = !matches!(proc_name, "web" | "release" | "postdeploy")
                        && !l.commands.is_empty()
                        && l.commands.iter().all(|c| c.kind.is_alembic());
                    if one_off {
                        off += line.len();
                        continue;
                    }
                    let kind = if proc_name == "release" {
                        SurfaceKind::ReleasePhase
                    } else {
                        SurfaceKind::PlatformStart
                    };
                    out.push((kind, Span::new(id, off, off + trimmed.len()), l));
                }
            }
            off += line.len();
        }
        return out;
    }
    let Ok(doc) = text.parse::<toml::Table>() else {
        return out;
    };
    let mut add = |kind: SurfaceKind, cmd: &str| {
        // TOML spans are not kept by `toml::Table`: find the command's text in the file.
        let at = text.find(cmd).unwrap_or(0);
        let mut l = CommandList::from_shell(cmd);
        let base = at as u32;
        l.map_offsets(|o| base + o);
        out.push((kind, Span::new(id, at, at + cmd.len()), l));
    };
    let get = |t: &str, k: &str| {
        doc.get(t)
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    if name == "railway.toml" {
        if let Some(c) = get("deploy", "startCommand") {
            add(SurfaceKind::PlatformStart, &c);
        }
        if let Some(c) = get("deploy", "preDeployCommand") {
            add(SurfaceKind::ReleasePhase, &c);
        }
    } else if name == "fly.toml" {
        if let Some(c) = get("deploy", "release_command") {
            add(SurfaceKind::ReleasePhase, &c);
        }
        if let Some(procs) = doc.get("processes").and_then(|p| p.as_table()) {
            for v in procs.values() {
                if let Some(c) = v.as_str() {
                    add(SurfaceKind::PlatformStart, c);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_off_by_default() {
        assert_eq!(
            setting_name("settings.AUTO_CREATE_TABLES"),
            Some("AUTO_CREATE_TABLES")
        );
        assert_eq!(setting_name("self.config.reset_db"), Some("reset_db"));
        assert_eq!(setting_name("auto_create"), None);
        assert_eq!(setting_name("settings.X == 1"), None);
        assert_eq!(setting_name("is_ready()"), None);
        let cls = "class S(BaseSettings):\n    AUTO_CREATE_TABLES: bool = False  # legacy\n    AUTO_CREATE_TABLES_V2: bool = True\n";
        assert_eq!(declared_default(cls, "AUTO_CREATE_TABLES"), Some(false));
        assert_eq!(
            declared_default("X = Field(default=False, description='x')", "X"),
            Some(false)
        );
        assert_eq!(declared_default("X: bool = True", "X"), Some(true));
        assert_eq!(
            declared_default("X = os.getenv('X') == '1'", "X"),
            Some(true)
        );
        assert_eq!(declared_default("if X == False:", "X"), None);
        assert_eq!(declared_default("Y = False", "X"), None);
    }

    #[test]
    fn getopts_arms() {
        let script = "while getopts 'um:c' FLAG; do\n  case \"$FLAG\" in\n    u) flask db upgrade ;;\n    m) flask db migrate -m \"$OPTARG\" ;;\n    ?) exit 1 ;;\n  esac\ndone\nflask db current\n";
        let at = |needle: &str| script.find(needle).expect("in the script");
        assert!(getopts_arm_runs(script, at("flask db upgrade"), &['u']));
        assert!(!getopts_arm_runs(script, at("flask db migrate"), &['u']));
        assert!(getopts_arm_runs(
            script,
            at("flask db migrate"),
            &['u', 'm']
        ));
        assert!(getopts_arm_runs(script, at("exit 1"), &['u']));
        // After the `case`, every command runs.
        assert!(getopts_arm_runs(script, at("flask db current"), &['u']));
        // A `case` on another word is not the options'.
        let other = "while getopts 'u' FLAG; do :; done\ncase \"$MODE\" in\n  m) flask db migrate ;;\nesac\n";
        assert!(getopts_arm_runs(
            other,
            other.find("flask").unwrap(),
            &['u']
        ));
        // No getopts: nothing is known.
        let plain = "case \"$FLAG\" in\n  m) flask db migrate ;;\nesac\n";
        assert!(getopts_arm_runs(
            plain,
            plain.find("flask").unwrap(),
            &['u']
        ));
    }

    #[test]
    fn empty_database_guards() {
        assert!(empty_database_check("is_db_empty()", false));
        assert!(!empty_database_check("is_db_empty()", true));
        assert!(empty_database_check(
            "! psql \"$DATABASE_URL\" -c 'select 1 from alembic_version'",
            false
        ));
        assert!(empty_database_check(
            "not inspector.has_table(\"alembic_version\")",
            false
        ));
        assert!(!empty_database_check(
            "inspector.has_table(\"alembic_version\")",
            false
        ));
        assert!(!empty_database_check("[ \"$ENV\" = production ]", false));
    }

    #[test]
    fn env_lines() {
        assert_eq!(
            dockerfile_env("WEB_CONCURRENCY=4 A=\"x\""),
            vec![
                ("WEB_CONCURRENCY".to_string(), "4".to_string()),
                ("A".to_string(), "x".to_string())
            ]
        );
        assert_eq!(
            dockerfile_env("DATABASE_URL sqlite:///x.db"),
            vec![("DATABASE_URL".to_string(), "sqlite:///x.db".to_string())]
        );
    }
}

/// Environment keys that name the application's database.
const DB_KEYS: [&str; 8] = [
    "DATABASE_URL",
    "SQLALCHEMY_DATABASE_URI",
    "SQLALCHEMY_DATABASE_URL",
    "DB_URL",
    "DB_HOST",
    "POSTGRES_HOST",
    "POSTGRES_SERVER",
    "PGHOST",
];

/// Whether an environment names a database (`DATABASE_URL`, `*_DATABASE_URL`, `DB_HOST`…).
pub fn names_database(env: &[(String, String)]) -> bool {
    env.iter().any(|(k, _)| {
        let k = k.to_ascii_uppercase();
        DB_KEYS.contains(&k.as_str()) || k.ends_with("_DATABASE_URL") || k.ends_with("_DB_URL")
    })
}

/// A database URL in an environment that is local to the build or the runner: SQLite, or a
/// server on localhost.
pub fn local_database(env: &[(String, String)], extra_text: &str) -> bool {
    let local = |v: &str| {
        let v = v.to_ascii_lowercase();
        v.starts_with("sqlite") || v.contains("@localhost") || v.contains("@127.0.0.1")
    };
    env.iter().any(|(k, v)| {
        let k = k.to_ascii_uppercase();
        (k.contains("DATABASE") || k.contains("DB_URL") || k.contains("SQLALCHEMY")) && local(v)
    }) || extra_text.to_ascii_lowercase().contains("sqlite:")
}

/// Whether a job starts its own database on the runner: `docker compose up` there (not on a
/// remote host or context), or a local Kubernetes cluster (`kind create cluster`,
/// `minikube start`, `k3d cluster create`, their setup actions). What the job migrates then
/// lives and dies with the job: a test, not a deploy.
fn throwaway_stack(j: &crate::model::workflow::Job) -> bool {
    const CLUSTER_ACTIONS: [&str; 4] =
        ["kind-action", "setup-kind", "setup-minikube", "k3d-action"];
    if j.self_hosted {
        return false;
    }
    j.steps.iter().any(|st| {
        let remote = docker_env_remote(&st.env)
            || docker_env_remote(&j.env)
            || st.uses.as_ref().is_some_and(|u| u.lower().contains("ssh"));
        let action = st
            .uses
            .as_ref()
            .is_some_and(|u| CLUSTER_ACTIONS.iter().any(|a| u.lower().contains(a)));
        action
            || st.run.as_ref().is_some_and(|(_, list)| {
                list.commands.iter().any(|c| {
                    let w: Vec<&str> = c.argv.iter().map(|w| w.text.as_str()).collect();
                    let local = !remote && !c.wrappers.iter().any(|x| x == "ssh");
                    // `docker compose up -d db`, `docker compose run --detach db`: the stack
                    // runs on the runner.
                    let local_up = matches!(
                        c.kind,
                        CommandKind::Deploy(
                            DeployKind::ComposeUp { remote: false, .. }
                                | DeployKind::ComposeRun { remote: false, .. }
                        )
                    ) && local;
                    // `docker run -d --name postgres postgres:16`: a database container on
                    // the runner (a foreground one would block the job).
                    let db_container = local
                        && c.wrappers.iter().any(|x| x == "docker run")
                        && c.container.as_deref().is_some_and(|image| {
                            let name = image.split(['@', ':']).next().unwrap_or("");
                            matches!(
                                name.rsplit('/').next().unwrap_or(""),
                                "postgres"
                                    | "postgis"
                                    | "pgvector"
                                    | "timescaledb"
                                    | "mysql"
                                    | "mariadb"
                            )
                        });
                    local_up
                        || db_container
                        || w.starts_with(&["kind", "create", "cluster"])
                        || w.starts_with(&["minikube", "start"])
                        || w.starts_with(&["k3d", "cluster", "create"])
                })
            })
    })
}

/// Whether an environment points Docker at another machine: `DOCKER_HOST` that is not a unix
/// socket, or `DOCKER_CONTEXT`.
fn docker_env_remote(env: &[(String, String)]) -> bool {
    env.iter()
        .any(|(k, v)| (k == "DOCKER_HOST" || k == "DOCKER_CONTEXT") && command::elsewhere(v))
}

/// Whether a job points Docker at another machine: `DOCKER_HOST` (not a unix socket) or
/// `DOCKER_CONTEXT` in its environment, or `docker context use` / `export DOCKER_HOST=` in a
/// step.
fn docker_elsewhere(j: &crate::model::workflow::Job) -> bool {
    docker_env_remote(&j.env)
        || j.steps.iter().any(|st| {
            docker_env_remote(&st.env)
                || st.run.as_ref().is_some_and(|(_, list)| {
                    list.commands.iter().any(|c| {
                        let w: Vec<&str> = c.argv.iter().map(|w| w.text.as_str()).collect();
                        // `docker context use`, `export DOCKER_HOST=…`, or
                        // `echo "DOCKER_HOST=…" >> "$GITHUB_ENV"` for the later steps.
                        w.starts_with(&["docker", "context", "use"])
                            || w.iter().any(|a| {
                                ["DOCKER_HOST=", "DOCKER_CONTEXT="]
                                    .iter()
                                    .any(|k| a.strip_prefix(k).is_some_and(command::elsewhere))
                            })
                    })
                })
        })
}

/// How a compose service uses migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceRole {
    /// Migrates, then exits.
    Migrate,
    /// Migrates, then starts a server.
    MigrateThenServe,
    Other,
}

impl DeployModel {
    pub fn role(&self, compose: usize, service: usize) -> ServiceRole {
        let Some(s) = self.service_surface(compose, service) else {
            return ServiceRole::Other;
        };
        let Some(m) = s.runs.iter().position(Run::migrates) else {
            return ServiceRole::Other;
        };
        // The application itself migrates and then serves: its entry script (`run.py`) is the
        // service's command and runs the migration from inside, or starts after it.
        // A service that publishes ports serves them: a one-shot migration listens on none.
        let publishes = self
            .compose
            .get(compose)
            .and_then(|f| f.services.get(service))
            .is_some_and(|svc| svc.ports.is_some());
        if publishes
            || s.runs[m..].iter().any(|r| r.serves() || r.starts_an_app())
            || s.runs[..m].iter().any(Run::starts_an_app)
        {
            ServiceRole::MigrateThenServe
        } else {
            ServiceRole::Migrate
        }
    }

    /// Whether a workflow step migrates a throwaway database (a `services:` container, a
    /// localhost server, SQLite): a test, not a deploy.
    fn test_database(&self, s: &Surface) -> bool {
        let SurfaceKind::Step { workflow, job, .. } = s.kind else {
            return false;
        };
        let j = &self.workflows[workflow].jobs[job];
        // A step that reaches another host deploys, whatever else the job starts locally.
        let SurfaceKind::Step { step, .. } = s.kind else {
            return false;
        };
        let remote = s.runs.iter().any(|r| r.over_ssh)
            || j.steps[step]
                .uses
                .as_ref()
                .is_some_and(|u| u.lower().contains("ssh"));
        if !j.db_services.is_empty() || (!remote && throwaway_stack(j)) {
            return true;
        }
        // A repository script the step runs starts the stack on the runner (`docker compose
        // up`), or the migration runs in a container already running there (`docker compose
        // exec`): a GitHub-hosted runner is a fresh machine, so this job started it.
        if !remote && !j.self_hosted && !docker_elsewhere(j) {
            let local = |r: &Run| !r.over_ssh && !docker_env_remote(&r.env);
            let starts_stack = s.runs.iter().any(|r| {
                local(r)
                    && matches!(
                        r.kind,
                        CommandKind::Deploy(DeployKind::ComposeUp { remote: false, .. })
                    )
            });
            let alembic = |r: &&Run| r.kind.is_alembic();
            let mut alembic_runs = s.runs.iter().filter(alembic).peekable();
            let in_container = alembic_runs.peek().is_some()
                && alembic_runs.all(|r| local(r) && r.in_running_container);
            if starts_stack || in_container {
                return true;
            }
        }
        local_database(&s.env, "") || s.runs.iter().any(|r| local_database(&r.env, ""))
    }

    /// Surfaces that deploy: everything but image builds (`RUN`, which
    /// `migration-in-image-build` judges) and workflow steps that migrate a test database.
    pub fn deploy_surfaces(&self) -> impl Iterator<Item = &Surface> {
        self.surfaces
            .iter()
            .filter(|s| !matches!(s.kind, SurfaceKind::ImageBuild { .. }) && !s.test)
    }

    /// Jobs of a workflow that deploy or migrate a real database, with what shows it.
    pub fn deploying_jobs(&self, workflow: usize) -> Vec<JobDeploy<'_>> {
        let wf = &self.workflows[workflow];
        let mut out: Vec<JobDeploy> = Vec::new();
        for s in self.deploy_surfaces() {
            let SurfaceKind::Step {
                workflow: w,
                job,
                step,
            } = s.kind
            else {
                continue;
            };
            if w != workflow || out.iter().any(|d| d.job == job) {
                continue;
            }
            let over_ssh = wf.jobs[job].steps[step]
                .uses
                .as_ref()
                .is_some_and(|u| u.lower().contains("ssh"));
            let remote_env = docker_env_remote(&s.env);
            let hit = s.runs.iter().find(|r| {
                r.migrates()
                    || matches!(&r.kind, CommandKind::Deploy(d)
                        if !matches!(d, DeployKind::ComposeUp { remote: false, .. }
                            | DeployKind::ComposeRun { remote: false, .. })
                            || over_ssh
                            || remote_env
                            || r.over_ssh)
            });
            if let Some(r) = hit {
                out.push(JobDeploy {
                    job,
                    span: r.span,
                    migrates: r.migrates(),
                    via: &r.via,
                });
            }
        }
        // Deploy actions (`uses:`), which run no shell the vocabulary could read.
        for (ji, j) in wf.jobs.iter().enumerate() {
            if out.iter().any(|d| d.job == ji) {
                continue;
            }
            if let Some(u) = j
                .steps
                .iter()
                .filter_map(|st| st.uses.as_ref())
                .find(|u| deploy_action(&u.lower()))
            {
                out.push(JobDeploy {
                    job: ji,
                    span: u.span,
                    migrates: false,
                    via: &[],
                });
            }
        }
        out.sort_by_key(|d| d.job);
        out
    }
}

/// A workflow job that deploys or migrates, and where it shows.
#[derive(Debug, Clone)]
pub struct JobDeploy<'a> {
    pub job: usize,
    pub span: Span,
    pub migrates: bool,
    pub via: &'a [Span],
}

/// Marketplace actions that deploy an application.
fn deploy_action(uses: &str) -> bool {
    const DEPLOYERS: [&str; 10] = [
        "heroku-deploy",
        "deploy-cloudrun",
        "k8s-deploy",
        "webapps-deploy",
        "amazon-ecs-deploy-task-definition",
        "container-apps-deploy-action",
        "deploy-to-render",
        "render-deploy",
        "railway-deploy",
        "dokku",
    ];
    DEPLOYERS.iter().any(|d| uses.contains(d))
}

/// The compose files a script renders into `target` with `docker compose -f F … config >
/// target` (or `docker-compose`), as written (`${STACK_COMPOSE_FILE}`).
fn rendered_from(text: &str, target: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(off) = text[from..].find('>') {
        let at = from + off;
        from = at + 1;
        let after = text[at + 1..].trim_start_matches([' ', '\t']);
        let word: String = after
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ';' && *c != '&' && *c != '|')
            .collect();
        if word.trim_matches(['"', '\'']) != target {
            continue;
        }
        // The command before the redirect, across `\` continuations and pipes (looked for in
        // the 4 KB before it, so that a file of redirects stays linear).
        let window = at.saturating_sub(4096);
        let window = (window..=at)
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(at);
        let start = text[window..at].rfind("compose").map_or(at, |i| window + i);
        let cmd = text[start..at].replace("\\\n", " ");
        if !cmd.split_whitespace().any(|w| w == "config") {
            continue;
        }
        let words: Vec<&str> = cmd.split_whitespace().collect();
        for w in words.windows(2) {
            if w[0] == "-f" || w[0] == "--file" {
                out.push(w[1].trim_matches(['"', '\'']).to_string());
            }
        }
    }
    out
}

/// Whether the command at `at` runs when the script's first argument is `arg`: false when it
/// sits in an arm of `case "$1" in` (or `$1`, `${1}`) whose patterns do not match `arg`.
fn case_arm_runs(text: &str, at: usize, arg: &str) -> bool {
    let on_first = |subject: &str| {
        subject == "$1" || subject.starts_with("${1}") || subject.starts_with("${1:")
    };
    enclosing_case_arm(text, at, on_first).is_none_or(|mut patterns| {
        patterns.any(|p| {
            p == "*" || p == arg || (p.ends_with('*') && arg.starts_with(&p[..p.len() - 1]))
        })
    })
}

/// Whether the command at `at` runs when the script is given the option letters `flags`
/// (`migrate.sh -u`): false when it sits in an arm of the `case "$FLAG" in` that reads the
/// options of `while getopts 'um:' FLAG`, and that arm's letters are not among them.
fn getopts_arm_runs(text: &str, at: usize, flags: &[char]) -> bool {
    let before = &text[..at.min(text.len())];
    // The variable `getopts SPEC NAME` sets, from the last `getopts` before the command.
    let Some(k) = before.rfind("getopts ") else {
        return true;
    };
    let line: String = before[k..].chars().take_while(|c| *c != '\n').collect();
    let Some(var) = line.split_whitespace().nth(2) else {
        return true;
    };
    let var = var.trim_end_matches(';');
    let plain = format!("${var}");
    let braced = format!("${{{var}}}");
    enclosing_case_arm(&before[k..], at - k, |s| s == plain || s == braced).is_none_or(
        |mut patterns| {
            patterns.any(|p| {
                let mut letters = p.chars();
                match (letters.next(), letters.next()) {
                    (Some(c), None) => c == '*' || c == '?' || flags.contains(&c),
                    // A bracket class or another glob: not judged.
                    _ => true,
                }
            })
        },
    )
}

/// The patterns of the arm of the innermost open `case` before `at` whose subject `subject`
/// accepts (quotes removed): the `|`-separated words between the last `;;` (or `in`) and the
/// `)` before `at`, without quotes or a leading `(`. Looks at the last 64 `case`s only: a
/// bound, so that a script of thousands of arms stays linear.
fn enclosing_case_arm(
    text: &str,
    at: usize,
    subject: impl Fn(&str) -> bool,
) -> Option<impl Iterator<Item = &str>> {
    let before = &text[..at.min(text.len())];
    let mut search = before.len();
    let mut looked = 0;
    while let Some(k) = before[..search].rfind("case ") {
        looked += 1;
        if looked > 64 {
            break;
        }
        search = k;
        let head: String = before[k + 5..].chars().take_while(|c| *c != '\n').collect();
        let word = head
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"');
        let ours = subject(word) && head.split_whitespace().nth(1) == Some("in");
        let closed = before[k..]
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|w| w == "esac");
        if !ours || closed {
            continue;
        }
        let arms = &before[k..];
        let start = arms
            .rfind(";;")
            .map(|i| i + 2)
            .unwrap_or_else(|| arms.find(" in").map(|i| i + 3).unwrap_or(0));
        let close = arms[start..].find(')')?;
        return Some(
            arms[start..start + close]
                .split('|')
                .map(|p| p.trim().trim_start_matches('(').trim_matches(['"', '\''])),
        );
    }
    None
}

/// Whether the shell text between two commands leaves a `case` arm for another one: a `;;`
/// (or `;&`) with no `esac` after it.
/// Whether the text between two commands passes into another arm of the same `if` (an `else`
/// or `elif` at this level, and no `fi` closing it): the second command runs only when the
/// first did not.
fn other_if_arm(between: &str) -> bool {
    let mut depth = 0usize;
    let mut other_arm = false;
    for w in between.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        match w {
            "if" => depth += 1,
            "fi" if depth > 0 => depth -= 1,
            // Past the end of the `if` the first command sits in: the second runs after it.
            "fi" => return false,
            "else" | "elif" if depth == 0 => other_arm = true,
            _ => {}
        }
    }
    other_arm
}

fn other_case_arm(between: &str) -> bool {
    let Some(end) = between.find(";;").or_else(|| between.find(";&")) else {
        return false;
    };
    !between[end..]
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == "esac")
}

/// `$NAME`, `${NAME}` and `${NAME:-default}` in a word, from assignments the script or the
/// environment makes; `None` when something stays unresolved.
pub fn expand_vars(word: &str, vars: &[(String, String)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, default, used) = if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}')?;
            let inner = &body[..end];
            let (n, d) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            (n, d, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        let value = vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .or(default)?;
        out.push_str(value);
        rest = &after[used..];
    }
    out.push_str(rest);
    Some(out)
}

/// `NAME=value` assignments at the start of a line of a script (quotes removed).
pub fn script_assignments(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches("export ").trim_start();
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = value.split(" #").next().unwrap_or("").trim();
        let value = value.trim_matches('"').trim_matches('\'');
        out.push((name.to_string(), value.to_string()));
    }
    out
}

/// Dockerfile instructions: no such program exists, so as a shell command each one fails.
const DOCKERFILE_INSTRUCTIONS: [&str; 9] = [
    "CMD",
    "ENTRYPOINT",
    "RUN",
    "FROM",
    "COPY",
    "WORKDIR",
    "EXPOSE",
    "ENV",
    "USER",
];

/// A Dockerfile whose image only development stacks build, in a project that a platform
/// (Procfile, Railway, Fly) starts without it: a developer's image, so its `ENTRYPOINT` and
/// `CMD` are not the deploy. The caller rules out what ships an image: a `heroku.yml`, a
/// workflow or script that pushes one to a registry.
fn developers_images(m: &mut DeployModel, dockerfile_paths: &[PathBuf], compose_dirs: &[PathBuf]) {
    let platform = m.surfaces.iter().any(|s| {
        matches!(
            s.kind,
            SurfaceKind::PlatformStart | SurfaceKind::ReleasePhase
        ) && !s.test
    });
    // A compose file that is not a developer's and pulls an application image (no `build:`)
    // runs an image published from somewhere, perhaps this Dockerfile.
    let pulls_app_image = m.compose.iter().filter(|c| !c.dev).any(|c| {
        c.services
            .iter()
            .any(|s| s.build.is_none() && s.image.is_some() && !s.is_database_image())
    });
    if !platform || pulls_app_image {
        return;
    }
    let dev_only: Vec<bool> = dockerfile_paths
        .iter()
        .map(|df| {
            let mut builders = m.compose.iter().zip(compose_dirs).flat_map(|(c, dir)| {
                c.services
                    .iter()
                    .filter(move |s| s.dockerfile_path(dir).as_ref() == Some(df))
                    .map(move |_| c.dev)
            });
            builders
                .next()
                .is_some_and(|first| first && builders.all(|dev| dev))
        })
        .collect();
    for s in &mut m.surfaces {
        if let SurfaceKind::ImageStart { dockerfile } = s.kind {
            if dev_only.get(dockerfile).copied().unwrap_or(false) {
                s.test = true;
            }
        }
    }
}

/// Text that pushes a container image to a registry: `docker push`, `docker buildx build
/// --push`, `docker/build-push-action`, `docker compose push`.
fn pushes_an_image(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("docker push")
        || t.contains("build-push-action")
        || t.contains("compose push")
        || (t.contains("buildx build") && t.contains("--push"))
}
