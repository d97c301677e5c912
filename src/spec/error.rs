//! `SpecError`: a problem in a spec file, located by file, line and column,
//! with the offending source line underlined.
//!
//! Both kinds of problem end up here: syntax and type errors from the
//! `toml` crate (which carry a byte span) and validation errors found
//! after parsing (which carry the span of the value they concern).

use std::fmt;
use std::ops::Range;

/// An error in a spec file. `Display` gives
/// `FILE:LINE:COLUMN: MESSAGE` followed by the source line and a marker.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    /// The file name (or a label such as `<built-in tutorial spec>`).
    pub file: String,
    /// 1-based line, when the error points at a place in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters), when `line` is set.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line and a `^^^` marker under the span.
    pub excerpt: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message)?,
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message)?,
            _ => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(excerpt) = &self.excerpt {
            write!(f, "\n{excerpt}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// The text of a spec file and its name: turns byte spans into located
/// errors.
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// An error about the bytes `span` of the file.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let start = span.start.min(self.text.len());
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line_no = self.line_of(start);
        let column = self.text[line_start..start].chars().count() + 1;
        let line_text = &self.text[line_start..line_end];
        let end = span.end.clamp(start, line_end);
        let width = self.text[start..end].chars().count().max(1);
        let gutter = line_no.to_string().len();
        let excerpt = format!(
            "{:gutter$} |\n{line_no} | {line_text}\n{:gutter$} | {}{}",
            "",
            "",
            " ".repeat(column - 1),
            "^".repeat(width),
        );
        SpecError {
            file: self.file.to_string(),
            line: Some(line_no),
            column: Some(column),
            message: message.into(),
            excerpt: Some(excerpt),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].matches('\n').count() + 1
    }

    /// An error that concerns the whole file.
    pub fn error_unlocated(&self, message: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.to_string(),
            line: None,
            column: None,
            message: message.into(),
            excerpt: None,
        }
    }

    /// A `toml` parse or type error, with serde's type names replaced by
    /// words a spec author uses.
    pub fn toml_error(&self, error: &toml::de::Error) -> SpecError {
        let message = humanize(error.message());
        match error.span() {
            Some(span) => self.error(span, message),
            None => self.error_unlocated(message),
        }
    }
}

/// Replaces Rust type names in serde messages ("expected usize").
fn humanize(message: &str) -> String {
    let message = message.trim_end();
    let replacements = [
        ("expected usize", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        (
            "expected u32",
            "expected a non-negative integer (at most 4294967295)",
        ),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a string", "expected a string (in quotes)"),
    ];
    let mut out = message.to_string();
    for (from, to) in replacements {
        out = out.replace(from, to);
    }
    out
}
