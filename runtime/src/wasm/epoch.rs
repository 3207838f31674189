//! The epoch ticker: one thread per executor that advances the engine's
//! epoch every [`EPOCH_TICK`]. Running guests notice each tick at their next
//! loop back-edge or function entry, yield to the async runtime, and have the
//! tick charged to their CPU budget.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;

use wasmtime::Engine;

use super::config::EPOCH_TICK;
use super::error::ExecutorError;

/// Owns the ticker thread; dropping it stops the thread.
pub(crate) struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine) -> Result<Self, ExecutorError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("baton-epoch".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })
            .map_err(|e| ExecutorError::Engine(format!("could not start the epoch ticker: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread only sleeps and increments; it cannot panic in a way
            // worth reporting during drop.
            let _ = thread.join();
        }
    }
}
