//! Realistic projects under fixtures/projects/ (incident reproductions and README
//! examples): revlint must report exactly the findings in each `expected-findings.txt`.

mod common;

#[test]
fn incident_projects_give_exactly_the_expected_findings() {
    let base = common::root().join("fixtures/projects");
    let mut failures = Vec::new();
    for project in common::subdirs(&base) {
        let name = project.file_name().unwrap().to_string_lossy().into_owned();
        let expected_file = project.join("expected-findings.txt");
        let expected: Vec<String> = std::fs::read_to_string(&expected_file)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display()))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        let result = common::lint_dir(&project, None);
        let got = common::finding_lines(&result);
        if got != expected {
            failures.push(format!(
                "{name}:\n  expected: {expected:#?}\n  got: {got:#?}\n{}",
                common::render(&result)
            ));
            continue;
        }
        insta::with_settings!({snapshot_path => "snapshots/projects", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name.clone(), common::render(&result));
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn incident_002_heads_and_merge() {
    let result = common::lint_dir(
        &common::root().join("fixtures/projects/multiple-heads"),
        None,
    );
    let d = result
        .diagnostics
        .iter()
        .find(|d| d.rule == revlint::rules::RuleId::MultipleHeads)
        .expect("multiple-heads fires");
    for needle in ["850df83abd23", "a1b2c3d4e5f6"] {
        assert!(
            d.message.contains(needle),
            "{needle} missing from {}",
            d.message
        );
    }
    let help = d.help.as_deref().unwrap();
    assert!(help.contains("diverged at `71521c6321dc`"), "{help}");
    assert!(
        help.contains("merge -m \"merge heads\" 850df83abd23 a1b2c3d4e5f6"),
        "{help}"
    );

    let merged = common::lint_dir(
        &common::root().join("fixtures/projects/multiple-heads-merged"),
        None,
    );
    assert!(merged.diagnostics.is_empty(), "{}", common::render(&merged));
    let d = &merged.discovered;
    let g = revlint::graph::RevisionGraph::build(&d.projects[0]);
    assert_eq!(g.ids(&g.heads), ["f709960167e7"]);
}

/// A script that a Dockerfile and a compose service both run holds one hazard: one finding,
/// whose related labels show both ways it is reached.
#[test]
fn one_fact_reached_two_ways_is_one_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".git")).unwrap();
    common::alembic_skeleton(d);
    std::fs::write(
        d.join("startup.sh"),
        "#!/bin/bash\nalembic upgrade head\nexec gunicorn app:app\n",
    )
    .unwrap();
    std::fs::write(
        d.join("Dockerfile"),
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD [\"./startup.sh\"]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("docker-compose.yml"),
        "services:\n  api:\n    build: .\n    command: /bin/sh startup.sh\n",
    )
    .unwrap();
    let r = common::lint_dir(d, Some(&[revlint::rules::RuleId::MigrationFailureIgnored]));
    assert_eq!(
        common::finding_lines(&r),
        vec!["migration-failure-ignored startup.sh:2".to_string()]
    );
    let ways: Vec<String> = r.diagnostics[0]
        .labels
        .iter()
        .filter(|l| !l.primary)
        .map(|l| r.discovered.db.get(l.span.file).display.clone())
        .collect();
    assert!(ways.iter().any(|w| w.ends_with("Dockerfile")), "{ways:?}");
    assert!(
        ways.iter().any(|w| w.ends_with("docker-compose.yml")),
        "{ways:?}"
    );
}
