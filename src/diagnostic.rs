//! The finding type every rule produces and every report renders.

use crate::rules::RuleId;
use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A place in a file with a short note. The first primary label is where a finding "is".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: RuleId,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<Label>,
}

impl Diagnostic {
    /// A diagnostic with the rule's default severity.
    pub fn new(rule: RuleId, message: impl Into<String>) -> Self {
        Diagnostic {
            rule,
            severity: rule.meta().default_severity,
            message: message.into(),
            help: None,
            labels: Vec::new(),
        }
    }

    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A fact that explains the finding, shown after the help.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.help = Some(match self.help.take() {
            Some(h) => format!("{h}\nnote: {note}"),
            None => format!("note: {note}"),
        });
        self
    }

    /// The label the finding is reported at: the first primary one, else the first.
    pub fn main_label(&self) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
    }

    /// The span the finding is reported at.
    pub fn main_span(&self) -> Option<Span> {
        self.main_label().map(|l| l.span)
    }
}
