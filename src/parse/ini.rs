//! A reader for the INI dialect Alembic uses (Python's `configparser` with its defaults:
//! `=` or `:` delimiters, full-line `#`/`;` comments only, indented continuation lines,
//! case-insensitive keys, strict duplicates, `%(name)s` interpolation) that keeps byte spans
//! so findings can point at the exact line. No maintained crate keeps spans for this dialect.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct IniValue {
    /// The raw value, continuation lines joined with `\n`, before interpolation.
    pub raw: String,
    /// Span of the key.
    pub key_span: (usize, usize),
    /// Span of the value's first line.
    pub value_span: (usize, usize),
}

#[derive(Debug, Clone, Default)]
pub struct IniSection {
    pub name: String,
    pub header_span: (usize, usize),
    pub values: BTreeMap<String, IniValue>,
}

#[derive(Debug, Clone)]
pub struct IniError {
    pub message: String,
    pub span: (usize, usize),
}

#[derive(Debug, Clone, Default)]
pub struct Ini {
    pub sections: Vec<IniSection>,
    pub defaults: BTreeMap<String, IniValue>,
    pub errors: Vec<IniError>,
}

impl Ini {
    pub fn section(&self, name: &str) -> Option<&IniSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Look a key up in a section, falling back to `[DEFAULT]`, as configparser does.
    pub fn get(&self, section: &str, key: &str) -> Option<&IniValue> {
        self.section(section)
            .and_then(|s| s.values.get(key))
            .or_else(|| self.defaults.get(key))
    }

    /// The interpolated value of `key` (`%(name)s` from the section, `[DEFAULT]` and `vars`;
    /// `%%` is a literal `%`). Errors say what configparser would reject.
    pub fn interpolated(
        &self,
        section: &str,
        key: &str,
        vars: &BTreeMap<String, String>,
    ) -> Option<Result<String, String>> {
        let v = self.get(section, key)?;
        Some(self.interpolate(section, &v.raw, vars, 0))
    }

    fn interpolate(
        &self,
        section: &str,
        raw: &str,
        vars: &BTreeMap<String, String>,
        depth: usize,
    ) -> Result<String, String> {
        if depth > 10 {
            return Err("interpolation is nested too deeply (a reference loop?)".into());
        }
        substitute(raw, &mut |name| {
            let name = name.to_lowercase();
            if let Some(v) = self.get(section, &name) {
                self.interpolate(section, &v.raw, vars, depth + 1)
            } else if let Some(v) = vars.get(&name) {
                Ok(v.clone())
            } else {
                Err(format!("`%({name})s` refers to a key that does not exist"))
            }
        })
    }
}

/// Python's `%(name)s` substitution: `%%` is a literal `%`, a lone `%` is an error, and
/// `lookup` gives each name's value.
pub fn substitute(
    raw: &str,
    lookup: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let Some(close) = r.find(")s") else {
                return Err(format!("bad `%(name)s` reference in {raw:?}"));
            };
            out.push_str(&lookup(&r[..close])?);
            rest = &r[close + 2..];
        } else {
            return Err(format!(
                "a lone `%` must be written `%%` (Python rejects {raw:?})"
            ));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Parse INI text. Never fails; problems are collected in [`Ini::errors`].
pub fn parse(text: &str) -> Ini {
    let mut ini = Ini::default();
    // Current option: (section index or None for DEFAULT, key, indent of its line).
    let mut current: Option<(Option<usize>, String, usize)> = None;
    let mut section: Option<Option<usize>> = None;
    let mut pos = 0;
    for line in text.split_inclusive(['\n']) {
        let start = pos;
        pos += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let stripped = content.trim();
        let indent = content.len() - content.trim_start().len();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            continue;
        }
        if stripped.is_empty() {
            // Empty lines inside a value are kept by configparser, then trailing ones dropped.
            if let Some((sec, key, _)) = &current {
                if let Some(v) = value_mut(&mut ini, *sec, key) {
                    v.raw.push('\n');
                }
            }
            continue;
        }
        if let Some((sec, key, key_indent)) = &current {
            if indent > *key_indent {
                if let Some(v) = value_mut(&mut ini, *sec, key) {
                    v.raw.push('\n');
                    v.raw.push_str(stripped);
                }
                continue;
            }
        }
        finish(&mut ini, &current);
        current = None;
        let lead = start + indent;
        if stripped.starts_with('[') && stripped.ends_with(']') && stripped.len() > 2 {
            let name = stripped[1..stripped.len() - 1].to_string();
            let span = (lead, lead + stripped.len());
            if name == "DEFAULT" {
                section = Some(None);
            } else if let Some(i) = ini.sections.iter().position(|s| s.name == name) {
                ini.errors.push(IniError {
                    message: format!(
                        "section [{name}] appears twice; configparser refuses the file"
                    ),
                    span,
                });
                section = Some(Some(i));
            } else {
                ini.sections.push(IniSection {
                    name,
                    header_span: span,
                    values: BTreeMap::new(),
                });
                section = Some(Some(ini.sections.len() - 1));
            }
            continue;
        }
        let Some(sec) = section else {
            ini.errors.push(IniError {
                message: "a line before the first [section] header".into(),
                span: (lead, lead + stripped.len()),
            });
            continue;
        };
        let Some(d) = stripped.find(['=', ':']) else {
            ini.errors.push(IniError {
                message: format!(
                    "`{stripped}` is neither a `key = value` line nor a section header"
                ),
                span: (lead, lead + stripped.len()),
            });
            continue;
        };
        let key_raw = stripped[..d].trim_end();
        let key = key_raw.to_lowercase();
        let value_raw = stripped[d + 1..].trim_start();
        let value_off = lead + stripped.len() - value_raw.len();
        let value = IniValue {
            raw: value_raw.to_string(),
            key_span: (lead, lead + key_raw.len()),
            value_span: (value_off, value_off + value_raw.len()),
        };
        let map = match sec {
            None => &mut ini.defaults,
            Some(i) => &mut ini.sections[i].values,
        };
        if map.contains_key(&key) {
            ini.errors.push(IniError {
                message: format!(
                    "option `{key}` is set twice in this section; configparser refuses the file"
                ),
                span: value.key_span,
            });
        }
        map.insert(key.clone(), value);
        current = Some((sec, key, indent));
    }
    finish(&mut ini, &current);
    ini
}

fn value_mut<'a>(ini: &'a mut Ini, sec: Option<usize>, key: &str) -> Option<&'a mut IniValue> {
    match sec {
        None => ini.defaults.get_mut(key),
        Some(i) => ini.sections[i].values.get_mut(key),
    }
}

/// Drop the trailing empty lines configparser drops from a finished value.
fn finish(ini: &mut Ini, current: &Option<(Option<usize>, String, usize)>) {
    if let Some((sec, key, _)) = current {
        if let Some(v) = value_mut(ini, *sec, key) {
            let trimmed = v.raw.trim_end_matches('\n').len();
            v.raw.truncate(trimmed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([("here".to_string(), "/proj".to_string())])
    }

    #[test]
    fn values_comments_and_interpolation() {
        let text = "# top\n[alembic]\nscript_location = %(here)s/migrations\nPath_Separator = os  # note\nurl: postgresql://u:p%%40@h/db\nversion_locations =\n    %(here)s/a\n\n    %(here)s/b\n\n[other]\nx=1\n";
        let ini = parse(text);
        assert!(ini.errors.is_empty(), "{:?}", ini.errors);
        let get = |k| ini.interpolated("alembic", k, &vars()).unwrap().unwrap();
        assert_eq!(get("script_location"), "/proj/migrations");
        assert_eq!(get("path_separator"), "os  # note");
        assert_eq!(get("url"), "postgresql://u:p%40@h/db");
        assert_eq!(get("version_locations"), "\n/proj/a\n\n/proj/b");
        let v = ini.get("alembic", "path_separator").unwrap();
        assert_eq!(&text[v.value_span.0..v.value_span.1], "os  # note");
    }

    #[test]
    fn duplicates_and_garbage_are_errors() {
        let ini = parse("[alembic]\na = 1\nA = 2\njunk line\n[alembic]\n");
        assert_eq!(ini.errors.len(), 3, "{:?}", ini.errors);
    }

    #[test]
    fn lone_percent_is_an_error() {
        let ini = parse("[alembic]\nurl = 50%\n");
        assert!(ini
            .interpolated("alembic", "url", &vars())
            .unwrap()
            .is_err());
    }

    #[test]
    fn crlf_lines() {
        let ini = parse("[alembic]\r\nscript_location = x\r\n");
        assert_eq!(ini.get("alembic", "script_location").unwrap().raw, "x");
    }
}
