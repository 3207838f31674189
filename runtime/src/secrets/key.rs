//! The master key: where it comes from, how it is kept in memory, and its
//! fingerprint.
//!
//! The key is `BATON_MASTER_KEY` when the operator sets it, otherwise the
//! 32 raw bytes of `<data_dir>/master.key`, created on first start. The file
//! is written atomically and never replaced, and a file other users can
//! read is refused rather than fixed, so a leak is noticed. This file does
//! not encrypt anything (see [`super::cipher`]) and does not know where the
//! fingerprint is stored.
//!
//! `base64 < master.key` prints the file in the form `BATON_MASTER_KEY`
//! accepts, for moving a key from a file to a secret manager.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::{Result, SecretsError};

/// The environment variable that holds the master key, when it is not kept
/// in a file.
pub const MASTER_KEY_ENV: &str = "BATON_MASTER_KEY";
/// The master key's file name in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Length of the master key in bytes (256 bits).
pub const KEY_LEN: usize = 32;
/// Permission bits of the key file: read and write for its owner only.
const KEY_FILE_MODE: u32 = 0o600;
/// Permission bits that, when set, let someone other than the owner at the
/// key file.
const GROUP_OTHER_BITS: u32 = 0o077;
/// What the fingerprint is a MAC of, so it is useless for anything else.
const FINGERPRINT_CONTEXT: &[u8] = b"baton master key fingerprint";
/// Hex digits kept of the fingerprint MAC: 64 bits tell keys apart.
const FINGERPRINT_HEX_DIGITS: usize = 16;
/// SHA-256's block size, the length HMAC pads its key to.
const SHA256_BLOCK_LEN: usize = 64;

/// The 256-bit key that encrypts every stored secret.
///
/// The bytes live on the heap, so moving the key does not leave copies on
/// the stack, and are zeroed when it is dropped. `Debug` shows only the
/// fingerprint. The type is deliberately not `Clone`: share it in an `Arc`.
pub struct MasterKey {
    bytes: Box<[u8; KEY_LEN]>,
}

/// Where the master key in use came from, for the startup log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `BATON_MASTER_KEY` environment variable.
    Environment,
    /// An existing key file.
    File(PathBuf),
    /// A key file created by this start: the operator should back it up.
    Created(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => write!(f, "the {MASTER_KEY_ENV} environment variable"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Created(path) => write!(f, "{} (newly created: back it up)", path.display()),
        }
    }
}

impl MasterKey {
    /// Loads the master key: decodes `env` (the value of
    /// [`MASTER_KEY_ENV`], which the caller reads) when it is given, and
    /// otherwise reads `<data_dir>/master.key`, creating it with a random
    /// key when it does not exist. `data_dir` must exist.
    ///
    /// An empty `env` is an error, not a fallback to the file: a variable
    /// set to nothing is more likely a mistake than a request.
    pub fn load(data_dir: &Path, env: Option<&str>) -> Result<(MasterKey, KeySource)> {
        if let Some(text) = env {
            return Ok((MasterKey::decode(text)?, KeySource::Environment));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match read_key_file(&path) {
            Ok(key) => Ok((key, KeySource::File(path))),
            Err(SecretsError::KeyFile { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                let key = MasterKey::generate();
                if create_key_file(data_dir, &path, &key)? {
                    Ok((key, KeySource::Created(path)))
                } else {
                    // Another process created the file first: use its key.
                    Ok((read_key_file(&path)?, KeySource::File(path)))
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The key in use, without ever creating one: `env` when given, else
    /// `<data_dir>/master.key`, which must exist.
    pub fn load_existing(data_dir: &Path, env: Option<&str>) -> Result<(MasterKey, KeySource)> {
        if let Some(text) = env {
            return Ok((MasterKey::decode(text)?, KeySource::Environment));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        Ok((read_key_file(&path)?, KeySource::File(path)))
    }

    /// Reads a key file written like `master.key`: 32 raw bytes, readable
    /// by its owner only.
    pub fn read_file(path: &Path) -> Result<MasterKey> {
        read_key_file(path)
    }

    /// Writes this key to `path`, which must not exist, as `master.key` is
    /// written (mode 0600), and makes it durable with its directory.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(KEY_FILE_MODE)
            .open(path)
            .map_err(key_file_error("create", path))?;
        file.write_all(self.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(key_file_error("write", path))?;
        sync_directory_of(path)
    }

    /// Decodes a key written as 64 hex digits or as the standard base64 of
    /// 32 bytes; surrounding whitespace is ignored.
    pub fn decode(text: &str) -> Result<MasterKey> {
        let text = text.trim();
        let mut key = MasterKey::zeroed();
        if text.is_empty() {
            return Err(bad_key("it is empty"));
        }
        if text.len() == 2 * KEY_LEN {
            // The length of a hex key (base64 of 32 bytes is 44 characters).
            hex::decode_to_slice(text, &mut key.bytes[..])
                .map_err(|_| bad_key("it has the length of a hex key, but not only hex digits"))?;
            return Ok(key);
        }
        // Room for the decoder's estimate, so the buffer never reallocates
        // and leaves a copy behind.
        let mut decoded = Zeroizing::new(Vec::with_capacity(text.len()));
        base64::engine::general_purpose::STANDARD
            .decode_vec(text, &mut decoded)
            .map_err(|_| {
                bad_key(&format!(
                    "its {} characters are neither 64 hex digits nor valid base64",
                    text.chars().count()
                ))
            })?;
        if decoded.len() != KEY_LEN {
            return Err(bad_key(&format!(
                "it is valid base64 of {} bytes, not {KEY_LEN}",
                decoded.len()
            )));
        }
        key.bytes.copy_from_slice(&decoded);
        Ok(key)
    }

    /// A new random key from the thread's cryptographically secure
    /// generator (seeded from the operating system).
    pub fn generate() -> MasterKey {
        let mut key = MasterKey::zeroed();
        rand::rng().fill_bytes(&mut key.bytes[..]);
        key
    }

    /// A key made of these bytes (for tests and tools; the caller is in
    /// charge of wiping its copy).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> MasterKey {
        MasterKey {
            bytes: Box::new(bytes),
        }
    }

    /// A short identifier of the key that does not reveal it: the first 16
    /// hex digits of HMAC-SHA256(key, "baton master key fingerprint").
    /// Stored next to the secrets, it tells a wrong key from damaged data.
    pub fn fingerprint(&self) -> String {
        // HMAC pads a short key with zeros to the hash's block size
        // (RFC 2104, step 1), so padding it here gives the same MAC through
        // the infallible fixed-size constructor.
        let mut padded = Zeroizing::new([0u8; SHA256_BLOCK_LEN]);
        padded[..KEY_LEN].copy_from_slice(&self.bytes[..]);
        let mut mac = <Hmac<Sha256> as KeyInit>::new((&*padded).into());
        mac.update(FINGERPRINT_CONTEXT);
        let mut digest = hex::encode(mac.finalize().into_bytes());
        digest.truncate(FINGERPRINT_HEX_DIGITS);
        digest
    }

    /// Checks that this key is the one whose fingerprint was recorded with
    /// the stored secrets.
    pub fn check_fingerprint(&self, expected: &str) -> Result<()> {
        let found = self.fingerprint();
        if found == expected {
            Ok(())
        } else {
            Err(SecretsError::KeyMismatch {
                found,
                expected: expected.to_owned(),
            })
        }
    }

    /// The key bytes, for the cipher only.
    pub(super) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    fn zeroed() -> MasterKey {
        MasterKey {
            bytes: Box::new([0; KEY_LEN]),
        }
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        (*self.bytes).zeroize();
    }
}

impl ZeroizeOnDrop for MasterKey {}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn bad_key(reason: &str) -> SecretsError {
    SecretsError::BadKey {
        reason: reason.to_owned(),
    }
}

/// Puts the key file `from` in place of `to` in one step (a rename), made
/// durable with the directory.
pub fn replace_key_file(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(key_file_error("replace", to))?;
    sync_directory_of(to)
}

fn sync_directory_of(path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(key_file_error("sync the directory of", path))
}

fn key_file_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SecretsError {
    let path = path.to_path_buf();
    move |source| SecretsError::KeyFile {
        action,
        path,
        source,
    }
}

/// Reads an existing key file, refusing one others can access or of the
/// wrong length. The checks use the opened file's metadata, so they apply
/// to what is read even if the path is swapped meanwhile.
fn read_key_file(path: &Path) -> Result<MasterKey> {
    let mut file = File::open(path).map_err(key_file_error("read", path))?;
    let metadata = file.metadata().map_err(key_file_error("read", path))?;
    if !metadata.is_file() {
        return Err(key_file_error("read", path)(io::Error::other(
            "it is not a regular file",
        )));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(SecretsError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let wrong_length = |len| SecretsError::KeyLength {
        path: path.to_path_buf(),
        len,
        expected: KEY_LEN,
    };
    if metadata.len() != KEY_LEN as u64 {
        return Err(wrong_length(metadata.len()));
    }
    let mut key = MasterKey::zeroed();
    file.read_exact(&mut key.bytes[..])
        .map_err(key_file_error("read", path))?;
    // The file may have grown since `metadata`: a longer file is not a key.
    let mut extra = [0u8; 1];
    if file
        .read(&mut extra)
        .map_err(key_file_error("read", path))?
        != 0
    {
        return Err(wrong_length(
            file.metadata().map_or(KEY_LEN as u64 + 1, |m| m.len()),
        ));
    }
    Ok(key)
}

/// Writes `key` to `path` without ever showing a partial file: a private
/// temporary file is written and synced, then linked to `path`. Linking,
/// unlike renaming, never replaces an existing file, so two processes
/// starting at once cannot each keep a different key. Returns false when
/// `path` appeared meanwhile (the caller then reads it).
fn create_key_file(data_dir: &Path, path: &Path, key: &MasterKey) -> Result<bool> {
    let temp = data_dir.join(format!(
        ".{MASTER_KEY_FILE}.{}.{:016x}.tmp",
        std::process::id(),
        rand::rng().next_u64()
    ));
    let result = write_and_link(&temp, path, key);
    // The temporary name is only a staging area: remove it whatever
    // happened (after a successful link the key stays under `path`).
    let _ = std::fs::remove_file(&temp);
    let created = result?;
    File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(key_file_error("sync the directory of", path))?;
    Ok(created)
}

fn write_and_link(temp: &Path, path: &Path, key: &MasterKey) -> Result<bool> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(KEY_FILE_MODE)
        .open(temp)
        .map_err(key_file_error("create", path))?;
    file.write_all(key.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(key_file_error("write", path))?;
    match std::fs::hard_link(temp, path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(key_file_error("create", path)(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn sequential_bytes() -> [u8; KEY_LEN] {
        std::array::from_fn(|i| i as u8)
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn env_key_is_hex_or_base64() {
        let expected = MasterKey::from_bytes(sequential_bytes());
        let base64 = base64::engine::general_purpose::STANDARD.encode(sequential_bytes());
        for text in [
            HEX.to_owned(),
            HEX.to_uppercase(),
            format!("  {HEX}\n"),
            base64.clone(),
            format!("{base64}\n"),
        ] {
            let key = MasterKey::decode(&text).unwrap();
            assert_eq!(key.as_bytes(), expected.as_bytes(), "{text:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let (key, source) = MasterKey::load(dir.path(), Some(HEX)).unwrap();
        assert_eq!(key.as_bytes(), expected.as_bytes());
        assert_eq!(source, KeySource::Environment);
        assert!(
            !dir.path().join(MASTER_KEY_FILE).exists(),
            "no file is created"
        );
    }

    #[test]
    fn bad_env_keys_are_refused_without_echoing_them() {
        let short_base64 = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfbu8; 32]);
        for (text, expected) in [
            ("", "it is empty"),
            ("   \n", "it is empty"),
            (&HEX[..62], "neither 64 hex digits nor valid base64"),
            (
                &format!("{HEX}00"),
                "neither 64 hex digits nor valid base64",
            ),
            (
                "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "not only hex digits",
            ),
            ("correct horse battery staple", "neither"),
            (&short_base64, "valid base64 of 16 bytes, not 32"),
            (&url_safe, "neither"),
        ] {
            let error = MasterKey::decode(text).expect_err(text);
            let message = error.to_string();
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(message.contains(MASTER_KEY_ENV), "{message}");
            if !text.trim().is_empty() {
                assert!(
                    !message.contains(text.trim()),
                    "echoes the value: {message}"
                );
            }
        }
    }

    #[test]
    fn key_file_is_created_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        let (first, source) = MasterKey::load(dir.path(), None).unwrap();
        assert_eq!(source, KeySource::Created(path.clone()));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), first.as_bytes());
        let (second, source) = MasterKey::load(dir.path(), None).unwrap();
        assert_eq!(source, KeySource::File(path.clone()));
        assert_eq!(second.as_bytes(), first.as_bytes());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, [MASTER_KEY_FILE], "no temporary file is left");
    }

    #[test]
    fn generated_keys_differ() {
        let dir_a = tempfile::tempdir().unwrap();
        let dir_b = tempfile::tempdir().unwrap();
        let (a, _) = MasterKey::load(dir_a.path(), None).unwrap();
        let (b, _) = MasterKey::load(dir_b.path(), None).unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), &[0; KEY_LEN]);
    }

    #[test]
    fn key_file_others_can_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        for insecure in [0o644, 0o640, 0o604, 0o660, 0o602] {
            std::fs::write(&path, sequential_bytes()).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(insecure)).unwrap();
            let error = MasterKey::load(dir.path(), None).unwrap_err();
            assert!(
                matches!(error, SecretsError::Permissions { mode, .. } if mode == insecure),
                "{error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
            assert!(
                message.contains(&format!("mode {insecure:03o}")),
                "{message}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        let (key, _) = MasterKey::load(dir.path(), None).unwrap();
        assert_eq!(
            key.as_bytes(),
            &sequential_bytes(),
            "owner-only modes are fine"
        );
    }

    #[test]
    fn key_file_of_the_wrong_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        for len in [0, 31, 33, 64] {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .unwrap();
            file.write_all(&vec![1; len]).unwrap();
            let error = MasterKey::load(dir.path(), None).unwrap_err();
            assert!(
                matches!(error, SecretsError::KeyLength { len: l, .. } if l == len as u64),
                "{error}"
            );
            assert_eq!(
                std::fs::read(&path).unwrap().len(),
                len,
                "the file is left alone"
            );
        }
    }

    #[test]
    fn missing_data_dir_is_a_key_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let error = MasterKey::load(&missing, None).unwrap_err();
        assert!(
            matches!(
                error,
                SecretsError::KeyFile {
                    action: "create",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("nope/master.key"), "{error}");
    }

    #[test]
    fn a_directory_is_not_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(MASTER_KEY_FILE)).unwrap();
        std::fs::set_permissions(
            dir.path().join(MASTER_KEY_FILE),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let error = MasterKey::load(dir.path(), None).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }

    #[test]
    fn fingerprint_is_a_stable_hmac_prefix_that_tells_keys_apart() {
        let key = MasterKey::from_bytes(sequential_bytes());
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&sequential_bytes()).unwrap();
        mac.update(FINGERPRINT_CONTEXT);
        let full = hex::encode(mac.finalize().into_bytes());
        assert_eq!(key.fingerprint(), full[..FINGERPRINT_HEX_DIGITS]);
        assert_eq!(
            key.fingerprint(),
            MasterKey::decode(HEX).unwrap().fingerprint()
        );
        let other = MasterKey::generate();
        assert_ne!(key.fingerprint(), other.fingerprint());
    }

    #[test]
    fn check_fingerprint_names_both() {
        let key = MasterKey::from_bytes(sequential_bytes());
        key.check_fingerprint(&key.fingerprint()).unwrap();
        let error = key.check_fingerprint("0123456789abcdef").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the master key does not match the one that encrypted the stored secrets \
                 (fingerprint {}, expected 0123456789abcdef)",
                key.fingerprint()
            )
        );
    }

    #[test]
    fn debug_shows_the_fingerprint_only() {
        let key = MasterKey::from_bytes([0xab; KEY_LEN]);
        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            format!("MasterKey {{ fingerprint: {:?}, .. }}", key.fingerprint())
        );
    }

    #[test]
    fn key_source_reads_well_in_a_log_line() {
        assert_eq!(
            KeySource::Environment.to_string(),
            "the BATON_MASTER_KEY environment variable"
        );
        assert_eq!(
            KeySource::Created("/data/master.key".into()).to_string(),
            "/data/master.key (newly created: back it up)"
        );
    }
}
