//! Parity with real Alembic.
//!
//! `tests/parity/oracle.py` generates seeded random revision graphs, writes
//! each as an Alembic project and records what the pinned Alembic release
//! makes of it (heads and bases, or the first error it raises, classified as
//! a revlint rule id). This test runs revlint on the same projects and
//! demands the same answer:
//!
//! * Alembic loads the graph: revlint reports no fatal rule and its
//!   `heads`, `bases`, `real_heads` and `real_bases` equal Alembic's,
//!   order included.
//! * Alembic fails with kind K: revlint reports at least one diagnostic of
//!   rule K.
//!
//! The Python side needs `alembic==1.20.1`. `REVLINT_PARITY_PYTHON` names a
//! Python that has it; otherwise a virtualenv is made (once) in
//! `target/parity-venv`. `REVLINT_PARITY_CASES` changes the number of graphs
//! (default 600).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

const ALEMBIC_VERSION: &str = "1.20.1";
const DEFAULT_CASES: usize = 600;
/// Mismatches described in full in the failure message; the rest by seed.
const MAX_REPORTED: usize = 40;

/// Rules whose findings mean Alembic itself cannot load the graph.
const FATAL_RULES: [&str; 5] = [
    "dangling-down-revision",
    "dangling-depends-on",
    "revision-cycle",
    "duplicate-branch-label",
    "not-a-revision",
];

const MAP_KEYS: [&str; 4] = ["heads", "bases", "real_heads", "real_bases"];

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    cmd.output()
        .map_err(|e| format!("could not run {cmd:?}: {e}"))
}

fn describe_output(out: &Output) -> String {
    let indent = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .trim_end()
            .lines()
            .map(|l| format!("\n      | {l}"))
            .collect::<String>()
    };
    format!(
        "{}\n      stdout:{}\n      stderr:{}",
        out.status,
        indent(&out.stdout),
        indent(&out.stderr)
    )
}

/// The Alembic version importable by `python`, or why there is none.
fn alembic_version(python: &Path) -> Result<String, String> {
    let out = run(Command::new(python).args([
        "-c",
        "import alembic, sys; sys.stdout.write(alembic.__version__)",
    ]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{} cannot import alembic:\n{}",
            python.display(),
            describe_output(&out)
        ))
    }
}

fn pip_install_pinned(python: &Path) -> Result<(), String> {
    let pin = format!("alembic=={ALEMBIC_VERSION}");
    let out = run(Command::new(python).args(["-m", "pip", "install", "--quiet", &pin]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} -m pip install {pin}` failed:\n{}",
            python.display(),
            describe_output(&out)
        ))
    }
}

/// A Python interpreter with the pinned Alembic, creating the virtualenv in
/// `target/parity-venv` when needed. Panics with the reason otherwise: the
/// parity test never passes without having talked to Alembic.
fn parity_python() -> PathBuf {
    if let Some(python) = std::env::var_os("REVLINT_PARITY_PYTHON") {
        let python = PathBuf::from(python);
        match alembic_version(&python) {
            Ok(v) if v == ALEMBIC_VERSION => return python,
            Ok(v) => panic!(
                "REVLINT_PARITY_PYTHON={} has alembic {v}, the parity test needs \
                 alembic=={ALEMBIC_VERSION}",
                python.display()
            ),
            Err(e) => panic!("REVLINT_PARITY_PYTHON is not usable: {e}"),
        }
    }

    let venv = crate_root().join("target").join("parity-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let out = run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
            .unwrap_or_else(|e| panic!("cannot create the parity virtualenv: {e}"));
        assert!(
            out.status.success(),
            "`python3 -m venv {}` failed (set REVLINT_PARITY_PYTHON to a Python \
             with alembic=={ALEMBIC_VERSION} instead):\n{}",
            venv.display(),
            describe_output(&out)
        );
    }
    if alembic_version(&python).as_deref() != Ok(ALEMBIC_VERSION) {
        let pip = venv.join("bin").join("pip");
        let pin = format!("alembic=={ALEMBIC_VERSION}");
        let installed = if pip.exists() {
            run(Command::new(&pip).args(["install", "--quiet", &pin])).and_then(|out| {
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "`{} install {pin}` failed:\n{}",
                        pip.display(),
                        describe_output(&out)
                    ))
                }
            })
        } else {
            pip_install_pinned(&python)
        };
        if let Err(e) = installed {
            panic!(
                "cannot install alembic=={ALEMBIC_VERSION} into {} (set \
                 REVLINT_PARITY_PYTHON to a Python that has it): {e}",
                venv.display()
            );
        }
    }
    match alembic_version(&python) {
        Ok(v) if v == ALEMBIC_VERSION => python,
        Ok(v) => panic!(
            "{} has alembic {v} after installing, expected {ALEMBIC_VERSION}",
            python.display()
        ),
        Err(e) => panic!("the parity virtualenv is broken: {e}"),
    }
}

/// What revlint said about one case directory.
#[derive(Default)]
struct Revlint {
    /// `heads`, `bases`, `real_heads`, `real_bases` of the single project.
    map: BTreeMap<&'static str, Vec<String>>,
    /// (rule, message) of every diagnostic of `check`.
    diagnostics: Vec<(String, String)>,
    /// Problems running revlint itself (bad exit code, bad JSON...).
    failures: Vec<String>,
}

impl Revlint {
    fn rules(&self) -> impl Iterator<Item = &str> {
        self.diagnostics.iter().map(|(rule, _)| rule.as_str())
    }

    fn render(&self) -> String {
        let mut s = String::new();
        for problem in &self.failures {
            let _ = writeln!(s, "    failure: {problem}");
        }
        for key in MAP_KEYS {
            if let Some(ids) = self.map.get(key) {
                let _ = writeln!(s, "    {key}: {ids:?}");
            }
        }
        if self.diagnostics.is_empty() {
            let _ = writeln!(s, "    diagnostics: none");
        }
        for (rule, message) in &self.diagnostics {
            let _ = writeln!(s, "    [{rule}] {message}");
        }
        s
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn run_revlint(dir: &Path) -> Revlint {
    let exe = env!("CARGO_BIN_EXE_revlint");
    let mut result = Revlint::default();

    match run(Command::new(exe)
        .args(["graph", "--format", "json"])
        .arg(dir))
    {
        Err(e) => result.failures.push(e),
        Ok(out) if out.status.code() != Some(0) => result.failures.push(format!(
            "`revlint graph --format json` did not exit 0: {}",
            describe_output(&out)
        )),
        Ok(out) => match serde_json::from_slice::<Value>(&out.stdout) {
            Err(e) => result.failures.push(format!(
                "`revlint graph` printed invalid JSON ({e}): {}",
                describe_output(&out)
            )),
            Ok(doc) => {
                let projects = doc["projects"].as_array().cloned().unwrap_or_default();
                if projects.len() != 1 {
                    result.failures.push(format!(
                        "`revlint graph` found {} projects, expected 1",
                        projects.len()
                    ));
                }
                if let Some(project) = projects.first() {
                    for key in MAP_KEYS {
                        match string_list(&project[key]) {
                            Some(ids) => {
                                result.map.insert(key, ids);
                            }
                            None => result
                                .failures
                                .push(format!("`revlint graph` has no string list `{key}`")),
                        }
                    }
                }
            }
        },
    }

    match run(Command::new(exe)
        .args(["check", "--format", "json"])
        .arg(dir))
    {
        Err(e) => result.failures.push(e),
        Ok(out) if !matches!(out.status.code(), Some(0 | 1)) => result.failures.push(format!(
            "`revlint check --format json` exited with a usage/internal error: {}",
            describe_output(&out)
        )),
        Ok(out) => match serde_json::from_slice::<Value>(&out.stdout) {
            Err(e) => result.failures.push(format!(
                "`revlint check` printed invalid JSON ({e}): {}",
                describe_output(&out)
            )),
            Ok(doc) => match doc["diagnostics"].as_array() {
                None => result
                    .failures
                    .push("`revlint check` output has no `diagnostics` array".to_string()),
                Some(diags) => {
                    for d in diags {
                        let rule = d["rule"].as_str().unwrap_or("<no rule>").to_string();
                        let message = d["message"].as_str().unwrap_or("").to_string();
                        result.diagnostics.push((rule, message));
                    }
                }
            },
        },
    }
    result
}

fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        other => other.to_string(),
    }
}

fn render_graph(case: &Value) -> String {
    let mut s = String::new();
    let graph = &case["graph"];
    if let Some(m) = graph["mutations"].as_array() {
        let names: Vec<String> = m.iter().map(render_value).collect();
        let _ = writeln!(s, "    generated as: {}", names.join(", "));
    }
    if graph["has_true_cycle"].as_bool() == Some(true) {
        let _ = writeln!(
            s,
            "    note: down_revision + depends_on contain a cycle Alembic accepts"
        );
    }
    for f in graph["files"].as_array().into_iter().flatten() {
        let revision = if f["revision"].is_null() {
            "<no revision attribute>".to_string()
        } else if f["revision_declared"].as_bool() == Some(false) {
            format!("{} (from file name)", render_value(&f["revision"]))
        } else {
            render_value(&f["revision"])
        };
        let _ = writeln!(
            s,
            "    {}: revision={revision} down_revision={} depends_on={} branch_labels={}",
            f["file"].as_str().unwrap_or("?"),
            render_value(&f["down_revision"]),
            render_value(&f["depends_on"]),
            render_value(&f["branch_labels"]),
        );
    }
    s
}

fn render_alembic(case: &Value) -> String {
    let mut s = String::new();
    if case["outcome"] == "ok" {
        for key in MAP_KEYS {
            let _ = writeln!(s, "    {key}: {}", case[key]);
        }
    } else {
        let _ = writeln!(
            s,
            "    error ({}): {}",
            case["error_kind"].as_str().unwrap_or("?"),
            case["alembic_error"].as_str().unwrap_or("?")
        );
    }
    s
}

/// None when revlint agrees with Alembic on this case, else why not.
fn compare(case: &Value, revlint: &Revlint) -> Option<String> {
    let mut problems: Vec<String> = Vec::new();
    if !revlint.failures.is_empty() {
        problems.push("revlint did not run cleanly".to_string());
    }
    if case["outcome"] == "ok" {
        // A cycle Alembic's own check misses (every revision still lies between a head and
        // a base) is still reported, but must say that Alembic loads it, and must really be
        // a cycle by the oracle's independent check.
        let true_cycle = case["graph"]["has_true_cycle"].as_bool().unwrap_or(false);
        let fatal: Vec<&str> = revlint
            .diagnostics
            .iter()
            .filter(|(rule, message)| {
                FATAL_RULES.contains(&rule.as_str())
                    && !(rule == "revision-cycle"
                        && true_cycle
                        && message.contains("Alembic's own check does not notice it"))
            })
            .map(|(rule, _)| rule.as_str())
            .collect();
        if !fatal.is_empty() {
            problems.push(format!(
                "Alembic loads this graph but revlint reports fatal rules {fatal:?}"
            ));
        }
        for key in MAP_KEYS {
            let expected = string_list(&case[key]).unwrap_or_default();
            if let Some(got) = revlint.map.get(key) {
                if *got != expected {
                    problems.push(format!("{key} differ"));
                }
            }
        }
    } else {
        let kind = case["error_kind"].as_str().unwrap_or("unknown");
        if !FATAL_RULES.contains(&kind) {
            problems.push(format!(
                "the oracle could not classify Alembic's error (kind {kind:?})"
            ));
        } else if !revlint.rules().any(|r| r == kind) {
            problems.push(format!(
                "Alembic fails with {kind}, revlint does not report it"
            ));
        }
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "seed {} ({}): {}\n  Alembic:\n{}  revlint:\n{}  graph:\n{}",
        case["seed"],
        case["dir"].as_str().unwrap_or("?"),
        problems.join("; "),
        render_alembic(case),
        revlint.render(),
        render_graph(case)
    ))
}

#[test]
fn revlint_agrees_with_alembic() {
    let cases: usize = match std::env::var("REVLINT_PARITY_CASES") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("REVLINT_PARITY_CASES={v:?} is not a number")),
        Err(_) => DEFAULT_CASES,
    };
    let python = parity_python();

    let tmp = tempfile::Builder::new()
        .prefix("revlint-parity-")
        .tempdir()
        .expect("cannot create a temporary directory");
    let out_dir = tmp.path().to_path_buf();

    let oracle = crate_root().join("tests").join("parity").join("oracle.py");
    let out = run(Command::new(&python)
        .arg(&oracle)
        .arg(&out_dir)
        .arg("--cases")
        .arg(cases.to_string()))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "the parity oracle failed:\n{}",
        describe_output(&out)
    );

    let expected_path = out_dir.join("expected.json");
    let text = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", expected_path.display()));
    let doc: Value = serde_json::from_str(&text).expect("the oracle wrote invalid JSON");
    let all: Vec<Value> = doc["cases"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        all.len(),
        cases,
        "the oracle wrote the wrong number of cases"
    );

    // Run revlint over the cases in a few threads.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .clamp(1, 8);
    let chunk = all.len().div_ceil(threads).max(1);
    let mut mismatches: Vec<(u64, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                let out_dir = &out_dir;
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|case| {
                            let dir = out_dir.join(case["dir"].as_str().expect("case dir"));
                            let revlint = run_revlint(&dir);
                            compare(case, &revlint).map(|m| (case["seed"].as_u64().unwrap_or(0), m))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a parity worker panicked"))
            .collect()
    });
    mismatches.sort_by_key(|(seed, _)| *seed);

    // Distribution of outcomes.
    let ok = all.iter().filter(|c| c["outcome"] == "ok").count();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for c in all.iter().filter(|c| c["outcome"] != "ok") {
        let kind = c["error_kind"].as_str().unwrap_or("unknown").to_string();
        *kinds.entry(kind).or_default() += 1;
    }
    let errors = all.len() - ok;
    let dist: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    let verdict = if mismatches.is_empty() {
        "all agree".to_string()
    } else {
        format!("{} disagree", mismatches.len())
    };
    eprintln!(
        "parity: {} graphs, {ok} ok, {errors} errors ({}), {verdict}",
        all.len(),
        dist.join(", ")
    );

    if !mismatches.is_empty() {
        let kept = tmp.keep();
        let mut report = String::new();
        for (_, m) in mismatches.iter().take(MAX_REPORTED) {
            report.push_str(m);
            report.push('\n');
        }
        if mismatches.len() > MAX_REPORTED {
            let rest: Vec<String> = mismatches[MAX_REPORTED..]
                .iter()
                .map(|(seed, _)| seed.to_string())
                .collect();
            let _ = writeln!(report, "further mismatching seeds: {}", rest.join(" "));
        }
        panic!(
            "revlint disagrees with Alembic {ALEMBIC_VERSION} on {} of {} graphs \
             (projects kept in {}):\n\n{report}",
            mismatches.len(),
            all.len(),
            kept.display()
        );
    }

    // The generator must keep producing a useful mix; the floors scale with
    // the number of cases and apply from the default size up.
    if cases >= DEFAULT_CASES {
        let scale = |n: usize| n * cases / DEFAULT_CASES;
        assert!(errors >= scale(100), "only {errors} error cases generated");
        assert!(ok >= scale(300), "only {ok} ok cases generated");
        for rule in FATAL_RULES {
            let n = kinds.get(rule).copied().unwrap_or(0);
            assert!(
                n >= scale(10),
                "only {n} cases where Alembic fails with {rule}"
            );
        }
    }
}

fn revlint_in(dir: &Path, args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_revlint"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args))
    .unwrap()
}

/// `revlint fix` writes the merge revision; afterwards revlint and real Alembic both see one
/// head, the project's `script.py.mako` was used, and a second `fix` has nothing to do. A
/// file in the way is never overwritten.
#[test]
fn fix_writes_a_merge_revision_alembic_accepts() {
    let python = parity_python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::copy_tree(&crate_root().join("fixtures/projects/multiple-heads"), d);
    let mako = std::fs::read_to_string(
        crate_root().join("fixtures/projects/incident-001-postgis/migrations/script.py.mako"),
    )
    .unwrap();
    std::fs::write(
        d.join("migrations/script.py.mako"),
        format!("# rendered from the project's template\n{mako}"),
    )
    .unwrap();

    let before = revlint_in(d, &["heads"]);
    assert_eq!(
        before.status.code(),
        Some(1),
        "{}",
        describe_output(&before)
    );
    let dry = revlint_in(d, &["fix", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("(would merge 850df83abd23, a1b2c3d4e5f6)")
    );
    let versions = d.join("migrations/versions");
    let count = || std::fs::read_dir(&versions).unwrap().count();
    let n = count();
    assert_eq!(count(), n, "--dry-run writes nothing");

    let out = revlint_in(d, &["fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert_eq!(count(), n + 1);
    let written = std::fs::read_dir(&versions)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_merge_heads.py"))
        .expect("the merge revision");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        text.starts_with("# rendered from the project's template\n"),
        "{text}"
    );
    assert!(
        text.contains("= ('850df83abd23', 'a1b2c3d4e5f6')"),
        "{text}"
    );

    let heads = revlint_in(d, &["heads"]);
    assert_eq!(heads.status.code(), Some(0), "{}", describe_output(&heads));
    let ours = String::from_utf8_lossy(&heads.stdout).trim().to_string();
    let alembic = run(Command::new(&python).current_dir(d).args([
        "-m",
        "alembic",
        "-c",
        "alembic.ini",
        "heads",
    ]))
    .unwrap();
    assert!(alembic.status.success(), "{}", describe_output(&alembic));
    let theirs = String::from_utf8_lossy(&alembic.stdout).trim().to_string();
    assert_eq!(ours, theirs);
    assert!(
        theirs.ends_with("(head)") && theirs.lines().count() == 1,
        "{theirs}"
    );
    let again = revlint_in(d, &["fix"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to fix"));

    // Never overwrite: a file where the merge revision would go stops `fix`.
    let other = tempfile::tempdir().unwrap();
    common::copy_tree(
        &crate_root().join("fixtures/projects/multiple-heads"),
        other.path(),
    );
    let ini = other.path().join("alembic.ini");
    let conf = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        conf.replace("[alembic]\n", "[alembic]\nfile_template = %%(slug)s\n"),
    )
    .unwrap();
    let blocker = other.path().join("migrations/versions/merge_heads.py");
    std::fs::write(&blocker, "# not a revision: in the way\n").unwrap();
    let blocked = revlint_in(other.path(), &["fix"]);
    assert_eq!(
        blocked.status.code(),
        Some(2),
        "{}",
        describe_output(&blocked)
    );
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("never overwrites"));
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "# not a revision: in the way\n"
    );
}
