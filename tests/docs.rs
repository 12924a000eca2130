//! Rule docs are generated from rule metadata: the README table and docs/rules/<id>.md must
//! match. `UPDATE_DOCS=1 cargo test --test docs` rewrites them.

mod common;

use revlint::docs;
use revlint::rules::RuleId;

fn update() -> bool {
    std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1")
}

#[test]
fn readme_rules_table_is_current() {
    let path = common::root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let want = docs::readme_with_table(&readme).expect("README has the rules-table markers");
    if update() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            readme == want,
            "README rules table is stale: run `UPDATE_DOCS=1 cargo test --test docs`"
        );
    }
}

#[test]
fn rule_pages_are_current() {
    let dir = common::root().join("docs/rules");
    if update() {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut expected = Vec::new();
    for id in RuleId::all() {
        let path = dir.join(format!("{id}.md"));
        expected.push(format!("{id}.md"));
        let want = docs::rule_page(id.meta());
        if update() {
            std::fs::write(&path, &want).unwrap();
        } else {
            let got = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                got == want,
                "{} is stale: run `UPDATE_DOCS=1 cargo test --test docs`",
                path.display()
            );
        }
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected.sort();
    assert_eq!(
        present, expected,
        "docs/rules holds pages for rules that do not exist"
    );
}

#[test]
fn every_rule_documents_the_four_headings_with_an_example() {
    for id in RuleId::all() {
        let m = id.meta();
        assert_eq!(m.id, id, "{id}: META.id names another rule");
        let mut at = 0;
        for h in docs::HEADINGS {
            let pos = m.docs[at..]
                .find(h)
                .unwrap_or_else(|| panic!("{id}: missing or misplaced `{h}`"));
            at += pos + h.len();
        }
        let example =
            &m.docs[m.docs.find("## Example").unwrap()..m.docs.find("## How to fix").unwrap()];
        assert!(
            example.contains("```"),
            "{id}: the example has no code block"
        );
        assert!(
            !m.summary.is_empty() && !m.summary.ends_with('.'),
            "{id}: summary style"
        );
    }
}

#[test]
fn rule_ids_round_trip() {
    for id in RuleId::all() {
        assert_eq!(id.as_str().parse::<RuleId>().unwrap(), id);
    }
    assert!("Multiple-Heads".parse::<RuleId>().is_err());
}
