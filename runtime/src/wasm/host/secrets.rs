//! `baton:plugin/secrets`: named secrets. No secret is granted to any plugin
//! yet, so every read answers `not-granted` naming the secret asked for.

use crate::wasm::bindings::secrets::Host;
use crate::wasm::bindings::types::CapabilityError;

use super::NotGranted;

impl Host for NotGranted {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, CapabilityError>> {
        Ok(Err(Self::error(&format!("secret {name:?}"))))
    }
}
