//! The host side of the `baton:plugin` world: one file per WIT interface,
//! plus [`add_to_linker`] that links all of them and WASI into one linker.
//!
//! Deny-by-default is the permanent rule: every import is linked for every
//! plugin, and each capability answers `not-granted` unless the invocation's
//! [`Access`](super::Access) grants it. Logging is always allowed.

pub(crate) mod events;
pub(crate) mod http;
pub(crate) mod kv;
pub(crate) mod log;
pub(crate) mod secrets;

use wasmtime::component::{HasData, HasSelf, Linker};

use std::sync::Arc;

use super::access::{CapabilityProvider, Refusal};
use super::bindings::{self, types::CapabilityError};
use super::error::ExecutorError;
use super::logbook::LogBook;
use super::state::StepState;

/// The answer of a capability this plugin was not granted. Carries no state:
/// a denied capability needs none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotGranted;

impl NotGranted {
    /// The guest-visible error for `what` (for example `secret "token"`).
    pub(crate) fn error(what: &str) -> CapabilityError {
        CapabilityError::NotGranted(format!(
            "{what} is not granted to this plugin; an administrator grants capabilities per plugin"
        ))
    }
}

/// [`HasData`] for the types interface, which has no functions.
struct Denied;

impl HasData for Denied {
    type Data<'a> = NotGranted;
}

/// The capability provider of one invocation, if it has one.
#[derive(Clone, Default)]
pub(crate) struct Provided(pub(crate) Option<Arc<dyn CapabilityProvider>>);

impl From<Refusal> for CapabilityError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotGranted(m) => Self::NotGranted(m),
            Refusal::Invalid(m) => Self::Invalid(m),
            Refusal::QuotaExceeded(m) => Self::QuotaExceeded(m),
            Refusal::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

/// Links WASI 0.2 (with nothing granted), `wasi:http` and every
/// `baton:plugin` interface.
pub(crate) fn add_to_linker(linker: &mut Linker<StepState>) -> Result<(), ExecutorError> {
    let link = |e: wasmtime::Error| ExecutorError::Link(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(linker).map_err(link)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker).map_err(link)?;
    bindings::types::add_to_linker::<_, Denied>(linker, |_| NotGranted).map_err(link)?;
    bindings::log::add_to_linker::<_, HasSelf<LogBook>>(linker, |s| &mut s.log).map_err(link)?;
    bindings::kv::add_to_linker::<_, HasSelf<Provided>>(linker, |s| &mut s.provided)
        .map_err(link)?;
    bindings::secrets::add_to_linker::<_, HasSelf<Provided>>(linker, |s| &mut s.provided)
        .map_err(link)?;
    bindings::events::add_to_linker::<_, HasSelf<Provided>>(linker, |s| &mut s.provided)
        .map_err(link)?;
    Ok(())
}

impl bindings::types::Host for NotGranted {}
