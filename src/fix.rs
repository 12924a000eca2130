//! `revlint fix`: write the merge revision for a project with several heads, the way
//! `alembic merge -m "merge heads" <heads>` would: a new 12-hex-digit id, `down_revision` the
//! tuple of heads in Alembic's order, the project's `script.py.mako` rendered when it uses only
//! Alembic's standard substitutions (otherwise Alembic's default template), and the file name
//! from the project's `file_template`. Never overwrites a file.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::PathBuf;

use crate::discover::Discovered;
use crate::graph::RevisionGraph;
use crate::model::project::Project;

pub const MESSAGE: &str = "merge heads";

/// A merge revision to write.
#[derive(Debug, Clone)]
pub struct MergePlan {
    /// The project's config, as shown.
    pub project: String,
    pub heads: Vec<String>,
    pub revision: String,
    pub path: PathBuf,
    pub text: String,
    /// Why the project's `script.py.mako` was not used, when it was not.
    pub template_note: Option<String>,
}

/// Alembic's default `script.py.mako` (1.16+), as `alembic init` writes it.
const DEFAULT_TEMPLATE: &str = r#""""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
"#;

fn py_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Render a template that uses only Alembic's standard substitutions; `Err` names the first
/// construct it does not know.
pub fn render(
    template: &str,
    revision: &str,
    heads: &[String],
    create_date: &str,
) -> Result<String, String> {
    let down = format!(
        "({})",
        heads
            .iter()
            .map(|h| py_str(h))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let subst = |expr: &str| -> Option<String> {
        Some(match expr.trim() {
            "message" => MESSAGE.to_string(),
            "up_revision" => revision.to_string(),
            "down_revision | comma,n" => heads.join(", "),
            "create_date" => create_date.to_string(),
            "repr(up_revision)" => py_str(revision),
            "repr(down_revision)" => down.clone(),
            "repr(branch_labels)" | "repr(depends_on)" => "None".to_string(),
            "imports if imports else \"\"" => String::new(),
            "upgrades if upgrades else \"pass\"" | "downgrades if downgrades else \"pass\"" => {
                "pass".to_string()
            }
            _ => return None,
        })
    };
    let mut out = String::new();
    let mut rest = template;
    for line in template.lines() {
        let t = line.trim_start();
        if t.starts_with('%') && !t.starts_with("%%") || t.starts_with("<%") {
            return Err(format!("a Mako control line (`{}`)", t.trim_end()));
        }
    }
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or("an unclosed `${`")?;
        let expr = &after[..end];
        out.push_str(&subst(expr).ok_or_else(|| format!("the substitution `${{{expr}}}`"))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out.replace("%%", "%"))
}

/// Alembic's slug: the message's words, lower-cased, joined by `_`, cut at a word boundary
/// to `truncate_slug_length` (40) characters.
pub fn slug(message: &str, max: usize) -> String {
    let words: Vec<String> = message
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let slug = words.join("_");
    if slug.chars().count() <= max {
        return slug;
    }
    let cut: String = slug.chars().take(max).collect();
    match cut.rfind('_') {
        Some(i) => cut[..i].to_string(),
        None => cut,
    }
}

/// The file name from `file_template` (`%(rev)s_%(slug)s` when unset).
pub fn file_name(
    template: Option<&str>,
    revision: &str,
    slug: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    use chrono::{Datelike, Timelike};
    let t = template.unwrap_or("%(rev)s_%(slug)s");
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = rest.find("%(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let close = after.find(')').ok_or("an unclosed `%(`")?;
        let name = &after[..close];
        let spec_end = after[close + 1..]
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or("a `%(` without a conversion")?;
        let spec = &after[close + 1..close + 2 + spec_end];
        let num = |n: u32| {
            if spec.contains('2') {
                format!("{n:02}")
            } else {
                n.to_string()
            }
        };
        out.push_str(&match name {
            "rev" => revision.to_string(),
            "slug" => slug.to_string(),
            "epoch" => now.timestamp().to_string(),
            "year" => now.year().to_string(),
            "month" => num(now.month()),
            "day" => num(now.day()),
            "hour" => num(now.hour()),
            "minute" => num(now.minute()),
            "second" => num(now.second()),
            other => return Err(format!("the token `%({other})`")),
        });
        rest = &after[close + 2 + spec_end..];
    }
    out.push_str(rest);
    Ok(format!("{out}.py"))
}

/// A fresh 12-hex-digit id that no revision of the project uses.
fn new_revision(taken: &BTreeSet<String>) -> String {
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let id = format!("{:012x}", h.finish() & 0xffff_ffff_ffff);
        if !taken.contains(&id) {
            return id;
        }
    }
}

fn plan(d: &Discovered, p: &Project, g: &RevisionGraph) -> Option<MergePlan> {
    if g.heads.len() < 2 {
        return None;
    }
    let heads: Vec<String> = g.heads.iter().map(|&h| g.nodes[h].id.clone()).collect();
    let taken: BTreeSet<String> = g.nodes.iter().map(|n| n.id.clone()).collect();
    let revision = new_revision(&taken);
    let now = chrono::Utc::now();
    let ini_text = &d.db.get(p.config.file()).text;
    let ini = crate::parse::ini::parse(ini_text);
    let raw = |k: &str| {
        ini.get("alembic", k)
            .map(|v| v.raw.replace("%%", "%"))
            .filter(|v| !v.trim().is_empty())
    };
    let max = raw("truncate_slug_length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(40);
    let slug = slug(MESSAGE, max);
    let name = file_name(raw("file_template").as_deref(), &revision, &slug, now)
        .or_else(|_| file_name(None, &revision, &slug, now))
        .ok()?;
    let dir = p.version_locations.first()?.clone();
    let create_date = now.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let mako = p
        .script_location
        .as_ref()
        .map(|s| s.join("script.py.mako"))
        .and_then(|m| std::fs::read_to_string(m).ok());
    let (text, template_note) = match mako.map(|m| render(&m, &revision, &heads, &create_date)) {
        Some(Ok(t)) => (t, None),
        Some(Err(why)) => (
            render(DEFAULT_TEMPLATE, &revision, &heads, &create_date).ok()?,
            Some(format!(
                "script.py.mako uses {why}, which revlint does not render; Alembic's default template was used"
            )),
        ),
        None => (
            render(DEFAULT_TEMPLATE, &revision, &heads, &create_date).ok()?,
            None,
        ),
    };
    Some(MergePlan {
        project: d.db.get(p.config.file()).display.clone(),
        heads,
        revision,
        path: dir.join(name),
        text,
        template_note,
    })
}

/// The merge revisions the projects need.
pub fn plans(d: &Discovered) -> Vec<MergePlan> {
    d.projects
        .iter()
        .filter_map(|p| {
            let g = RevisionGraph::build(p);
            plan(d, p, &g)
        })
        .collect()
}

/// Write a plan's file; never overwrites.
pub fn write(plan: &MergePlan) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&plan.path)?;
    f.write_all(plan.text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_and_file_names_as_alembic() {
        assert_eq!(slug("merge heads", 40), "merge_heads");
        assert_eq!(
            slug(
                "Add a very long message that goes well beyond forty chars",
                40
            ),
            "add_a_very_long_message_that_goes_well"
        );
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T01:02:03Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            file_name(None, "abc", "merge_heads", now).unwrap(),
            "abc_merge_heads.py"
        );
        assert_eq!(
            file_name(
                Some("%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s"),
                "abc",
                "merge_heads",
                now
            )
            .unwrap(),
            "2026_12_06_0102-abc_merge_heads.py"
        );
        assert!(file_name(Some("%(nope)s"), "abc", "s", now).is_err());
    }

    #[test]
    fn renders_the_default_template_and_refuses_unknown_constructs() {
        let heads = vec!["aaa".to_string(), "bbb".to_string()];
        let t = render(DEFAULT_TEMPLATE, "ccc", &heads, "2026-12-06 01:02:03").unwrap();
        assert!(t.contains("down_revision: Union[str, Sequence[str], None] = ('aaa', 'bbb')"));
        assert!(t.contains("Revises: aaa, bbb"));
        assert!(t.contains("revision: str = 'ccc'"));
        assert!(!t.contains("${"));
        assert!(render("${custom}", "c", &heads, "d").is_err());
        assert!(render("% if x:\nfoo\n% endif\n", "c", &heads, "d").is_err());
    }
}
