//! Sealing and opening secret values with the master key.
//!
//! The scheme is XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) with
//! a random 24-byte nonce per seal, which is long enough that random nonces
//! never repeat in practice, and the secret's name as associated data, so a
//! ciphertext copied to another name does not open. A sealed value is
//! stored as one blob that starts with a format byte, so the scheme can
//! change later without guessing. This file holds no primitive of its own
//! and does not decide where blobs are stored.

use chacha20poly1305::aead::{AeadCore, AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng as _;
use zeroize::Zeroizing;

use super::error::{Result, SecretsError};
use super::key::MasterKey;
use super::name::MAX_SECRET_BYTES;

/// Format byte of a blob sealed with XChaCha20-Poly1305, laid out as
/// `[FORMAT_V1][nonce: 24 bytes][ciphertext][tag: 16 bytes]`.
pub const FORMAT_V1: u8 = 1;
/// Nonce length of the v1 format.
pub const NONCE_LEN: usize = 24;
/// Authentication tag length of the v1 format.
pub const TAG_LEN: usize = 16;

/// A sealed secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The random nonce it was sealed with.
    pub nonce: [u8; NONCE_LEN],
    /// The encrypted value followed by its authentication tag.
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// The blob to store: format byte, nonce, ciphertext and tag.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + self.ciphertext.len());
        blob.push(FORMAT_V1);
        blob.extend_from_slice(&self.nonce);
        blob.extend_from_slice(&self.ciphertext);
        blob
    }

    /// Reads a blob written by [`Sealed::to_bytes`]. This checks the shape
    /// only; whether it authenticates is up to [`open`].
    pub fn from_bytes(blob: &[u8]) -> Result<Sealed> {
        let Some((&format, rest)) = blob.split_first() else {
            return Err(SecretsError::Corrupt("the sealed value is empty".into()));
        };
        if format != FORMAT_V1 {
            return Err(SecretsError::Corrupt(format!(
                "unknown format {format} (this version reads format {FORMAT_V1}); \
                 was it written by a newer Baton?"
            )));
        }
        let Some((nonce, ciphertext)) = rest.split_first_chunk::<NONCE_LEN>() else {
            return Err(too_short(blob.len()));
        };
        if ciphertext.len() < TAG_LEN {
            return Err(too_short(blob.len()));
        }
        Ok(Sealed {
            nonce: *nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

fn too_short(len: usize) -> SecretsError {
    SecretsError::Corrupt(format!(
        "the sealed value is {len} bytes, shorter than the {} bytes of format {FORMAT_V1}'s \
         header and tag",
        1 + NONCE_LEN + TAG_LEN
    ))
}

/// Encrypts the value of secret `name` under `key`, with a fresh random
/// nonce. Values over [`MAX_SECRET_BYTES`] are refused.
pub fn seal(key: &MasterKey, name: &str, plaintext: &[u8]) -> Result<Sealed> {
    if plaintext.len() > MAX_SECRET_BYTES {
        return Err(SecretsError::TooLarge {
            name: name.to_owned(),
            size: plaintext.len(),
            limit: MAX_SECRET_BYTES,
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    // Encrypted in place in a buffer with room for the tag, so it never
    // reallocates and leaves a copy of the plaintext behind.
    let mut buffer = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buffer.extend_from_slice(plaintext);
    cipher(key)
        .encrypt_in_place(nonce_of(&nonce), name.as_bytes(), &mut buffer)
        .map_err(|_| SecretsError::Encrypt {
            name: name.to_owned(),
        })?;
    Ok(Sealed {
        nonce,
        ciphertext: buffer,
    })
}

/// Decrypts the value of secret `name`; fails unless `sealed` was made by
/// [`seal`] with the same key and name and has not been altered. The value
/// is wiped from memory when the result is dropped.
pub fn open(key: &MasterKey, name: &str, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>> {
    let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
    cipher(key)
        .decrypt_in_place(nonce_of(&sealed.nonce), name.as_bytes(), &mut *buffer)
        .map_err(|_| SecretsError::Decrypt {
            name: name.to_owned(),
        })?;
    Ok(buffer)
}

/// The AEAD keyed with the master key (its copy of the key is wiped on
/// drop by the crate's `zeroize` feature).
fn cipher(key: &MasterKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.as_bytes().into())
}

fn nonce_of(nonce: &[u8; NONCE_LEN]) -> &XNonce {
    nonce.into()
}

// The layout constants above must match what the crate does.
const _: () = {
    use chacha20poly1305::aead::array::typenum::Unsigned as _;
    assert!(<XChaCha20Poly1305 as AeadCore>::NonceSize::USIZE == NONCE_LEN);
    assert!(<XChaCha20Poly1305 as AeadCore>::TagSize::USIZE == TAG_LEN);
};

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 32])
    }

    #[test]
    fn round_trip_through_the_blob() {
        let key = key(1);
        for value in [
            &b""[..],
            b"x",
            b"hunter2",
            &[0xff; 1000],
            &vec![7; MAX_SECRET_BYTES],
        ] {
            let sealed = seal(&key, "db/password", value).unwrap();
            assert_eq!(sealed.ciphertext.len(), value.len() + TAG_LEN);
            let blob = sealed.to_bytes();
            assert_eq!(blob.len(), 1 + NONCE_LEN + TAG_LEN + value.len());
            assert_eq!(blob[0], FORMAT_V1);
            let read = Sealed::from_bytes(&blob).unwrap();
            assert_eq!(read, sealed);
            assert_eq!(&*open(&key, "db/password", &read).unwrap(), value);
        }
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let key = key(1);
        let a = seal(&key, "token", b"hunter2").unwrap();
        let b = seal(&key, "token", b"hunter2").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.windows(7).any(|w| w == b"hunter2"));
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = seal(&key(1), "token", b"hunter2").unwrap();
        let error = open(&key(2), "token", &sealed).unwrap_err();
        assert!(matches!(&error, SecretsError::Decrypt { name } if name == "token"));
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn a_ciphertext_copied_to_another_name_does_not_open() {
        let key = key(1);
        let sealed = seal(&key, "staging/token", b"hunter2").unwrap();
        for other in ["prod/token", "staging/token ", "Staging/token", ""] {
            assert!(
                matches!(
                    open(&key, other, &sealed),
                    Err(SecretsError::Decrypt { .. })
                ),
                "{other:?}"
            );
        }
    }

    #[test]
    fn any_altered_byte_is_detected() {
        let key = key(1);
        let blob = seal(&key, "token", b"hunter2").unwrap().to_bytes();
        for i in 1..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 0x01;
            let sealed = Sealed::from_bytes(&tampered).unwrap();
            assert!(open(&key, "token", &sealed).is_err(), "byte {i}");
        }
        let truncated = Sealed::from_bytes(&blob[..blob.len() - 1]).unwrap();
        assert!(open(&key, "token", &truncated).is_err());
        let mut extended = blob.clone();
        extended.push(0);
        let extended = Sealed::from_bytes(&extended).unwrap();
        assert!(open(&key, "token", &extended).is_err());
    }

    #[test]
    fn malformed_blobs_are_corrupt() {
        let blob = seal(&key(1), "token", b"").unwrap().to_bytes();
        for (bytes, expected) in [
            (&[][..], "is empty"),
            (&[2, 0, 0][..], "unknown format 2"),
            (
                &blob[..blob.len() - 1],
                "is 40 bytes, shorter than the 41 bytes",
            ),
            (&blob[..10], "is 10 bytes"),
            (&[FORMAT_V1][..], "is 1 bytes"),
        ] {
            let error = Sealed::from_bytes(bytes).unwrap_err();
            assert!(matches!(error, SecretsError::Corrupt(_)));
            assert!(error.to_string().contains(expected), "{error}");
        }
        assert!(
            Sealed::from_bytes(&blob).is_ok(),
            "an empty value is well formed"
        );
    }

    #[test]
    fn values_over_the_limit_are_refused() {
        let error = seal(&key(1), "big", &vec![0; MAX_SECRET_BYTES + 1]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "secret `big` is 65537 bytes, over the limit of 65536 bytes"
        );
    }

    #[test]
    fn a_blob_of_format_v1_opens_forever() {
        // Guards the stored format: a blob written today must open after
        // upgrades. Computed independently (HChaCha20 by hand, then
        // ChaCha20-Poly1305 from Python's `cryptography`) with key 0x42..,
        // nonce 0x24.., name `token` and value `hunter2`.
        let blob = hex::decode(
            "01242424242424242424242424242424242424242424242424\
             cd2bb9110b567e563cbc9cdea19e1f19c4dced30fb6e5c",
        )
        .unwrap();
        let sealed = Sealed::from_bytes(&blob).unwrap();
        assert_eq!(&*open(&key(0x42), "token", &sealed).unwrap(), b"hunter2");
        assert_eq!(sealed.to_bytes(), blob);
    }
}
