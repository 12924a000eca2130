//! Bad input never panics: line endings, encodings, empty and binary files, link loops,
//! and a 100,000-revision chain (no recursion, so no stack overflow).

mod common;

use std::fs;

use revlint::rules::RuleId;

fn revision(id: &str, down: Option<&str>, nl: &str) -> String {
    let down = down.map(|d| format!("'{d}'")).unwrap_or("None".into());
    format!("\"\"\"r{nl}{nl}\"\"\"{nl}revision = '{id}'{nl}down_revision = {down}{nl}{nl}def upgrade():{nl}    pass{nl}")
}

fn rules(result: &revlint::LintResult) -> Vec<RuleId> {
    result.diagnostics.iter().map(|d| d.rule).collect()
}

#[test]
fn crlf_and_cr_only_files_parse_and_report_right_lines() {
    for nl in ["\r\n", "\r"] {
        let dir = tempfile::tempdir().unwrap();
        let v = common::alembic_skeleton(dir.path());
        fs::write(
            v.join("aaaa00000001_a.py"),
            revision("aaaa00000001", None, nl),
        )
        .unwrap();
        fs::write(
            v.join("bbbb00000002_b.py"),
            revision("bbbb00000002", Some("aaaa00000001"), nl),
        )
        .unwrap();
        fs::write(
            v.join("cccc00000003_c.py"),
            revision("cccc00000003", Some("aaaa00000001"), nl),
        )
        .unwrap();
        let r = common::lint_dir(dir.path(), None);
        assert_eq!(
            rules(&r),
            [RuleId::MultipleHeads],
            "{nl:?}: {}",
            common::render(&r)
        );
        // `revision = ...` is on line 4 whatever the line ending.
        assert_eq!(
            common::finding_lines(&r),
            [
                "multiple-heads migrations/versions/bbbb00000002_b.py:4",
                "multiple-heads migrations/versions/cccc00000003_c.py:4"
            ],
            "{nl:?}"
        );
    }
}

#[test]
fn non_utf8_binary_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::alembic_skeleton(dir.path());
    fs::write(
        v.join("aaaa00000001_a.py"),
        revision("aaaa00000001", None, "\n"),
    )
    .unwrap();
    // Outside a comment a non-UTF-8 byte stops Python's import; inside one it does not.
    let mut latin = revision("bbbb00000002", Some("aaaa00000001"), "\n").into_bytes();
    latin.extend_from_slice(b"NAME = 'caf\xe9'\n");
    fs::write(v.join("bbbb00000002_b.py"), &latin).unwrap();
    let mut in_comment = revision("dddd00000004", Some("bbbb00000002"), "\n").into_bytes();
    in_comment.extend_from_slice(b"# caf\xe9\n");
    fs::write(v.join("dddd00000004_d.py"), &in_comment).unwrap();
    fs::write(v.join("cccc00000003_c.py"), b"\x00\x01\x02binary").unwrap();
    fs::write(v.join("empty.py"), "").unwrap();
    let r = common::lint_dir(dir.path(), None);
    let lines = common::finding_lines(&r);
    assert!(
        lines.contains(&"parse-error migrations/versions/bbbb00000002_b.py:9".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"parse-error migrations/versions/cccc00000003_c.py:1".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"not-a-revision migrations/versions/empty.py:1".to_string()),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("dddd00000004")),
        "{lines:?}"
    );
    let text = common::render(&r);
    assert!(
        text.contains("is not valid UTF-8 (line 9, outside a comment)"),
        "{text}"
    );
    assert!(text.contains("binary file"), "{text}");
}

#[test]
fn latin1_with_coding_declaration_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::alembic_skeleton(dir.path());
    let mut src = b"# -*- coding: latin-1 -*-\n".to_vec();
    src.extend_from_slice(revision("aaaa00000001", None, "\n").as_bytes());
    src.extend_from_slice(b"# caf\xe9\n");
    fs::write(v.join("aaaa00000001_a.py"), src).unwrap();
    let r = common::lint_dir(dir.path(), None);
    assert!(r.diagnostics.is_empty(), "{}", common::render(&r));
}

#[test]
fn syntax_error_keeps_linting_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::alembic_skeleton(dir.path());
    fs::write(
        v.join("aaaa00000001_a.py"),
        revision("aaaa00000001", None, "\n"),
    )
    .unwrap();
    fs::write(
        v.join("bbbb00000002_b.py"),
        "revision = 'bbbb00000002'\ndown_revision = 'aaaa00000001'\ndef upgrade():\n    op.add_column('t', (\n",
    )
    .unwrap();
    fs::write(
        v.join("cccc00000003_c.py"),
        revision("cccc00000003", Some("nope00000000"), "\n"),
    )
    .unwrap();
    let r = common::lint_dir(dir.path(), None);
    let lines = common::finding_lines(&r);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("parse-error migrations/versions/bbbb00000002_b.py:")),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"dangling-down-revision migrations/versions/cccc00000003_c.py:5".to_string()
        ),
        "{lines:?}"
    );
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::alembic_skeleton(dir.path());
    fs::write(
        v.join("aaaa00000001_a.py"),
        revision("aaaa00000001", None, "\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(v.join("loop.py"), v.join("loop.py")).unwrap();
    let r = common::lint_dir(dir.path(), None);
    let text = common::render(&r);
    assert!(text.contains("parse-error"), "{text}");
    assert!(text.contains("symbolic links"), "{text}");
}

#[test]
fn chain_of_100000_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::alembic_skeleton(dir.path());
    let n = 100_000;
    for i in 0..n {
        let down = if i == 0 {
            None
        } else {
            Some(format!("{:012x}", i - 1))
        };
        fs::write(
            v.join(format!("{i:012x}_r.py")),
            revision(&format!("{i:012x}"), down.as_deref(), "\n"),
        )
        .unwrap();
    }
    let r = common::lint_dir(dir.path(), None);
    assert!(r.diagnostics.is_empty(), "{}", common::render(&r));
    let g = revlint::graph::RevisionGraph::build(&r.discovered.projects[0]);
    assert_eq!(g.ids(&g.heads), [format!("{:012x}", n - 1)]);
    assert_eq!(g.ids(&g.bases), [format!("{:012x}", 0)]);
    // The deepest walks: ancestors of the head, and a cycle of the whole chain.
    assert_eq!(g.ancestors(g.heads[0]).len(), n);
    fs::write(
        v.join(format!("{:012x}_r.py", 0)),
        revision(
            &format!("{:012x}", 0),
            Some(&format!("{:012x}", n - 1)),
            "\n",
        ),
    )
    .unwrap();
    let r = common::lint_dir(dir.path(), Some(&[RuleId::RevisionCycle]));
    assert_eq!(rules(&r), [RuleId::RevisionCycle]);
}

/// A revision whose upgrade() runs `sql` through `op.execute`.
fn sql_revision(id: &str, down: Option<&str>, sql: &str) -> String {
    let down = down.map(|d| format!("'{d}'")).unwrap_or("None".into());
    format!(
        "from alembic import op\nrevision = '{id}'\ndown_revision = {down}\n\ndef upgrade():\n    op.execute({sql})\n"
    )
}

#[test]
fn huge_unterminated_and_non_sql_strings_in_op_execute() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::alembic_skeleton(dir.path());
    // The team's setting makes non-idempotent-ddl judge this PostgreSQL SQL.
    fs::write(
        dir.path().join("revlint.toml"),
        "require-idempotent-ddl = true\n",
    )
    .unwrap();
    // 1 MB of SQL in one string: one INSERT with many rows, then a bare CREATE TABLE.
    let rows = vec!["(1, 'x')"; 100_000].join(", ");
    let big =
        format!("\"\"\"INSERT INTO t (a, b) VALUES {rows};\nCREATE TABLE big_one (id int)\"\"\"");
    assert!(big.len() > 1_000_000);
    fs::write(
        v.join("aaaa00000001_big.py"),
        sql_revision("aaaa00000001", None, &big),
    )
    .unwrap();
    // Unterminated dollar quote, then a statement that would be a finding if it were read.
    fs::write(
        v.join("bbbb00000002_dollar.py"),
        sql_revision(
            "bbbb00000002",
            Some("aaaa00000001"),
            "\"DO $$ BEGIN CREATE TABLE x (id int); END\"",
        ),
    )
    .unwrap();
    // Not SQL at all.
    fs::write(
        v.join("cccc00000003_prose.py"),
        sql_revision(
            "cccc00000003",
            Some("bbbb00000002"),
            "\"please drop everything, thanks\"",
        ),
    )
    .unwrap();
    // Every revision is judged (the finding is in the oldest).
    let mut o = revlint::LintOptions::new(dir.path().to_path_buf(), Vec::new());
    o.rules.revision_scope = revlint::rules::RevisionScope::All;
    let r = revlint::lint(&o).expect("lint runs");
    let lines = common::finding_lines(&r);
    // The big string is read to its end: the CREATE TABLE after 1 MB of INSERT is found, on
    // the string's second line.
    assert_eq!(
        lines,
        vec!["non-idempotent-ddl migrations/versions/aaaa00000001_big.py:7".to_string()],
        "{lines:?}"
    );
    // The unterminated and non-SQL strings are counted as unclassified, not guessed at.
    assert!(r.sql_stats.unknown >= 2, "{:?}", r.sql_stats);
}

/// A deploy finding's rule and `path:line`.
fn found(result: &revlint::LintResult) -> Vec<String> {
    common::finding_lines(result)
}

#[test]
fn malformed_yaml_is_a_parse_error_and_other_files_are_still_linted() {
    let dir = tempfile::tempdir().unwrap();
    common::alembic_skeleton(dir.path());
    let wf = dir.path().join(".github/workflows");
    fs::create_dir_all(&wf).unwrap();
    fs::write(
        wf.join("broken.yml"),
        "on: push\njobs:\n  deploy:\n    steps:\n      - run: [unclosed\n",
    )
    .unwrap();
    fs::write(
        wf.join("deploy.yml"),
        "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: docker stack deploy -c stack.yml app\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  api:\n    image: a\n    image: b\n",
    )
    .unwrap();
    let result = common::lint_dir(dir.path(), None);
    let lines = found(&result);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("parse-error .github/workflows/broken.yml:")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"parse-error docker-compose.yml:4".to_string()),
        "duplicate key reported at the second key: {lines:?}"
    );
    assert!(
        lines.contains(&"deploy-without-concurrency .github/workflows/deploy.yml:3".to_string()),
        "{lines:?}"
    );
}

#[test]
fn yaml_alias_bomb_and_deep_nesting_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    common::alembic_skeleton(dir.path());
    let mut bomb = String::from(
        "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, prev) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
        let name = (b'b' + i as u8) as char;
        bomb.push_str(&format!(
            "x-{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    bomb.push_str("services:\n  api:\n    image: app\n    labels: *i\n");
    fs::write(dir.path().join("docker-compose.yml"), bomb).unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    fs::write(
        dir.path().join("compose.deep.yml"),
        format!("services: {deep}\n"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let result = common::lint_dir(dir.path(), None);
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    let messages: Vec<&str> = result
        .diagnostics
        .iter()
        .filter(|d| d.rule == RuleId::ParseError)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("docker-compose.yml")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("compose.deep.yml")),
        "{messages:?}"
    );
}

#[test]
fn a_50_mb_workflow_is_reported_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    common::alembic_skeleton(dir.path());
    let wf = dir.path().join(".github/workflows");
    fs::create_dir_all(&wf).unwrap();
    let mut big =
        String::from("on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n");
    let step = "      - run: |\n          echo building a very long generated workflow step\n          alembic upgrade head\n";
    while big.len() < 50 * 1024 * 1024 {
        big.push_str(step);
    }
    fs::write(wf.join("generated.yml"), &big).unwrap();
    let result = common::lint_dir(dir.path(), None);
    let d = result
        .diagnostics
        .iter()
        .find(|d| d.rule == RuleId::ParseError)
        .expect("a diagnostic for the oversized file");
    assert!(
        d.message.contains("generated.yml is 50.0 MB"),
        "{}",
        d.message
    );
}

#[test]
fn comment_only_dockerfile_and_self_sourcing_script() {
    let dir = tempfile::tempdir().unwrap();
    common::alembic_skeleton(dir.path());
    fs::write(
        dir.path().join("Dockerfile"),
        "# syntax=docker/dockerfile:1\n# nothing here yet\n\n# RUN alembic upgrade head\n",
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("docker")).unwrap();
    fs::write(
        dir.path().join("docker/Dockerfile"),
        "FROM python:3.12\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT [\"/entrypoint.sh\"]\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("docker/entrypoint.sh"),
        "#!/bin/sh\n. /entrypoint.sh\nsource ./entrypoint.sh\nalembic upgrade head || true\nexec \"$@\"\n",
    )
    .unwrap();
    let result = common::lint_dir(dir.path(), None);
    assert_eq!(
        found(&result),
        vec!["migration-failure-ignored docker/entrypoint.sh:4".to_string()]
    );
}

/// Deploy scripts made of thousands of redirects and `case` arms: the stack-rendering and
/// case-arm readers look back a bounded way, so a hostile script is read in linear time (a
/// quadratic reader would not finish), and what it says is still found.
#[test]
fn scripts_of_many_redirects_and_case_arms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join(".git")).unwrap();
    common::alembic_skeleton(d);
    // 40,000 redirects to the file the stack deploy takes, none after a `compose config`.
    let mut deploy = String::from("#!/bin/sh\nset -e\n");
    for i in 0..40_000 {
        deploy.push_str(&format!("echo line{i} > docker-stack.yml\n"));
    }
    deploy.push_str("docker stack deploy -c docker-stack.yml app\n");
    fs::write(d.join("deploy.sh"), deploy).unwrap();
    // 5,000 `case "$1"` blocks; the image build picks the arm that migrates in the last one.
    let mut setup = String::from("#!/bin/sh\nset -e\n");
    for i in 0..5_000 {
        setup.push_str(&format!(
            "case \"$1\" in\n  step{i}) echo {i} ;;\n  *) true ;;\nesac\n"
        ));
    }
    setup.push_str("case \"$1\" in\n  migrate) alembic upgrade head ;;\nesac\n");
    fs::write(d.join("setup.sh"), setup).unwrap();
    fs::write(
        d.join("Dockerfile"),
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN ./setup.sh migrate\n",
    )
    .unwrap();
    let r = common::lint_dir(d, Some(&[RuleId::MigrationInImageBuild]));
    assert_eq!(
        rules(&r),
        [RuleId::MigrationInImageBuild],
        "{:?}",
        common::finding_lines(&r)
    );
}
