//! SARIF 2.1.0 as GitHub code scanning reads it: every rule with its documentation as help
//! markdown, repository-relative URIs, regions with end line and column (Unicode code points,
//! as revlint counts them), secondary labels as related locations, and a
//! `partialFingerprints` entry that survives line moves (rule, file, and the flagged source
//! text with its whitespace collapsed).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, Region,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif,
    Tool, ToolComponent,
};

use super::position;
use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::rules::RuleId;
use crate::source::FileDb;

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
    }
}

fn level_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A path as a relative URI: forward slashes, reserved characters escaped.
pub fn uri(path: &str) -> String {
    let mut out = String::new();
    for c in path.replace('\\', "/").chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

fn location(db: &FileDb, l: &Label, with_message: bool) -> Location {
    let (s, e) = position(db, l);
    let region = Region::builder()
        .start_line(s.line as i64)
        .start_column(s.column as i64)
        .end_line(e.line as i64)
        .end_column(e.column as i64)
        .build();
    let physical = PhysicalLocation::builder()
        .artifact_location(
            ArtifactLocation::builder()
                .uri(uri(&db.get(l.span.file).display))
                .uri_base_id("%SRCROOT%".to_string())
                .build(),
        )
        .region(region)
        .build();
    let loc = Location::builder().physical_location(physical);
    if with_message {
        loc.message(Message::builder().text(l.message.clone()).build())
            .build()
    } else {
        loc.build()
    }
}

/// rule + file + the flagged text with whitespace collapsed: unchanged when lines move.
pub fn fingerprint(db: &FileDb, d: &Diagnostic) -> String {
    use crate::baseline::{collapsed_text, fnv};
    let Some(l) = d.main_span() else {
        return fnv(&[d.rule.as_str(), &d.message]);
    };
    fnv(&[
        d.rule.as_str(),
        &db.get(l.file).display,
        &collapsed_text(db, l),
    ])
}

fn rule(id: RuleId) -> ReportingDescriptor {
    let m = id.meta();
    let mut props = BTreeMap::new();
    props.insert(
        "tags".to_string(),
        serde_json::json!(["alembic", m.category.as_str()]),
    );
    ReportingDescriptor::builder()
        .id(id.as_str().to_string())
        .name(id.as_str().to_string())
        .short_description(
            MultiformatMessageString::builder()
                .text(m.summary.to_string())
                .build(),
        )
        .full_description(
            MultiformatMessageString::builder()
                .text(m.summary.to_string())
                .build(),
        )
        .help(
            MultiformatMessageString::builder()
                .text(m.docs.to_string())
                .markdown(m.docs.to_string())
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(serde_json::json!(level_name(m.default_severity)))
                .build(),
        )
        .properties(
            serde_sarif::sarif::PropertyBag::builder()
                .additional_properties(props)
                .build(),
        )
        .build()
}

pub fn value(db: &FileDb, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let rules: Vec<RuleId> = RuleId::all().collect();
    let results: Vec<SarifResult> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(h) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let primary: Vec<Location> = d
                .labels
                .iter()
                .filter(|l| l.primary)
                .take(1)
                .map(|l| location(db, l, false))
                .collect();
            let related: Vec<Location> = d
                .labels
                .iter()
                .filter(|l| !l.primary)
                .map(|l| location(db, l, true))
                .collect();
            let mut fp = BTreeMap::new();
            fp.insert("revlint/v1".to_string(), fingerprint(db, d));
            let index = rules.iter().position(|r| *r == d.rule).unwrap_or(0);
            let b = SarifResult::builder()
                .rule_id(d.rule.as_str().to_string())
                .rule_index(index as i64)
                .level(level(d.severity))
                .message(Message::builder().text(text).build())
                .locations(primary)
                .partial_fingerprints(fp);
            if related.is_empty() {
                b.build()
            } else {
                b.related_locations(related).build()
            }
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("revlint".to_string())
        .semantic_version(env!("CARGO_PKG_VERSION").to_string())
        .rules(rules.iter().map(|r| rule(*r)).collect::<Vec<_>>())
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .column_kind(serde_json::json!("unicodeCodePoints"))
        .build();
    let sarif = Sarif::builder()
        .schema(SCHEMA_URI.to_string())
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build();
    serde_json::to_value(&sarif).unwrap_or(serde_json::Value::Null)
}

pub fn write(out: &mut impl Write, db: &FileDb, diagnostics: &[Diagnostic]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &value(db, diagnostics)).map_err(io::Error::from)?;
    writeln!(out)
}
