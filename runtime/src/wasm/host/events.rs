//! `baton:plugin/events`: events emitted by plugins into the event pipeline.
//! No event type is granted to any plugin yet, so every emit answers
//! `not-granted` naming the event type.

use crate::wasm::bindings::events::Host;
use crate::wasm::bindings::types::CapabilityError;

use super::NotGranted;

impl Host for NotGranted {
    async fn emit(
        &mut self,
        event_type: String,
        _subject: Option<String>,
        _data: String,
    ) -> wasmtime::Result<Result<(), CapabilityError>> {
        Ok(Err(Self::error(&format!(
            "emitting events of type {event_type:?}"
        ))))
    }
}
