//! Finding projects: monorepos, --config, env.py fallback, walking up from a file, and
//! .gitignore.

mod common;

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use revlint::rules::RuleId;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn revision(dir: &Path, id: &str, down: Option<&str>) {
    let down = down.map(|d| format!("\"{d}\"")).unwrap_or("None".into());
    write(
        &dir.join(format!("{id}_r.py")),
        &format!("revision = \"{id}\"\ndown_revision = {down}\n\ndef upgrade():\n    pass\n"),
    );
}

/// Two services, each its own Alembic project: `api` has two heads, `billing` is clean.
fn monorepo(root: &Path) {
    for svc in ["api", "billing"] {
        write(
            &root.join(svc).join("alembic.ini"),
            "[alembic]\nscript_location = %(here)s/migrations\n",
        );
        write(&root.join(svc).join("migrations/env.py"), "");
    }
    let api = root.join("api/migrations/versions");
    revision(&api, "aaaa00000001", None);
    revision(&api, "aaaa00000002", Some("aaaa00000001"));
    revision(&api, "aaaa00000003", Some("aaaa00000001"));
    let billing = root.join("billing/migrations/versions");
    revision(&billing, "bbbb00000001", None);
    // The same id as in `api` is fine: projects are separate graphs.
    revision(&billing, "aaaa00000002", Some("bbbb00000001"));
}

#[test]
fn each_project_is_its_own_graph() {
    let dir = tempfile::tempdir().unwrap();
    monorepo(dir.path());
    let r = common::lint_dir(dir.path(), None);
    assert_eq!(r.discovered.projects.len(), 2);
    assert_eq!(
        common::finding_lines(&r),
        [
            "multiple-heads api/migrations/versions/aaaa00000002_r.py:1",
            "multiple-heads api/migrations/versions/aaaa00000003_r.py:1"
        ]
    );
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(dir.path())
        .args(["heads"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "# api/alembic.ini\naaaa00000002 (head)\naaaa00000003 (head)\n\n# billing/alembic.ini\naaaa00000002 (head)\n"
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn config_flag_picks_one_project() {
    let dir = tempfile::tempdir().unwrap();
    monorepo(dir.path());
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "check",
            "--format",
            "concise",
            "--config",
            "billing/alembic.ini",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(dir.path())
        .args(["heads", "--config", "api/alembic.ini"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "aaaa00000002 (head)\naaaa00000003 (head)\n"
    );
}

#[test]
fn a_file_path_finds_its_project_by_walking_up() {
    let dir = tempfile::tempdir().unwrap();
    monorepo(dir.path());
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(dir.path().join("api/migrations"))
        .args(["check", "--format", "concise", "versions/aaaa00000003_r.py"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("versions/aaaa00000002_r.py:1:12: error[multiple-heads]"),
        "{out}"
    );
}

#[test]
fn env_py_fallback_without_config() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("db/env.py"),
        "from alembic import context\n",
    );
    let v = dir.path().join("db/versions");
    revision(&v, "cccc00000001", None);
    revision(&v, "cccc00000002", Some("cccc00000009"));
    let r = common::lint_dir(dir.path(), None);
    assert_eq!(r.discovered.projects.len(), 1);
    assert_eq!(
        common::finding_lines(&r),
        ["dangling-down-revision db/versions/cccc00000002_r.py:2"]
    );
    // Walking up from a file finds it too.
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(&v)
        .args(["check", "--format", "concise", "cccc00000002_r.py"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn gitignored_projects_are_skipped_inside_git() {
    let dir = tempfile::tempdir().unwrap();
    monorepo(dir.path());
    fs::create_dir(dir.path().join(".git")).unwrap();
    write(&dir.path().join(".gitignore"), "api/\n");
    let r = common::lint_dir(dir.path(), None);
    assert_eq!(r.discovered.projects.len(), 1);
    assert!(r.diagnostics.is_empty(), "{}", common::render(&r));
}

#[test]
fn unknown_down_revision_silences_head_and_base_counts() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/m\n",
    );
    let v = dir.path().join("m/versions");
    revision(&v, "dddd00000001", None);
    revision(&v, "dddd00000002", Some("dddd00000001"));
    revision(&v, "dddd00000003", Some("dddd00000001"));
    // This merge's parents are computed: it may join the two heads, so no guess.
    write(
        &v.join("dddd00000004_m.py"),
        "revision = \"dddd00000004\"\ndown_revision = tuple(HEADS)\n",
    );
    let r = common::lint_dir(dir.path(), None);
    let rules: Vec<RuleId> = r.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(
        rules,
        [RuleId::UnresolvedIdentifier],
        "{}",
        common::render(&r)
    );
}

#[test]
fn recursive_locations_load_subfolders_in_alembic_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/m\nrecursive_version_locations = true\n",
    );
    let v = dir.path().join("m/versions");
    revision(&v, "eeee00000001", None);
    revision(&v.join("2025"), "eeee00000002", Some("eeee00000001"));
    revision(&v.join("2025/q4"), "eeee00000003", Some("eeee00000002"));
    let r = common::lint_dir(dir.path(), None);
    assert!(r.diagnostics.is_empty(), "{}", common::render(&r));
    let g = revlint::graph::RevisionGraph::build(&r.discovered.projects[0]);
    assert_eq!(g.ids(&g.heads), ["eeee00000003"]);
}

#[test]
fn flask_migrate_layout_ini_without_script_location() {
    // `flask db init` writes migrations/alembic.ini with no `script_location`: Flask-Migrate
    // passes the folder itself. The folder is the project, not a config mistake.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("migrations/alembic.ini"),
        "# A generic, single database configuration.\n\n[alembic]\n# template used to generate migration files\n# file_template = %%(rev)s_%%(slug)s\n\n[loggers]\nkeys = root\n",
    );
    write(
        &root.join("migrations/env.py"),
        "from alembic import context\n",
    );
    let versions = root.join("migrations/versions");
    revision(&versions, "cccc00000001", None);
    revision(&versions, "cccc00000002", Some("cccc00000001"));
    revision(&versions, "cccc00000003", Some("cccc00000001"));
    let result = common::lint_dir(root, None);
    let rules: Vec<RuleId> = result.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(result.discovered.projects.len(), 1);
    assert_eq!(result.discovered.projects[0].migrations().count(), 3);
    assert!(!rules.contains(&RuleId::AlembicConfigMistake), "{rules:?}");
    assert!(rules.contains(&RuleId::MultipleHeads), "{rules:?}");
}

/// GitHub runs the root `.github/workflows` only: a deploy workflow in a monorepo subfolder is
/// not linted, unless the subfolder is a repository of its own (a `.git`, as in a submodule).
#[test]
fn workflows_of_a_subfolder_count_only_in_a_nested_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::alembic_skeleton(root);
    let deploy = "on:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ssh deploy@host.example.com 'cd /srv/app && docker compose up -d'\n";
    write(&root.join("portal/.github/workflows/deploy.yml"), deploy);
    let only = [RuleId::DeployWithoutConcurrency];
    let quiet = common::lint_dir(root, Some(&only));
    assert!(
        quiet.diagnostics.is_empty(),
        "a subfolder's workflow never runs: {:?}",
        common::finding_lines(&quiet)
    );
    // The subfolder becomes a repository of its own: its workflows run there.
    fs::create_dir_all(root.join("portal/.git")).unwrap();
    let found = common::lint_dir(root, Some(&only));
    assert_eq!(
        found
            .diagnostics
            .iter()
            .filter(|d| d.rule == RuleId::DeployWithoutConcurrency)
            .count(),
        1,
        "{:?}",
        common::finding_lines(&found)
    );
    // At the root, the same workflow is reported.
    fs::remove_dir_all(root.join("portal")).unwrap();
    write(&root.join(".github/workflows/deploy.yml"), deploy);
    let root_found = common::lint_dir(root, Some(&only));
    assert_eq!(
        root_found.diagnostics.len(),
        1,
        "{:?}",
        common::finding_lines(&root_found)
    );
}
