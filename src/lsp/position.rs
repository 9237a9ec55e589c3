//! Byte offsets in the spec's text to LSP positions and back. LSP counts a line's
//! characters in UTF-16 code units (the default `positionEncoding`), specc's spans in
//! bytes of UTF-8: `é` is two bytes but one unit, `😀` four bytes but two units.

use lsp_types::{Position, Range};
use miette::SourceSpan;

/// Where each line of a text starts, made once per text version.
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    /// The LSP position of byte `offset` (clamped to the text, and back to the start of a
    /// character it falls inside).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(self.len);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|s| *s <= offset) - 1;
        let start = self.starts[line];
        let units: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, units as u32)
    }

    pub fn range(&self, text: &str, span: SourceSpan) -> Range {
        Range::new(
            self.position(text, span.offset()),
            self.position(text, span.offset() + span.len()),
        )
    }

    /// The byte offset of an LSP position; a position past a line's end means its end, a
    /// line past the text's end the text's end, and a position inside a surrogate pair
    /// the start of its character.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.len;
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.len, |next| next - 1);
        let mut units = 0;
        for (i, c) in text[start..end].char_indices() {
            units += c.len_utf16();
            if units > position.character as usize {
                return start + i;
            }
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        let text = "a\né😀x=1\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(index.position(text, x), Position::new(1, 3));
        assert_eq!(index.offset(text, Position::new(1, 3)), x);
        // Inside the surrogate pair: the emoji's start.
        assert_eq!(index.offset(text, Position::new(1, 2)), x - 4);
        assert_eq!(index.offset(text, Position::new(1, 99)), text.len() - 1);
        assert_eq!(index.offset(text, Position::new(9, 0)), text.len());
        assert_eq!(index.position(text, 999), Position::new(2, 0));
    }
}
