//! JUnit XML for CI systems that show test reports: one test suite per file with findings,
//! one failing test case per finding (`rule` at `line:column`); a clean run is one suite with
//! one passing case. No timestamps or durations, so the same tree gives the same bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::position;
use crate::diagnostic::Diagnostic;
use crate::source::FileDb;

pub fn write(out: &mut impl Write, db: &FileDb, diagnostics: &[Diagnostic]) -> io::Result<()> {
    let mut report = Report::new("revlint");
    let mut by_file: BTreeMap<String, Vec<TestCase>> = BTreeMap::new();
    for d in diagnostics {
        let main = d.main_label();
        let (path, at) = match main {
            Some(l) => {
                let (s, _) = position(db, l);
                (
                    db.get(l.span.file).display.clone(),
                    format!("{}:{}", s.line, s.column),
                )
            }
            None => ("(no file)".to_string(), String::new()),
        };
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(d.message.clone());
        status.set_type(d.severity.as_str());
        let mut text = format!(
            "{path}:{at}: {}[{}] {}",
            d.severity.as_str(),
            d.rule,
            d.message
        );
        if let Some(h) = &d.help {
            text.push_str("\nhelp: ");
            text.push_str(h);
        }
        status.set_description(text);
        let mut case = TestCase::new(format!("{} ({at})", d.rule), status);
        case.set_classname(path.clone());
        by_file.entry(path).or_default().push(case);
    }
    if by_file.is_empty() {
        let mut suite = TestSuite::new("revlint");
        suite.add_test_case(TestCase::new("no findings", TestCaseStatus::success()));
        report.add_test_suite(suite);
    }
    for (path, cases) in by_file {
        let mut suite = TestSuite::new(path);
        suite.add_test_cases(cases);
        report.add_test_suite(suite);
    }
    report
        .serialize(&mut *out)
        .map_err(|e| io::Error::other(e.to_string()))?;
    writeln!(out)
}
