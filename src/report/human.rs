//! Graphical output through miette: snippet, labels, help and rule id. Labels in other
//! files than the primary one are rendered as related reports with their own snippets.

use std::fmt;
use std::io::{self, Write};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::{FileDb, FileId};

#[derive(Debug)]
struct Report {
    message: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

fn miette_severity(s: Severity) -> miette::Severity {
    match s {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    }
}

fn labeled(l: &Label) -> LabeledSpan {
    let start = l.span.start as usize;
    let len = (l.span.end - l.span.start) as usize;
    let text = if l.message.is_empty() {
        None
    } else {
        Some(l.message.clone())
    };
    if l.primary {
        LabeledSpan::new_primary_with_span(text, (start, len))
    } else {
        LabeledSpan::new_with_span(text, (start, len))
    }
}

fn source(db: &FileDb, file: FileId) -> Option<NamedSource<String>> {
    let f = db.get(file);
    if f.text.is_empty() {
        return None;
    }
    Some(NamedSource::new(f.display.clone(), f.text.clone()).with_language("python"))
}

fn build(db: &FileDb, d: &Diagnostic) -> Report {
    // Group labels by file: the primary label's file first, then the others in order.
    let mut files: Vec<FileId> = Vec::new();
    if let Some(s) = d.main_span() {
        files.push(s.file);
    }
    for l in &d.labels {
        if !files.contains(&l.span.file) {
            files.push(l.span.file);
        }
    }
    let labels_in = |f: FileId| -> Vec<LabeledSpan> {
        d.labels
            .iter()
            .filter(|l| l.span.file == f)
            .map(labeled)
            .collect()
    };
    let location = |f: FileId| {
        let file = db.get(f);
        if file.text.is_empty() {
            format!(" ({})", file.display)
        } else {
            String::new()
        }
    };
    let related = files
        .iter()
        .skip(1)
        .map(|&f| Report {
            message: format!("also in {}", db.get(f).display),
            code: None,
            severity: miette::Severity::Advice,
            help: None,
            source: source(db, f),
            labels: labels_in(f),
            related: Vec::new(),
        })
        .collect();
    let first = files.first().copied();
    Report {
        message: format!("{}{}", d.message, first.map(location).unwrap_or_default()),
        code: Some(d.rule.as_str().to_string()),
        severity: miette_severity(d.severity),
        help: d.help.clone(),
        source: first.and_then(|f| source(db, f)),
        labels: first.map(labels_in).unwrap_or_default(),
        related,
    }
}

pub struct HumanOptions {
    pub color: bool,
    pub width: usize,
}

pub fn write(
    out: &mut impl Write,
    db: &FileDb,
    diagnostics: &[Diagnostic],
    opts: &HumanOptions,
) -> io::Result<()> {
    let theme = if opts.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_context_lines(1)
        .with_show_related_as_nested(true);
    for d in diagnostics {
        let report = build(db, d);
        let mut s = String::new();
        handler
            .render_report(&mut s, &report)
            .map_err(|e| io::Error::other(e.to_string()))?;
        // miette ends a report that closes with its help text without a line break.
        if !s.ends_with('\n') {
            s.push('\n');
        }
        out.write_all(s.as_bytes())?;
    }
    Ok(())
}
