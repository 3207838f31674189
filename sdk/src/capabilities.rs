//! Host capabilities as plain functions: [`log`], [`kv`], [`secrets`] and
//! [`events`]. Each call goes to the host, which refuses what the plugin was
//! not granted with [`Denied::NotGranted`]; only logging is always allowed.

use crate::Denied;

/// Levelled log lines, kept with the step attempt.
pub mod log {
    use crate::bindings::baton::plugin::log::{Level, log};

    /// Logs at trace level.
    pub fn trace(message: &str) {
        log(Level::Trace, message);
    }
    /// Logs at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }
    /// Logs at info level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }
    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
    /// Logs at error level.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// Durable key-value state private to this plugin (needs the kv grant).
pub mod kv {
    use super::Denied;
    use crate::bindings::baton::plugin::kv;

    /// The value under `key`, if any.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, Denied> {
        kv::get(key).map_err(Denied::from)
    }

    /// Stores `value` under `key`.
    pub fn set(key: &str, value: &[u8]) -> Result<(), Denied> {
        kv::set(key, value).map_err(Denied::from)
    }

    /// Removes `key`; true if it existed.
    pub fn delete(key: &str) -> Result<bool, Denied> {
        kv::delete(key).map_err(Denied::from)
    }

    /// Stores `value` only if the current value is `expected` (`None`:
    /// absent); true if stored.
    pub fn compare_and_swap(
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, Denied> {
        kv::compare_and_swap(key, expected, value).map_err(Denied::from)
    }
}

/// Named secrets (each needs its own grant).
pub mod secrets {
    use super::Denied;

    /// The value of the secret `name`.
    pub fn get(name: &str) -> Result<String, Denied> {
        crate::bindings::baton::plugin::secrets::get(name).map_err(Denied::from)
    }
}

/// Events into Baton's event pipeline (each type needs its own grant).
pub mod events {
    use super::Denied;

    /// Emits an event of `event_type` with `data` serialised as JSON.
    pub fn emit(
        event_type: &str,
        subject: Option<&str>,
        data: &impl serde::Serialize,
    ) -> Result<(), Denied> {
        let data = serde_json::to_string(data)
            .map_err(|e| Denied::Invalid(format!("event data cannot be serialised: {e}")))?;
        crate::bindings::baton::plugin::events::emit(event_type, subject, &data)
            .map_err(Denied::from)
    }
}
