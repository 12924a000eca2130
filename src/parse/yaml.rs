//! The one span-preserving YAML loader of revlint.
//!
//! [`load`] turns a YAML stream into a tree of [`YamlNode`]s whose [`Loc`]s are byte offsets
//! into the source text. Events come from `saphyr-parser` (a YAML 1.2 event parser that does not
//! recurse); this module builds the tree with an explicit stack, resolves anchors, aliases and
//! YAML 1.1 merge keys (`<<`), records where every expanded node came from ([`Via`]), and reports
//! problems as [`YamlIssue`]s instead of failing. It never panics and never allocates
//! exponentially: alias expansion is bounded by a node budget and nesting by [`MAX_DEPTH`].
//!
//! Locations:
//! * a scalar's loc covers its token: quotes included for quoted scalars, from the `|`/`>`
//!   indicator to the end of the last content line for block scalars; node properties
//!   (`&anchor`, `!tag`) are not part of it;
//! * a collection's loc runs from its first character (`[`, `{`, the first `-`, or the first key)
//!   to its last one (`]`, `}`, or the end of its last child);
//! * an empty value (`key:`) is an empty loc where the parser saw it;
//! * nodes reached through an alias keep the locs they have at the anchor; their `via` says how
//!   they got here.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScanError, Span, Tag};

/// Deepest nesting of collections accepted; deeper input gives [`IssueKind::TooDeep`].
pub const MAX_DEPTH: usize = 256;

/// Smallest alias-expansion budget (in nodes); the budget is `max(this, source length)`.
pub const MIN_ALIAS_BUDGET: usize = 100_000;

/// A byte range `start..end` in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Loc {
    pub start: u32,
    pub end: u32,
}

impl Loc {
    pub fn new(start: u32, end: u32) -> Loc {
        Loc { start, end }
    }

    /// The text this loc covers in `src` (empty if it does not fit `src`).
    pub fn slice<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// The result of [`load`]: every document of the stream and every problem found.
#[derive(Debug, Clone, Default)]
pub struct YamlFile {
    pub documents: Vec<YamlNode>,
    pub issues: Vec<YamlIssue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// The parser rejected the input; documents completed before the error are kept.
    Syntax,
    /// A mapping has the same key twice; the last value is kept.
    DuplicateKey,
    /// Alias expansion exceeded the node budget ("billion laughs"); loading stopped.
    AliasBudget,
    /// Nesting deeper than [`MAX_DEPTH`]; loading stopped.
    TooDeep,
    /// A merge key `<<` whose value is not a mapping or a list of mappings; it is ignored.
    InvalidMerge,
    /// An alias to an unknown anchor, or to the node that contains it.
    UnresolvedAlias,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlIssue {
    pub kind: IssueKind,
    pub message: String,
    pub loc: Loc,
    pub related: Vec<(Loc, String)>,
}

/// A node of the tree. `loc` is where the node is written in the source (for a node copied in
/// by an alias or a merge key: where it is written at the anchor).
#[derive(Clone)]
pub struct YamlNode {
    pub kind: NodeKind,
    pub loc: Loc,
    /// How this node reached its place, outermost first; empty for a node written here.
    pub via: Vec<Via>,
    /// The whole source, kept by scalars for [`YamlNode::source_offset`].
    src: Option<Arc<String>>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    /// `~`, `null`, `Null`, `NULL` or an empty plain scalar.
    Null,
    /// Any other scalar, as written (no type conversion).
    Scalar {
        value: String,
        style: ScalarStyle,
    },
    Seq(Vec<YamlNode>),
    Map(Vec<YamlEntry>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
pub struct YamlEntry {
    pub key: YamlNode,
    pub value: YamlNode,
}

/// How a node reached its place: through an alias `*a` or a merge key `<<: *a` (outermost first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Via {
    /// The anchored node's `&name` (for an inline `<<: {..}` map: that map).
    pub anchor: Loc,
    /// The `*name` (or, for an inline merged map, the `<<` key) that brought it here.
    pub alias: Loc,
    /// True when the node was brought in by a merge key `<<`.
    pub merge_key: bool,
}

impl std::fmt::Debug for YamlNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YamlNode")
            .field("kind", &self.kind)
            .field("loc", &self.loc)
            .field("via", &self.via)
            .finish()
    }
}

impl YamlNode {
    fn new(kind: NodeKind, loc: Loc) -> YamlNode {
        YamlNode {
            kind,
            loc,
            via: Vec::new(),
            src: None,
        }
    }

    /// The value of the entry whose key is the scalar `key`.
    pub fn get(&self, key: &str) -> Option<&YamlNode> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry whose key is the scalar `key`.
    pub fn entry(&self, key: &str) -> Option<&YamlEntry> {
        self.as_map()?.iter().find(|e| e.key.as_str() == Some(key))
    }

    /// The value of a scalar (`None` for null and collections).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[YamlNode]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[YamlEntry]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Explicit null (`~`, `null`, `Null`, `NULL`) or an empty value.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    pub fn style(&self) -> Option<ScalarStyle> {
        match &self.kind {
            NodeKind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    /// Where a scalar's value byte `i` came from in the source.
    ///
    /// Exact for every style: plain (also multi-line, folded lines map a folding space to the
    /// line break), quoted (`''` and escapes map to their first byte, an escaped line break
    /// produces nothing), literal and folded block scalars (indentation and chomping handled).
    /// `i == value.len()` (or more) gives the end of the value's text. Always within `self.loc`;
    /// for anything but a scalar, `loc.start`.
    pub fn source_offset(&self, i: usize) -> u32 {
        let (start, end) = (self.loc.start as usize, self.loc.end as usize);
        let pos = self
            .exact_offset(i)
            .unwrap_or_else(|| start.saturating_add(i.min(end.saturating_sub(start))));
        to_u32(pos.clamp(start, end.max(start)))
    }

    /// `source_offset` before clamping, or `None` when the source does not reproduce the value
    /// (then `source_offset` falls back to `loc.start + i`).
    fn exact_offset(&self, i: usize) -> Option<usize> {
        let (Some(src), NodeKind::Scalar { value, style }) = (&self.src, &self.kind) else {
            return Some(self.loc.start as usize);
        };
        let (start, end) = (self.loc.start as usize, self.loc.end as usize);
        let src: &str = src;
        if start > end || end > src.len() {
            return None;
        }
        match style {
            ScalarStyle::Plain => offset_plain(src, start, end, value, i),
            ScalarStyle::SingleQuoted => offset_quoted(src, start, end, value, i, false),
            ScalarStyle::DoubleQuoted => offset_quoted(src, start, end, value, i, true),
            ScalarStyle::Literal => offset_block(src, start, value, i, true),
            ScalarStyle::Folded => offset_block(src, start, value, i, false),
        }
    }
}

/// Load every document of a YAML stream. Never panics; problems are reported in `issues`.
pub fn load(src: &str) -> YamlFile {
    let first = build(src);
    match first.issues.first() {
        Some(i) if i.kind == IssueKind::Syntax && src.len() <= REPAIR_MAX_BYTES => {
            repair_flow_ends(src).unwrap_or(first)
        }
        _ => first,
    }
}

fn build(src: &str) -> YamlFile {
    let mut b = Builder::new(src);
    b.run();
    YamlFile {
        documents: b.documents,
        issues: b.issues,
    }
}

/// Files larger than this are not re-parsed to repair flow collections (real workflow and
/// compose files are kilobytes).
const REPAIR_MAX_BYTES: usize = 1 << 20;
/// Flow collections repaired per file at most: each repair is a parse of the file.
const REPAIR_MAX: usize = 16;

/// PyYAML, and so GitHub and Docker Compose, accept a flow collection whose closing `]` or `}`
/// sits at its parent key's indentation:
///
/// ```yaml
///   push:
///     paths: [
///       'pyproject.toml'
///     ]
/// ```
///
/// saphyr's scanner rejects that line ("invalid indentation"). Each such closer is moved to
/// the end of the line before it (`'pyproject.toml']`, then a blank line): the same bytes,
/// so every offset stays the file's own, and the same document. Returns the loaded file when
/// the repairs leave no error; `None` when the error is anything else.
fn repair_flow_ends(src: &str) -> Option<YamlFile> {
    let mut text = src.as_bytes().to_vec();
    for _ in 0..REPAIR_MAX {
        let repaired = std::str::from_utf8(&text).ok()?;
        let f = build(repaired);
        let Some(issue) = f.issues.first() else {
            return (text != src.as_bytes()).then_some(f);
        };
        if issue.kind != IssueKind::Syntax || !issue.message.contains("indentation") {
            return None;
        }
        // The closer at the start of the reported line.
        let at = (issue.loc.start as usize).min(text.len());
        let line_start = text[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let indent = text[line_start..]
            .iter()
            .take_while(|&&b| b == b' ')
            .count();
        let closer = line_start + indent;
        if !matches!(text.get(closer), Some(b']' | b'}')) || line_start == 0 {
            return None;
        }
        // The previous line must end in content, not a comment that would swallow the closer.
        let prev_end = line_start - 1;
        let prev_start = text[..prev_end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        if text[prev_start..prev_end].contains(&b'#') || text[prev_start..prev_end].ends_with(b"\r")
        {
            return None;
        }
        let c = text[closer];
        text.copy_within(prev_end..closer, prev_end + 1);
        text[prev_end] = c;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Character index -> byte offset.

/// saphyr's markers count characters; this turns them into byte offsets. ASCII input maps 1:1.
/// Otherwise a checkpoint every `STRIDE` characters bounds a lookup to `STRIDE` steps, and a
/// cursor at the previous lookup makes the usual, nearly increasing, lookups cheap.
struct CharMap<'a> {
    src: &'a [u8],
    ascii: bool,
    checkpoints: Vec<usize>,
    /// (character index, byte offset) of the previous lookup.
    cursor: Cell<(usize, usize)>,
}

const STRIDE: usize = 64;

impl<'a> CharMap<'a> {
    fn new(src: &'a str) -> CharMap<'a> {
        let ascii = src.is_ascii();
        let mut checkpoints = Vec::new();
        if !ascii {
            checkpoints.reserve(src.len() / STRIDE + 1);
            for (n, (b, _)) in src.char_indices().enumerate() {
                if n % STRIDE == 0 {
                    checkpoints.push(b);
                }
            }
        }
        CharMap {
            src: src.as_bytes(),
            ascii,
            checkpoints,
            cursor: Cell::new((0, 0)),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        let len = self.src.len();
        if self.ascii {
            return char_index.min(len);
        }
        let k = char_index / STRIDE;
        let Some(&base) = self.checkpoints.get(k) else {
            return len;
        };
        let (cc, cb) = self.cursor.get();
        let (mut c, mut b) = if cc <= char_index && cc >= k * STRIDE {
            (cc, cb)
        } else {
            (k * STRIDE, base)
        };
        while c < char_index && b < len {
            b += 1;
            while b < len && self.src[b] & 0xC0 == 0x80 {
                b += 1;
            }
            c += 1;
        }
        self.cursor.set((c, b));
        b
    }
}

fn to_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

fn loc(start: usize, end: usize) -> Loc {
    Loc::new(to_u32(start), to_u32(end.max(start)))
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers on the source.

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn is_ws(b: u8) -> bool {
    is_blank(b) || is_break(b)
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// Length of the line break at `p` (0 if none): `\r\n` counts as one break.
fn break_len(b: &[u8], p: usize) -> usize {
    match b.get(p) {
        Some(b'\r') if b.get(p + 1) == Some(&b'\n') => 2,
        Some(b'\r' | b'\n') => 1,
        _ => 0,
    }
}

/// Skip whitespace, line breaks and comments from `p`, not beyond `limit`.
fn skip_ws_comments(b: &[u8], mut p: usize, limit: usize) -> usize {
    while p < limit {
        if is_ws(b[p]) {
            p += 1;
        } else if b[p] == b'#' && (p == 0 || is_ws(b[p - 1])) {
            while p < limit && !is_break(b[p]) {
                p += 1;
            }
        } else {
            break;
        }
    }
    p
}

/// Skip node properties (`&anchor`, `!tag`) and what separates them from the node, starting at
/// `p` and never beyond `limit`. Returns the content start and the `&anchor` token, if any.
fn skip_props(b: &[u8], mut p: usize, limit: usize) -> (usize, Option<(usize, usize)>) {
    let mut anchor = None;
    while p < limit && (b[p] == b'&' || b[p] == b'!') {
        let start = p;
        p += 1;
        if b[start] == b'!' && p < limit && b[p] == b'<' {
            while p < limit && b[p] != b'>' {
                p += 1;
            }
            p = (p + 1).min(limit);
        }
        while p < limit && !is_ws(b[p]) && !is_flow_indicator(b[p]) {
            p += 1;
        }
        if b[start] == b'&' {
            anchor = Some((start, p));
        }
        p = skip_ws_comments(b, p, limit);
    }
    (p.min(limit), anchor)
}

/// End (exclusive) of the quoted scalar opening at `start`, not beyond `limit`: the closing quote
/// is included, trailing spaces and comments (which saphyr's span contains) are not.
fn quoted_end(b: &[u8], start: usize, limit: usize, double: bool) -> usize {
    let quote = if double { b'"' } else { b'\'' };
    let mut p = start + 1;
    while p < limit {
        match b[p] {
            b'\\' if double => p += 2,
            b'\'' if !double && b.get(p + 1) == Some(&b'\'') && p + 1 < limit => p += 2,
            c if c == quote => return p + 1,
            _ => p += 1,
        }
    }
    limit
}

/// The `|`/`>` indicator of a block scalar: the last one outside comments in `lo..hi`.
fn find_block_header(b: &[u8], lo: usize, hi: usize) -> Option<usize> {
    let mut found = None;
    let mut p = lo;
    while p < hi {
        match b[p] {
            b'#' if p == lo || is_ws(b[p - 1]) => {
                while p < hi && !is_break(b[p]) {
                    p += 1;
                }
                continue;
            }
            b'|' | b'>' => found = Some(p),
            _ => {}
        }
        p += 1;
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The tree builder.

struct Anchored {
    node: YamlNode,
    size: usize,
    height: usize,
    anchor: Loc,
}

enum Body {
    Seq {
        items: Vec<YamlNode>,
        /// The value of a merge key: aliases inside are merge sources.
        merge_list: bool,
    },
    Map(MapBuilder),
}

struct Frame {
    start: usize,
    anchor: Option<(usize, Loc)>,
    /// Nodes in this collection, itself included (an upper bound once merges drop entries).
    size: usize,
    /// 1 + height of the highest child (scalars have height 0).
    height: usize,
    /// End of the last child as written here (for an alias: the alias token).
    last_end: usize,
    body: Body,
}

struct PendingMerge {
    /// Index in `entries` where the merged entries go.
    pos: usize,
    key_loc: Loc,
    sources: Vec<YamlNode>,
}

#[derive(Default)]
struct MapBuilder {
    entries: Vec<YamlEntry>,
    key: Option<YamlNode>,
    merges: Vec<PendingMerge>,
    /// Key -> entry index, built once the mapping is large enough to need it.
    index: Option<HashMap<String, usize>>,
    null_key: Option<usize>,
}

const INDEX_THRESHOLD: usize = 16;

#[derive(PartialEq, Eq, Hash)]
enum KeyId<'a> {
    Null,
    Str(&'a str),
}

fn key_id(node: &YamlNode) -> Option<KeyId<'_>> {
    match &node.kind {
        NodeKind::Null => Some(KeyId::Null),
        NodeKind::Scalar { value, .. } => Some(KeyId::Str(value)),
        _ => None,
    }
}

fn is_merge_key(node: &YamlNode) -> bool {
    matches!(&node.kind, NodeKind::Scalar { value, style: ScalarStyle::Plain } if value == "<<")
}

impl MapBuilder {
    fn find(&self, id: &KeyId<'_>) -> Option<usize> {
        match id {
            KeyId::Null => self.null_key,
            KeyId::Str(s) => match &self.index {
                Some(index) => index.get(*s).copied(),
                None => self.entries.iter().position(|e| e.key.as_str() == Some(s)),
            },
        }
    }

    fn remember(&mut self, pos: usize) {
        let Some(entry) = self.entries.get(pos) else {
            return;
        };
        match &entry.key.kind {
            NodeKind::Null => self.null_key = Some(pos),
            NodeKind::Scalar { value, .. } => {
                if let Some(index) = &mut self.index {
                    index.insert(value.clone(), pos);
                } else if self.entries.len() >= INDEX_THRESHOLD {
                    let mut index = HashMap::with_capacity(self.entries.len() * 2);
                    for (i, e) in self.entries.iter().enumerate() {
                        if let NodeKind::Scalar { value, .. } = &e.key.kind {
                            index.entry(value.clone()).or_insert(i);
                        }
                    }
                    self.index = Some(index);
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, key: YamlNode, value: YamlNode, issues: &mut Vec<YamlIssue>) {
        if is_merge_key(&key) {
            self.add_merge(key.loc, value, issues);
            return;
        }
        if let Some(id) = key_id(&key) {
            if let Some(pos) = self.find(&id) {
                let first = self.entries[pos].key.loc;
                let shown = match id {
                    KeyId::Null => "null".to_string(),
                    KeyId::Str(s) => s.chars().take(80).collect(),
                };
                issues.push(YamlIssue {
                    kind: IssueKind::DuplicateKey,
                    message: format!("duplicate key `{shown}` (the last value is used)"),
                    loc: key.loc,
                    related: vec![(first, "first defined here".to_string())],
                });
                self.entries[pos] = YamlEntry { key, value };
                return;
            }
            self.entries.push(YamlEntry { key, value });
            self.remember(self.entries.len() - 1);
        } else {
            self.entries.push(YamlEntry { key, value });
        }
    }

    fn add_merge(&mut self, key_loc: Loc, value: YamlNode, issues: &mut Vec<YamlIssue>) {
        let invalid = |issues: &mut Vec<YamlIssue>, at: Loc, what: &str| {
            issues.push(YamlIssue {
                kind: IssueKind::InvalidMerge,
                message: format!(
                    "merge key `<<` needs a mapping or a list of mappings, found {what}"
                ),
                loc: at,
                related: vec![(key_loc, "merge key".to_string())],
            });
        };
        let mut sources = Vec::new();
        match value.kind {
            NodeKind::Map(_) => sources.push(value),
            NodeKind::Seq(items) => {
                for item in items {
                    if matches!(item.kind, NodeKind::Map(_)) {
                        sources.push(item);
                    } else {
                        invalid(issues, item.loc, kind_name(&item.kind));
                    }
                }
            }
            ref other => invalid(issues, value.loc, kind_name(other)),
        }
        if !sources.is_empty() {
            self.merges.push(PendingMerge {
                pos: self.entries.len(),
                key_loc,
                sources,
            });
        }
    }

    /// The final entries: local ones win over merged ones, earlier merge sources over later ones;
    /// merged entries take the place of their `<<` key.
    fn finish(mut self) -> Vec<YamlEntry> {
        if self.merges.is_empty() {
            return self.entries;
        }
        // Which merged entries survive (decided on borrowed keys, nothing moves yet).
        let mut keep = Vec::new();
        {
            let mut null_taken = self.null_key.is_some();
            let mut taken: Vec<&str> = Vec::new();
            let mut taken_set: HashSet<&str> = HashSet::new();
            for merge in &self.merges {
                for source in &merge.sources {
                    let NodeKind::Map(entries) = &source.kind else {
                        continue;
                    };
                    for e in entries {
                        let fresh = match &e.key.kind {
                            NodeKind::Null => !std::mem::replace(&mut null_taken, true),
                            NodeKind::Scalar { value, .. } => {
                                let v = value.as_str();
                                let seen = self.find(&KeyId::Str(v)).is_some()
                                    || if taken.len() < INDEX_THRESHOLD {
                                        taken.contains(&v)
                                    } else {
                                        taken_set.contains(v)
                                    };
                                if !seen {
                                    if taken.len() < INDEX_THRESHOLD {
                                        taken.push(v);
                                    } else {
                                        if taken_set.is_empty() {
                                            taken_set.extend(taken.iter().copied());
                                        }
                                        taken_set.insert(v);
                                    }
                                }
                                !seen
                            }
                            _ => true,
                        };
                        keep.push(fresh);
                    }
                }
            }
        }
        let mut keep = keep.into_iter();
        let mut result = Vec::with_capacity(self.entries.len() + keep.len());
        let mut locals = std::mem::take(&mut self.entries)
            .into_iter()
            .enumerate()
            .peekable();
        for merge in self.merges {
            while let Some((_, e)) = locals.next_if(|(i, _)| *i < merge.pos) {
                result.push(e);
            }
            for source in merge.sources {
                let inline = source.via.is_empty();
                let source_loc = source.loc;
                let NodeKind::Map(entries) = source.kind else {
                    continue;
                };
                for mut e in entries {
                    if !keep.next().unwrap_or(false) {
                        continue;
                    }
                    if inline {
                        let via = Via {
                            anchor: source_loc,
                            alias: merge.key_loc,
                            merge_key: true,
                        };
                        prepend_via(&mut e.key, via);
                        prepend_via(&mut e.value, via);
                    }
                    result.push(e);
                }
            }
        }
        result.extend(locals.map(|(_, e)| e));
        result
    }
}

fn kind_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Null => "null",
        NodeKind::Scalar { .. } => "a scalar",
        NodeKind::Seq(_) => "a sequence",
        NodeKind::Map(_) => "a mapping",
    }
}

/// Add `via` (as the outermost step) to `node` and everything inside it.
fn prepend_via(node: &mut YamlNode, via: Via) {
    node.via.insert(0, via);
    match &mut node.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| prepend_via(n, via)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|e| {
            prepend_via(&mut e.key, via);
            prepend_via(&mut e.value, via);
        }),
        NodeKind::Null | NodeKind::Scalar { .. } => {}
    }
}

/// A deep copy of `node` with `via` as the outermost step everywhere inside it.
fn clone_via(node: &YamlNode, via: Via) -> YamlNode {
    let mut steps = Vec::with_capacity(node.via.len() + 1);
    steps.push(via);
    steps.extend_from_slice(&node.via);
    let kind = match &node.kind {
        NodeKind::Seq(items) => NodeKind::Seq(items.iter().map(|n| clone_via(n, via)).collect()),
        NodeKind::Map(entries) => NodeKind::Map(
            entries
                .iter()
                .map(|e| YamlEntry {
                    key: clone_via(&e.key, via),
                    value: clone_via(&e.value, via),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    YamlNode {
        kind,
        loc: node.loc,
        via: steps,
        src: node.src.clone(),
    }
}

/// Hasher for the parser's anchor ids (small sequential integers, not attacker-chosen keys).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

enum Flow {
    Continue,
    Stop,
}

struct Builder<'a> {
    src: &'a str,
    bytes: &'a [u8],
    shared: Option<Arc<String>>,
    chars: CharMap<'a>,
    frames: Vec<Frame>,
    root: Option<YamlNode>,
    anchors: HashMap<usize, Anchored, BuildHasherDefault<IdHasher>>,
    documents: Vec<YamlNode>,
    issues: Vec<YamlIssue>,
    expanded: usize,
    budget: usize,
    /// Byte end of the previous event, where the search for a block scalar indicator starts.
    prev_end: usize,
}

impl<'a> Builder<'a> {
    fn new(src: &'a str) -> Builder<'a> {
        Builder {
            src,
            bytes: src.as_bytes(),
            shared: None,
            chars: CharMap::new(src),
            frames: Vec::new(),
            root: None,
            anchors: HashMap::default(),
            documents: Vec::new(),
            issues: Vec::new(),
            expanded: 0,
            budget: MIN_ALIAS_BUDGET.max(src.len()),
            prev_end: 0,
        }
    }

    fn run(&mut self) {
        let mut parser = Parser::new_from_str(self.src);
        loop {
            // saphyr-parser is not supposed to panic; should it, report instead of unwinding.
            let next = match catch_unwind(AssertUnwindSafe(|| parser.next_event())) {
                Ok(next) => next,
                Err(_) => {
                    let at = self.prev_end;
                    self.issue(
                        IssueKind::Syntax,
                        "internal YAML parser error".into(),
                        loc(at, at),
                    );
                    return;
                }
            };
            let (event, span) = match next {
                None => return,
                Some(Ok(x)) => x,
                Some(Err(e)) => {
                    self.scan_error(&e);
                    return;
                }
            };
            // An implicit document start carries the span of the document's first token.
            let implicit_start = matches!(event, Event::DocumentStart(false));
            let (start, end) = self.bytes_of(span);
            if let Flow::Stop = self.event(event, start, end) {
                return;
            }
            if !implicit_start {
                self.prev_end = self.prev_end.max(end);
            }
        }
    }

    fn issue(&mut self, kind: IssueKind, message: String, at: Loc) {
        self.issues.push(YamlIssue {
            kind,
            message,
            loc: at,
            related: Vec::new(),
        });
    }

    fn scan_error(&mut self, e: &ScanError) {
        let start = self.chars.byte(e.marker().index());
        let info = e.info();
        let (kind, end) = if info.contains("recursion limit exceeded") {
            (IssueKind::TooDeep, start)
        } else if info.contains("unknown anchor") {
            let mut p = start + 1;
            while p < self.bytes.len() && !is_ws(self.bytes[p]) && !is_flow_indicator(self.bytes[p])
            {
                p += 1;
            }
            (IssueKind::UnresolvedAlias, p)
        } else {
            (IssueKind::Syntax, start)
        };
        let end = if end > start {
            end.min(self.src.len())
        } else {
            // One character at the error, or an empty loc at the end of the input.
            self.src
                .get(start..)
                .and_then(|s| s.chars().next())
                .map_or(start, |c| start + c.len_utf8())
        };
        let message = match kind {
            IssueKind::TooDeep => format!("nesting deeper than the parser allows ({info})"),
            _ => info.to_string(),
        };
        self.issue(kind, message, loc(start, end));
    }

    fn event(&mut self, event: Event<'_>, s: usize, e: usize) -> Flow {
        match event {
            Event::DocumentStart(_) => {
                self.frames.clear();
                self.anchors.clear();
                self.root = None;
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take() {
                    self.documents.push(root);
                }
                self.frames.clear();
            }
            Event::Alias(id) => return self.alias(id, s, e),
            Event::Scalar(value, style, anchor_id, tag) => {
                self.scalar(value, style, anchor_id, tag.as_deref(), s, e)
            }
            Event::SequenceStart(anchor_id, tag) => {
                return self.start_collection(anchor_id, tag.is_some(), true, s, e);
            }
            Event::MappingStart(anchor_id, tag) => {
                return self.start_collection(anchor_id, tag.is_some(), false, s, e);
            }
            Event::SequenceEnd | Event::MappingEnd => return self.end_collection(s, e),
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Flow::Continue
    }

    fn bytes_of(&self, span: Span) -> (usize, usize) {
        let s = self.chars.byte(span.start.index());
        let e = self.chars.byte(span.end.index());
        (s, e.max(s))
    }

    fn scalar(
        &mut self,
        value: Cow<'_, str>,
        style: saphyr_parser::ScalarStyle,
        anchor_id: usize,
        tag: Option<&Tag>,
        s: usize,
        e: usize,
    ) {
        let b = self.bytes;
        let (c, anchor_tok) = if anchor_id > 0 || tag.is_some() {
            skip_props(b, s, e)
        } else {
            (s, None)
        };
        let style = match style {
            saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
            saphyr_parser::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
            saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
            saphyr_parser::ScalarStyle::Literal => ScalarStyle::Literal,
            saphyr_parser::ScalarStyle::Folded => ScalarStyle::Folded,
        };
        let at = match style {
            ScalarStyle::Plain => loc(c, e),
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                loc(c, quoted_end(b, c, e, style == ScalarStyle::DoubleQuoted))
            }
            ScalarStyle::Literal | ScalarStyle::Folded => {
                // saphyr's span starts at the first content line; the indicator is before it.
                let header = if c > s {
                    c
                } else {
                    find_block_header(b, self.prev_end.min(s), s).unwrap_or(s)
                };
                let mut end = e.max(header);
                while end > header + 1 && is_ws(b[end - 1]) {
                    end -= 1;
                }
                loc(header, end)
            }
        };
        let is_str_tag = tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
        let null = style == ScalarStyle::Plain
            && !is_str_tag
            && matches!(&*value, "" | "~" | "null" | "Null" | "NULL");
        let node = if null {
            YamlNode::new(NodeKind::Null, at)
        } else {
            let shared = self
                .shared
                .get_or_insert_with(|| Arc::new(self.src.to_string()))
                .clone();
            YamlNode {
                kind: NodeKind::Scalar {
                    value: value.into_owned(),
                    style,
                },
                loc: at,
                via: Vec::new(),
                src: Some(shared),
            }
        };
        if anchor_id > 0 {
            let anchor = anchor_tok.map_or(at, |(a, z)| loc(a, z));
            self.expanded += 1;
            self.anchors.insert(
                anchor_id,
                Anchored {
                    node: node.clone(),
                    size: 1,
                    height: 0,
                    anchor,
                },
            );
        }
        self.push(node, 1, 0, at.end as usize);
    }

    /// Whether the node coming next is the value of a merge key `<<` (or an item of one).
    fn in_merge_context(&self) -> bool {
        match self.frames.last().map(|f| &f.body) {
            Some(Body::Seq { merge_list, .. }) => *merge_list,
            _ => self.pending_merge_key(),
        }
    }

    fn pending_merge_key(&self) -> bool {
        match self.frames.last().map(|f| &f.body) {
            Some(Body::Map(m)) => m.key.as_ref().is_some_and(is_merge_key),
            _ => false,
        }
    }

    fn alias(&mut self, id: usize, s: usize, e: usize) -> Flow {
        let alias_loc = loc(s, e);
        let merge_key = self.in_merge_context();
        let Some((size, height, anchor)) =
            self.anchors.get(&id).map(|t| (t.size, t.height, t.anchor))
        else {
            self.issue(
                IssueKind::UnresolvedAlias,
                format!(
                    "alias `{}` has no anchor earlier in this document (or is inside the node it names)",
                    alias_loc.slice(self.src)
                ),
                alias_loc,
            );
            self.push(YamlNode::new(NodeKind::Null, alias_loc), 1, 0, e);
            return Flow::Continue;
        };
        if self.frames.len() + height > MAX_DEPTH {
            self.issue(
                IssueKind::TooDeep,
                format!("expanding this alias nests deeper than {MAX_DEPTH} levels"),
                alias_loc,
            );
            return Flow::Stop;
        }
        if self.expanded.saturating_add(size) > self.budget {
            let budget = self.budget;
            self.issue(
                IssueKind::AliasBudget,
                format!(
                    "alias expansion exceeds {budget} nodes (billion laughs?); loading stopped"
                ),
                alias_loc,
            );
            return Flow::Stop;
        }
        self.expanded += size;
        let via = Via {
            anchor,
            alias: alias_loc,
            merge_key,
        };
        let Some(target) = self.anchors.get(&id) else {
            return Flow::Continue;
        };
        let node = clone_via(&target.node, via);
        self.push(node, size, height, e);
        Flow::Continue
    }

    fn start_collection(
        &mut self,
        anchor_id: usize,
        tagged: bool,
        seq: bool,
        s: usize,
        e: usize,
    ) -> Flow {
        let b = self.bytes;
        if self.frames.len() >= MAX_DEPTH {
            self.issue(
                IssueKind::TooDeep,
                format!("nesting deeper than {MAX_DEPTH} levels"),
                loc(s, e),
            );
            return Flow::Stop;
        }
        let (mut start, anchor_tok) = if anchor_id > 0 || tagged {
            skip_props(b, s, e)
        } else {
            (s, None)
        };
        if seq && b.get(start) != Some(&b'[') {
            // A block sequence starts at its first `-`, which saphyr's span may leave out.
            let indicator =
                b.get(start) == Some(&b'-') && b.get(start + 1).is_none_or(|&c| is_ws(c));
            if !indicator {
                let mut q = start;
                while q > 0 && is_blank(b[q - 1]) {
                    q -= 1;
                }
                if q > 0 && b[q - 1] == b'-' {
                    start = q - 1;
                }
            }
        }
        let anchor = (anchor_id > 0).then(|| {
            let at = anchor_tok.map_or(loc(start, start), |(a, z)| loc(a, z));
            (anchor_id, at)
        });
        let merge_list = seq && self.pending_merge_key();
        self.frames.push(Frame {
            start,
            anchor,
            size: 1,
            height: 1,
            last_end: start,
            body: if seq {
                Body::Seq {
                    items: Vec::new(),
                    merge_list,
                }
            } else {
                Body::Map(MapBuilder::default())
            },
        });
        Flow::Continue
    }

    fn end_collection(&mut self, s: usize, e: usize) -> Flow {
        let Some(frame) = self.frames.pop() else {
            return Flow::Continue;
        };
        // A flow collection ends with its `]`/`}` (saphyr's span may run on over blanks); a
        // block collection with its last child.
        let end = if e > s {
            // Skip a trailing `,` (its span is the one saphyr gives) up to the bracket.
            let b = self.bytes;
            let mut p = s;
            loop {
                p = skip_ws_comments(b, p, b.len());
                if b.get(p) == Some(&b',') {
                    p += 1;
                } else {
                    break;
                }
            }
            if matches!(b.get(p), Some(b']' | b'}')) {
                p + 1
            } else {
                e
            }
        } else {
            frame.last_end
        };
        let at = loc(frame.start, end.max(frame.start));
        let kind = match frame.body {
            Body::Seq { mut items, .. } => {
                items.shrink_to_fit();
                NodeKind::Seq(items)
            }
            Body::Map(mut m) => {
                if let Some(key) = m.key.take() {
                    // A key without a value (the parser always sends one; be safe).
                    let at = loc(key.loc.end as usize, key.loc.end as usize);
                    m.add(key, YamlNode::new(NodeKind::Null, at), &mut self.issues);
                }
                let mut entries = m.finish();
                entries.shrink_to_fit();
                NodeKind::Map(entries)
            }
        };
        let node = YamlNode::new(kind, at);
        if let Some((id, anchor)) = frame.anchor {
            if self.expanded.saturating_add(frame.size) > self.budget {
                self.issue(
                    IssueKind::AliasBudget,
                    format!(
                        "anchored nodes exceed {} nodes; loading stopped",
                        self.budget
                    ),
                    anchor,
                );
                return Flow::Stop;
            }
            self.expanded += frame.size;
            self.anchors.insert(
                id,
                Anchored {
                    node: node.clone(),
                    size: frame.size,
                    height: frame.height,
                    anchor,
                },
            );
        }
        self.push(node, frame.size, frame.height, end);
        Flow::Continue
    }

    fn push(&mut self, node: YamlNode, size: usize, height: usize, src_end: usize) {
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(node);
            return;
        };
        frame.size = frame.size.saturating_add(size);
        frame.height = frame.height.max(height + 1);
        frame.last_end = frame.last_end.max(src_end);
        match &mut frame.body {
            Body::Seq { items, .. } => items.push(node),
            Body::Map(m) => match m.key.take() {
                None => m.key = Some(node),
                Some(key) => m.add(key, node, &mut self.issues),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// source_offset: re-scan a scalar's source text, checking that it yields the node's value, and
// note where value byte `target` comes from.

struct Sink<'v> {
    value: &'v [u8],
    /// Value bytes produced so far.
    pos: usize,
    target: usize,
    hit: Option<usize>,
    /// Source position just after the last produced character.
    last: usize,
    ok: bool,
}

impl<'v> Sink<'v> {
    fn new(value: &'v str, target: usize, start: usize) -> Sink<'v> {
        Sink {
            value: value.as_bytes(),
            pos: 0,
            target,
            hit: None,
            last: start,
            ok: true,
        }
    }

    /// Source bytes `from..to` appear verbatim in the value.
    fn run(&mut self, src: &[u8], from: usize, to: usize) {
        if !self.ok || from >= to {
            return;
        }
        let (Some(text), Some(want)) = (
            src.get(from..to),
            self.value.get(self.pos..self.pos + (to - from)),
        ) else {
            self.ok = false;
            return;
        };
        if text != want {
            self.ok = false;
            return;
        }
        if self.hit.is_none() && self.target < self.pos + text.len() {
            self.hit = Some(from + (self.target - self.pos));
        }
        self.pos += text.len();
        self.last = to;
    }

    /// The value character `c` was produced by the source construct `at..at + len`.
    fn ch(&mut self, c: char, at: usize, len: usize) {
        if !self.ok {
            return;
        }
        let mut buf = [0u8; 4];
        let enc = c.encode_utf8(&mut buf).as_bytes();
        if self.value.get(self.pos..self.pos + enc.len()) != Some(enc) {
            self.ok = false;
            return;
        }
        if self.hit.is_none() && self.target < self.pos + enc.len() {
            self.hit = Some(at);
        }
        self.pos += enc.len();
        self.last = at + len;
    }

    fn result(&self) -> Option<usize> {
        (self.ok && self.pos == self.value.len()).then(|| self.hit.unwrap_or(self.last))
    }
}

/// Plain scalar in `start..end`: lines are trimmed and folded (one break -> space, n breaks ->
/// n-1 newlines).
fn offset_plain(src: &str, start: usize, end: usize, value: &str, target: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut sink = Sink::new(value, target, start);
    let mut breaks: Vec<(usize, usize)> = Vec::new();
    let mut p = start;
    let mut first = true;
    loop {
        let mut line_end = p;
        while line_end < end && !is_break(b[line_end]) {
            line_end += 1;
        }
        let mut a = p;
        while a < line_end && is_blank(b[a]) {
            a += 1;
        }
        let mut z = line_end;
        while z > a && is_blank(b[z - 1]) {
            z -= 1;
        }
        if first {
            sink.run(b, a, z);
            first = false;
        } else if a < z {
            if breaks.len() == 1 {
                sink.ch(' ', breaks[0].0, breaks[0].1);
            } else {
                for &(at, len) in &breaks[1..] {
                    sink.ch('\n', at, len);
                }
            }
            breaks.clear();
            sink.run(b, a, z);
        }
        if line_end >= end {
            break;
        }
        let len = break_len(b, line_end).max(1);
        breaks.push((line_end, len));
        p = line_end + len;
    }
    sink.result()
}

/// The character a double-quoted escape at `p` (a backslash) stands for, and its length.
fn escape_at(b: &[u8], p: usize) -> Option<(char, usize)> {
    let c = match *b.get(p + 1)? {
        b'0' => '\0',
        b'a' => '\x07',
        b'b' => '\x08',
        b't' | b'\t' => '\t',
        b'n' => '\n',
        b'v' => '\x0b',
        b'f' => '\x0c',
        b'r' => '\r',
        b'e' => '\x1b',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        x @ (b'x' | b'u' | b'U') => {
            let n = match x {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = std::str::from_utf8(b.get(p + 2..p + 2 + n)?).ok()?;
            let code = u32::from_str_radix(digits, 16).ok()?;
            return Some((char::from_u32(code)?, 2 + n));
        }
        _ => return None,
    };
    Some((c, 2))
}

/// Quoted scalar whose opening quote is at `start` (mirrors saphyr's `scan_flow_scalar`).
fn offset_quoted(
    src: &str,
    start: usize,
    end: usize,
    value: &str,
    target: usize,
    double: bool,
) -> Option<usize> {
    let b = src.as_bytes();
    let quote = if double { b'"' } else { b'\'' };
    let mut sink = Sink::new(value, target, start + 1);
    let mut p = start + 1;
    let mut trailing: Vec<(usize, usize)> = Vec::new();
    loop {
        if p >= end {
            return None;
        }
        let mut leading_blanks = false;
        // Non-blank characters.
        while p < end && !is_ws(b[p]) {
            let c = b[p];
            if !double && c == b'\'' && b.get(p + 1) == Some(&b'\'') {
                sink.ch('\'', p, 2);
                p += 2;
            } else if c == quote {
                break;
            } else if double && c == b'\\' && b.get(p + 1).is_some_and(|&n| is_break(n)) {
                p += 1;
                p += break_len(b, p);
                leading_blanks = true;
                break;
            } else if double && c == b'\\' {
                let (ch, len) = escape_at(b, p)?;
                sink.ch(ch, p, len);
                p += len;
            } else {
                let from = p;
                while p < end && !is_ws(b[p]) && b[p] != quote && !(double && b[p] == b'\\') {
                    p += 1;
                }
                sink.run(b, from, p);
            }
        }
        if p >= end {
            return None;
        }
        if b[p] == quote {
            break;
        }
        // Blanks and line breaks.
        let mut spaces: Option<usize> = None;
        let mut leading_break: Option<(usize, usize)> = None;
        trailing.clear();
        while p < end && is_ws(b[p]) {
            if is_blank(b[p]) {
                if !leading_blanks && spaces.is_none() {
                    spaces = Some(p);
                }
                p += 1;
            } else {
                let len = break_len(b, p).max(1);
                if leading_blanks {
                    trailing.push((p, len));
                } else {
                    spaces = None;
                    leading_break = Some((p, len));
                    leading_blanks = true;
                }
                p += len;
            }
        }
        if leading_blanks {
            match leading_break {
                Some((at, len)) if trailing.is_empty() => sink.ch(' ', at, len),
                _ => {
                    for &(at, len) in &trailing {
                        sink.ch('\n', at, len);
                    }
                }
            }
        } else if let Some(from) = spaces {
            sink.run(b, from, p);
        }
        if !sink.ok {
            return None;
        }
    }
    sink.result()
}

/// Block scalar whose `|` or `>` indicator is at `header` (mirrors saphyr's
/// `scan_block_scalar`). The content indentation depends on the parent's, which is not known
/// here, so plausible indentations are tried until one reproduces the value.
fn offset_block(
    src: &str,
    header: usize,
    value: &str,
    target: usize,
    literal: bool,
) -> Option<usize> {
    let b = src.as_bytes();
    let mut p = header + 1;
    let mut chomp = 0i8; // -1 strip, 0 clip, 1 keep
    let mut increment = 0usize;
    for _ in 0..2 {
        match b.get(p) {
            Some(b'+') => chomp = 1,
            Some(b'-') => chomp = -1,
            Some(d @ b'1'..=b'9') => increment = usize::from(d - b'0'),
            _ => break,
        }
        p += 1;
    }
    while p < b.len() && !is_break(b[p]) {
        p += 1;
    }
    let header_break = break_len(b, p) > 0;
    p += break_len(b, p);
    let body = p;
    // Indentation of the first content line, and the widest leading empty line.
    let (mut q, mut col, mut widest) = (body, 0usize, 0usize);
    loop {
        while q < b.len() && b[q] == b' ' {
            q += 1;
            col += 1;
        }
        widest = widest.max(col);
        let len = break_len(b, q);
        if len == 0 {
            break;
        }
        q += len;
        col = 0;
    }
    let candidates: Vec<usize> = if increment > 0 {
        // The parent's indentation is not known: try from none upwards; one past the first
        // line's indentation covers an empty scalar.
        let top = col.max(increment);
        (increment..=top).take(64).chain([top + 1]).collect()
    } else {
        vec![widest, widest + 1]
    };
    candidates.into_iter().find_map(|indent| {
        block_with_indent(b, header_break, body, indent, chomp, literal, value, target)
    })
}

const BOM: &[u8] = "\u{feff}".as_bytes();

#[allow(clippy::too_many_arguments)]
fn block_with_indent(
    b: &[u8],
    header_break: bool,
    body: usize,
    indent: usize,
    chomp: i8,
    literal: bool,
    value: &str,
    target: usize,
) -> Option<usize> {
    let mut sink = Sink::new(value, target, body.min(b.len()));
    let mut p = body;
    let mut col = 0usize;
    let mut trailing: Vec<(usize, usize)> = Vec::new();
    let skip_indent = |p: &mut usize, col: &mut usize, trailing: &mut Vec<(usize, usize)>| loop {
        while *col < indent && *p < b.len() && b[*p] == b' ' {
            *p += 1;
            *col += 1;
        }
        let len = break_len(b, *p);
        if len == 0 {
            break;
        }
        trailing.push((*p, len));
        *p += len;
        *col = 0;
    };
    skip_indent(&mut p, &mut col, &mut trailing);
    if p >= b.len() {
        if chomp == 1 {
            if trailing.is_empty() && header_break && col > 0 {
                sink.ch('\n', b.len(), 0);
            }
            for &(at, len) in &trailing {
                sink.ch('\n', at, len);
            }
        }
        return sink.result();
    }
    let mut leading_break: Option<(usize, usize)> = None;
    let mut leading_blank = false;
    // A byte order mark is not content: it ends the scalar (and the document).
    while col == indent && p < b.len() && !is_break(b[p]) && !b[p..].starts_with(BOM) {
        if indent == 0 {
            let marker = b.get(p..p + 3);
            if (marker == Some(b"---") || marker == Some(b"..."))
                && b.get(p + 3).is_none_or(|&c| is_ws(c))
            {
                break;
            }
        }
        let trailing_blank = is_blank(b[p]);
        let fold = !literal && !leading_blank && !trailing_blank;
        match leading_break {
            // Folding: the line break becomes a space, unless empty lines follow it (they give
            // the newlines below).
            Some((at, len)) if fold && trailing.is_empty() => sink.ch(' ', at, len),
            Some(_) if fold => {}
            Some((at, len)) => sink.ch('\n', at, len),
            None => {}
        }
        for &(at, len) in &trailing {
            sink.ch('\n', at, len);
        }
        leading_break = None;
        trailing.clear();
        leading_blank = trailing_blank;
        let from = p;
        while p < b.len() && !is_break(b[p]) {
            p += 1;
        }
        sink.run(b, from, p);
        if !sink.ok {
            return None;
        }
        if p >= b.len() {
            col = usize::MAX;
            break;
        }
        let len = break_len(b, p);
        leading_break = Some((p, len));
        p += len;
        col = 0;
        skip_indent(&mut p, &mut col, &mut trailing);
    }
    if chomp != -1 {
        if let Some((at, len)) = leading_break {
            sink.ch('\n', at, len);
        }
        if p >= b.len() && col >= indent.max(1) {
            sink.ch('\n', b.len(), 0);
        }
    }
    if chomp == 1 {
        for &(at, len) in &trailing {
            sink.ch('\n', at, len);
        }
    }
    sink.result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn one(src: &str) -> YamlNode {
        let f = load(src);
        assert!(f.issues.is_empty(), "unexpected issues: {:?}", f.issues);
        assert_eq!(f.documents.len(), 1, "{:?}", f.documents);
        f.documents.into_iter().next().unwrap()
    }

    fn text<'a>(src: &'a str, n: &YamlNode) -> &'a str {
        n.loc.slice(src)
    }

    #[test]
    fn flow_collection_closed_at_the_parent_indentation() {
        // As PyYAML and GitHub read it: `paths` is a two-item list, then `pull_request`.
        let src = "on:\n  push:\n    paths: [\n      'a.toml',\n      \"b.lock\"\n    ]\n    branches: {\n      x: 1\n    }\n  pull_request: {}\n";
        let doc = one(src);
        let on = doc.get("on").unwrap();
        let push = on.get("push").unwrap();
        let paths = push.get("paths").unwrap().as_seq().unwrap();
        assert_eq!(paths.len(), 2);
        // Spans are the file's own.
        assert_eq!(text(src, &paths[1]), "\"b.lock\"");
        assert_eq!(key(src, push, "branches"), "branches");
        assert!(on.get("pull_request").is_some());
        // Other indentation errors are still errors.
        let bad = load("a:\n  b: 1\n c: 2\n");
        assert!(!bad.issues.is_empty());
        // A comment before the closer stays a comment (PyYAML reads `{a: {p: [1]}}`).
        let src = "a:\n  p: [\n    1 # one\n  ]\n";
        let doc = one(src);
        let p = doc.get("a").unwrap().get("p").unwrap().as_seq().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(text(src, &p[0]), "1");
    }

    fn key<'a>(src: &'a str, map: &YamlNode, k: &str) -> &'a str {
        text(src, &map.entry(k).unwrap().key)
    }

    fn val<'a>(src: &'a str, map: &YamlNode, k: &str) -> &'a str {
        text(src, map.get(k).unwrap())
    }

    fn keys(n: &YamlNode) -> Vec<&str> {
        n.as_map()
            .unwrap()
            .iter()
            .map(|e| e.key.as_str().unwrap())
            .collect()
    }

    /// Every scalar in the tree.
    fn scalars(n: &YamlNode, out: &mut Vec<YamlNode>) {
        match &n.kind {
            NodeKind::Scalar { .. } => out.push(n.clone()),
            NodeKind::Seq(items) => items.iter().for_each(|c| scalars(c, out)),
            NodeKind::Map(es) => es.iter().for_each(|e| {
                scalars(&e.key, out);
                scalars(&e.value, out);
            }),
            NodeKind::Null => {}
        }
    }

    /// A collection's loc contains the locs of the children written in it.
    fn contains_children(src: &str, n: &YamlNode) {
        let children: Vec<&YamlNode> = match &n.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            NodeKind::Map(es) => es.iter().flat_map(|e| [&e.key, &e.value]).collect(),
            _ => return,
        };
        let t = n.loc.slice(src);
        // (A block mapping may start with a flow key: `[a]: b`.)
        if n.via.is_empty() && children.first().is_none_or(|c| c.loc.start != n.loc.start) {
            if t.starts_with('[') {
                assert!(t.ends_with(']'), "{src:?} {n:?}");
            }
            if t.starts_with('{') {
                assert!(t.ends_with('}'), "{src:?} {n:?}");
            }
        }
        for c in children {
            if c.via.len() == n.via.len() {
                assert!(
                    n.loc.start <= c.loc.start && c.loc.end <= n.loc.end,
                    "{src:?}\n{n:?}\n{c:?}"
                );
            }
            contains_children(src, c);
        }
    }

    /// The source byte that value byte `i` maps to.
    fn src_at(src: &str, n: &YamlNode, i: usize) -> char {
        src[n.source_offset(i) as usize..].chars().next().unwrap()
    }

    #[test]
    fn results_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<YamlFile>();
    }

    #[test]
    fn spans_ascii() {
        let src = "name: web\nimage: \"nginx:1.25\" # pinned\nports:\n  - '80:80'\n  - 443\nenv: {A: 1, B: two}\nempty:\nnull1: ~\n";
        let d = one(src);
        assert_eq!(text(src, &d), src.trim_end());
        assert_eq!(key(src, &d, "name"), "name");
        assert_eq!(val(src, &d, "name"), "web");
        assert_eq!(val(src, &d, "image"), "\"nginx:1.25\"");
        assert_eq!(d.get("image").unwrap().as_str(), Some("nginx:1.25"));
        assert_eq!(val(src, &d, "ports"), "- '80:80'\n  - 443");
        let ports = d.get("ports").unwrap().as_seq().unwrap();
        assert_eq!(text(src, &ports[0]), "'80:80'");
        assert_eq!(ports[0].style(), Some(ScalarStyle::SingleQuoted));
        assert_eq!(text(src, &ports[1]), "443");
        assert_eq!(val(src, &d, "env"), "{A: 1, B: two}");
        assert_eq!(val(src, d.get("env").unwrap(), "B"), "two");
        assert!(d.get("empty").unwrap().is_null());
        assert!(d.get("empty").unwrap().loc.start <= d.get("null1").unwrap().loc.start);
        assert!(d.get("null1").unwrap().is_null());
        assert_eq!(val(src, &d, "null1"), "~");
        assert!(d.get("missing").is_none());
    }

    #[test]
    fn spans_non_ascii_and_crlf() {
        let src = "name: \"café\"\nlabel: ünïcödé 日本\nafter: x\nlist: [é, ß]\n";
        let d = one(src);
        assert_eq!(val(src, &d, "name"), "\"café\"");
        assert_eq!(key(src, &d, "label"), "label");
        assert_eq!(val(src, &d, "label"), "ünïcödé 日本");
        assert_eq!(key(src, &d, "after"), "after");
        assert_eq!(val(src, &d, "after"), "x");
        assert_eq!(val(src, &d, "list"), "[é, ß]");
        assert_eq!(text(src, &d.get("list").unwrap().as_seq().unwrap()[1]), "ß");

        // Long non-ASCII input crosses many checkpoints of the char map.
        let mut big = String::new();
        for i in 0..500 {
            big.push_str(&format!("k{i}: \"ü€𝄞{i}\"\n"));
        }
        let d = one(&big);
        for i in [0, 1, 63, 64, 65, 250, 499] {
            assert_eq!(key(&big, &d, &format!("k{i}")), format!("k{i}"));
            assert_eq!(val(&big, &d, &format!("k{i}")), format!("\"ü€𝄞{i}\""));
        }

        let src =
            "\u{feff}a: 1\r\nb:\r\n  - x # c\r\n  - \"é\"\r\nc: |\r\n  l1\r\n  l2\r\nd: e\r\n";
        let d = one(src);
        assert_eq!(key(src, &d, "a"), "a");
        assert_eq!(val(src, &d, "b"), "- x # c\r\n  - \"é\"");
        assert_eq!(val(src, &d, "c"), "|\r\n  l1\r\n  l2");
        assert_eq!(d.get("c").unwrap().as_str(), Some("l1\nl2\n"));
        assert_eq!(val(src, &d, "d"), "e");
        let c = d.get("c").unwrap();
        assert_eq!(src_at(src, c, 3), 'l');
        assert_eq!(c.source_offset(3) as usize, src.find("l2").unwrap());
        assert_eq!(c.source_offset(2) as usize, src.find("l1\r\n").unwrap() + 2);
    }

    #[test]
    fn anchored_and_tagged_nodes() {
        let src = "a: &x !Ref value\nb: !!str null\nc: &m\n  k: v\nd: !Sub [1]\ne: &n\n";
        let d = one(src);
        assert_eq!(val(src, &d, "a"), "value");
        assert_eq!(d.get("a").unwrap().as_str(), Some("value"));
        assert_eq!(d.get("b").unwrap().as_str(), Some("null"));
        assert_eq!(val(src, &d, "c"), "k: v");
        assert_eq!(val(src, &d, "d"), "[1]");
        assert!(d.get("e").unwrap().is_null());
    }

    #[test]
    fn styles_and_nulls() {
        let src =
            "a: no\nb: \"no\"\nc: 'no'\nd: null\ne: NULL\nf: \"null\"\ng:\nh: |\n  x\ni: >\n  y\n";
        let d = one(src);
        let st = |k: &str| d.get(k).unwrap().style();
        assert_eq!(d.get("a").unwrap().as_str(), Some("no"));
        assert_eq!(st("a"), Some(ScalarStyle::Plain));
        assert_eq!(d.get("b").unwrap().as_str(), Some("no"));
        assert_eq!(st("b"), Some(ScalarStyle::DoubleQuoted));
        assert_eq!(st("c"), Some(ScalarStyle::SingleQuoted));
        assert!(d.get("d").unwrap().is_null() && d.get("e").unwrap().is_null());
        assert_eq!(d.get("f").unwrap().as_str(), Some("null"));
        assert!(d.get("g").unwrap().is_null());
        assert_eq!(st("h"), Some(ScalarStyle::Literal));
        assert_eq!(st("i"), Some(ScalarStyle::Folded));
        assert_eq!(val(src, &d, "h"), "|\n  x");
    }

    const COMPOSE: &str = "\
x-deploy: &deploy
  replicas: 2
  resources:
    limits: {memory: 512M}
x-log: &log
  driver: json
  replicas: 9
services:
  web:
    image: nginx
    deploy:
      <<: *deploy
      replicas: 3
  api:
    <<: [*log, *deploy]
    image: api
  worker:
    deploy: *deploy
";

    #[test]
    fn merge_single_with_local_override_and_provenance() {
        let src = COMPOSE;
        let d = one(src);
        let web = d.get("services").unwrap().get("web").unwrap();
        let deploy = web.get("deploy").unwrap();
        // Local key wins although it comes after `<<`; merged entries take the `<<` place.
        assert_eq!(keys(deploy), ["resources", "replicas"]);
        let replicas = deploy.entry("replicas").unwrap();
        assert_eq!(replicas.value.as_str(), Some("3"));
        assert!(replicas.value.via.is_empty());
        assert_eq!(text(src, &replicas.key), "replicas");
        assert_eq!(
            replicas.key.loc.start as usize,
            src.find("replicas: 3").unwrap()
        );

        let res = deploy.entry("resources").unwrap();
        // Original locs, at the anchor.
        assert_eq!(res.key.loc.start as usize, src.find("resources").unwrap());
        assert_eq!(text(src, &res.value), "limits: {memory: 512M}");
        let via = res.value.via[0];
        assert_eq!(res.value.via.len(), 1);
        assert!(via.merge_key);
        assert_eq!(via.anchor.slice(src), "&deploy");
        assert_eq!(via.alias.slice(src), "*deploy");
        assert_eq!(
            via.alias.start as usize,
            src.find("<<: *deploy").unwrap() + 4
        );
        // Everything inside carries the same provenance.
        let mem = res.value.get("limits").unwrap().get("memory").unwrap();
        assert_eq!(text(src, mem), "512M");
        assert_eq!(mem.via, vec![via]);
        assert_eq!(res.key.via, vec![via]);
    }

    #[test]
    fn merge_list_earlier_wins() {
        let src = COMPOSE;
        let d = one(src);
        let api = d.get("services").unwrap().get("api").unwrap();
        assert_eq!(keys(api), ["driver", "replicas", "resources", "image"]);
        // *log comes first in the list, so its replicas wins over *deploy's.
        let r = api.get("replicas").unwrap();
        assert_eq!(r.as_str(), Some("9"));
        assert_eq!(r.via[0].anchor.slice(src), "&log");
        assert!(r.via[0].merge_key);
        let res = api.get("resources").unwrap();
        assert_eq!(res.via[0].anchor.slice(src), "&deploy");
        assert_eq!(
            res.via[0].alias.start as usize,
            src.find("*deploy]").unwrap()
        );
        assert!(api.get("image").unwrap().via.is_empty());
    }

    #[test]
    fn plain_alias_provenance() {
        let src = COMPOSE;
        let d = one(src);
        let worker = d.get("services").unwrap().get("worker").unwrap();
        let deploy = worker.get("deploy").unwrap();
        assert_eq!(deploy.loc.start as usize, src.find("replicas: 2").unwrap());
        assert_eq!(deploy.via.len(), 1);
        assert!(!deploy.via[0].merge_key);
        assert_eq!(deploy.via[0].anchor.slice(src), "&deploy");
        assert_eq!(deploy.via[0].alias.slice(src), "*deploy");
        assert_eq!(
            deploy.via[0].alias.start as usize,
            src.rfind("*deploy").unwrap()
        );
        let r = deploy.get("replicas").unwrap();
        assert_eq!(text(src, r), "2");
        assert_eq!(r.via, deploy.via);
        // The anchored original itself has no provenance.
        assert!(d
            .get("x-deploy")
            .unwrap()
            .get("replicas")
            .unwrap()
            .via
            .is_empty());
    }

    #[test]
    fn merge_chained_and_nested_alias_order() {
        let src = "\
base: &base {a: 1, b: 1}
mid: &mid
  <<: *base
  b: 2
  c: 2
top:
  <<: *mid
  c: 3
wrap: &wrap {inner: *base}
use: *wrap
";
        let d = one(src);
        let mid = d.get("mid").unwrap();
        assert_eq!(keys(mid), ["a", "b", "c"]);
        let top = d.get("top").unwrap();
        assert_eq!(keys(top), ["a", "b", "c"]);
        assert_eq!(top.get("a").unwrap().as_str(), Some("1"));
        assert_eq!(top.get("b").unwrap().as_str(), Some("2"));
        assert_eq!(top.get("c").unwrap().as_str(), Some("3"));
        // `a` came from base through mid: outermost (the *mid merge) first.
        let a = top.get("a").unwrap();
        assert_eq!(a.via.len(), 2);
        assert_eq!(a.via[0].anchor.slice(src), "&mid");
        assert_eq!(a.via[0].alias.start as usize, src.find("*mid").unwrap());
        assert!(a.via[0].merge_key);
        assert_eq!(a.via[1].anchor.slice(src), "&base");
        assert_eq!(a.via[1].alias.start as usize, src.find("*base").unwrap());
        assert!(a.via[1].merge_key);
        assert_eq!(text(src, a), "1");
        assert_eq!(a.loc.start as usize, src.find("a: 1").unwrap() + 3);
        let b = top.get("b").unwrap();
        assert_eq!(b.via.len(), 1);

        let inner_a = d
            .get("use")
            .unwrap()
            .get("inner")
            .unwrap()
            .get("a")
            .unwrap();
        assert_eq!(inner_a.via.len(), 2);
        assert_eq!(inner_a.via[0].anchor.slice(src), "&wrap");
        assert_eq!(
            inner_a.via[0].alias.start as usize,
            src.find("*wrap").unwrap()
        );
        assert!(!inner_a.via[0].merge_key);
        assert_eq!(inner_a.via[1].anchor.slice(src), "&base");
        assert_eq!(
            inner_a.via[1].alias.start as usize,
            src.find("*base}").unwrap()
        );
    }

    #[test]
    fn merge_inline_and_invalid() {
        let src = "a:\n  <<: {x: 1, y: 2}\n  y: 3\nb:\n  <<: scalar\n  k: v\nc:\n  <<: [{p: 1}, 5]\nd:\n  \"<<\": quoted\n";
        let f = load(src);
        assert_eq!(f.documents.len(), 1);
        let d = &f.documents[0];
        let a = d.get("a").unwrap();
        assert_eq!(keys(a), ["x", "y"]);
        assert_eq!(a.get("y").unwrap().as_str(), Some("3"));
        let x = a.get("x").unwrap();
        assert!(x.via[0].merge_key);
        assert_eq!(x.via[0].anchor.slice(src), "{x: 1, y: 2}");
        assert_eq!(x.via[0].alias.slice(src), "<<");
        assert_eq!(keys(d.get("b").unwrap()), ["k"]);
        assert_eq!(keys(d.get("c").unwrap()), ["p"]);
        assert_eq!(keys(d.get("d").unwrap()), ["<<"]);
        let kinds: Vec<_> = f.issues.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [IssueKind::InvalidMerge, IssueKind::InvalidMerge]);
        assert_eq!(f.issues[0].loc.slice(src), "scalar");
        assert_eq!(f.issues[1].loc.slice(src), "5");
        assert_eq!(f.issues[0].related[0].0.slice(src), "<<");
    }

    #[test]
    fn multi_document_and_empty() {
        assert!(load("").documents.is_empty() && load("").issues.is_empty());
        let f = load("# just a comment\n\n");
        assert!(f.documents.is_empty() && f.issues.is_empty());
        let src = "a: 1\n---\nb: 2\n...\n---\n- x\n";
        let f = load(src);
        assert!(f.issues.is_empty());
        assert_eq!(f.documents.len(), 3);
        assert_eq!(f.documents[1].get("b").unwrap().as_str(), Some("2"));
        assert_eq!(text(src, &f.documents[2]), "- x");
        let f = load("---\n");
        assert_eq!(f.documents.len(), 1);
        assert!(f.documents[0].is_null());
        // Anchors do not leak across documents.
        let f = load("a: &x 1\n---\nb: *x\n");
        assert_eq!(f.documents.len(), 2);
        assert!(f.documents[1].get("b").unwrap().is_null());
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].kind, IssueKind::UnresolvedAlias);
    }

    #[test]
    fn duplicate_keys_keep_last() {
        let src = "jobs:\n  build: {a: 1}\n  test: 2\n  build: {b: 2}\n";
        let f = load(src);
        assert_eq!(f.issues.len(), 1);
        let i = &f.issues[0];
        assert_eq!(i.kind, IssueKind::DuplicateKey);
        assert_eq!(i.loc.start as usize, src.rfind("build").unwrap());
        assert_eq!(i.loc.slice(src), "build");
        assert_eq!(i.related[0].0.start as usize, src.find("build").unwrap());
        let jobs = f.documents[0].get("jobs").unwrap();
        assert_eq!(keys(jobs), ["build", "test"]);
        assert_eq!(keys(jobs.get("build").unwrap()), ["b"]);

        // Large mappings use an index; duplicates still found.
        let mut big = String::new();
        for i in 0..100 {
            big.push_str(&format!("k{i}: {i}\n"));
        }
        big.push_str("k42: again\n~: 1\nnull: 2\n");
        let f = load(&big);
        let kinds: Vec<_> = f.issues.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [IssueKind::DuplicateKey, IssueKind::DuplicateKey]);
        assert_eq!(f.documents[0].get("k42").unwrap().as_str(), Some("again"));
        assert_eq!(f.documents[0].as_map().unwrap().len(), 101);
    }

    #[test]
    fn alias_bomb_is_cut_short() {
        let src = "\
a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
";
        let t = Instant::now();
        let f = load(src);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].kind, IssueKind::AliasBudget);
        assert!(f.documents.is_empty());
        // Same shape in block style, several documents: the first one survives.
        let block = src.replace(": &", ":\n  - &");
        let f = load(&format!("ok: 1\n---\n{block}"));
        assert_eq!(f.documents.len(), 1);
        assert!(f.issues.iter().any(|i| i.kind == IssueKind::AliasBudget));
    }

    #[test]
    fn deep_nesting_is_too_deep_not_a_stack_overflow() {
        let src = "[".repeat(10_000);
        let f = load(&src);
        assert!(f.documents.is_empty());
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].kind, IssueKind::TooDeep);

        let src = format!("{}{}", "{a: ".repeat(10_000), "}".repeat(10_000));
        assert_eq!(load(&src).issues[0].kind, IssueKind::TooDeep);

        // Block nesting is not limited by the parser: our own limit applies.
        let mut src = String::new();
        for i in 0..300 {
            src.push_str(&" ".repeat(i));
            src.push_str("k:\n");
        }
        let f = load(&src);
        assert!(f.documents.is_empty());
        assert_eq!(f.issues[0].kind, IssueKind::TooDeep);
        let src = "- ".repeat(5000) + "x\n";
        assert_eq!(load(&src).issues[0].kind, IssueKind::TooDeep);

        // Exactly at the limit is fine.
        let mut src = String::new();
        for i in 0..MAX_DEPTH {
            src.push_str(&" ".repeat(i));
            src.push_str("k:\n");
        }
        let f = load(&src);
        assert!(f.issues.is_empty(), "{:?}", f.issues);

        // Aliases cannot be used to nest deeper either.
        let mut src = String::from("a: &a ");
        src.push_str(&"[".repeat(200));
        src.push_str(&"]".repeat(200));
        src.push('\n');
        src.push_str(&format!("b: {}*a{}\n", "[".repeat(100), "]".repeat(100)));
        let f = load(&src);
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].kind, IssueKind::TooDeep);
        assert_eq!(f.issues[0].loc.slice(&src), "*a");
    }

    #[test]
    fn syntax_errors_have_byte_locs() {
        let src = "ok: 1\n---\nname: \"é\"\nkey: [1, 2\nother: 3\n";
        let f = load(src);
        assert_eq!(f.documents.len(), 1);
        assert_eq!(f.documents[0].get("ok").unwrap().as_str(), Some("1"));
        assert_eq!(f.issues.len(), 1);
        let i = &f.issues[0];
        assert_eq!(i.kind, IssueKind::Syntax);
        assert!(!i.message.is_empty());
        let at = i.loc.start as usize;
        assert!(at > src.find("key").unwrap() && at <= src.len(), "{i:?}");
        assert!(src.is_char_boundary(at));

        let src = "é: 1\n\tbad: [\n";
        let f = load(src);
        assert_eq!(f.issues[0].kind, IssueKind::Syntax);
        assert!(src.is_char_boundary(f.issues[0].loc.start as usize));

        let src = "a: \"ü\"\nb: c: d\n";
        let f = load(src);
        let i = &f.issues[0];
        assert_eq!(i.kind, IssueKind::Syntax);
        assert_eq!(i.loc.start as usize, src.find(": d").unwrap(), "{i:?}");
    }

    #[test]
    fn unresolved_aliases() {
        let src = "a: 1\nb: *nope\n";
        let f = load(src);
        assert_eq!(f.issues[0].kind, IssueKind::UnresolvedAlias);
        assert_eq!(f.issues[0].loc.slice(src), "*nope");

        let src = "a: &x [1, *x]\nb: 2\n";
        let f = load(src);
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].kind, IssueKind::UnresolvedAlias);
        assert_eq!(f.issues[0].loc.slice(src), "*x");
        assert_eq!(f.documents[0].get("b").unwrap().as_str(), Some("2"));
    }

    #[test]
    fn source_offset_literal_run_block() {
        let src = "jobs:\n  build:\n    steps:\n      - run: |\n          echo hi\n          curl x | sh\n";
        let d = one(src);
        let step = &d
            .get("jobs")
            .unwrap()
            .get("build")
            .unwrap()
            .get("steps")
            .unwrap()
            .as_seq()
            .unwrap()[0];
        let run = step.get("run").unwrap();
        let v = run.as_str().unwrap();
        assert_eq!(v, "echo hi\ncurl x | sh\n");
        assert_eq!(
            text(src, run),
            "|\n          echo hi\n          curl x | sh"
        );
        let second = v.find("curl").unwrap();
        assert_eq!(
            run.source_offset(second) as usize,
            src.find("curl").unwrap()
        );
        assert_eq!(run.source_offset(0) as usize, src.find("echo").unwrap());
        assert_eq!(
            run.source_offset(v.find("sh\n").unwrap()) as usize,
            src.rfind("sh").unwrap()
        );
        // The newline value byte maps to the source line break.
        assert_eq!(run.source_offset(7) as usize, src.find("hi\n").unwrap() + 2);
        // Past the end: inside the loc.
        assert_eq!(run.source_offset(v.len()), run.loc.end);
        assert_eq!(run.source_offset(v.len() + 100), run.loc.end);
        assert!(run.exact_offset(v.len()).is_some());

        // Keep / strip chomping, explicit indentation, leading blank lines, non-ASCII.
        let src = "a: |+\n  x\n\n\nb: |-\n  y\nc: |2\n    indented\n  z\nd: |\n\n  after blank\ne: >\n  ünï\n  code\n";
        let d = one(src);
        let a = d.get("a").unwrap();
        assert_eq!(a.as_str(), Some("x\n\n\n"));
        assert_eq!(a.source_offset(0) as usize, src.find('x').unwrap());
        assert!(a.exact_offset(4).is_some());
        let c = d.get("c").unwrap();
        assert_eq!(c.as_str(), Some("  indented\nz\n"));
        assert_eq!(c.source_offset(2) as usize, src.find("indented").unwrap());
        assert_eq!(c.source_offset(11) as usize, src.find("  z").unwrap() + 2);
        let dd = d.get("d").unwrap();
        assert_eq!(dd.as_str(), Some("\nafter blank\n"));
        assert_eq!(dd.source_offset(1) as usize, src.find("after").unwrap());
        let e = d.get("e").unwrap();
        assert_eq!(e.as_str(), Some("ünï code\n"));
        assert_eq!(e.source_offset(5) as usize, src.find("ünï").unwrap() + 5);
        assert_eq!(e.source_offset(6) as usize, src.find("code").unwrap());
        // Inside a multi-byte character: the same byte of the source character.
        assert_eq!(e.source_offset(1) as usize, src.find("ünï").unwrap() + 1);
    }

    #[test]
    fn workflow_run_block_with_header_comment() {
        let src = CORPUS[CORPUS.len() - 1];
        let d = one(src);
        let steps = d
            .get("jobs")
            .unwrap()
            .get("b")
            .unwrap()
            .get("steps")
            .unwrap();
        let run = steps.as_seq().unwrap()[0].get("run").unwrap();
        let v = run.as_str().unwrap();
        assert_eq!(v, "echo \"${{ github.sha }}\"\n\nmake  all\n");
        assert!(text(src, run).starts_with("| # comment | here\n"));
        assert!(text(src, run).ends_with("make  all"));
        let at = v.find("make").unwrap();
        assert_eq!(run.source_offset(at) as usize, src.find("make").unwrap());
        assert_eq!(run.source_offset(at + 6) as usize, src.find("all").unwrap());
        let item = &d.get("k").unwrap().as_seq().unwrap()[0];
        assert_eq!(text(src, item), "|\n  indentless");
        assert_eq!(val(src, &d, "k"), "- |\n  indentless\n- \"q\"");
    }

    #[test]
    fn source_offset_folded() {
        let src = "f: >\n  one\n  two\n\n  three\n    more\n  four\n";
        let d = one(src);
        let f = d.get("f").unwrap();
        let v = f.as_str().unwrap();
        assert_eq!(v, "one two\nthree\n  more\nfour\n");
        assert_eq!(
            f.source_offset(v.find("two").unwrap()) as usize,
            src.find("two").unwrap()
        );
        // The folding space maps to the line break it replaces.
        assert_eq!(f.source_offset(3) as usize, src.find("one").unwrap() + 3);
        assert_eq!(
            f.source_offset(v.find("three").unwrap()) as usize,
            src.find("three").unwrap()
        );
        assert_eq!(
            f.source_offset(v.find("  more").unwrap()) as usize,
            src.find("  more").unwrap()
        );
        assert_eq!(
            f.source_offset(v.find("four").unwrap()) as usize,
            src.find("four").unwrap()
        );
    }

    #[test]
    fn source_offset_quoted() {
        let src = "d: \"a\\nb \\u00e9x\\\"q\"  # c\ns: 'it''s ok'\nm: \"one\n  two\\\n  three\"\n";
        let d = one(src);
        let dq = d.get("d").unwrap();
        assert_eq!(dq.as_str(), Some("a\nb éx\"q"));
        assert_eq!(text(src, dq), "\"a\\nb \\u00e9x\\\"q\"");
        let base = src.find('"').unwrap();
        assert_eq!(dq.source_offset(0) as usize, base + 1);
        assert_eq!(dq.source_offset(1) as usize, base + 2); // `\n` -> the backslash
        assert_eq!(dq.source_offset(2) as usize, base + 4); // b
        assert_eq!(dq.source_offset(4) as usize, base + 6); // é from \u00e9
        assert_eq!(dq.source_offset(5) as usize, base + 6); // second byte of é
        assert_eq!(dq.source_offset(6) as usize, base + 12); // x
        assert_eq!(dq.source_offset(8) as usize, base + 15); // q
        assert_eq!(dq.source_offset(9) as usize, base + 16); // end: the closing quote
        let sq = d.get("s").unwrap();
        assert_eq!(sq.as_str(), Some("it's ok"));
        assert_eq!(src_at(src, sq, 2), '\'');
        assert_eq!(sq.source_offset(3) as usize, src.find("s ok").unwrap());
        let m = d.get("m").unwrap();
        assert_eq!(m.as_str(), Some("one twothree"));
        assert_eq!(m.source_offset(3) as usize, src.find("one\n").unwrap() + 3);
        assert_eq!(m.source_offset(4) as usize, src.find("two").unwrap());
        assert_eq!(m.source_offset(7) as usize, src.find("three").unwrap());
    }

    #[test]
    fn source_offset_plain_multiline() {
        let src = "k: first line\n   second   part\n\n   third\nz: 1\n";
        let d = one(src);
        let k = d.get("k").unwrap();
        assert_eq!(k.as_str(), Some("first line second   part\nthird"));
        assert_eq!(text(src, k), "first line\n   second   part\n\n   third");
        assert_eq!(k.source_offset(6) as usize, src.find("line").unwrap());
        assert_eq!(
            k.source_offset(10) as usize,
            src.find("line\n").unwrap() + 4
        );
        assert_eq!(k.source_offset(11) as usize, src.find("second").unwrap());
        assert_eq!(k.source_offset(24) as usize, src.find("\n\n").unwrap() + 1);
        assert_eq!(k.source_offset(25) as usize, src.find("third").unwrap());
        assert_eq!(k.source_offset(30), k.loc.end);
        // Non-scalars: loc.start.
        assert_eq!(d.source_offset(3), d.loc.start);
    }

    /// A corpus of varied YAML: every scalar must map exactly (no fallback), every value byte of a
    /// non-space character must land on that same character in the source.
    const CORPUS: &[&str] = &[
        COMPOSE,
        "a: |\n  x\n  y\nb: >-\n  p\n  q\n\n  r\nc: \"t\\tu\\x41\\U0001F600\"\nd: 'a\n\n  b'\ne: x\n  y\n",
        "- |2-\n   lead\n  x\n- >+\n  k\n\n- \"\\\n  cont\"\n- 'é''é'\n- [a b, \"c\n  d\"]\n",
        "s: |\r\n  crlf\r\n  lines\r\nt: >\r\n  f1\r\n  f2\r\nu: \"q\r\n  r\"\r\n",
        "--- |\nfoo\nbar\n--- >\n top\n level\n",
        "k: &a !t |\n  anchored block\nv: *a\nw: |\n  &notanchor\n  !nottag\n",
        "x: >\n  a\n   b\n  c\n\n\n  d\n",
        "empty: |\nnext: |+\n\nlast: >\n",
        "tab: \"a\\\tb\"\nsp: 'x  \n   y  '\n",
        "key with spaces: value # comment\n\"quoted key\": 1\n? complex\n: v\n",
        "on:\n  push:\njobs:\n  b:\n    steps:\n      - run: | # comment | here\n          echo \"${{ github.sha }}\"\n\n          make  all\n        env: {A: b}\n      - name: x\n        run: >-\n          long\n          folded\n        with:\n          args: [a,\n            b]\nk:\n- |\n  indentless\n- \"q\"  # c\n",
    ];

    #[test]
    fn source_offset_exact_on_corpus() {
        for src in CORPUS {
            let f = load(src);
            assert!(f.issues.is_empty(), "{src:?}: {:?}", f.issues);
            for doc in &f.documents {
                let mut all = Vec::new();
                scalars(doc, &mut all);
                for n in all {
                    let v = n.as_str().unwrap();
                    for i in 0..=v.len() + 1 {
                        assert!(n.exact_offset(i).is_some(), "{src:?}: {n:?} byte {i}");
                        let off = n.source_offset(i);
                        assert!(n.loc.start <= off && off <= n.loc.end);
                    }
                    for (i, c) in v.char_indices() {
                        if !c.is_whitespace()
                            && !"\"\\'".contains(c)
                            && n.style() != Some(ScalarStyle::DoubleQuoted)
                        {
                            assert_eq!(src_at(src, &n, i), c, "{src:?}: {n:?} byte {i}");
                        }
                    }
                }
            }
        }
    }

    /// Deterministic mutation fuzzing: load never panics or hangs, source_offset stays in loc.
    #[test]
    fn fuzz_never_panics() {
        let stats = fuzz(3000, 0x9E37_79B9_7F4A_7C15);
        assert_eq!(stats.parser_panics, 0);
    }

    /// Longer campaign: `cargo test --release -- --ignored fuzz_long --nocapture`.
    #[test]
    #[ignore]
    fn fuzz_long() {
        let mut total = FuzzStats::default();
        for seed in 1..=40u64 {
            let s = fuzz(25_000, seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
            total.parser_panics += s.parser_panics;
            total.scalars += s.scalars;
            total.inexact += s.inexact;
            total.inexact_examples.extend(s.inexact_examples);
        }
        total.inexact_examples.truncate(10);
        eprintln!("{total:#?}");
    }

    #[derive(Debug, Default)]
    struct FuzzStats {
        parser_panics: usize,
        scalars: usize,
        inexact: usize,
        inexact_examples: Vec<(String, YamlNode)>,
    }

    fn fuzz(rounds: usize, seed: u64) -> FuzzStats {
        let mut stats = FuzzStats::default();
        let mut seed = seed | 1;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = " \n\r\t:-?|>&*!#'\"[]{},<\\%@`é\u{feff}0aZ~."
            .chars()
            .collect();
        let t = Instant::now();
        for round in 0..rounds {
            let base = CORPUS[round % CORPUS.len()];
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..(1 + rnd() % 6) {
                let pos = (rnd() as usize) % (chars.len() + 1);
                let c = alphabet[(rnd() as usize) % alphabet.len()];
                match rnd() % 3 {
                    0 if pos < chars.len() => chars[pos] = c,
                    1 if pos < chars.len() => {
                        chars.remove(pos);
                    }
                    _ => chars.insert(pos, c),
                }
            }
            let src: String = chars.into_iter().collect();
            let t0 = Instant::now();
            let f = load(&src);
            assert!(t0.elapsed() < Duration::from_secs(2), "slow: {src:?}");
            for i in &f.issues {
                assert!(i.loc.start <= i.loc.end && i.loc.end as usize <= src.len());
                if i.message.contains("internal YAML parser error") {
                    stats.parser_panics += 1;
                }
            }
            for doc in &f.documents {
                contains_children(&src, doc);
                let mut all = Vec::new();
                scalars(doc, &mut all);
                for n in all {
                    assert!(n.loc.start <= n.loc.end && n.loc.end as usize <= src.len());
                    let t = n.loc.slice(&src);
                    match n.style().unwrap() {
                        ScalarStyle::Literal => assert!(t.starts_with('|'), "{src:?} {n:?}"),
                        ScalarStyle::Folded => assert!(t.starts_with('>'), "{src:?} {n:?}"),
                        ScalarStyle::DoubleQuoted => {
                            assert!(t.len() >= 2 && t.starts_with('"') && t.ends_with('"'))
                        }
                        ScalarStyle::SingleQuoted => {
                            assert!(t.len() >= 2 && t.starts_with('\'') && t.ends_with('\''))
                        }
                        ScalarStyle::Plain => assert!(!t.is_empty()),
                    }
                    stats.scalars += 1;
                    if n.exact_offset(0).is_none() {
                        stats.inexact += 1;
                        if stats.inexact_examples.len() < 10 {
                            stats.inexact_examples.push((src.clone(), n.clone()));
                        }
                    }
                    for i in 0..=n.as_str().unwrap().len() + 1 {
                        let off = n.source_offset(i);
                        assert!(n.loc.start <= off && off <= n.loc.end);
                    }
                }
            }
        }
        assert!(t.elapsed() < Duration::from_secs(600));
        stats
    }
}
