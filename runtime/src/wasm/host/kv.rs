//! `baton:plugin/kv`: plugin-scoped durable key-value state, served by the
//! invocation's [`CapabilityProvider`](crate::wasm::CapabilityProvider), which
//! checks the grant and the quota.

use crate::wasm::access::{KvReply, KvRequest};
use crate::wasm::bindings::kv::Host;
use crate::wasm::bindings::types::CapabilityError;

use super::Provided;

const CAPABILITY: &str = "key-value state (kv)";

impl Provided {
    async fn kv(&self, request: KvRequest) -> Result<KvReply, CapabilityError> {
        match &self.0 {
            Some(provider) => provider.kv(request).await.map_err(Into::into),
            None => Err(super::NotGranted::error(CAPABILITY)),
        }
    }
}

/// A reply of the wrong shape: the provider broke its contract.
fn mismatch() -> CapabilityError {
    CapabilityError::Unavailable("the key-value store gave an unexpected answer".into())
}

impl Host for Provided {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, CapabilityError>> {
        Ok(match self.kv(KvRequest::Get(key)).await {
            Ok(KvReply::Value(value)) => Ok(value),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        })
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), CapabilityError>> {
        Ok(match self.kv(KvRequest::Set(key, value)).await {
            Ok(KvReply::Stored) => Ok(()),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        })
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, CapabilityError>> {
        Ok(match self.kv(KvRequest::Delete(key)).await {
            Ok(KvReply::Done(existed)) => Ok(existed),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        })
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<bool, CapabilityError>> {
        let request = KvRequest::CompareAndSwap {
            key,
            expected,
            value,
        };
        Ok(match self.kv(request).await {
            Ok(KvReply::Done(stored)) => Ok(stored),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        })
    }
}
