//! The bounded log of one invocation: lines from the `log` import and from
//! the guest's stdout and stderr, in the order they were written.
//!
//! A hostile guest can write without end, so the book keeps at most a
//! configured number of lines and bytes, cuts overlong lines, and counts what
//! it drops instead of growing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Marker appended to a line that was cut at the line-length limit.
const CUT_MARKER: &str = " [line cut]";

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Detail for debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// The lowercase name, as shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The `baton:plugin/log` import.
    Plugin,
    /// The guest's standard output.
    Stdout,
    /// The guest's standard error (where Rust panics print).
    Stderr,
    /// Baton, on the plugin's behalf (one line per outbound HTTP request).
    Host,
}

/// One kept log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Microseconds since the invocation started.
    pub elapsed_us: u64,
    /// Importance.
    pub level: LogLevel,
    /// Origin.
    pub source: LogSource,
    /// The text, cut at the line-length limit.
    pub message: String,
}

/// Limits of one book.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogBookLimits {
    pub lines: usize,
    pub bytes: usize,
    pub line_bytes: usize,
}

#[derive(Debug)]
struct Book {
    started: Instant,
    limits: LogBookLimits,
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: u64,
}

/// Shared handle to the log of one invocation. The store's host functions and
/// the stdout/stderr streams (which live outside the store) write to it.
#[derive(Debug, Clone)]
pub(crate) struct LogBook(Arc<Mutex<Book>>);

impl LogBook {
    pub(crate) fn new(limits: LogBookLimits) -> Self {
        Self(Arc::new(Mutex::new(Book {
            started: Instant::now(),
            limits,
            lines: Vec::new(),
            bytes: 0,
            dropped: 0,
        })))
    }

    /// Records one line, or counts it as dropped when the book is full.
    pub(crate) fn push(&self, level: LogLevel, source: LogSource, message: &str) {
        // A poisoned lock only means another writer panicked mid-push; the
        // book is still a valid list of lines.
        let mut book = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let message = cut(message, book.limits.line_bytes);
        if book.lines.len() >= book.limits.lines || book.bytes + message.len() > book.limits.bytes {
            book.dropped += 1;
            return;
        }
        let elapsed_us = u64::try_from(book.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        book.bytes += message.len();
        book.lines.push(LogLine {
            elapsed_us,
            level,
            source,
            message,
        });
    }

    /// The stderr lines kept so far.
    pub(crate) fn stderr_lines(&self) -> Vec<String> {
        let book = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        book.lines
            .iter()
            .filter(|l| l.source == LogSource::Stderr)
            .map(|l| l.message.clone())
            .collect()
    }

    /// Takes the kept lines and the number of dropped ones, leaving the book
    /// empty.
    pub(crate) fn take(&self) -> (Vec<LogLine>, u64) {
        let mut book = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        book.bytes = 0;
        (
            std::mem::take(&mut book.lines),
            std::mem::take(&mut book.dropped),
        )
    }
}

/// Cuts `message` to at most `limit` bytes (on a character boundary) and
/// marks the cut.
fn cut(message: &str, limit: usize) -> String {
    if message.len() <= limit {
        return message.to_owned();
    }
    let mut end = limit.saturating_sub(CUT_MARKER.len());
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT_MARKER}", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(lines: usize, bytes: usize, line_bytes: usize) -> LogBook {
        LogBook::new(LogBookLimits {
            lines,
            bytes,
            line_bytes,
        })
    }

    #[test]
    fn keeps_lines_up_to_the_line_limit_and_counts_the_rest() {
        let log = book(2, 1000, 100);
        for i in 0..5 {
            log.push(LogLevel::Info, LogSource::Plugin, &format!("line {i}"));
        }
        let (lines, dropped) = log.take();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].message, "line 1");
        assert_eq!(dropped, 3);
    }

    #[test]
    fn keeps_lines_up_to_the_byte_limit() {
        let log = book(100, 10, 100);
        log.push(LogLevel::Info, LogSource::Plugin, "123456");
        log.push(LogLevel::Info, LogSource::Plugin, "123456");
        let (lines, dropped) = log.take();
        assert_eq!((lines.len(), dropped), (1, 1));
    }

    #[test]
    fn cuts_long_lines_on_a_character_boundary() {
        let log = book(10, 1000, 16);
        log.push(LogLevel::Warn, LogSource::Stderr, "ééééééééééééééé");
        let (lines, _) = log.take();
        assert!(lines[0].message.ends_with(CUT_MARKER));
        assert!(lines[0].message.len() <= 16);
    }
}
