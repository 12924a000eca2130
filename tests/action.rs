//! The GitHub Action's entrypoint (`action/entrypoint.sh`), run outside its container with
//! the runner's environment simulated: `GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`,
//! `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`, `GITHUB_WORKSPACE` and the `INPUT_*` variables,
//! on a temporary git repository whose pull-request branch adds a second head to a base
//! branch that already has an unrelated finding.
//!
//! Needs `bash`, `git` and `jq`, as the action's image has them.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{copy_tree, root};

/// The base project: one revision, and an entrypoint script that stamps when the upgrade
/// fails (a `stamp-in-deploy` finding that exists before the pull request).
const BASE_FIXTURE: &str = "fixtures/rules/stamp-in-deploy/bad_upgrade_or_stamp_in_entrypoint";

fn revision(id: &str, down: &str) -> String {
    format!(
        "\"\"\"{id}\"\"\"\nfrom alembic import op\n\nrevision = \"{id}\"\ndown_revision = \"{down}\"\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=revlint tests",
            "-c",
            "user.email=tests@revlint.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Runner {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    runner: PathBuf,
    base_sha: String,
}

impl Runner {
    /// `main` with one chain; `feature` checked out, adding a revision on the root: two heads.
    fn new() -> Runner {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("workspace");
        let runner = tmp.path().join("runner");
        fs::create_dir_all(&repo).unwrap();
        fs::create_dir_all(&runner).unwrap();
        copy_tree(&root().join(BASE_FIXTURE), &repo);
        fs::remove_file(repo.join("NOTES.md")).unwrap();
        let versions = repo.join("migrations/versions");
        fs::write(
            versions.join("1f2e3d4c5b6a_add_orders.py"),
            revision("1f2e3d4c5b6a", "e4a97c5f48e5"),
        )
        .unwrap();
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-qm", "base"]);
        let base_sha = git(&repo, &["rev-parse", "HEAD"]);
        git(&repo, &["checkout", "-qb", "feature"]);
        fs::write(
            versions.join("9a8b7c6d5e4f_add_invoices.py"),
            revision("9a8b7c6d5e4f", "e4a97c5f48e5"),
        )
        .unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-qm", "second head"]);
        Runner {
            _tmp: tmp,
            repo,
            runner,
            base_sha,
        }
    }

    fn event(&self, name: &str, payload: &serde_json::Value) -> PathBuf {
        let path = self.runner.join(format!("{name}.json"));
        fs::write(&path, serde_json::to_vec(payload).unwrap()).unwrap();
        path
    }

    fn pull_request(&self) -> PathBuf {
        self.event(
            "pull_request",
            &serde_json::json!({
                "action": "synchronize",
                "pull_request": {"number": 7, "base": {"ref": "main", "sha": self.base_sha}}
            }),
        )
    }

    /// Run the entrypoint for `event` with `inputs` (name in action.yml, value).
    fn run(&self, event: &str, payload: &Path, inputs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("action/entrypoint.sh"))
            .current_dir(&self.runner)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", &self.runner)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("REVLINT", env!("CARGO_BIN_EXE_revlint"))
            // As in the container, where the mounted workspace belongs to another user: git
            // refuses it unless the entrypoint declares it safe.
            .env("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &self.repo)
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_EVENT_PATH", payload)
            .env("GITHUB_STEP_SUMMARY", self.runner.join("summary.md"))
            .env("GITHUB_OUTPUT", self.runner.join("output"));
        // The defaults the runner sets from action.yml, then the workflow's `with:`.
        let defaults = [
            ("PATH", "."),
            ("FAIL-ON", "error"),
            ("DIFF-BASE", "auto"),
            ("SARIF-FILE", "revlint.sarif"),
            ("SUMMARY", "true"),
        ];
        for (name, value) in defaults {
            cmd.env(format!("INPUT_{name}"), value);
        }
        for (name, value) in inputs {
            cmd.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        cmd.output().expect("bash runs")
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.runner.join(name)).unwrap_or_default()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sarif_rules(path: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let mut ids: Vec<String> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn pull_request_shows_only_the_new_head_and_fails() {
    let r = Runner::new();
    let out = r.run("pull_request", &r.pull_request(), &[]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // The annotation: on the revision file, titled with the rule.
    assert!(
        log.lines().any(|l| l
            .starts_with("::error file=migrations/versions/9a8b7c6d5e4f_add_invoices.py,")
            && l.contains("title=revlint(multiple-heads)")),
        "{}",
        describe(&out)
    );
    // The stamp finding predates the pull request: not annotated here.
    assert!(!log.contains("stamp-in-deploy"), "{}", describe(&out));
    assert!(log.contains("merge base with"), "{log}");

    // SARIF: written, exposed as an output, and complete (the old finding too).
    let output = r.read("output");
    assert_eq!(output, "sarif-file=revlint.sarif\n");
    assert_eq!(
        sarif_rules(&r.repo.join("revlint.sarif")),
        ["multiple-heads", "stamp-in-deploy"]
    );

    // The job summary: a table row for the new head, the graph in <details>, text beside it.
    let summary = r.read("summary.md");
    assert!(
        summary.contains("| error | `multiple-heads` |"),
        "{summary}"
    );
    assert!(!summary.contains("stamp-in-deploy"), "{summary}");
    let details = summary.find("<details>").expect("graph section");
    let mermaid = summary.find("```mermaid").expect("mermaid graph");
    assert!(details < mermaid && summary[mermaid..].contains("```text"));
    assert!(summary.contains(&r.base_sha), "{summary}");
    assert!(summary.len() < 1024 * 1024);
}

#[test]
fn push_checks_the_whole_repository() {
    let r = Runner::new();
    let payload = r.event("push", &serde_json::json!({"ref": "refs/heads/feature"}));
    let out = r.run("push", &payload, &[]);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(log.contains("title=revlint(multiple-heads)"), "{log}");
    assert!(log.contains("title=revlint(stamp-in-deploy)"), "{log}");
    assert!(log.contains("whole repository"), "{log}");
    assert!(r.read("summary.md").contains("stamp-in-deploy"));
}

#[test]
fn fail_on_never_reports_but_passes() {
    let r = Runner::new();
    let out = r.run("pull_request", &r.pull_request(), &[("fail-on", "never")]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stdout(&out).contains("title=revlint(multiple-heads)"));
}

#[test]
fn a_merged_head_passes() {
    let r = Runner::new();
    fs::write(
        r.repo.join("migrations/versions/0a1b2c3d4e5f_merge.py"),
        "revision = \"0a1b2c3d4e5f\"\ndown_revision = (\"1f2e3d4c5b6a\", \"9a8b7c6d5e4f\")\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    )
    .unwrap();
    git(&r.repo, &["add", "."]);
    git(&r.repo, &["commit", "-qm", "merge heads"]);
    let out = r.run("pull_request", &r.pull_request(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!stdout(&out).contains("::error"), "{}", describe(&out));
    let summary = r.read("summary.md");
    assert!(summary.starts_with("## ✅ revlint"), "{summary}");
    assert!(!summary.contains("<details>"), "{summary}");
}

#[test]
fn inputs_are_never_run_by_the_shell() {
    let r = Runner::new();
    let canary = r.runner.join("pwned");
    let payload = r.pull_request();
    for (name, value) in [
        ("path", format!("$(touch {})", canary.display())),
        ("fail-on", format!("error; touch {}", canary.display())),
        ("diff-base", format!("`touch {}`", canary.display())),
        (
            "sarif-file",
            format!("x$(touch {}).sarif", canary.display()),
        ),
    ] {
        let out = r.run("pull_request", &payload, &[(name, &value)]);
        assert!(!canary.exists(), "input {name} ran: {}", describe(&out));
        assert_ne!(out.status.code(), Some(0), "{name}: {}", describe(&out));
        if name != "sarif-file" {
            assert!(
                stdout(&out).contains("::error title=revlint::"),
                "{name}: {}",
                describe(&out)
            );
        }
        let _ = fs::remove_file(r.repo.join("revlint.sarif"));
        let _ = fs::remove_file(r.repo.join(&value));
    }
}

#[test]
fn a_shallow_history_says_to_fetch_everything() {
    let r = Runner::new();
    let payload = r.event(
        "pull_request",
        &serde_json::json!({"pull_request": {"base": {"ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567"}}}),
    );
    let out = r.run("pull_request", &payload, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let log = stdout(&out);
    assert!(
        log.starts_with("revlint:") || log.contains("::error title=revlint::"),
        "{log}"
    );
    assert!(log.contains("fetch-depth: 0"), "{}", describe(&out));
}

#[test]
fn an_existing_sarif_file_is_not_overwritten() {
    let r = Runner::new();
    fs::write(r.repo.join("revlint.sarif"), "keep me").unwrap();
    let out = r.run("push", &r.event("push", &serde_json::json!({})), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stdout(&out).contains("already exists"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        fs::read_to_string(r.repo.join("revlint.sarif")).unwrap(),
        "keep me"
    );
}

#[test]
fn bad_inputs_are_refused_with_an_annotation() {
    let r = Runner::new();
    let payload = r.pull_request();
    for (name, value, says) in [
        ("fail-on", "sometimes", "fail-on must be"),
        ("summary", "yes", "summary must be"),
        ("path", "no/such/dir", "no/such/dir"),
    ] {
        let out = r.run("pull_request", &payload, &[(name, value)]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", describe(&out));
        let log = stdout(&out);
        assert!(
            log.lines()
                .any(|l| l.starts_with("::error title=revlint::") && l.contains(says)),
            "{name}: {}",
            describe(&out)
        );
        let _ = fs::remove_file(r.repo.join("revlint.sarif"));
    }
}

/// action.yml declares exactly the inputs the entrypoint reads, and runs on the Dockerfile
/// without passing inputs as arguments.
#[test]
fn action_yml_matches_the_entrypoint() {
    let yml = fs::read_to_string(root().join("action.yml")).unwrap();
    let script = fs::read_to_string(root().join("action/entrypoint.sh")).unwrap();
    let doc = revlint::parse::yaml::load(&yml);
    assert!(doc.issues.is_empty(), "{:?}", doc.issues);
    let action = &doc.documents[0];
    let mut declared: Vec<String> = action
        .get("inputs")
        .and_then(|i| i.as_map())
        .expect("inputs")
        .iter()
        .map(|e| e.key.as_str().unwrap().to_string())
        .collect();
    let mut read: Vec<String> = script
        .match_indices("$(input ")
        .map(|(i, _)| {
            script[i + 8..]
                .split([' ', ')'])
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    read.sort();
    read.dedup();
    declared.sort();
    assert_eq!(declared, read);
    let runs = action.get("runs").expect("runs");
    assert_eq!(runs.get("using").and_then(|v| v.as_str()), Some("docker"));
    assert_eq!(
        runs.get("image").and_then(|v| v.as_str()),
        Some("Dockerfile")
    );
    assert!(
        runs.get("args").is_none() && runs.get("env").is_none(),
        "inputs reach the container as INPUT_* only"
    );
    let outputs = action
        .get("outputs")
        .and_then(|o| o.as_map())
        .expect("outputs");
    assert!(outputs.iter().any(|e| e.key.as_str() == Some("sarif-file")));
    let dockerfile = fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("action/entrypoint.sh"));
}

#[test]
fn the_sarif_file_stays_inside_the_workspace() {
    let r = Runner::new();
    let push = r.event("push", &serde_json::json!({}));
    // A folder that does not exist yet is created.
    let out = r.run(
        "push",
        &push,
        &[("sarif-file", "reports/lint/revlint.sarif")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(r.repo.join("reports/lint/revlint.sarif").is_file());
    assert_eq!(r.read("output"), "sarif-file=reports/lint/revlint.sarif\n");
    fs::remove_file(r.runner.join("output")).unwrap();

    // An absolute path inside the workspace becomes relative, as later steps need it.
    let inside = r.repo.join("abs.sarif");
    let out = r.run("push", &push, &[("sarif-file", inside.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(r.read("output"), "sarif-file=abs.sarif\n");
    assert!(inside.is_file());

    let escaped = r.runner.join("escaped.sarif");
    std::os::unix::fs::symlink(&escaped, r.repo.join("link.sarif")).unwrap();
    std::os::unix::fs::symlink(&r.runner, r.repo.join("out")).unwrap();
    for (value, says) in [
        (
            escaped.to_str().unwrap().to_string(),
            "inside the workspace",
        ),
        ("link.sarif".to_string(), "already exists"),
        ("out/escaped.sarif".to_string(), "outside the workspace"),
    ] {
        let out = r.run("push", &push, &[("sarif-file", &value)]);
        assert_eq!(out.status.code(), Some(2), "{value}: {}", describe(&out));
        assert!(stdout(&out).contains(says), "{value}: {}", describe(&out));
        assert!(!escaped.exists(), "{value} wrote outside the workspace");
    }
}

#[test]
fn diff_base_input_and_other_events() {
    let r = Runner::new();
    // `none` on a pull request: the whole repository.
    let out = r.run("pull_request", &r.pull_request(), &[("diff-base", "none")]);
    assert!(
        stdout(&out).contains("title=revlint(stamp-in-deploy)"),
        "{}",
        describe(&out)
    );
    let _ = fs::remove_file(r.repo.join("revlint.sarif"));

    // A ref on a push: only the change.
    fs::remove_file(r.runner.join("summary.md")).unwrap();
    let push = r.event("push", &serde_json::json!({}));
    let out = r.run(
        "push",
        &push,
        &[("diff-base", "main"), ("summary", "false")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains("title=revlint(multiple-heads)"));
    assert!(
        !stdout(&out).contains("stamp-in-deploy"),
        "{}",
        describe(&out)
    );
    assert_eq!(r.read("summary.md"), "", "summary: false writes no summary");
    let _ = fs::remove_file(r.repo.join("revlint.sarif"));

    // A merge queue names its base in `merge_group.base_sha`.
    let mg = r.event(
        "merge_group",
        &serde_json::json!({"merge_group": {"base_sha": r.base_sha, "head_sha": "x"}}),
    );
    let out = r.run("merge_group", &mg, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains(&format!("merge base with {}", r.base_sha)));
    assert!(
        !stdout(&out).contains("stamp-in-deploy"),
        "{}",
        describe(&out)
    );
    let _ = fs::remove_file(r.repo.join("revlint.sarif"));

    // pull_request_target with the base checked out: nothing to judge, said so.
    git(&r.repo, &["checkout", "-q", "main"]);
    let out = r.run("pull_request_target", &r.pull_request(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout(&out).contains("::warning title=revlint::The checked-out commit is already part of"),
        "{}",
        describe(&out)
    );
}

#[test]
fn several_paths_one_per_line() {
    let r = Runner::new();
    let push = r.event("push", &serde_json::json!({}));
    // Only the entrypoint script: the stamp finding, not the revisions' head.
    let out = r.run(
        "push",
        &push,
        &[("path", "entrypoint.sh\n\n  \nDockerfile\n")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let log = stdout(&out);
    assert!(log.contains("title=revlint(stamp-in-deploy)"), "{log}");
    assert!(!log.contains("multiple-heads"), "{log}");
}

#[test]
fn a_checkout_in_a_subfolder_of_the_workspace() {
    // actions/checkout with `path: app`: the workspace is not a repository, its subfolder is.
    let r = Runner::new();
    let outer = r.runner.join("outer");
    fs::create_dir_all(&outer).unwrap();
    fs::rename(&r.repo, outer.join("app")).unwrap();
    let moved = Runner {
        repo: outer.clone(),
        ..r
    };
    let out = moved.run(
        "pull_request",
        &moved.pull_request(),
        &[("path", "app"), ("sarif-file", "app.sarif")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let log = stdout(&out);
    assert!(
        log.contains("::error file=app/migrations/versions/9a8b7c6d5e4f_add_invoices.py,"),
        "{log}"
    );
    assert!(!log.contains("stamp-in-deploy"), "{log}");
}
