//! The guest's stdout and stderr, turned into lines of the invocation's
//! [`LogBook`].
//!
//! Writes never fail and never block: the book bounds what is kept, so a
//! guest that floods its output keeps running and only loses lines. A partial
//! last line is kept until [`StdioCapture::finish`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::logbook::{LogBook, LogLevel, LogSource};

/// How many bytes the guest may hand over in one write; a hint only.
const WRITE_BUDGET: usize = 64 << 10;

#[derive(Debug)]
struct LineBuffer {
    book: LogBook,
    source: LogSource,
    partial: Vec<u8>,
    line_limit: usize,
}

impl LineBuffer {
    fn level(&self) -> LogLevel {
        match self.source {
            LogSource::Stderr => LogLevel::Warn,
            LogSource::Stdout | LogSource::Plugin | LogSource::Host => LogLevel::Info,
        }
    }

    fn write(&mut self, mut bytes: &[u8]) {
        while let Some(newline) = bytes.iter().position(|b| *b == b'\n') {
            self.extend(&bytes[..newline]);
            self.flush_line();
            bytes = &bytes[newline + 1..];
        }
        self.extend(bytes);
    }

    /// Keeps at most one line's worth of a partial line; the book cuts it.
    fn extend(&mut self, bytes: &[u8]) {
        let room = (self.line_limit + 1).saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn flush_line(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        self.book
            .push(self.level(), self.source, line.trim_end_matches('\r'));
        self.partial.clear();
    }
}

/// One captured stream (stdout or stderr) of one invocation.
#[derive(Debug, Clone)]
pub(crate) struct StdioCapture(Arc<Mutex<LineBuffer>>);

impl StdioCapture {
    pub(crate) fn new(book: LogBook, source: LogSource, line_limit: usize) -> Self {
        Self(Arc::new(Mutex::new(LineBuffer {
            book,
            source,
            partial: Vec::new(),
            line_limit,
        })))
    }

    fn write(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(bytes);
    }

    /// Records a last line that did not end with a newline.
    pub(crate) fn finish(&self) {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !buffer.partial.is_empty() {
            buffer.flush_line();
        }
    }
}

impl IsTerminal for StdioCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdioCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for StdioCapture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        StdioCapture::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StdioCapture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for StdioCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        StdioCapture::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
