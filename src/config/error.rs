//! Configuration errors located as `path:line:col` with the offending source line shown.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub(crate) path: PathBuf,
    /// 1-based line and column; 0 when the error concerns the whole file.
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) message: String,
    /// The offending source line and how many characters to underline.
    pub(crate) excerpt: Option<(String, usize)>,
}

impl ConfigError {
    /// An error about a whole file (unreadable, missing section).
    pub(crate) fn file(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: message.into(),
            excerpt: None,
        }
    }

    /// An error at a byte span of `text`, the contents of `path`.
    pub(crate) fn at(
        path: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let col = text[line_start..start].chars().count() + 1;
        let source = text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let end = span.end.clamp(start, line_end);
        let width = text[start..end].chars().count().max(1);
        Self {
            path: path.to_path_buf(),
            line,
            col,
            message: message.into(),
            excerpt: Some((source, width)),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        if self.line == 0 {
            return write!(f, "{path}: {}", self.message);
        }
        write!(f, "{path}:{}:{}: {}", self.line, self.col, self.message)?;
        if let Some((source, width)) = &self.excerpt {
            let gutter = " ".repeat(self.line.to_string().len());
            let pad = " ".repeat(self.col - 1);
            write!(f, "\n{gutter} |\n{} | {source}", self.line)?;
            write!(f, "\n{gutter} | {pad}{}", "^".repeat(*width))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Every error found while loading a configuration, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Errors for one file, in the order found; sorted by position at the end.
pub(crate) struct Errors<'a> {
    path: &'a Path,
    text: &'a str,
    pub(crate) list: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        Self {
            path,
            text,
            list: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.list
            .push(ConfigError::at(self.path, self.text, span, message));
    }

    pub(crate) fn line_of(&self, span: &Range<usize>) -> usize {
        ConfigError::at(self.path, self.text, span.clone(), "").line
    }

    /// A number within `range`, or an error at its span.
    pub(crate) fn ranged<T: TryFrom<i64>>(
        &mut self,
        value: &Spanned<i64>,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> Option<T> {
        let v = *value.get_ref();
        match T::try_from(v) {
            Ok(n) if range.contains(&v) => Some(n),
            _ => {
                let (lo, hi) = (range.start(), range.end());
                self.at(
                    value.span(),
                    format!("{what} {v} is out of range {lo}..={hi}"),
                );
                None
            }
        }
    }

    /// Sorted by line and column, as a reader walks the file.
    pub(crate) fn into_sorted(mut self) -> Vec<ConfigError> {
        self.list.sort_by_key(|e| (e.line, e.col));
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let text = "a = 1\nbb = \"x\"\n";
        let e = ConfigError::at(Path::new("z.toml"), text, 11..14, "bad");
        assert_eq!((e.line, e.col), (2, 6));
        assert_eq!(
            e.to_string(),
            "z.toml:2:6: bad\n  |\n2 | bb = \"x\"\n  |      ^^^"
        );
    }

    #[test]
    fn span_past_end_is_clamped() {
        let e = ConfigError::at(Path::new("z.toml"), "abc", 10..20, "eof");
        assert_eq!((e.line, e.col), (1, 4));
    }
}
