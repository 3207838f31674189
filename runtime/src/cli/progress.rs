//! The live progress display of `baton workflow run`: one line on stderr
//! per durable state change, as the engine publishes it.

use baton::engine::{EngineEvent, clock::rfc3339};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Prints events until `stop` fires, then prints what is still queued.
/// Run ids are shortened to their last 8 characters, which are unique
/// enough to follow on a terminal.
pub(crate) async fn print(
    mut events: broadcast::Receiver<EngineEvent>,
    stop: CancellationToken,
    now: impl Fn() -> i64,
) {
    let mut stopping = false;
    loop {
        let received = if stopping {
            events.try_recv().map_err(|e| match e {
                broadcast::error::TryRecvError::Lagged(n) => broadcast::error::RecvError::Lagged(n),
                _ => broadcast::error::RecvError::Closed,
            })
        } else {
            tokio::select! {
                received = events.recv() => received,
                () = stop.cancelled() => {
                    stopping = true;
                    continue;
                }
            }
        };
        let event = match received {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                eprintln!("... {missed} state changes not shown (the display fell behind)");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let time = rfc3339(now());
        let time = time.get(11..23).unwrap_or(&time);
        match event {
            EngineEvent::Run {
                run_id,
                workflow,
                status,
                error,
            } => {
                let short = short(&run_id);
                let error = error.map(|e| format!("  {e}")).unwrap_or_default();
                eprintln!("{time}  {short}  run {workflow}: {status}{error}");
            }
            EngineEvent::Step {
                run_id,
                step_id,
                item,
                status,
                attempt,
                error,
            } => {
                let item = item.map(|i| format!("[{i}]")).unwrap_or_default();
                let attempt = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                let error = error.map(|e| format!("  {e}")).unwrap_or_default();
                eprintln!(
                    "{time}  {}  {step_id}{item}: {status}{attempt}{error}",
                    short(&run_id)
                );
            }
            // The step's own event tells the same story.
            EngineEvent::Attempt { .. } => {}
        }
    }
}

fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}
