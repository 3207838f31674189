//! `baton:plugin/events`: events emitted by plugins into the event
//! pipeline, served by the invocation's
//! [`CapabilityProvider`](crate::wasm::CapabilityProvider), which accepts only
//! the granted event types.

use crate::wasm::access::Emitted;
use crate::wasm::bindings::events::Host;
use crate::wasm::bindings::types::CapabilityError;

use super::{NotGranted, Provided};

impl Host for Provided {
    async fn emit(
        &mut self,
        event_type: String,
        subject: Option<String>,
        data: String,
    ) -> wasmtime::Result<Result<(), CapabilityError>> {
        Ok(match &self.0 {
            Some(provider) => provider
                .emit(Emitted {
                    kind: event_type,
                    subject,
                    data,
                })
                .await
                .map_err(Into::into),
            None => Err(NotGranted::error(&format!(
                "emitting events of type {event_type:?}"
            ))),
        })
    }
}
