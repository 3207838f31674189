//! The live progress display of `baton workflow run`: one line on stderr
//! per durable state change, as the engine publishes it.

use std::collections::HashSet;
use std::time::Duration;

use baton::engine::{EngineEvent, clock::rfc3339};
use tokio::sync::{broadcast, oneshot};

/// How long the display waits, once told to stop, for the final events of
/// the runs it was told about: the engine publishes them just after the
/// commit that a waiter may already have read.
const FINAL_EVENTS_WITHIN: Duration = Duration::from_secs(2);

/// Prints events until `stop` brings the ids of the runs shown; then goes
/// on until each of them has printed its final status (or
/// [`FINAL_EVENTS_WITHIN`] passes). Run ids are shortened to their last 8
/// characters, which are unique enough to follow on a terminal.
pub(crate) async fn print(
    mut events: broadcast::Receiver<EngineEvent>,
    mut stop: oneshot::Receiver<Vec<String>>,
    now: impl Fn() -> i64,
) {
    // Runs whose final status was printed.
    let mut ended: HashSet<String> = HashSet::new();
    // Once stopping: the runs still to end, and by when.
    let mut pending: Option<(HashSet<String>, tokio::time::Instant)> = None;
    loop {
        let received = match &mut pending {
            Some((runs, deadline)) => {
                runs.retain(|run| !ended.contains(run));
                if runs.is_empty() {
                    return;
                }
                match tokio::time::timeout_at(*deadline, events.recv()).await {
                    Ok(received) => received,
                    Err(_) => return,
                }
            }
            None => tokio::select! {
                received = events.recv() => received,
                runs = &mut stop => {
                    let runs = runs.unwrap_or_default().into_iter().collect();
                    pending = Some((runs, tokio::time::Instant::now() + FINAL_EVENTS_WITHIN));
                    continue;
                }
            },
        };
        let event = match received {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                eprintln!("... {missed} state changes not shown (the display fell behind)");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if let EngineEvent::Run { run_id, status, .. } = &event
            && status.is_terminal()
        {
            ended.insert(run_id.clone());
        }
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
