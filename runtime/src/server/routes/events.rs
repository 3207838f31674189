//! `GET /v1/runs/{id}/events`: a run's state changes as Server-Sent Events.
//!
//! The stream opens with a `state` event (the whole run, as `GET
//! /v1/runs/{id}` shows it), then sends `run`, `step` and `attempt` events
//! as they are committed, and ends after the event that ends the run. A
//! subscriber that falls behind gets a fresh `state` event instead of the
//! events it missed.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::engine::EngineEvent;
use crate::store::Role;

use super::super::auth::Caller;
use super::super::problem::{ApiResult, Problem};
use super::super::state::AppState;

/// Where the stream is.
enum Phase {
    /// Send the run's state next.
    Snapshot,
    /// Forward events.
    Follow,
    /// The run ended: close.
    Done,
}

struct Follower {
    state: AppState,
    run_id: String,
    events: broadcast::Receiver<EngineEvent>,
    phase: Phase,
}

fn event_name(event: &EngineEvent) -> &'static str {
    match event {
        EngineEvent::Run { .. } => "run",
        EngineEvent::Step { .. } => "step",
        EngineEvent::Attempt { .. } => "attempt",
    }
}

fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
}

impl Follower {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Follower)> {
        loop {
            match self.phase {
                Phase::Done => return None,
                Phase::Snapshot => {
                    let event = match self.state.engine.run_state(&self.run_id).await {
                        Ok(run) => {
                            self.phase = if run.status.is_terminal() {
                                Phase::Done
                            } else {
                                Phase::Follow
                            };
                            json_event("state", &run)
                        }
                        Err(error) => {
                            self.phase = Phase::Done;
                            let problem = super::super::problem::ApiError::from(error).problem();
                            json_event("error", &problem)
                        }
                    };
                    return Some((Ok(event), self));
                }
                Phase::Follow => match self.events.recv().await {
                    Ok(event) if event.run_id() == self.run_id => {
                        if let EngineEvent::Run { status, .. } = &event
                            && status.is_terminal()
                        {
                            self.phase = Phase::Done;
                        }
                        let sse = json_event(event_name(&event), &event);
                        return Some((Ok(sse), self));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => self.phase = Phase::Snapshot,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

fn follow(state: AppState, run_id: String) -> impl Stream<Item = Result<Event, Infallible>> {
    // Subscribe before reading the state: nothing committed in between is
    // lost (at worst it is seen twice).
    let events = state.engine.subscribe();
    let stopping = state.stopping.clone().cancelled_owned();
    let follower = Follower {
        state,
        run_id,
        events,
        phase: Phase::Snapshot,
    };
    futures_util::StreamExt::take_until(
        futures_util::stream::unfold(follower, Follower::next),
        stopping,
    )
}

/// Follow a run's state changes (Server-Sent Events) until it ends.
#[utoipa::path(
    get, operation_id = "events_events", path = "/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "`text/event-stream`: a `state` event (the run), then `run`, `step` and `attempt` events; it ends with the run", content_type = "text/event-stream", body = String),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Role::Viewer)?;
    // An unknown run is a 404 before the stream opens.
    state.engine.run(&id).await?;
    Ok(Sse::new(follow(state, id)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
