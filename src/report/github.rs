//! GitHub Actions workflow commands (`::error file=…,line=…::message`): annotations on the
//! pull request's diff. Data and property values are escaped the way the runner decodes
//! them; a column is given only for a region on one line; and since the runner shows at most
//! ten annotations of each severity per step, the eleventh and later are summed up in one
//! notice instead of being dropped silently.

use std::io::{self, Write};

use super::position;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileDb;

/// Annotations of one severity the runner shows per step.
pub const PER_SEVERITY: usize = 10;

/// Escape a command's message (data).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (`file=`, `title=`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(sev: Severity) -> &'static str {
    match sev {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

pub fn write(out: &mut impl Write, db: &FileDb, diagnostics: &[Diagnostic]) -> io::Result<()> {
    let mut shown = [0usize; 3];
    let mut left_out = [0usize; 3];
    for d in diagnostics {
        let k = d.severity as usize;
        if shown[k] == PER_SEVERITY {
            left_out[k] += 1;
            continue;
        }
        shown[k] += 1;
        let mut props = vec![format!(
            "title={}",
            escape_property(&format!("revlint({})", d.rule))
        )];
        if let Some(l) = d.main_label() {
            let (s, e) = position(db, l);
            props.insert(
                0,
                format!("file={}", escape_property(&db.get(l.span.file).display)),
            );
            props.insert(1, format!("line={}", s.line));
            props.insert(2, format!("endLine={}", e.line));
            if s.line == e.line {
                props.insert(3, format!("col={}", s.column));
                props.insert(4, format!("endColumn={}", e.column));
            }
        }
        let mut text = d.message.clone();
        if let Some(h) = &d.help {
            text.push_str("\n\nhelp: ");
            text.push_str(h);
        }
        writeln!(
            out,
            "::{} {}::{}",
            command(d.severity),
            props.join(","),
            escape_data(&text)
        )?;
    }
    for (sev, n) in [Severity::Error, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|s| (s, left_out[s as usize]))
    {
        if n > 0 {
            writeln!(
                out,
                "::notice title=revlint::{}",
                escape_data(&format!(
                    "{n} more {} finding{} not annotated (the runner shows {PER_SEVERITY} per severity); run `revlint check` for all of them",
                    sev.as_str(),
                    if n == 1 { "" } else { "s" }
                ))
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
