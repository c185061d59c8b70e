//! Source files of specs and params, and spans into them, so errors can point at a line.

use std::path::PathBuf;
use std::sync::Arc;

/// A file read from disk: its path as the user should see it, and its text.
#[derive(Debug)]
pub struct Source {
    /// The path relative to the repository root, with `/` separators (`sub/dvc.yaml`).
    pub name: String,
    /// The absolute path.
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

/// A region of a source: 1-based line and column (in chars), byte offset and byte length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in chars.
    pub col: usize,
    /// Byte offset of the start.
    pub offset: usize,
    /// Length in bytes (at least 1 when rendered).
    pub len: usize,
}

impl Span {
    /// A span from a 1-based line and column, measured against `text`.
    pub fn at(text: &str, line: usize, col: usize, len_chars: usize) -> Span {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        let rest = text.get(line_start..).unwrap_or("");
        let offset = line_start
            + rest
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(rest.len(), |(i, _)| i);
        let tail = text.get(offset..).unwrap_or("");
        let len = tail
            .char_indices()
            .take_while(|(_, c)| *c != '\n')
            .nth(len_chars)
            .map_or_else(|| tail.find('\n').unwrap_or(tail.len()), |(i, _)| i);
        Span {
            line,
            col,
            offset,
            len,
        }
    }
}

impl Span {
    /// A span from a byte range of `text` (clamped to it), as parsers that count bytes give.
    pub fn of_bytes(text: &str, range: std::ops::Range<usize>) -> Span {
        let mut offset = range.start.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Span {
            line,
            col,
            offset,
            len: range.end.min(text.len()).saturating_sub(offset),
        }
    }
}

/// A span together with the source it points into: where an error happened.
#[derive(Debug, Clone)]
pub struct Loc {
    /// The file.
    pub src: Arc<Source>,
    /// The region.
    pub span: Span,
}

impl Loc {
    /// `file:line:col`, as printed after `-->`.
    pub fn position(&self) -> String {
        format!("{}:{}:{}", self.src.name, self.span.line, self.span.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_from_line_and_column() {
        let text = "a: 1\nbé: x2\n";
        let s = Span::at(text, 2, 5, 2);
        assert_eq!(&text[s.offset..s.offset + s.len], "x2");
        let s = Span::at(text, 2, 1, 100);
        assert_eq!(&text[s.offset..s.offset + s.len], "bé: x2");
    }

    #[test]
    fn span_from_bytes() {
        let text = "a: 1\nbé: x2\n";
        let s = Span::of_bytes(text, 10..12);
        assert_eq!((s.line, s.col, s.len), (2, 5, 2));
        assert_eq!(&text[s.offset..s.offset + s.len], "x2");
        assert_eq!(Span::of_bytes(text, 0..1).col, 1);
    }
}
