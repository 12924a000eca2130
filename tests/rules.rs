//! The fixture harness: every case under fixtures/rules/<rule-id>/ runs with only that rule
//! enabled. `bad_*` cases must fire and `ok_*` cases must not (and must be clean for every
//! rule); only then is the rendered output compared with its snapshot.

mod common;

use revlint::rules::RuleId;

#[test]
fn every_rule_fixture() {
    let base = common::root().join("fixtures/rules");
    let mut failures = Vec::new();
    let mut cases = 0;
    for rule_dir in common::subdirs(&base) {
        let name = rule_dir.file_name().unwrap().to_string_lossy().into_owned();
        let rule: RuleId = name
            .parse()
            .unwrap_or_else(|e| panic!("fixtures/rules/{name}: {e}"));
        for case in common::subdirs(&rule_dir) {
            let case_name = case.file_name().unwrap().to_string_lossy().into_owned();
            cases += 1;
            let only = common::lint_dir(&case, Some(&[rule]));
            let fired: Vec<_> = only.diagnostics.iter().filter(|d| d.rule == rule).collect();
            if case_name.starts_with("bad_") {
                if fired.is_empty() {
                    failures.push(format!(
                        "{name}/{case_name}: expected `{name}` to fire, it did not"
                    ));
                    continue;
                }
            } else if case_name.starts_with("ok_") {
                if !fired.is_empty() {
                    failures.push(format!(
                        "{name}/{case_name}: expected no `{name}`, got:\n{}",
                        common::render(&only)
                    ));
                    continue;
                }
                let all = common::lint_dir(&case, None);
                if !all.diagnostics.is_empty() {
                    failures.push(format!(
                        "{name}/{case_name}: an ok_ case must be clean for every rule, got:\n{}",
                        common::render(&all)
                    ));
                    continue;
                }
            } else {
                failures.push(format!(
                    "{name}/{case_name}: case names start with bad_ or ok_"
                ));
                continue;
            }
            // Asserted above; now the exact rendering.
            insta::with_settings!({snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false}, {
                insta::assert_snapshot!(format!("{name}__{case_name}"), common::render(&only));
            });
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(cases > 0, "no fixture cases found");
}

#[test]
fn every_rule_has_bad_and_ok_cases() {
    let base = common::root().join("fixtures/rules");
    for rule in RuleId::all() {
        let dir = base.join(rule.as_str());
        let cases: Vec<String> = if dir.is_dir() {
            common::subdirs(&dir)
                .iter()
                .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        } else {
            Vec::new()
        };
        assert!(
            cases.iter().any(|c| c.starts_with("bad_")),
            "{rule}: no bad_ fixture"
        );
        assert!(
            cases.iter().any(|c| c.starts_with("ok_")),
            "{rule}: no ok_ fixture"
        );
    }
}
