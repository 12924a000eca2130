//! The real binary: formats, exit codes, commands, path selection, determinism.

mod common;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

fn revlint(cwd: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env("COLUMNS", "100")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn heads_project() -> std::path::PathBuf {
    common::root().join("fixtures/projects/multiple-heads")
}

#[test]
fn readme_example_prints_the_finding_and_exits_1() {
    let o = revlint(
        &common::root(),
        &["check", "fixtures/projects/multiple-heads"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("multiple-heads"), "{out}");
    assert!(
        out.contains("850df83abd23") && out.contains("a1b2c3d4e5f6"),
        "{out}"
    );
    // Not a terminal: no colour codes.
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(stderr(&o).contains("1 error"), "{}", stderr(&o));
}

#[test]
fn check_is_the_default_command() {
    let a = revlint(&heads_project(), &["--format", "concise"]);
    let b = revlint(&heads_project(), &["check", "--format", "concise"]);
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn clean_project_exits_0() {
    let o = revlint(
        &common::root().join("fixtures/projects/multiple-heads-merged"),
        &["check"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn concise_format() {
    let o = revlint(&heads_project(), &["check", "--format", "concise"]);
    let out = stdout(&o);
    let line = out.lines().next().unwrap();
    assert!(
        line.starts_with("migrations/versions/850df83abd23_")
            && line.contains(":15:17: error[multiple-heads] 2 heads"),
        "{line}"
    );
}

#[test]
fn json_format_is_versioned() {
    let o = revlint(&heads_project(), &["check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let d = &v["diagnostics"][0];
    assert_eq!(d["rule"], "multiple-heads");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 15);
    assert!(d["help"].as_str().unwrap().contains("alembic merge"));
    assert_eq!(d["labels"].as_array().unwrap().len(), 3);
    assert_eq!(v["summary"]["errors"], 1);
}

#[test]
fn colour_is_forced_with_always_and_off_with_no_color() {
    let o = revlint(&heads_project(), &["check", "--color", "always"]);
    assert!(stdout(&o).contains('\u{1b}'));
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(heads_project())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&o).contains('\u{1b}'));
}

#[test]
fn fail_on_and_select() {
    // multiple-bases is a warning: exit 0 by default, 1 with --fail-on warning.
    let case = common::root().join("fixtures/rules/multiple-bases");
    let bad = common::subdirs(&case)
        .into_iter()
        .find(|c| c.ends_with("bad_two_unlabelled_bases"))
        .unwrap();
    assert_eq!(
        revlint(&bad, &["check", "--select", "multiple-bases"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        revlint(
            &bad,
            &[
                "check",
                "--select",
                "multiple-bases",
                "--fail-on",
                "warning"
            ]
        )
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        revlint(&heads_project(), &["check", "--ignore", "multiple-heads"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        revlint(&heads_project(), &["check", "--allow-multiple-heads"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = revlint(&heads_project(), &["check", "--select", "no-such-rule"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown rule `no-such-rule`"));
    let o = revlint(&heads_project(), &["check", "does/not/exist"]);
    assert_eq!(o.status.code(), Some(2));
    let o = revlint(&heads_project(), &["explain", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let o = revlint(&heads_project(), &["--config", "missing.ini"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn paths_choose_findings_not_files() {
    let p = heads_project();
    // A head's file: the finding has a label there, so it shows.
    let o = revlint(
        &p,
        &[
            "check",
            "--format",
            "concise",
            "migrations/versions/a1b2c3d4e5f6_add_platform_config_to_teams.py",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("multiple-heads"));
    // An unrelated revision file: the whole project is loaded, but nothing is shown there.
    let base = std::fs::read_dir(p.join("migrations/versions"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| f.to_string_lossy().contains("3c8f1e2a9b70"))
        .unwrap();
    let o = revlint(
        &p,
        &["check", "--format", "concise", base.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn heads_matches_alembic_shape_and_exit() {
    let o = revlint(&heads_project(), &["heads"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "850df83abd23 (head)\na1b2c3d4e5f6 (head)\n");
    assert_eq!(
        revlint(&heads_project(), &["heads", "--allow-multiple"])
            .status
            .code(),
        Some(0)
    );
    let o = revlint(
        &common::root().join("fixtures/projects/multiple-heads-merged"),
        &["heads"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "f709960167e7 (head)\n");
}

#[test]
fn graph_formats() {
    let p = heads_project();
    let text = stdout(&revlint(&p, &["graph"]));
    assert!(text.contains("850df83abd23 (head)"), "{text}");
    assert!(text.contains("71521c6321dc (branch point)"), "{text}");
    assert!(text.contains("(base)"), "{text}");
    let mermaid = stdout(&revlint(&p, &["graph", "--format", "mermaid"]));
    assert!(
        mermaid.starts_with("flowchart BT\n") && mermaid.contains("class n"),
        "{mermaid}"
    );
    let dot = stdout(&revlint(&p, &["graph", "--format", "dot"]));
    assert!(
        dot.starts_with("digraph revisions {") && dot.trim_end().ends_with('}'),
        "{dot}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&revlint(&p, &["graph", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        json["projects"][0]["heads"],
        serde_json::json!(["850df83abd23", "a1b2c3d4e5f6"])
    );
    let merged = stdout(&revlint(
        &common::root().join("fixtures/projects/multiple-heads-merged"),
        &["graph"],
    ));
    assert!(merged.contains("f709960167e7 (head) (merge)"), "{merged}");
}

#[test]
fn rules_and_explain() {
    let o = revlint(&common::root(), &["rules"]);
    let out = stdout(&o);
    for r in revlint::rules::RuleId::all() {
        assert!(out.contains(r.as_str()), "{r} missing from `revlint rules`");
    }
    let o = revlint(&common::root(), &["explain", "multiple-heads"]);
    let out = stdout(&o);
    assert!(
        out.contains("## Why is this bad?") && out.contains("alembic merge"),
        "{out}"
    );
}

#[test]
fn output_is_deterministic() {
    let root = common::root().join("fixtures");
    let a = revlint(&root, &["check", "--format", "json"]);
    let b = revlint(&root, &["check", "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    assert!(!a.stdout.is_empty());
}

#[test]
fn no_project_found_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = revlint(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("no Alembic project found"));
}

/// A one-revision project on MySQL (which does not roll DDL back) whose upgrade() has a bare
/// `op.create_table`, inside a git repo so settings discovery stops at its root.
fn bare_create_table_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".git")).unwrap();
    common::alembic_skeleton(d);
    std::fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql+pymysql://app@db/app\n",
    )
    .unwrap();
    // The first schema (the single base runs into an empty database and is not judged),
    // then the revision under test.
    std::fs::write(
        d.join("migrations/versions/aaaa00000000_base.py"),
        "revision = 'aaaa00000000'\ndown_revision = None\n\ndef upgrade():\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        d.join("migrations/versions/aaaa00000001_t.py"),
        "from alembic import op\nimport sqlalchemy as sa\nrevision = 'aaaa00000001'\ndown_revision = 'aaaa00000000'\n\ndef upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer()))\n    op.add_column('t', sa.Column('n', sa.Integer()))\n",
    )
    .unwrap();
    dir
}

#[test]
fn settings_file_ignores_rules_and_rejects_unknown_keys() {
    let dir = bare_create_table_project();
    let d = dir.path();
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("error[non-idempotent-ddl]"));

    std::fs::write(
        d.join("revlint.toml"),
        "ignore = [\"non-idempotent-ddl\"]\n",
    )
    .unwrap();
    let o = revlint(d, &["check", "--format", "concise", "--verbose"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("settings file:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("revlint.toml"), "{}", stderr(&o));

    std::fs::write(
        d.join("revlint.toml"),
        "\nprovisioned-extension = [\"postgis\"]\n",
    )
    .unwrap();
    let o = revlint(d, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("revlint.toml:2:1") && e.contains("unknown field"),
        "{e}"
    );

    std::fs::write(d.join("revlint.toml"), "ignore = [\"no-such-rule\"]\n").unwrap();
    let o = revlint(d, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown rule `no-such-rule`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verbose_reports_sql_classification_and_pin() {
    let dir = bare_create_table_project();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "alembic==1.13.2\n").unwrap();
    std::fs::write(
        d.join("migrations/versions/bbbb00000002_sql.py"),
        "from alembic import op\nrevision = 'bbbb00000002'\ndown_revision = 'aaaa00000001'\n\ndef upgrade():\n    op.execute(\"CREATE TABLE IF NOT EXISTS u (id int); SELECT 1 FROM DUAL WHERE `x`\")\n",
    )
    .unwrap();
    let o = revlint(d, &["check", "--format", "concise", "--verbose"]);
    let e = stderr(&o);
    assert!(
        e.contains("alembic 1.13.2 (`alembic==1.13.2` in requirements.txt:1)"),
        "{e}"
    );
    assert!(
        e.contains("SQL: 1 strings, 2 statements: 1 parsed by PostgreSQL's parser, 0 recognised by keywords, 1 not classified"),
        "{e}"
    );
    // Each unclassified statement is listed with its position and the parser's reason.
    assert!(
        e.contains("migrations/versions/bbbb00000002_sql.py:6:")
            && e.contains("SQL not classified: syntax error"),
        "{e}"
    );
    // The database and the evidence that decided it.
    assert!(
        e.contains("database MySQL (alembic.ini:3) from the URL the migrations use"),
        "{e}"
    );
    // The pinned 1.13.2 lacks create_table(if_not_exists=...): the help suggests a guard.
    // (The finding is in the older revision, judged with --all-revisions.)
    let o = revlint(d, &["check", "--format", "json", "--all-revisions"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let help = v["diagnostics"][0]["help"].as_str().unwrap();
    assert!(
        help.starts_with("guard it: `if not sa.inspect(op.get_bind()).has_table(\"t\"):`"),
        "{help}"
    );
    assert!(help.contains("needs Alembic 1.13.3"), "{help}");
}

#[test]
fn deploy_findings_in_every_format_and_ignored_by_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::copy_tree(
        &common::root().join("fixtures/projects/incident-000-swarm-heads"),
        d,
    );
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let concise = stdout(&o);
    assert!(
        concise.contains(
            "docker-compose.staging.yml:14:5: error[migrate-service-rollout] migrate service `migrate`"
        ),
        "{concise}"
    );
    let o = revlint(d, &["check", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rules: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"deploy-without-concurrency"), "{rules:?}");
    assert!(rules.contains(&"hard-coded-upgrade-target"), "{rules:?}");
    let o = revlint(d, &["check", "--color", "never"]);
    let human = stdout(&o);
    assert!(
        human.contains("add under `deploy:` update_config: {parallelism: 1, order: stop-first"),
        "{human}"
    );

    std::fs::write(
        d.join("revlint.toml"),
        "ignore = [\"deploy-without-concurrency\", \"migrate-service-rollout\"]\n",
    )
    .unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    let out = stdout(&o);
    assert!(!out.contains("deploy-without-concurrency"), "{out}");
    assert!(!out.contains("migrate-service-rollout"), "{out}");
    assert!(out.contains("hard-coded-upgrade-target"), "{out}");
}

#[test]
fn a_single_deploy_file_path_is_linted_with_its_repository() {
    // A pre-commit hook passes only the changed file: revlint still reads the repository's
    // deploy files (here: which compose file the workflow deploys) and shows the findings in
    // the given file.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".git")).unwrap();
    common::copy_tree(
        &common::root().join("fixtures/projects/incident-000-swarm-heads"),
        d,
    );
    let o = revlint(
        d,
        &["check", "--format", "concise", "docker-compose.staging.yml"],
    );
    let out = stdout(&o);
    assert!(out.contains("error[migrate-service-rollout]"), "{out}");
    assert!(!out.contains("deploy-without-concurrency"), "{out}");
    assert!(!out.contains("multiple-heads"), "{out}");
}

#[test]
fn inline_suppressions_and_required_reasons() {
    let dir = bare_create_table_project();
    let d = dir.path();
    let file = d.join("migrations/versions/aaaa00000001_t.py");
    let text = std::fs::read_to_string(&file).unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    assert!(
        stdout(&o).contains("error[non-idempotent-ddl]"),
        "{}",
        stdout(&o)
    );

    // The line before the finding, without a reason: suppressed.
    let suppressed = text.replacen(
        "    op.create_table(",
        "    # revlint: ignore[non-idempotent-ddl]\n    op.create_table(",
        1,
    );
    assert_ne!(suppressed, text, "the fixture has a create_table call");
    std::fs::write(&file, &suppressed).unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));

    // With `require-ignore-reason`, a suppression without one does not count.
    std::fs::write(d.join("revlint.toml"), "require-ignore-reason = true\n").unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    let out = stdout(&o);
    assert!(out.contains("error[non-idempotent-ddl]"), "{out}");
    assert!(
        out.contains("warning[unused-ignore]") && out.contains("no reason"),
        "{out}"
    );

    // With a reason it counts again.
    let reasoned = suppressed.replace(
        "# revlint: ignore[non-idempotent-ddl]",
        "# revlint: ignore[non-idempotent-ddl] -- created by the schema dump",
    );
    std::fs::write(&file, reasoned).unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn github_format_annotates_ten_per_severity_and_counts_the_rest() {
    let dir = bare_create_table_project();
    let d = dir.path();
    // Thirteen statements, twelve findings: the last statement is not reported (if it fails,
    // it did nothing).
    let calls: String = (0..13)
        .map(|i| format!("    op.create_table('t{i}', sa.Column('id', sa.Integer()))\n"))
        .collect();
    std::fs::write(
        d.join("migrations/versions/aaaa00000001_t.py"),
        format!("from alembic import op\nimport sqlalchemy as sa\nrevision = 'aaaa00000001'\ndown_revision = 'aaaa00000000'\n\ndef upgrade():\n{calls}"),
    )
    .unwrap();
    let o = revlint(d, &["check", "--format", "github"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 11, "{out}");
    assert!(
        lines[0].starts_with(
            "::error file=migrations/versions/aaaa00000001_t.py,line=7,endLine=7,col=5,endColumn="
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(",title=revlint(non-idempotent-ddl)::"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("%0A%0Ahelp: "),
        "multi-line data is escaped: {}",
        lines[0]
    );
    assert_eq!(
        lines[10],
        "::notice title=revlint::2 more error findings not annotated (the runner shows 10 per severity); run `revlint check` for all of them"
    );
}

#[test]
fn junit_format_has_a_failing_case_per_finding() {
    let dir = common::root().join("fixtures/projects/incident-001-postgis");
    let o = revlint(&dir, &["check", "--format", "junit"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let expected = std::fs::read_to_string(dir.join("expected-findings.txt")).unwrap();
    // One finding per expected line, plus the second extension at the same volume line.
    let n = expected.lines().count() + 1;
    assert!(
        out.contains(&format!("<testsuites name=\"revlint\" tests=\"{n}\" skipped=\"0\" failures=\"{n}\" errors=\"0\">")),
        "{out}"
    );
    assert!(out.contains("<testcase name=\"missing-extension (32:39)\" classname=\"migrations/versions/3eedf39b54dd_add_admin_boundary_tables.py\">"), "{out}");
    assert_eq!(
        out,
        stdout(&revlint(&dir, &["check", "--format", "junit"])),
        "same tree, same bytes"
    );
    let clean = revlint(
        &common::root().join("fixtures/projects/multiple-heads-merged"),
        &["check", "--format", "junit"],
    );
    assert!(stdout(&clean).contains("<testcase name=\"no findings\"/>"));
}

fn git(dir: &Path, args: &[&str]) {
    let o = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn diff_base_shows_what_the_change_introduces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rev = |id: &str, down: &str, body: &str| {
        format!("from alembic import op\nimport sqlalchemy as sa\nrevision = '{id}'\ndown_revision = {down}\n\ndef upgrade():\n    {body}\n")
    };
    std::fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql://app@db/app\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("migrations/versions")).unwrap();
    std::fs::write(d.join("migrations/env.py"), "").unwrap();
    let v = d.join("migrations/versions");
    // On main: a chain whose first revision has a finding of its own (legacy, on MySQL,
    // seen with --all-revisions).
    std::fs::write(
        v.join("aaaa00000001_a.py"),
        rev(
            "aaaa00000001",
            "None",
            "op.create_table('legacy', sa.Column('id', sa.Integer()))\n    op.add_column('legacy', sa.Column('n', sa.Integer()))",
        ),
    )
    .unwrap();
    std::fs::write(
        v.join("bbbb00000002_b.py"),
        rev("bbbb00000002", "'aaaa00000001'", "pass"),
    )
    .unwrap();
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "base"]);
    git(d, &["checkout", "-q", "-b", "feature"]);
    // The pull request adds a second head.
    std::fs::write(
        v.join("cccc00000003_c.py"),
        rev("cccc00000003", "'aaaa00000001'", "pass"),
    )
    .unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "second head"]);

    let full = stdout(&revlint(
        d,
        &["check", "--format", "concise", "--all-revisions"],
    ));
    assert!(
        full.contains("non-idempotent-ddl") && full.contains("multiple-heads"),
        "{full}"
    );
    let o = revlint(d, &["check", "--format", "concise", "--diff-base", "main"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let diff = stdout(&o);
    assert!(
        diff.contains("multiple-heads"),
        "the new head is the change's: {diff}"
    );
    assert!(
        !diff.contains("non-idempotent-ddl"),
        "legacy findings stay out: {diff}"
    );

    let o = revlint(d, &["check", "--diff-base", "no-such-branch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no such branch, tag or commit"),
        "{}",
        stderr(&o)
    );

    // A shallow clone without the base: the error says how to fetch it.
    let shallow = tempfile::tempdir().unwrap();
    let url = format!("file://{}", d.display());
    let o = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", "--branch", "feature", &url])
        .arg(shallow.path().join("r"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = shallow.path().join("r");
    git(&r, &["fetch", "-q", "--depth", "1", "origin", "main:main"]);
    let o = revlint(&r, &["check", "--diff-base", "main"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("fetch-depth: 0"), "{}", stderr(&o));
}

#[test]
fn rule_levels_per_path_overrides_and_config_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::copy_tree(
        &common::root().join("fixtures/projects/incident-001-postgis"),
        d,
    );
    std::fs::write(
        d.join("revlint.toml"),
        "provisioned-extensions = [\"postgis\"]\n\n[rules]\nservice-update-config-missing = \"off\"\ndeploy-without-concurrency = \"warning\"\n\n[[per-path]]\npaths = [\"run_db_migrations.py\"]\nignore = [\"hard-coded-upgrade-target\"]\n",
    )
    .unwrap();
    let out = stdout(&revlint(d, &["check", "--format", "concise"]));
    assert!(
        out.contains("warning[deploy-without-concurrency]"),
        "level from the settings: {out}"
    );
    assert!(!out.contains("service-update-config-missing"), "off: {out}");
    assert!(
        !out.contains("hard-coded-upgrade-target"),
        "per-path: {out}"
    );
    assert!(
        out.contains("`postgis_topology`") && !out.contains("`postgis` is"),
        "{out}"
    );

    let cfg = stdout(&revlint(d, &["config"]));
    assert!(cfg.starts_with("# settings file: revlint.toml\n"), "{cfg}");
    assert!(
        cfg.contains("deploy-without-concurrency         warning  # revlint.toml"),
        "{cfg}"
    );
    assert!(
        cfg.contains("multiple-heads                     error    # default"),
        "{cfg}"
    );

    std::fs::write(d.join("revlint.toml"), "[rules]\nno-such-rule = \"off\"\n").unwrap();
    let o = revlint(d, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown rule `no-such-rule`"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        d.join("revlint.toml"),
        "[rules]\nmultiple-heads = \"loud\"\n",
    )
    .unwrap();
    let o = revlint(d, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("revlint.toml:2:18"), "{}", stderr(&o));
    std::fs::write(
        d.join("revlint.toml"),
        "[[per-path]]\npaths = [\"a[\"]\nignore = []\n",
    )
    .unwrap();
    let o = revlint(d, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad glob `a[`"), "{}", stderr(&o));
}

#[test]
fn baseline_hides_recorded_findings_and_survives_line_moves() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(
        &common::root().join("fixtures/projects/recovery-scripts"),
        tmp.path(),
    );
    let dir = tmp.path();
    let before = revlint(dir, &["check", "--format", "concise"]);
    assert_eq!(before.status.code(), Some(1));
    let n = stdout(&before).lines().count();
    assert!(n >= 5, "{}", stdout(&before));

    let w = revlint(dir, &["baseline", "write"]);
    assert_eq!(w.status.code(), Some(0), "{}", stderr(&w));
    assert!(
        stdout(&w).contains(&format!("recorded {n} findings")),
        "{}",
        stdout(&w)
    );
    let file = dir.join("revlint-baseline.json");
    let recorded = std::fs::read_to_string(&file).unwrap();
    let v: serde_json::Value = serde_json::from_str(&recorded).unwrap();
    assert_eq!(v["schema_version"], 1);

    // Never overwritten.
    let again = revlint(dir, &["baseline", "write"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), recorded);

    let c = revlint(dir, &["baseline", "check", "--format", "concise"]);
    assert_eq!(c.status.code(), Some(0), "{}", stdout(&c));
    assert_eq!(stdout(&c), "");
    assert!(stderr(&c).contains(&format!("{n} findings in the baseline were left out")));

    // Lines move: still matched.
    let victim = dir.join("migrations/versions/reset_and_create_all_tables.py");
    let text = std::fs::read_to_string(&victim).unwrap();
    std::fs::write(&victim, format!("# moved\n\n\n{text}")).unwrap();
    let moved = revlint(dir, &["baseline", "check", "--format", "concise"]);
    assert_eq!(moved.status.code(), Some(0), "{}", stdout(&moved));

    // A third head changes the recorded multiple-heads finding: reported again, and the
    // entry it replaces is counted as no longer occurring.
    std::fs::write(
        dir.join("migrations/versions/aa11bb22cc33_third_head.py"),
        "revision = \"aa11bb22cc33\"\ndown_revision = \"d6f48f3131ea\"\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("migrations/versions/dd44ee55ff66_fourth_head.py"),
        "revision = \"dd44ee55ff66\"\ndown_revision = \"d6f48f3131ea\"\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    )
    .unwrap();
    let grown = revlint(dir, &["baseline", "check", "--format", "concise"]);
    assert_eq!(grown.status.code(), Some(1), "{}", stderr(&grown));
    let out = stdout(&grown);
    assert!(out.contains("error[multiple-heads] 3 heads"), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        stderr(&grown).contains("1 baseline entry no longer occurs"),
        "{}",
        stderr(&grown)
    );
}

#[test]
fn baseline_check_needs_a_readable_baseline() {
    let dir = heads_project();
    let missing = revlint(
        &dir,
        &["baseline", "check", "--file", "/nonexistent/b.json"],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("revlint baseline write"),
        "{}",
        stderr(&missing)
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("b.json");
    std::fs::write(
        &bad,
        "{\"schema_version\": 1,\n \"findings\": [{\"rule\": 3}]}\n",
    )
    .unwrap();
    let o = revlint(
        &dir,
        &["baseline", "check", "--file", bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("b.json:2:"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a revlint baseline"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&bad, "{\"schema_version\": 9, \"findings\": []}").unwrap();
    let o = revlint(
        &dir,
        &["baseline", "check", "--file", bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("schema version 9"), "{}", stderr(&o));
}

#[test]
fn settings_errors_show_the_toml_and_suggest_the_rule() {
    let dir = bare_create_table_project();
    let d = dir.path();
    for (file, text, at, shown, says) in [
        (
            "revlint.toml",
            "[rules]\nnon-idempotent-dd = \"off\"\n",
            "revlint.toml:2:1",
            "2 │ non-idempotent-dd = \"off\"",
            "did you mean `non-idempotent-ddl`?",
        ),
        (
            "revlint.toml",
            "select = [\"multiple-heads\", \"stamp-in-deploi\"]\n",
            "revlint.toml:1:29",
            "1 │ select = [",
            "did you mean `stamp-in-deploy`?",
        ),
        (
            "revlint.toml",
            "[[per-path]]\npaths = [\"tests/**\"]\nignore = [\"nope\"]\n",
            "revlint.toml:3:11",
            "3 │ ignore = [\"nope\"]",
            "`per-path.ignore`: unknown rule `nope`",
        ),
        (
            "revlint.toml",
            "migrate-services = [\"mig[rate\"]\n",
            "revlint.toml:1:21",
            "1 │ migrate-services",
            "bad glob",
        ),
        (
            "revlint.toml",
            "fail-on = 3\n",
            "revlint.toml:1:11",
            "1 │ fail-on = 3",
            "wanted string",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"x\"\n\n[tool.ruff]\nline-length = 100\n\n[tool.revlint]\nignor = []\n",
            "pyproject.toml:8:1",
            "8 │ ignor = []",
            "unknown field `ignor`",
        ),
    ] {
        let _ = std::fs::remove_file(d.join("revlint.toml"));
        let _ = std::fs::remove_file(d.join("pyproject.toml"));
        std::fs::write(d.join(file), text).unwrap();
        let o = revlint(d, &["check"]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(at), "{text}: want {at}\n{e}");
        assert!(e.contains(shown), "{text}: want {shown}\n{e}");
        assert!(e.contains(says), "{text}: want {says}\n{e}");
        assert!(e.contains("here"), "{e}");
        // `revlint config` refuses the same file the same way.
        let c = revlint(d, &["config"]);
        assert_eq!(c.status.code(), Some(2), "{}", stderr(&c));
    }
}

#[test]
fn settings_select_and_fail_on_yield_to_the_command_line() {
    let dir = bare_create_table_project();
    let d = dir.path();
    std::fs::write(d.join("revlint.toml"), "fail-on = \"never\"\n").unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("error[non-idempotent-ddl]"));
    let o = revlint(d, &["check", "--format", "concise", "--fail-on", "error"]);
    assert_eq!(o.status.code(), Some(1));
    let c = revlint(d, &["config"]);
    assert!(
        stdout(&c).contains("fail-on = \"never\"  # revlint.toml"),
        "{}",
        stdout(&c)
    );

    std::fs::write(d.join("revlint.toml"), "select = [\"multiple-heads\"]\n").unwrap();
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "");
    let o = revlint(
        d,
        &[
            "check",
            "--format",
            "concise",
            "--select",
            "non-idempotent-ddl",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let c = revlint(d, &["config"]);
    let shown = stdout(&c);
    assert!(
        shown.contains("select = [\"multiple-heads\"]  # revlint.toml"),
        "{shown}"
    );
    assert!(
        shown.lines().any(|l| l.starts_with("non-idempotent-ddl")
            && l.contains("off")
            && l.contains("(not in select)")),
        "{shown}"
    );
}

#[test]
fn migrate_services_names_services_whose_command_is_in_the_image() {
    let dir = bare_create_table_project();
    let d = dir.path();
    std::fs::write(
        d.join("docker-stack.yml"),
        "services:\n  db-migrator:\n    image: registry.example.com/app-migrate:1.4\n    deploy:\n      replicas: 2\n  web:\n    image: registry.example.com/app:1.4\n    deploy:\n      replicas: 2\n",
    )
    .unwrap();
    let args = [
        "check",
        "--format",
        "concise",
        "--select",
        "migrate-service-replicas",
    ];
    let o = revlint(d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    std::fs::write(
        d.join("revlint.toml"),
        "migrate-services = [\"*-migrator\"]\n",
    )
    .unwrap();
    let o = revlint(d, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("docker-stack.yml:5:") && out.contains("`db-migrator` runs 2 replicas"),
        "{out}"
    );
    assert!(!out.contains("`web`"), "{out}");
}

/// Only revisions that have not run yet are judged for non-idempotent-ddl: on a branch, the
/// ones it adds; on the default branch, the newest of each head; `--all-revisions`, all.
#[test]
fn non_idempotent_ddl_judges_the_revisions_a_branch_adds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql+pymysql://app@db/app\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("migrations/versions")).unwrap();
    std::fs::write(d.join("migrations/env.py"), "").unwrap();
    let v = d.join("migrations/versions");
    let rev = |id: &str, down: &str, table: &str| {
        format!("from alembic import op\nimport sqlalchemy as sa\nrevision = '{id}'\ndown_revision = {down}\n\ndef upgrade():\n    op.create_table('{table}', sa.Column('id', sa.Integer()))\n    op.add_column('{table}', sa.Column('n', sa.Integer()))\n")
    };
    std::fs::write(
        v.join("aaaa00000001_a.py"),
        rev("aaaa00000001", "None", "a"),
    )
    .unwrap();
    std::fs::write(
        v.join("bbbb00000002_b.py"),
        rev("bbbb00000002", "'aaaa00000001'", "b"),
    )
    .unwrap();
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "old revisions"]);
    let lines = |o: &std::process::Output| -> Vec<String> {
        stdout(o)
            .lines()
            .filter(|l| l.contains("non-idempotent-ddl"))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    // On the default branch: the newest revision of the head, and a count of the rest.
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(
        lines(&o),
        vec!["migrations/versions/bbbb00000002_b.py"],
        "{}",
        stdout(&o)
    );
    let o = revlint(d, &["check"]);
    assert!(
        stderr(&o).contains("non-idempotent-ddl: 1 older revision not judged"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("by rule: non-idempotent-ddl 1"),
        "{}",
        stderr(&o)
    );
    // A branch adds a revision: only that one is judged.
    git(d, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(
        v.join("cccc00000003_c.py"),
        rev("cccc00000003", "'bbbb00000002'", "c"),
    )
    .unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "new revision"]);
    let o = revlint(d, &["check", "--format", "concise"]);
    assert_eq!(lines(&o), vec!["migrations/versions/cccc00000003_c.py"]);
    // The same with an explicit base, as the Action runs it.
    let o = revlint(d, &["check", "--format", "concise", "--diff-base", "main"]);
    assert_eq!(lines(&o), vec!["migrations/versions/cccc00000003_c.py"]);
    // An audit: every revision.
    let o = revlint(d, &["check", "--format", "concise", "--all-revisions"]);
    assert_eq!(
        lines(&o),
        vec![
            "migrations/versions/aaaa00000001_a.py",
            "migrations/versions/bbbb00000002_b.py",
            "migrations/versions/cccc00000003_c.py"
        ]
    );
    // A history of one revision: the first schema, which runs only into an empty database,
    // is not judged, but an audit judges it.
    let single = tempfile::tempdir().unwrap();
    let s = single.path();
    std::fs::copy(d.join("alembic.ini"), s.join("alembic.ini")).unwrap();
    std::fs::create_dir_all(s.join("migrations/versions")).unwrap();
    std::fs::write(s.join("migrations/env.py"), "").unwrap();
    std::fs::write(
        s.join("migrations/versions/aaaa00000001_a.py"),
        rev("aaaa00000001", "None", "a"),
    )
    .unwrap();
    let o = revlint(s, &["check", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(lines(&o).is_empty(), "{}", stdout(&o));
    let o = revlint(s, &["check", "--format", "concise", "--all-revisions"]);
    assert_eq!(lines(&o), vec!["migrations/versions/aaaa00000001_a.py"]);
    // The same tree on PostgreSQL: no evidence, no finding, and nothing left out.
    std::fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = postgresql://app@db/app\n",
    )
    .unwrap();
    let o = revlint(d, &["check", "--all-revisions"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stderr(&o).contains("not judged"), "{}", stderr(&o));
}
