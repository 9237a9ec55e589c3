//! A `tag` rule's template (`v{{version}}-cpu`), parsed once at decode into literal
//! pieces and placeholders; [`fmt::Display`] gives back the spec's text.

use std::fmt;

use super::{Piece, Placeholder, TemplateError, parse_tag_template};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate {
    text: String,
    pieces: Vec<Piece>,
}

impl fmt::Display for TagTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TagTemplate {
    /// Parses `s`, or says where and why it is not a template.
    pub fn parse(s: &str) -> Result<Self, TemplateError> {
        Ok(TagTemplate {
            text: s.to_string(),
            pieces: parse_tag_template(s)?,
        })
    }

    /// The spec's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The placeholders the template reads, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Placeholder(p) => Some(p),
            Piece::Literal(_) => None,
        })
    }

    /// The first of `{{major}}`, `{{minor}}`, `{{patch}}` it reads: a version without
    /// MAJOR.MINOR.PATCH parts cannot fill it.
    pub fn version_part(&self) -> Option<&Placeholder> {
        self.placeholders().find(|p| p.follows_stable())
    }
}
