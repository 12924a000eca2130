//! The only module that walks directories: finds Alembic projects, reads their configuration
//! exactly as Alembic does, and lists the revision files in Alembic's load order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::model::deploy::{self, DeployInputs, DeployModel};
use crate::model::dialect;
use crate::model::migration::Migration;
use crate::model::operation;
use crate::model::pin::{self, AlembicPin};
use crate::model::project::{ConfigIssue, ConfigSource, FileIssue, Project, VersionFile};
use crate::model::script::Script;
use crate::parse::{ini, python};
use crate::source::{FileDb, FileId, LineIndex, Span};

#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Paths given on the command line (empty: the working directory).
    pub paths: Vec<PathBuf>,
    /// `--config FILE`: lint only the project this Alembic config describes.
    pub config: Option<PathBuf>,
    pub cwd: PathBuf,
    /// Read what `upgrade()` does (operation rules are on).
    pub read_bodies: bool,
    /// Read `downgrade()` too (`--include-downgrade`).
    pub include_downgrade: bool,
    /// Read the repository's scripts that touch a version table or create an extension.
    pub scan_scripts: bool,
    /// Read compose/stack files, workflows, Dockerfiles, start scripts and application code.
    pub read_deploy: bool,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub db: FileDb,
    pub projects: Vec<Project>,
    /// Problems met while walking (unreadable directories, links that loop).
    pub walk_issues: Vec<FileIssue>,
    /// Absolute paths whose findings are shown (the command-line paths).
    pub selected: Vec<PathBuf>,
    /// Python, shell and SQL files outside version locations that run SQL on a version table
    /// or create an extension.
    pub scripts: Vec<Script>,
    /// Deploy files and what they run.
    pub deploy: DeployModel,
}

/// A usage problem: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Find and load every Alembic project the options name.
pub fn discover(opts: &DiscoverOptions) -> Result<Discovered, UsageError> {
    let mut d = Discovered::default();
    let paths: Vec<PathBuf> = if opts.paths.is_empty() {
        vec![opts.cwd.clone()]
    } else {
        opts.paths.iter().map(|p| absolute(&opts.cwd, p)).collect()
    };
    for p in &paths {
        if std::fs::symlink_metadata(p).is_err() {
            return Err(UsageError(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    d.selected = paths.clone();

    // Candidate configuration files and env.py files, in sorted order, deduplicated.
    let mut configs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut env_pys: BTreeSet<PathBuf> = BTreeSet::new();
    let mut scripts: BTreeSet<PathBuf> = BTreeSet::new();
    let mut inputs = DeployInputs {
        root: paths.first().cloned().unwrap_or_else(|| opts.cwd.clone()),
        ..DeployInputs::default()
    };
    if let Some(c) = &opts.config {
        let c = absolute(&opts.cwd, c);
        if !c.is_file() {
            return Err(UsageError(format!(
                "--config {}: no such file",
                c.display()
            )));
        }
        configs.insert(c);
    } else {
        for p in &paths {
            for dir in ancestors_to_repo_root(p) {
                for name in ["alembic.ini", "pyproject.toml"] {
                    let f = dir.join(name);
                    if f.is_file() {
                        configs.insert(f);
                    }
                }
                let env = dir.join("env.py");
                if env.is_file() && dir.join("versions").is_dir() {
                    env_pys.insert(env);
                }
            }
            if p.is_dir() {
                walk(
                    p,
                    &mut configs,
                    &mut env_pys,
                    &mut scripts,
                    &mut inputs,
                    &mut d,
                );
            } else if is_script(p) {
                scripts.insert(p.clone());
            }
        }
    }
    // Deploy files are read from the folder being linted; when only files are given (a
    // pre-commit hook passes the changed files) or `--config`, from their repository: which
    // service migrates, and how, is a repository-wide fact.
    if opts.read_deploy {
        let first = opts
            .config
            .as_ref()
            .map(|c| absolute(&opts.cwd, c))
            .or_else(|| paths.iter().find(|p| p.is_dir()).cloned())
            .or_else(|| paths.first().cloned())
            .unwrap_or_else(|| opts.cwd.clone());
        let ancestors = ancestors_to_repo_root(&first);
        let root = match ancestors.last() {
            _ if first.is_dir() && opts.config.is_none() => first.clone(),
            Some(top) if top.join(".git").exists() => top.clone(),
            _ if first.starts_with(&opts.cwd) => opts.cwd.clone(),
            _ => first.parent().unwrap_or(Path::new("/")).to_path_buf(),
        };
        let walked = opts.config.is_none() && paths.iter().any(|p| p.is_dir() && *p == root);
        if !walked {
            inputs = DeployInputs {
                root: root.clone(),
                ..DeployInputs::default()
            };
            let mut scratch = Discovered::default();
            walk(
                &root,
                &mut BTreeSet::new(),
                &mut BTreeSet::new(),
                &mut BTreeSet::new(),
                &mut inputs,
                &mut scratch,
            );
        }
        inputs.root = root;
    }

    let mut covered: BTreeSet<PathBuf> = BTreeSet::new();
    let mut projects = Vec::new();
    let mut ini_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for c in &configs {
        let is_ini = c.file_name().is_some_and(|n| n != "pyproject.toml");
        if is_ini {
            ini_dirs.insert(c.parent().unwrap_or(Path::new("/")).to_path_buf());
        }
    }
    for c in &configs {
        let is_pyproject = c.file_name().is_some_and(|n| n == "pyproject.toml");
        let dir = c.parent().unwrap_or(Path::new("/")).to_path_buf();
        if is_pyproject && ini_dirs.contains(&dir) {
            // Read together with the alembic.ini beside it.
            continue;
        }
        if let Some(p) = load_config(c, opts, &env_pys, &scripts, &mut d) {
            covered.extend(p.version_locations.iter().cloned());
            projects.push(p);
        }
    }
    for env in &env_pys {
        let dir = env.parent().unwrap_or(Path::new("/")).to_path_buf();
        let versions = dir.join("versions");
        if covered.contains(&versions) || !versions.is_dir() {
            continue;
        }
        let text = read_text(env).unwrap_or_default();
        let id = d.db.add(env.clone(), display(&opts.cwd, env), text);
        let mut p = Project::new(ConfigSource::EnvPy(id), dir.clone());
        p.script_location = Some(dir);
        p.version_locations = vec![versions.clone()];
        covered.insert(versions);
        load_versions(&mut p, opts, &mut d.db);
        load_project_facts(&mut p, opts, &mut d.db);
        projects.push(p);
    }
    d.projects = projects;
    // Where the repository's Python sets version locations, read with the scripts when
    // `version-table-edit` reads them anyway.
    let mut in_code = None;
    if opts.scan_scripts {
        let env_files: BTreeSet<PathBuf> = d
            .projects
            .iter()
            .filter_map(|p| p.script_location.as_ref().map(|s| s.join("env.py")))
            .collect();
        let mut tables: Vec<String> = d.projects.iter().map(|p| p.version_table.clone()).collect();
        tables.sort();
        tables.dedup();
        in_code = load_scripts(&scripts, &env_files, &tables, &opts.cwd, &mut d);
    } else if !d.projects.is_empty() {
        in_code = code_sets_version_locations(&scripts);
    }
    for p in &mut d.projects {
        p.locations_in_code.clone_from(&in_code);
    }
    if opts.read_deploy {
        load_deploy(&mut inputs, opts, &mut d);
        let root = inputs.root.clone();
        for i in 0..d.projects.len() {
            let facts = dialect_facts(&d.projects[i], &root, &opts.cwd, &mut d.db, &d.deploy);
            d.projects[i].dialect_facts = facts;
        }
    }
    Ok(d)
}

/// Which database a project migrates: the evidence, ranked as `model::dialect` documents.
fn dialect_facts(
    p: &Project,
    root: &Path,
    cwd: &Path,
    db: &mut FileDb,
    deploy: &DeployModel,
) -> dialect::DialectFacts {
    use dialect::{url_evidence, Evidence};
    let mut evidence: Vec<Evidence> = Vec::new();
    // 1. The URL the migrations read.
    let env = p
        .env_file
        .map(|id| dialect::env_url(&db.get(id).text))
        .unwrap_or_default();
    if !env.replaces_config_url {
        if let ConfigSource::Ini(id) | ConfigSource::Pyproject(id) = p.config {
            let text = &db.get(id).text;
            for (d, s, e) in dialect::urls(text) {
                let line_start = text[..s].rfind('\n').map_or(0, |i| i + 1);
                let line = &text[line_start..s];
                if line.trim_start().starts_with(['#', ';']) || !line.contains("sqlalchemy.url") {
                    continue;
                }
                evidence.push(Evidence {
                    dialect: d,
                    span: Span::new(id, s, e),
                    what: "the URL the migrations use".to_string(),
                    rank: 1,
                });
            }
        }
    }
    if let Some(id) = p.env_file {
        evidence.extend(url_evidence(db, id, 1, "a URL in env.py"));
    }
    // 2. The deploy configuration: compose files and `.env` files, outside test suites and
    // documentation (`docs/install/compose.yaml` shows one way to run it, not the deploy).
    for c in &deploy.compose {
        let path = db.get(c.file).path.clone();
        let below = path.strip_prefix(root).unwrap_or(&path);
        let in_docs = below.components().any(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("docs" | "doc" | "examples" | "example")
            )
        });
        if is_test_path(below) || is_test_name(&path) || in_docs {
            continue;
        }
        evidence.extend(url_evidence(
            db,
            c.file,
            2,
            "a database URL in a compose file",
        ));
        for s in &c.services {
            if let Some(img) = &s.image {
                if let Some(d) = dialect::image_dialect(&img.text) {
                    evidence.push(Evidence {
                        dialect: d,
                        span: img.span,
                        what: "the database image".to_string(),
                        rank: 2,
                    });
                }
            }
        }
    }
    let mut env_files: Vec<PathBuf> = Vec::new();
    for dir in ancestors_to_repo_root(&p.here) {
        for name in [
            ".env",
            ".env.example",
            ".env.sample",
            ".env.production",
            ".env.prod",
        ] {
            env_files.push(dir.join(name));
        }
        if dir == root {
            break;
        }
    }
    for f in env_files {
        if let Some(id) = read_small(&f, cwd, db) {
            evidence.extend(url_evidence(
                db,
                id,
                2,
                "a database URL in an environment file",
            ));
        }
    }
    // 3. The driver in the dependencies.
    for f in dependency_files(&p.here) {
        let Some(id) = read_small(&f, cwd, db) else {
            continue;
        };
        for (d, s, e) in dialect::drivers(&db.get(id).text) {
            evidence.push(Evidence {
                dialect: d,
                span: Span::new(id, s, e),
                what: "the database driver".to_string(),
                rank: 3,
            });
        }
    }
    dialect::decide(evidence, env.sqlite_transactional)
}

/// Whether a path is ignored by a `.gitignore` of the repository around it: the nearest
/// file that says anything decides, up to the folder holding `.git`.
fn git_ignored(path: &Path) -> bool {
    for dir in path.ancestors().skip(1).take(64) {
        let file = dir.join(".gitignore");
        if file.is_file() {
            let (gi, _) = ignore::gitignore::Gitignore::new(&file);
            match gi.matched_path_or_any_parents(path, true) {
                ignore::Match::Ignore(_) => return true,
                ignore::Match::Whitelist(_) => return false,
                ignore::Match::None => {}
            }
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    false
}

/// A test or CI compose file by its name (`docker-compose.test.yml`, `compose.ci.yaml`).
fn is_test_name(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.split(['.', '-', '_'])
        .any(|w| matches!(w, "test" | "tests" | "testing" | "ci" | "e2e"))
}

/// A file read for evidence, kept in the database so a label can point at it: only when it
/// exists, is at most 1 MB, and is text.
fn read_small(path: &Path, cwd: &Path, db: &mut FileDb) -> Option<FileId> {
    if let Some(id) = db.find(path) {
        return Some(id);
    }
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 1_048_576 {
        return None;
    }
    let text = read_raw(path).ok()?;
    Some(db.add(path.to_path_buf(), display(cwd, path), text))
}

/// `pyproject.toml`, `requirements*.txt` and `requirements/*.txt` from the project's folder
/// up to the repository root (not lock files, which list every transitive package).
fn dependency_files(here: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ancestors_to_repo_root(here) {
        out.push(dir.join("pyproject.toml"));
        out.push(dir.join("setup.py"));
        out.extend(requirement_files(&dir).into_iter().filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.contains("test") && !n.contains("dev"))
        }));
    }
    out
}

/// `requirements*.txt`/`.in` in `dir` and the files of a `requirements/` folder, sorted.
fn requirement_files(dir: &Path) -> Vec<PathBuf> {
    let list = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    };
    let mut reqs: Vec<PathBuf> = list(dir)
        .into_iter()
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("requirements") && (n.ends_with(".txt") || n.ends_with(".in"))
            })
        })
        .collect();
    let sub = dir.join("requirements");
    if sub.is_dir() {
        reqs.extend(
            list(&sub)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "in")),
        );
    }
    reqs.sort();
    reqs
}

/// Largest compose/workflow file revlint loads: real ones are kilobytes; a bigger file is
/// generated or a mistake, and loading it would cost seconds and memory for nothing.
const MAX_YAML_BYTES: u64 = 8 * 1024 * 1024;

/// Build the deploy model: env.py facts, workflows, Dockerfiles, compose files, the scripts
/// they run and the application code.
fn load_deploy(inputs: &mut DeployInputs, opts: &DiscoverOptions, d: &mut Discovered) {
    // env.py files are loaded with the projects; versions folders are not app code.
    let env_files: Vec<Option<FileId>> = d.projects.iter().map(|p| p.env_file).collect();
    let env_paths: BTreeSet<PathBuf> = d
        .projects
        .iter()
        .filter_map(|p| p.script_location.as_ref().map(|s| s.join("env.py")))
        .collect();
    inputs.python.retain(|p| !env_paths.contains(p));
    let yaml: BTreeSet<PathBuf> = inputs
        .compose
        .iter()
        .chain(&inputs.workflows)
        .cloned()
        .collect();
    let mut issues = Vec::new();
    let cwd = opts.cwd.clone();
    let mut read = |p: &Path, db: &mut FileDb| -> Option<FileId> {
        if let Some(id) = db.find(p) {
            return Some(id);
        }
        let too_big =
            yaml.contains(p) && std::fs::metadata(p).is_ok_and(|m| m.len() > MAX_YAML_BYTES);
        if too_big {
            let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let id = db.add(p.to_path_buf(), display(&cwd, p), String::new());
            issues.push(FileIssue {
                span: Span::file_start(id),
                message: format!(
                    "{} is {:.1} MB, larger than the {} MB revlint reads for a compose or workflow file; its deploy settings are not checked",
                    db.get(id).display,
                    size as f64 / 1_048_576.0,
                    MAX_YAML_BYTES / 1_048_576
                ),
                label: "too large to check",
            });
            return None;
        }
        match read_raw(p) {
            Ok(text) => Some(db.add(p.to_path_buf(), display(&cwd, p), text)),
            Err(e) => {
                let id = db.add(p.to_path_buf(), display(&cwd, p), String::new());
                issues.push(FileIssue {
                    span: Span::file_start(id),
                    message: format!("{} cannot be read: {}", db.get(id).display, e.describe()),
                    label: "cannot be read",
                });
                None
            }
        }
    };
    let mut model = deploy::build(inputs, &mut d.db, &env_files, &mut read);
    model.issues.extend(issues);
    d.deploy = model;
}

/// What a walked file is to the deploy model.
fn classify_deploy(path: &Path, below: &Path, inputs: &mut DeployInputs) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    // Project templates (cookiecutter, copier) are not deploy files until rendered.
    if below.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|c| c.contains("{{") || c.contains("{%"))
    }) {
        return;
    }
    let lower = name.to_ascii_lowercase();
    let yaml = lower.ends_with(".yml") || lower.ends_with(".yaml");
    // GitHub runs the workflows of a repository's root `.github/workflows` only: one in a
    // subfolder (`service/.github/workflows` of a monorepo) never runs, unless that subfolder
    // is a repository of its own (a submodule, or a nested clone with its `.git`).
    let in_workflows = below.parent().is_some_and(|p| {
        p.ends_with(".github/workflows")
            && (p.components().count() == 2
                || path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(Path::parent)
                    .is_some_and(|repo| repo.join(".git").exists()))
    });
    if yaml && in_workflows {
        inputs.workflows.push(path.to_path_buf());
    } else if yaml
        && (lower.starts_with("docker-compose")
            || lower.starts_with("compose")
            || lower.contains("stack"))
        // `docker-compose.template.yml`: the input of a generator, not a compose file.
        && !lower.split(['.', '-', '_']).any(|w| w == "template" || w == "tmpl")
        // A Helm chart's `templates/` hold Go templates that render to Kubernetes objects.
        && !in_helm_templates(path)
        // `examples/` and `docs/` show ways to run it (often with `...` elisions), not how
        // this project deploys.
        && !below.components().any(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("docs" | "doc" | "examples" | "example")
            )
        })
    {
        inputs.compose.push(path.to_path_buf());
    } else if lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower == "containerfile"
    {
        inputs.dockerfiles.push(path.to_path_buf());
    } else if lower == "procfile" || lower == "railway.toml" || lower == "fly.toml" {
        inputs.platform.push(path.to_path_buf());
    } else if lower.ends_with(".py") {
        inputs.python.push(path.to_path_buf());
    }
}

/// Whether a file sits in a Helm chart's `templates/` folder (a `Chart.yaml` beside it):
/// Go templates, YAML only once Helm renders them.
fn in_helm_templates(path: &Path) -> bool {
    path.ancestors().skip(1).take(8).any(|d| {
        d.file_name().is_some_and(|n| n == "templates") && d.with_file_name("Chart.yaml").is_file()
    })
}

/// Files that may run SQL: Python, shell and SQL scripts.
fn is_script(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("py" | "sh" | "bash" | "sql")
    )
}

/// A test suite's file, by its path below the walked folder: tests reset throwaway databases,
/// version table included, on purpose, so the walk does not read them as scripts.
fn is_test_path(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "conftest.py"
        || name == "tests.py"
        || name.starts_with("test_")
        || name.ends_with("_test.py")
        || p.components().any(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("tests" | "test" | "testing" | "spec" | "specs")
            )
        })
}

/// Read candidate scripts in parallel; keep those whose SQL touches a version table.
/// Reads the repository's scripts (all but the projects' `env.py`, which the projects read)
/// that mention a version table or `CREATE EXTENSION`. Returns the first Python file that sets
/// version locations in code, `env.py` included, found in the same read.
fn load_scripts(
    paths: &BTreeSet<PathBuf>,
    env_files: &BTreeSet<PathBuf>,
    tables: &[String],
    cwd: &Path,
    d: &mut Discovered,
) -> Option<(PathBuf, usize)> {
    // Per file: its text when it is kept as a script, and where it sets version locations.
    type Scanned = (Option<(PathBuf, String)>, Option<(PathBuf, usize)>);
    let scanned: Vec<Scanned> = paths
        .par_iter()
        .filter_map(|p| {
            let text = read_raw(p).ok()?;
            let sets = p
                .extension()
                .is_some_and(|e| e == "py")
                .then(|| version_locations_at(&text))
                .flatten()
                .map(|at| (p.clone(), at));
            if env_files.contains(p) {
                return Some((None, sets));
            }
            let lower = text.to_ascii_lowercase();
            let mentions = |w: &str| memchr::memmem::find(lower.as_bytes(), w.as_bytes()).is_some();
            let keep = tables.iter().any(|t| mentions(t)) || mentions("create extension");
            Some((keep.then(|| (p.clone(), text)), sets))
        })
        .collect();
    let in_code = scanned.iter().find_map(|(_, s)| s.clone());
    let read: Vec<(PathBuf, String)> = scanned.into_iter().filter_map(|(r, _)| r).collect();
    let base = d.db.len();
    let built: Vec<(PathBuf, String, Script)> = read
        .into_par_iter()
        .enumerate()
        .map(|(i, (p, text))| {
            let id = FileId((base + i) as u32);
            let script = Script::read(id, &p, &text);
            (p, text, script)
        })
        .collect();
    for (p, text, script) in built {
        let id = d.db.add(p.clone(), display(cwd, &p), text);
        debug_assert_eq!(id, script.file);
        d.scripts.push(script);
    }
    in_code
}

/// Facts around the revisions: `env.py`, the database URL, the pinned Alembic version.
fn load_project_facts(p: &mut Project, opts: &DiscoverOptions, db: &mut FileDb) {
    if let Some(env) = p.script_location.as_ref().map(|s| s.join("env.py")) {
        if let Ok(text) = read_raw(&env) {
            let module = python::parse_module(
                &text,
                python::Wants {
                    all_calls: true,
                    ..Default::default()
                },
            );
            let id = db.add(env.clone(), display(&opts.cwd, &env), text);
            p.env_ops = operation::operations(id, &module.calls, &module.imports);
            if let Some(t) = module.calls.iter().find_map(|c| {
                c.call
                    .kwarg("version_table")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            }) {
                p.version_table = t.to_ascii_lowercase();
            }
            p.env_file = Some(id);
        }
    }
    p.alembic_pin = find_pin(&p.here, &opts.cwd);
}

/// The nearest file, from the project's directory up to the repository root, that pins
/// Alembic: lock files first, then `pyproject.toml`, then `requirements*.txt`.
fn find_pin(here: &Path, cwd: &Path) -> Option<AlembicPin> {
    type Reader = fn(&str) -> Option<(usize, String, pin::Version)>;
    for dir in ancestors_to_repo_root(here) {
        let mut candidates: Vec<(PathBuf, Reader)> = vec![
            (dir.join("uv.lock"), pin::from_lock),
            (dir.join("poetry.lock"), pin::from_lock),
            (dir.join("Pipfile.lock"), pin::from_pipfile_lock),
            (dir.join("pyproject.toml"), pin::from_pyproject),
        ];
        candidates.extend(
            requirement_files(&dir)
                .into_iter()
                .map(|r| (r, pin::from_requirements as Reader)),
        );
        for (path, reader) in candidates {
            let Ok(text) = read_raw(&path) else {
                continue;
            };
            if let Some((line, written, version)) = reader(&text) {
                return Some(AlembicPin {
                    version,
                    origin: display(cwd, &path),
                    line,
                    written,
                });
            }
        }
    }
    None
}

/// `dir` and its parents up to the one holding `.git` (or the filesystem root).
fn ancestors_to_repo_root(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let start = if p.is_dir() { Some(p) } else { p.parent() };
    let mut cur = start.map(Path::to_path_buf);
    while let Some(dir) = cur {
        let is_root = dir.join(".git").exists();
        out.push(dir.clone());
        if is_root {
            break;
        }
        cur = dir.parent().map(Path::to_path_buf);
    }
    out
}

/// Walk below `root` (sorted, `.gitignore` respected inside git repositories, hidden paths
/// included, `.git` skipped), collecting configs and `env.py` files.
fn walk(
    root: &Path,
    configs: &mut BTreeSet<PathBuf>,
    env_pys: &mut BTreeSet<PathBuf>,
    scripts: &mut BTreeSet<PathBuf>,
    inputs: &mut DeployInputs,
    d: &mut Discovered,
) {
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .require_git(true)
        // Nothing to discover inside `.git`, bytecode caches, or a `versions/` folder next
        // to an `env.py` (its revision files are listed separately, the way Alembic lists them).
        .filter_entry(|e| {
            let name = e.file_name();
            name != ".git"
                && name != "__pycache__"
                && !(name == "versions"
                    && e.file_type().is_some_and(|t| t.is_dir())
                    && e.path()
                        .parent()
                        .is_some_and(|p| p.join("env.py").is_file()))
        })
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                if !e.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                let name = e.file_name();
                if name == "alembic.ini" {
                    configs.insert(e.path().to_path_buf());
                } else if name == "pyproject.toml" {
                    if std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("[tool.alembic]"))
                    {
                        configs.insert(e.path().to_path_buf());
                    }
                } else if name == "env.py" {
                    env_pys.insert(e.path().to_path_buf());
                }
                let below = e.path().strip_prefix(root).unwrap_or(e.path());
                if is_script(e.path()) && !is_test_path(below) {
                    scripts.insert(e.path().to_path_buf());
                }
                if !is_test_path(below) {
                    inputs.files.insert(e.path().to_path_buf());
                    classify_deploy(e.path(), below, inputs);
                }
            }
            Err(err) => {
                let path = error_path(&err);
                let text = String::new();
                let shown = path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let id = d.db.add(path.unwrap_or_default(), shown, text);
                d.walk_issues.push(FileIssue {
                    span: Span::file_start(id),
                    message: format!(
                        "{} cannot be walked: {}",
                        d.db.get(id).display,
                        plain_walk_error(&err)
                    ),
                    label: "cannot be read",
                });
            }
        }
    }
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

fn plain_walk_error(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => plain_walk_error(err),
        ignore::Error::Loop { ancestor, .. } => {
            format!("symbolic link loop back to {}", ancestor.display())
        }
        other => other.to_string(),
    }
}

/// Read a config file and build its project. `None` when the file is not an Alembic config
/// (a `pyproject.toml` without `[tool.alembic]`, found while walking up).
fn load_config(
    path: &Path,
    opts: &DiscoverOptions,
    env_pys: &BTreeSet<PathBuf>,
    scripts: &BTreeSet<PathBuf>,
    d: &mut Discovered,
) -> Option<Project> {
    let cwd = opts.cwd.as_path();
    let here = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let text = match read_text(path) {
        Ok(t) => t,
        Err(why) => {
            let id =
                d.db.add(path.to_path_buf(), display(cwd, path), String::new());
            d.walk_issues.push(FileIssue {
                span: Span::file_start(id),
                message: format!("{} {why}", d.db.get(id).display),
                label: "cannot be read",
            });
            return None;
        }
    };
    if is_pyproject && !text.contains("[tool.alembic]") {
        return None;
    }
    let config_id = d.db.add(path.to_path_buf(), display(cwd, path), text);
    let vars = BTreeMap::from([("here".to_string(), here.display().to_string())]);
    let mut project = Project::new(
        if is_pyproject {
            ConfigSource::Pyproject(config_id)
        } else {
            ConfigSource::Ini(config_id)
        },
        here.clone(),
    );
    let mut settings = Settings::default();
    if is_pyproject {
        read_pyproject(config_id, &d.db, &vars, &mut settings, &mut project);
    } else {
        read_ini(
            config_id,
            &mut d.db,
            cwd,
            &vars,
            &mut settings,
            &mut project,
        );
    }
    // Flask-Migrate keeps `alembic.ini` inside the migration folder without a
    // `script_location`: it passes the folder itself (`Migrate(app, db, directory=...)`).
    let flask_migrate_layout = settings.script_location.is_none()
        && !is_pyproject
        && here.join("env.py").is_file()
        && here.join("versions").is_dir();
    if flask_migrate_layout {
        settings.script_location = Some((
            here.to_string_lossy().into_owned(),
            Span::file_start(config_id),
        ));
    }
    let Some(script_location) = settings.script_location.clone() else {
        // An ini the application loads and completes in code
        // (`cfg.set_main_option("script_location", ...)`) is not run as it is.
        if !is_pyproject && !code_sets_script_location(scripts) {
            project.config_issues.push(ConfigIssue {
                points_at_nothing: false,
                span: Span::file_start(config_id),
                message: "no `script_location` in the [alembic] section: every Alembic command fails with \"No 'script_location' key found in configuration\"".into(),
                help: "add `script_location = %(here)s/migrations` (the folder holding env.py) to the [alembic] section".into(),
            });
            return Some(project);
        }
        return None;
    };
    if location_candidates(&here, &script_location.0).is_empty() {
        // A template the application fills in before running Alembic: nothing to guess.
        project.template_location = Some(script_location.0.clone());
        return Some(project);
    }
    let mut script_dir = resolve_location(&here, &script_location.0);
    if !script_dir.is_dir() {
        // A package that is not below the config (a monorepo's `pkg.name/pkg/name/alembic`):
        // the folder of a walked env.py whose path ends with the resource.
        if let Some(rel) = resource_path(&script_location.0) {
            if let Some(env) = env_pys
                .iter()
                .find(|e| e.parent().is_some_and(|p| p.ends_with(&rel)))
            {
                script_dir = env.parent().unwrap_or(Path::new("/")).to_path_buf();
            }
        }
    }
    // An absolute path outside the repository that matches no folder of it is a path in an
    // image or on a server, made there by a symlink, a volume or an install step the checkout
    // does not show: it cannot be checked, and its revisions are not read.
    let loc_path = Path::new(script_location.0.trim());
    let outside = loc_path.is_absolute()
        && ancestors_to_repo_root(&here)
            .last()
            .is_some_and(|root| !loc_path.starts_with(root));
    if !script_dir.is_dir() && outside {
        project.template_location = Some(script_location.0.clone());
        return Some(project);
    }
    // A folder the repository ignores is made by a build step (a sync script, a generator),
    // not kept in git: its absence from a checkout says nothing.
    if !script_dir.is_dir() && !git_ignored(&script_dir) {
        project.config_issues.push(ConfigIssue {
            points_at_nothing: true,
            span: script_location.1,
            message: format!(
                "`script_location` points at {}, which is not a directory: Alembic cannot find its scripts",
                display(cwd, &script_dir)
            ),
            help: "point script_location at the folder that holds env.py, relative to the config as `%(here)s/<folder>`".into(),
        });
    }
    project.script_location = Some(script_dir.clone());
    let default_versions = script_dir.join("versions");
    if let Some((locations, span)) = &settings.version_locations {
        project.version_locations = locations
            .iter()
            .map(|l| resolve_location(&here, l))
            .collect();
        if !project.version_locations.contains(&default_versions) && has_py_files(&default_versions)
        {
            project.config_issues.push(ConfigIssue {
                points_at_nothing: false,
                span: *span,
                message: format!(
                    "`version_locations` is set, so Alembic no longer reads {}, which holds revision files",
                    display(cwd, &default_versions)
                ),
                help: format!(
                    "add `%(here)s/{}` to version_locations, or move those revisions",
                    pathdiff(&here, &default_versions)
                ),
            });
        }
    } else {
        project.version_locations = vec![default_versions];
    }
    project.recursive_version_locations = settings.recursive;
    project.database_url = settings.database_url.clone();
    load_versions(&mut project, opts, &mut d.db);
    load_project_facts(&mut project, opts, &mut d.db);
    Some(project)
}

#[derive(Debug, Default)]
struct Settings {
    database_url: Option<String>,
    script_location: Option<(String, Span)>,
    version_locations: Option<(Vec<String>, Span)>,
    recursive: bool,
}

fn read_ini(
    id: FileId,
    db: &mut FileDb,
    cwd: &Path,
    vars: &BTreeMap<String, String>,
    settings: &mut Settings,
    project: &mut Project,
) {
    let text = db.get(id).text.clone();
    let parsed = ini::parse(&text);
    let span = |(s, e): (usize, usize)| Span::new(id, s, e);
    for e in &parsed.errors {
        project.file_issues.push(FileIssue {
            span: span(e.span),
            message: format!("Alembic cannot read this config: {}", e.message),
            label: "cannot be parsed",
        });
    }
    // Alembic reads the [alembic] section, or the one `alembic -n NAME` names. An ini with no
    // [alembic] section whose other sections set `script_location` holds several databases'
    // environments, each run with `-n` (`[postgresql]`, `[clickhouse]`): the first is linted.
    let named = parsed
        .sections
        .iter()
        .find(|sec| sec.values.contains_key("script_location"))
        .map(|sec| sec.name.clone());
    let section: &str = match (parsed.get("alembic", "script_location"), &named) {
        (None, Some(n)) if parsed.section("alembic").is_none() => n.as_str(),
        _ => "alembic",
    };
    // Values Alembic reads from that section, falling back to pyproject.toml.
    let get = |key: &str, project: &mut Project| -> Option<(String, Span)> {
        let v = parsed.get(section, key)?;
        let sp = span(v.value_span);
        match parsed.interpolated(section, key, vars)? {
            Ok(s) => Some((s, sp)),
            Err(why) => {
                project.file_issues.push(FileIssue {
                    span: sp,
                    message: format!("Alembic cannot read `{key}`: {why}"),
                    label: "cannot be parsed",
                });
                None
            }
        }
    };
    let here = project.here.clone();
    let pyproject = here.join("pyproject.toml");
    let mut toml_settings = Settings::default();
    if pyproject.is_file() {
        if let Ok(t) = read_text(&pyproject) {
            if t.contains("[tool.alembic]") {
                let pid = db.add(pyproject.clone(), display(cwd, &pyproject), t);
                read_pyproject(pid, db, vars, &mut toml_settings, project);
            }
        }
    }
    settings.script_location = get("script_location", project).or(toml_settings.script_location);
    settings.database_url = parsed
        .get(section, "sqlalchemy.url")
        .map(|v| v.raw.trim().to_string());

    for key in ["script_location", "version_locations"] {
        if let Some(v) = parsed.get(section, key) {
            if let Some(i) = v.raw.find(" #").or(v.raw.find(" ;")) {
                project.config_issues.push(ConfigIssue {
                    points_at_nothing: false,
                    span: span(v.value_span),
                    message: format!(
                        "`{key}` has what looks like an inline comment, but Alembic's ini format has none: the value is `{}`",
                        v.raw
                    ),
                    help: format!("move the comment to its own line: `{key} = {}`", v.raw[..i].trim_end()),
                });
            }
        }
    }

    let separator = ["path_separator", "version_path_separator"]
        .into_iter()
        .find_map(|k| parsed.get(section, k).map(|v| (k, v)));
    // Alembic reads a separator only where it splits something: `path_separator` for
    // `version_locations` and `prepend_sys_path`, the legacy `version_path_separator` only
    // for a non-empty `version_locations` in this ini (and only without `path_separator`).
    // The 1.7–1.14 templates set `version_path_separator = os  # Use os.pathsep. …` with no
    // `version_locations`: the comment is in the value, and nothing reads it.
    let non_empty = |k: &str| {
        parsed
            .get(section, k)
            .is_some_and(|v| !v.raw.trim().is_empty())
    };
    let read = match separator {
        Some(("path_separator", _)) => {
            non_empty("version_locations") || non_empty("prepend_sys_path")
        }
        Some(_) => non_empty("version_locations"),
        None => false,
    };
    if let Some((key, v)) = separator.filter(|_| read) {
        if !["space", "newline", "os", ":", ";"].contains(&v.raw.as_str()) {
            let first = v.raw.split_whitespace().next().unwrap_or("");
            let fix = if ["space", "newline", "os", ":", ";"].contains(&first) {
                format!("`{key} = {first}` with the comment on its own line")
            } else {
                format!("`{key} = os` (one of space, newline, os, :, ;)")
            };
            project.config_issues.push(ConfigIssue {
                points_at_nothing: false,
                span: span(v.value_span),
                message: format!(
                    "`{key} = {}` is not a separator Alembic knows (ini values have no inline comments): {} fail with ValueError",
                    v.raw,
                    if key == "path_separator" && non_empty("prepend_sys_path") {
                        "all commands"
                    } else {
                        "commands that read version_locations"
                    }
                ),
                help: format!("write {fix}"),
            });
        }
    }

    if let Some((raw, sp)) = get("version_locations", project) {
        if !raw.trim().is_empty() {
            // An invalid separator makes Alembic fail; lint with the one the user meant
            // (the first word, as in `os  # comment`), the finding above says the rest.
            let sep = separator.map(|(_, v)| v.raw.split_whitespace().next().unwrap_or(""));
            let split_char = match sep {
                Some("space") => Some(' '),
                Some("newline") => Some('\n'),
                Some("os") | Some(":") => Some(':'),
                Some(";") => Some(';'),
                _ => None,
            };
            let locations: Vec<String> = match split_char {
                // As Alembic: drop empty pieces, then strip the rest.
                Some(c) => raw
                    .split(c)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim().to_string())
                    .collect(),
                // Legacy: split on commas and runs of spaces.
                None => split_legacy(&raw),
            };
            settings.version_locations = Some((locations, sp));
        }
    } else {
        settings.version_locations = toml_settings.version_locations;
    }

    if let Some(v) = parsed.get(section, "recursive_version_locations") {
        settings.recursive = v.raw == "true";
        let lower = v.raw.to_lowercase();
        if v.raw != "true" && ["true", "yes", "on", "1"].contains(&lower.as_str()) {
            project.config_issues.push(ConfigIssue {
                points_at_nothing: false,
                span: span(v.value_span),
                message: format!(
                    "`recursive_version_locations = {}` counts as false: Alembic accepts only the exact lowercase word `true`, so revisions in subfolders are not loaded",
                    v.raw
                ),
                help: "write `recursive_version_locations = true`".into(),
            });
        }
    } else {
        settings.recursive = toml_settings.recursive;
    }
}

/// Alembic's legacy `version_locations` split (no `path_separator`): the regex `, *| +`.
fn split_legacy(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' || c == ' ' {
            out.push(std::mem::take(&mut cur));
            while chars.peek() == Some(&' ') {
                chars.next();
            }
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// `[tool.alembic]` in pyproject.toml (Alembic 1.16+): `%(here)s` substitution, `%%` escaping.
fn read_pyproject(
    id: FileId,
    db: &FileDb,
    vars: &BTreeMap<String, String>,
    settings: &mut Settings,
    project: &mut Project,
) {
    let text = &db.get(id).text;
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let (s, end) = e.span().map(|r| (r.start, r.end)).unwrap_or((0, 0));
            project.file_issues.push(FileIssue {
                span: Span::new(id, s, end),
                message: format!("pyproject.toml does not parse: {}", e.message()),
                label: "cannot be parsed",
            });
            return;
        }
    };
    let Some(alembic) = table
        .get("tool")
        .and_then(|t| t.get("alembic"))
        .and_then(|t| t.as_table())
    else {
        return;
    };
    let key_span = |key: &str| -> Span {
        let section = text.find("[tool.alembic]").unwrap_or(0);
        let at = text[section..]
            .match_indices(key)
            .map(|(i, _)| section + i)
            .find(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
            .unwrap_or(section);
        let end = text[at..].find('\n').map(|e| at + e).unwrap_or(text.len());
        Span::new(id, at, end)
    };
    let subst = |key: &str, s: &str, project: &mut Project| -> Option<String> {
        match percent_format(s, vars) {
            Ok(v) => Some(v),
            Err(why) => {
                project.config_issues.push(ConfigIssue {
                    points_at_nothing: false,
                    span: key_span(key),
                    message: format!("`{key}` in [tool.alembic]: {why}"),
                    help: "escape a literal `%` as `%%` in pyproject.toml values".into(),
                });
                None
            }
        }
    };
    if let Some(s) = alembic.get("script_location").and_then(|v| v.as_str()) {
        if let Some(v) = subst("script_location", s, project) {
            settings.script_location = Some((v, key_span("script_location")));
        }
    }
    if let Some(list) = alembic.get("version_locations").and_then(|v| v.as_array()) {
        let mut out = Vec::new();
        for item in list.iter().filter_map(|v| v.as_str()) {
            if let Some(v) = subst("version_locations", item, project) {
                out.push(v);
            }
        }
        settings.version_locations = Some((out, key_span("version_locations")));
    }
    match alembic.get("recursive_version_locations") {
        Some(toml::Value::Boolean(b)) => settings.recursive = *b,
        Some(_) => project.config_issues.push(ConfigIssue {
            points_at_nothing: false,
            span: key_span("recursive_version_locations"),
            message: "`recursive_version_locations` in [tool.alembic] must be a boolean: Alembic fails with \"boolean value expected\"".into(),
            help: "write `recursive_version_locations = true`".into(),
        }),
        None => {}
    }
}

/// Python's `%` formatting with a mapping, as Alembic applies it to pyproject values.
fn percent_format(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    ini::substitute(s, &mut |name| {
        vars.get(name)
            .cloned()
            .ok_or_else(|| format!("unknown `%({name})s` in {s:?}"))
    })
}

/// Alembic resolves relative locations against the working directory; revlint assumes
/// Alembic runs next to its config, which is how `alembic` is normally invoked.
/// `package:folder` resource locations are looked up relative to the config too.
fn resolve_location(here: &Path, loc: &str) -> PathBuf {
    let candidates = location_candidates(here, loc);
    candidates
        .iter()
        .find(|c| c.is_dir())
        .or(candidates.first())
        .cloned()
        .unwrap_or_else(|| normalize(&here.join(loc.trim())))
}

/// Where a `script_location` or version location may be, in the order revlint tries them;
/// the first that is a folder wins, and when none is, the first is reported.
///
/// Alembic resolves a relative path against the working directory it runs in, which revlint
/// cannot see, so the candidates are the folders it is commonly run from: the config's own
/// folder (`alembic` beside `alembic.ini`), then each parent up to the repository root
/// (`alembic -c sub/alembic.ini` from the root, a Dockerfile `WORKDIR` above the config). An
/// absolute path that is not in the repository is read as a path inside an image: its
/// longest suffix that exists below the repository root, or below a folder between it and
/// the config's (`/usr/src/app/migrations` with `COPY migrations migrations/`). `pkg.sub:res:more` is a
/// package resource: the folder of package `pkg.sub`, looked for in the config's folder, its
/// parents and their `src/`, then `res/more`. A template placeholder (`{alembic_dir}`) cannot
/// be resolved: no candidate.
pub fn location_candidates(here: &Path, loc: &str) -> Vec<PathBuf> {
    let loc = loc.trim();
    if loc.contains('{') && loc.contains('}') {
        return Vec::new();
    }
    let mut bases: Vec<PathBuf> = ancestors_to_repo_root(here);
    if bases.first().is_none_or(|b| b != here) {
        bases.insert(0, here.to_path_buf());
    }
    let p = Path::new(loc);
    if p.is_absolute() {
        let mut out = vec![normalize(p)];
        // A path into the repository (`%(here)s/…`) is what it says.
        if bases.last().is_some_and(|r| p.starts_with(r)) {
            return out;
        }
        let parts: Vec<&str> = loc.split('/').filter(|c| !c.is_empty()).collect();
        // The image's folder may be any folder from the config's up to the repository root
        // (`COPY ./api /app` makes `/app/x` the repository's `api/x`).
        for k in 1..parts.len() {
            let suffix = parts[k..].join("/");
            for base in bases.iter().rev() {
                out.push(normalize(&base.join(&suffix)));
            }
        }
        return out;
    }
    if let Some(rel) = resource_path(loc) {
        let mut out = Vec::new();
        for base in &bases {
            out.push(normalize(&base.join(&rel)));
            out.push(normalize(&base.join("src").join(&rel)));
        }
        return out;
    }
    bases.iter().map(|b| normalize(&b.join(p))).collect()
}

/// Whether some Python file of the repository sets `script_location` itself
/// (`Config.set_main_option("script_location", ...)`). Read only for a config without one;
/// files over 1 MB are passed over, and the search stops at the first hit.
fn code_sets_script_location(scripts: &BTreeSet<PathBuf>) -> bool {
    first_python_script(scripts, |t| main_option_set_at(t, &["script_location"])).is_some()
}

/// The first Python file of the repository (and the byte offset) that sets Alembic's version
/// locations in code: `cfg.set_main_option("version_locations", …)`, or an assignment to
/// `….version_locations` (`context.script.version_locations = …`). Test files are not
/// scripts, so they do not count.
fn code_sets_version_locations(scripts: &BTreeSet<PathBuf>) -> Option<(PathBuf, usize)> {
    first_python_script(scripts, version_locations_at)
}

/// The first Python script (in path order, at most 1 MiB: an application module, not a data
/// dump) where `find` finds something, with what it found. Read in parallel; the search
/// stops once the first hit is known.
fn first_python_script(
    scripts: &BTreeSet<PathBuf>,
    find: impl Fn(&str) -> Option<usize> + Sync,
) -> Option<(PathBuf, usize)> {
    scripts
        .par_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= 1_048_576))
        .find_map_first(|p| {
            let t = read_raw(p).ok()?;
            find(&t).map(|at| (p.clone(), at))
        })
}

/// Where a text calls `set_main_option(` with one of `names` in the 80 characters after it.
fn main_option_set_at(t: &str, names: &[&str]) -> Option<usize> {
    t.match_indices("set_main_option(")
        .find(|(i, _)| {
            let head: String = t[*i..].chars().take(80).collect();
            names.iter().any(|n| head.contains(n))
        })
        .map(|(i, _)| i)
}

/// Where a Python text sets version locations: `set_main_option("version_locations", …)` or
/// an assignment to `….version_locations`.
fn version_locations_at(t: &str) -> Option<usize> {
    memchr::memmem::find(t.as_bytes(), b"version_locations")?;
    let set = main_option_set_at(t, &["\"version_locations\"", "'version_locations'"]);
    let assign = t.match_indices(".version_locations").find(|(i, w)| {
        let rest = t[i + w.len()..].trim_start_matches([' ', '\t']);
        rest.starts_with('=') && !rest.starts_with("==")
    });
    set.or(assign.map(|(i, _)| i))
}

/// `pkg.sub:res:more` as a relative path (`pkg/sub/res/more`), when it is a package
/// resource: a dotted package name before the first `:`.
fn resource_path(loc: &str) -> Option<PathBuf> {
    let (pkg, res) = loc.trim().split_once(':')?;
    let is_package = !pkg.is_empty()
        && pkg
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    is_package.then(|| {
        pkg.split('.')
            .chain(res.split(':'))
            .filter(|c| !c.is_empty())
            .collect()
    })
}
fn has_py_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.ends_with(".py") && !n.starts_with("__init__")
        })
    })
}

/// Alembic's load order: version locations in config order; in each, the files of a folder
/// sorted by name, then (recursive only) its subfolders in sorted order, depth first;
/// `__pycache__` skipped; `*.py` not starting with `__init__` or `.#`; a file reached twice
/// (overlapping locations) loaded once.
pub fn list_version_files(project: &Project) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // Overlapping locations can reach a file twice; only then is resolving links worth its
    // system calls.
    let overlap = project.version_locations.len() > 1 || has_symlinks(&project.version_locations);
    for loc in &project.version_locations {
        if !loc.is_dir() {
            continue;
        }
        let mut stack = vec![loc.clone()];
        while let Some(dir) = stack.pop() {
            if dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("__pycache__"))
            {
                continue;
            }
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files = Vec::new();
            let mut dirs = Vec::new();
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                let path = e.path();
                // Like os.walk: links to folders are listed as folders but not entered.
                if ft.is_dir() {
                    dirs.push(path);
                } else if ft.is_symlink() && path.is_dir() {
                    continue;
                } else {
                    files.push((e.file_name(), path));
                }
            }
            files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (name, f) in files {
                let name = name.to_string_lossy();
                if !name.ends_with(".py") || name.starts_with("__init__") || name.starts_with(".#")
                {
                    continue;
                }
                if overlap {
                    let real = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
                    if !seen.insert(real) {
                        continue;
                    }
                }
                out.push(f);
            }
            if project.recursive_version_locations {
                dirs.sort();
                stack.extend(dirs.into_iter().rev());
            }
        }
    }
    out
}

/// Whether any location is itself reached through a link (then it may repeat another).
fn has_symlinks(locations: &[PathBuf]) -> bool {
    locations
        .iter()
        .any(|l| std::fs::symlink_metadata(l).is_ok_and(|m| m.file_type().is_symlink()))
}

/// A Python file's text and parsed facts, or why it could not be read.
type Loaded = Result<(String, python::PyModule), Unreadable>;

/// Why a file could not be used, with its text (decoded as far as possible) and the offset
/// of the problem when there is something to show.
struct Unreadable {
    why: String,
    text: String,
    at: usize,
    label: &'static str,
}

impl From<String> for Unreadable {
    fn from(why: String) -> Self {
        Unreadable {
            why,
            text: String::new(),
            at: 0,
            label: "cannot be parsed",
        }
    }
}

/// Read and parse every revision file of `project`, in parallel, keeping load order.
pub fn load_versions(project: &mut Project, opts: &DiscoverOptions, db: &mut FileDb) {
    let cwd = opts.cwd.as_path();
    let files = list_version_files(project);
    let wants = python::Wants {
        bodies: opts.read_bodies,
        downgrade: opts.include_downgrade,
        ..Default::default()
    };
    // Ids are handed out in load order, so each file's id is known before it is added.
    let base = db.len();
    type Built = Result<(String, Migration), Unreadable>;
    let loaded: Vec<(PathBuf, Built)> = files
        .into_par_iter()
        .enumerate()
        .map(|(i, path)| {
            let built = read_python(&path, wants).map(|(text, module)| {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let m = Migration::from_module(FileId((base + i) as u32), &stem, &module);
                (text, m)
            });
            (path, built)
        })
        .collect();
    for (path, parsed) in loaded {
        match parsed {
            Ok((text, m)) => {
                let id = db.add(path.clone(), display(cwd, &path), text);
                debug_assert_eq!(id, m.file);
                project.files.push(VersionFile::Migration(Box::new(m)));
            }
            Err(u) => {
                let end = u.at + u.text[u.at..].chars().next().map_or(0, char::len_utf8);
                let id = db.add(path.clone(), display(cwd, &path), u.text);
                project.file_issues.push(FileIssue {
                    span: Span::new(id, u.at, end),
                    message: format!("{} {}", db.get(id).display, u.why),
                    label: u.label,
                });
                project.files.push(VersionFile::Unreadable(id));
            }
        }
    }
}

/// Read and parse a Python file as CPython imports it: bytes that are not UTF-8 are accepted
/// inside comments (the import machinery does not decode them), nowhere else.
fn read_python(path: &Path, wants: python::Wants) -> Loaded {
    match read_raw(path) {
        Ok(text) => {
            let module = python::parse_module(&text, wants);
            Ok((text, module))
        }
        Err(ReadError::NotUtf8(bytes)) => {
            let mut text = String::with_capacity(bytes.len());
            let mut bad = Vec::new();
            for chunk in bytes.utf8_chunks() {
                text.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    bad.push(text.len());
                    text.push(char::REPLACEMENT_CHARACTER);
                }
            }
            let module = python::parse_module(
                &text,
                python::Wants {
                    comments: true,
                    ..wants
                },
            );
            let outside = bad
                .iter()
                .find(|&&at| !module.comments.iter().any(|&(s, e)| s <= at && at < e));
            match outside {
                None => Ok((text, module)),
                Some(&at) => {
                    let line = LineIndex::new(&text).line_col(&text, at as u32).line;
                    Err(Unreadable {
                        why: format!(
                            "is not valid UTF-8 (line {line}, outside a comment) and declares no other encoding: Python refuses to import it"
                        ),
                        text,
                        at,
                        label: "not UTF-8",
                    })
                }
            }
        }
        Err(e) => Err(e.describe().into()),
    }
}

enum ReadError {
    Io(std::io::Error),
    Binary,
    NotUtf8(Vec<u8>),
}

impl ReadError {
    fn describe(&self) -> String {
        match self {
            ReadError::Io(e) => format!("cannot be read: {}", io_reason(e)),
            ReadError::Binary => "is a binary file (it contains NUL bytes), not text".into(),
            ReadError::NotUtf8(bytes) => {
                let at = std::str::from_utf8(bytes)
                    .err()
                    .map(|e| e.valid_up_to())
                    .unwrap_or(0);
                let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                format!(
                    "is not valid UTF-8 (byte 0x{:02X} at offset {at}, line {line}) and declares no other encoding",
                    bytes.get(at).copied().unwrap_or(0)
                )
            }
        }
    }
}

/// Text as Python reads source: UTF-8 (a BOM is dropped), or Latin-1 when a PEP 263 coding
/// line on the first two lines declares it.
fn read_raw(path: &Path) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(ReadError::Io)?;
    if bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) if declares_latin1(bytes) => Ok(bytes.iter().map(|&b| b as char).collect()),
        Err(_) => Err(ReadError::NotUtf8(bytes.to_vec())),
    }
}

/// Read a text file (configs), describing why it cannot be read.
pub fn read_text(path: &Path) -> Result<String, String> {
    read_raw(path).map_err(|e| e.describe())
}

fn declares_latin1(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').take(2).any(|line| {
        let line = String::from_utf8_lossy(line).to_lowercase();
        line.trim_start().starts_with('#')
            && line.contains("coding")
            && ["latin-1", "latin1", "iso-8859-1", "iso8859-1"]
                .iter()
                .any(|c| line.contains(c))
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(40) => "too many levels of symbolic links (a link loop)".into(),
        _ => e.to_string(),
    }
}

/// The path shown to users: relative to `cwd` when below it, with `/` separators.
pub fn display(cwd: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(cwd).unwrap_or(path);
    let s = shown.to_string_lossy().replace('\\', "/");
    if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

pub fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    normalize(&if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    })
}

/// Remove `.` and `..` components without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `to` relative to `from` when below it, else `to` as is.
fn pathdiff(from: &Path, to: &Path) -> String {
    to.strip_prefix(from)
        .unwrap_or(to)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_split_matches_alembic() {
        assert_eq!(split_legacy("a, b  c,d"), ["a", "b", "c", "d"]);
    }

    #[test]
    fn percent_format_escapes() {
        let vars = BTreeMap::from([("here".to_string(), "/p".to_string())]);
        assert_eq!(percent_format("%(here)s/m%%", &vars).unwrap(), "/p/m%");
        assert!(percent_format("50%", &vars).is_err());
    }

    #[test]
    fn resource_locations() {
        let here = Path::new("/repo");
        assert_eq!(
            resolve_location(here, "myapp.db:migrations"),
            PathBuf::from("/repo/myapp/db/migrations")
        );
        assert_eq!(resolve_location(here, "./a/../b"), PathBuf::from("/repo/b"));
        // Several tokens after the package are path components.
        assert_eq!(
            location_candidates(here, "prefect:server:database:_migrations")[0],
            PathBuf::from("/repo/prefect/server/database/_migrations")
        );
        assert!(location_candidates(here, "{alembic_dir}").is_empty());
    }
}
