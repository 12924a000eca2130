//! Files revlint has read, addressed by [`FileId`], and byte [`Span`]s into them.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Index of a file in the [`FileDb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// An empty span at the start of a file, for findings about a whole file.
    pub fn file_start(file: FileId) -> Self {
        Span::new(file, 0, 0)
    }
}

/// One file: its path as shown to the user, its absolute path and its text.
#[derive(Debug)]
pub struct SourceFile {
    /// Path shown in output: relative to the working directory when below it.
    pub display: String,
    pub path: PathBuf,
    /// The decoded text; empty when the file could not be read or decoded.
    pub text: String,
    /// Built on first use: most files never need line numbers.
    lines: OnceLock<LineIndex>,
}

impl SourceFile {
    pub fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(&self.text))
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: u32) -> LineCol {
        self.lines().line_col(&self.text, offset)
    }
}

/// All files of one run. Ids are assigned in insertion order, which callers keep sorted.
#[derive(Debug, Default)]
pub struct FileDb {
    files: Vec<SourceFile>,
    by_path: std::collections::HashMap<PathBuf, FileId>,
}

impl FileDb {
    pub fn add(&mut self, path: PathBuf, display: String, text: String) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.by_path.entry(path.clone()).or_insert(id);
        self.files.push(SourceFile {
            display,
            path,
            text,
            lines: OnceLock::new(),
        });
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// The first file added with this path.
    pub fn find(&self, path: &std::path::Path) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Line starts of a text, recognising `\n`, `\r\n` and lone `\r` as line ends.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<u32>,
}

/// A 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0u32];
        let mut skip_lf_at = usize::MAX;
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if i == skip_lf_at {
                continue;
            }
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                skip_lf_at = i + 1;
                starts.push(i as u32 + 2);
            } else {
                starts.push(i as u32 + 1);
            }
        }
        LineIndex { starts }
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, text: &str, offset: u32) -> LineCol {
        let offset = (offset as usize).min(text.len());
        let line = match self.starts.binary_search(&(offset as u32)) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.starts[line] as usize;
        let column = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        LineCol {
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_lf_crlf_cr() {
        for (text, want) in [
            ("a\nbb\nc", 3),
            ("a\r\nbb\r\nc", 3),
            ("a\rbb\rc", 3),
            ("a\r\n\rb", 3),
        ] {
            let idx = LineIndex::new(text);
            assert_eq!(idx.line_count(), want, "{text:?}");
            let c = text.find('c').or(text.find('b')).unwrap();
            let lc = idx.line_col(text, c as u32);
            assert_eq!(lc.line as usize, want, "{text:?}");
            assert_eq!(lc.column, 1);
        }
    }

    #[test]
    fn columns_count_characters() {
        let text = "é = 'x'\nrevision = 'ab'";
        let idx = LineIndex::new(text);
        let at = text.find('=').unwrap() as u32;
        assert_eq!(idx.line_col(text, at), LineCol { line: 1, column: 3 });
        let at = text.find("'ab'").unwrap() as u32;
        assert_eq!(
            idx.line_col(text, at),
            LineCol {
                line: 2,
                column: 12
            }
        );
    }

    #[test]
    fn offsets_past_end_are_clamped() {
        let text = "ab";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 99), LineCol { line: 1, column: 3 });
    }
}
