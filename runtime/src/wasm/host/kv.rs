//! `baton:plugin/kv`: plugin-scoped durable key-value state. No plugin is
//! granted kv yet, so every call answers `not-granted` and the guest goes on.

use crate::wasm::bindings::kv::Host;
use crate::wasm::bindings::types::CapabilityError;

use super::NotGranted;

const CAPABILITY: &str = "key-value state (kv)";

impl Host for NotGranted {
    async fn get(
        &mut self,
        _key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, CapabilityError>> {
        Ok(Err(Self::error(CAPABILITY)))
    }

    async fn set(
        &mut self,
        _key: String,
        _value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), CapabilityError>> {
        Ok(Err(Self::error(CAPABILITY)))
    }

    async fn delete(&mut self, _key: String) -> wasmtime::Result<Result<bool, CapabilityError>> {
        Ok(Err(Self::error(CAPABILITY)))
    }

    async fn compare_and_swap(
        &mut self,
        _key: String,
        _expected: Option<Vec<u8>>,
        _value: Vec<u8>,
    ) -> wasmtime::Result<Result<bool, CapabilityError>> {
        Ok(Err(Self::error(CAPABILITY)))
    }
}
