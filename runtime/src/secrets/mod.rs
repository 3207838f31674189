//! Secrets: the master key, sealing secret values with it, the rules for
//! secret names, and redacting secret values from outputs.
//!
//! This module is a library with no state of its own. It does not store
//! secrets (the store keeps [`Sealed::to_bytes`] blobs and the key's
//! [`MasterKey::fingerprint`]), serve them over HTTP, or decide which step
//! sees which secret.
//!
//! - [`MasterKey::load`] takes the key from `BATON_MASTER_KEY` or from
//!   `<data_dir>/master.key` (created on first start, mode 0600; a file
//!   other users can read is refused). [`KeySource`] says which, for the
//!   startup log line.
//! - [`seal`] and [`open`] encrypt a value with XChaCha20-Poly1305, bound
//!   to the secret's name, into a versioned blob.
//! - [`Redactor`] replaces every occurrence of any secret value in text or
//!   JSON with `[secret:<name>]`.
//!
//! ```
//! use baton::secrets::{MasterKey, Redactor, Sealed, open, seal, validate_name};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let key = MasterKey::generate();
//! validate_name("db/password")?;
//! let blob = seal(&key, "db/password", b"hunter2")?.to_bytes();
//! let value = open(&key, "db/password", &Sealed::from_bytes(&blob)?)?;
//! assert_eq!(&value[..], b"hunter2");
//!
//! let redactor = Redactor::new([("db/password", &value[..])])?;
//! assert_eq!(redactor.redact_str("login with hunter2"), "login with [secret:db/password]");
//! # Ok(())
//! # }
//! # demo().unwrap();
//! ```

mod cipher;
mod error;
mod key;
mod name;
mod redact;

pub use cipher::{FORMAT_V1, NONCE_LEN, Sealed, TAG_LEN, open, seal};
pub use error::{Result, SecretsError};
pub use key::{KEY_LEN, KeySource, MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, replace_key_file};
pub use name::{MAX_NAME_LEN, MAX_SECRET_BYTES, validate_name};
pub use redact::Redactor;
