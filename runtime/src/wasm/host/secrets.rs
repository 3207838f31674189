//! `baton:plugin/secrets`: named secrets, served by the invocation's
//! [`CapabilityProvider`](crate::wasm::CapabilityProvider), which reads only
//! the secrets granted to the plugin. Calls are never traced: the answer is
//! a secret value.

use crate::wasm::bindings::secrets::Host;
use crate::wasm::bindings::types::CapabilityError;

use super::{NotGranted, Provided};

impl Host for Provided {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, CapabilityError>> {
        Ok(match &self.0 {
            Some(provider) => provider.secret(name).await.map_err(Into::into),
            None => Err(NotGranted::error(&format!("secret {name:?}"))),
        })
    }
}
