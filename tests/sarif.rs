//! `--format sarif` against the published SARIF 2.1.0 JSON schema (tests/data/, from the
//! OASIS schema serde-sarif ships), and the properties GitHub code scanning relies on.

mod common;

use assert_cmd::Command;

fn sarif_of(dir: &std::path::Path) -> serde_json::Value {
    let o = Command::cargo_bin("revlint")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "findings expected");
    serde_json::from_slice(&o.stdout).expect("SARIF is JSON")
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("tests/data/sarif-schema-2.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for project in [
        "incident-000-swarm-heads",
        "incident-001-postgis",
        "recovery-scripts",
    ] {
        let sarif = sarif_of(&common::root().join("fixtures/projects").join(project));
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{project}: {errors:#?}");
        // A broken document must fail, or this test proves nothing.
        let mut broken = sarif.clone();
        broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
        assert!(!validator.is_valid(&broken));
    }
}

#[test]
fn sarif_has_what_code_scanning_needs() {
    let sarif = sarif_of(&common::root().join("fixtures/projects/incident-000-swarm-heads"));
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), revlint::rules::RuleId::all().count());
    let results = run["results"].as_array().unwrap();
    let rollout = results
        .iter()
        .find(|r| r["ruleId"] == "migrate-service-rollout")
        .expect("the rollout finding");
    let index = rollout["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "migrate-service-rollout");
    assert!(rules[index]["help"]["markdown"]
        .as_str()
        .unwrap()
        .contains("## How to fix"));
    let loc = &rollout["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "docker-compose.staging.yml");
    assert_eq!(loc["region"]["startLine"], 14);
    assert_eq!(loc["region"]["endLine"], 14);
    assert!(loc["region"]["endColumn"].as_u64() > loc["region"]["startColumn"].as_u64());
    let fp = rollout["partialFingerprints"]["revlint/v1"]
        .as_str()
        .unwrap();
    assert_eq!(fp.len(), 16);
}

#[test]
fn fingerprints_survive_line_moves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // On MySQL, where a bare create_table is a finding.
    std::fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql://app@db/app\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("migrations/versions")).unwrap();
    std::fs::write(d.join("migrations/env.py"), "").unwrap();
    let rev = |pad: &str| {
        format!("from alembic import op\nimport sqlalchemy as sa\nrevision = 'aaaa00000001'\ndown_revision = 'aaaa00000000'\n{pad}\ndef upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer()))\n    op.add_column('t', sa.Column('n', sa.Integer()))\n")
    };
    std::fs::write(
        d.join("migrations/versions/aaaa00000000_base.py"),
        "revision = 'aaaa00000000'\ndown_revision = None\n",
    )
    .unwrap();
    let file = d.join("migrations/versions/aaaa00000001_t.py");
    std::fs::write(&file, rev("")).unwrap();
    let before = sarif_of(d);
    std::fs::write(&file, rev("\n\n# a comment added above\n")).unwrap();
    let after = sarif_of(d);
    let fp = |s: &serde_json::Value| s["runs"][0]["results"][0]["partialFingerprints"].clone();
    let line = |s: &serde_json::Value| {
        s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]
            .clone()
    };
    assert_ne!(line(&before), line(&after));
    assert_eq!(fp(&before), fp(&after));
}
