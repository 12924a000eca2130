//! `path:line:col: severity[rule] message`, one finding per line.

use std::io::{self, Write};

use super::position;
use crate::diagnostic::Diagnostic;
use crate::source::FileDb;

pub fn write(out: &mut impl Write, db: &FileDb, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        let place = match d.labels.iter().find(|l| l.primary).or(d.labels.first()) {
            Some(l) => {
                let (start, _) = position(db, l);
                format!(
                    "{}:{}:{}",
                    db.get(l.span.file).display,
                    start.line,
                    start.column
                )
            }
            None => "-".into(),
        };
        writeln!(
            out,
            "{place}: {}[{}] {}",
            d.severity.as_str(),
            d.rule,
            d.message
        )?;
    }
    Ok(())
}
