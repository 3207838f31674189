//! Errors of the secrets layer.
//!
//! Messages name files, secrets and fingerprints, and say what to do; they
//! never contain key material or plaintext, not even a prefix of it.

use std::path::PathBuf;

/// What went wrong with the master key, a sealed secret or a redactor.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The master key file could not be read, created or synced.
    #[error("could not {action} the master key file {}: {source}", path.display())]
    KeyFile {
        /// What was being done (`read`, `create`, ...).
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The key given in the environment is not a key.
    #[error(
        "{} is not a usable master key: {reason}; expected 64 hex digits or the standard \
         base64 of 32 bytes (for example the output of `openssl rand -base64 32`)",
        super::MASTER_KEY_ENV
    )]
    BadKey {
        /// Why, without the value.
        reason: String,
    },
    /// The key file can be read or written by other users.
    #[error(
        "the master key file {} is accessible to users other than its owner (mode {mode:03o}); \
         run `chmod 600 {}` and start again",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold exactly one key.
    #[error(
        "the master key file {} is {len} bytes long, but a master key is exactly {expected} \
         bytes; restore the original file (without it the stored secrets cannot be decrypted)",
        path.display()
    )]
    KeyLength {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length of a key.
        expected: usize,
    },
    /// The key is not the one the stored secrets were encrypted with.
    #[error(
        "the master key does not match the one that encrypted the stored secrets \
         (fingerprint {found}, expected {expected})"
    )]
    KeyMismatch {
        /// The fingerprint of the key in use.
        found: String,
        /// The fingerprint recorded with the secrets.
        expected: String,
    },
    /// A value is over [`MAX_SECRET_BYTES`](super::MAX_SECRET_BYTES).
    #[error("secret `{name}` is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The secret.
        name: String,
        /// The value's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Encryption failed (not expected for values within the size limit).
    #[error("secret `{name}` could not be encrypted")]
    Encrypt {
        /// The secret.
        name: String,
    },
    /// A sealed value did not authenticate.
    #[error(
        "secret `{name}` could not be decrypted: it was encrypted with another master key or \
         under another name, or it has been altered"
    )]
    Decrypt {
        /// The secret.
        name: String,
    },
    /// A sealed blob is not in a format this version reads.
    #[error("a stored secret is damaged or in an unknown format: {0}")]
    Corrupt(String),
    /// The redactor could not be built for these values.
    #[error("the secret redactor could not be built: {0}")]
    Redactor(String),
}

/// Result of the secrets layer.
pub type Result<T, E = SecretsError> = std::result::Result<T, E>;
