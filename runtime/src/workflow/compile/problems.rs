//! What [`compile`](super::compile) and [`parse_definition`](super::parse_definition)
//! report: every problem with the path of the field it is about.
//!
//! Paths use the document's own shape (`steps[2].needs[0]`,
//! `on_failure[0].if`, `steps[1].with.host`); the empty path is the document
//! itself. Nothing here decides what a problem is.

use std::fmt;

/// One problem: the path of the offending field (e.g. `steps[2].needs[0]`,
/// `steps[1].with.host`, `on_failure[0].if`, `outputs.ticket`, `name`; empty
/// for the whole document) and a human message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where: the path of the offending field.
    pub path: String,
    /// What is wrong, for people.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found; `Display` prints one `path: message` per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// `base` extended by a path relative to it (`host`, `[0]`, `a.b`, or empty).
pub(crate) fn join_path(base: &str, relative: &str) -> String {
    if relative.is_empty() {
        base.to_string()
    } else if base.is_empty() {
        relative.to_string()
    } else if relative.starts_with('[') {
        format!("{base}{relative}")
    } else {
        format!("{base}.{relative}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_prints_one_problem_per_line() {
        let problems = Problems(vec![
            Problem::new("name", "bad"),
            Problem::new("", "the document is empty"),
        ]);
        assert_eq!(problems.to_string(), "name: bad\nthe document is empty");
    }

    #[test]
    fn paths_join_fields_and_indexes() {
        assert_eq!(join_path("steps[0].with", ""), "steps[0].with");
        assert_eq!(join_path("steps[0].with", "host"), "steps[0].with.host");
        assert_eq!(join_path("outputs", "[1].a"), "outputs[1].a");
        assert_eq!(join_path("", "a"), "a");
    }
}
