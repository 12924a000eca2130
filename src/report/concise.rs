//! `path:line:col: severity[rule] message`, one finding per line.

use std::io::{self, Write};

use crate::diagnostic::Diagnostic;
use crate::source::FileDb;

pub fn write(out: &mut impl Write, db: &FileDb, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        let place = super::place(db, d).unwrap_or_else(|| "-".into());
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
