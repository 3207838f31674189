//! `baton:plugin/log`: levelled log lines into the invocation's bounded
//! [`LogBook`]. The host never echoes them into its own logs, since a plugin
//! may log data the host operator must not see.

use crate::wasm::bindings::log::{Host, Level};
use crate::wasm::logbook::{LogBook, LogLevel, LogSource};

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => Self::Trace,
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Warn => Self::Warn,
            Level::Error => Self::Error,
        }
    }
}

impl Host for LogBook {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.push(level.into(), LogSource::Plugin, &message);
        Ok(())
    }
}
