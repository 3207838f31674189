//! Component bytes before they become code: the header check, the content
//! digest, and the on-disk cache of compiled artifacts.
//!
//! Compiled artifacts are native code that wasmtime loads without further
//! checks, so the cache upholds one invariant: a file in it was written by
//! Baton's own compiler child and renamed into place only after the compile
//! succeeded. Nothing outside this module writes there, and no caller-given
//! bytes are ever loaded as an artifact.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::{ExecutorError, LoadError};

/// First four bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Refuses anything that is not a WebAssembly component, before any
/// compilation is attempted.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if !bytes.starts_with(WASM_MAGIC) {
        return Err(LoadError::NotWasm);
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::Invalid(
            "unsupported WebAssembly binary version or layer".into(),
        ));
    }
    Ok(())
}

/// The sha256 of `bytes`, in lowercase hex: the component's identity.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The directory of compiled artifacts for one engine configuration.
#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// Opens (creating it, private to this user) `<root>/<engine_key>`.
    pub(crate) fn open(root: &Path, engine_key: &str) -> Result<Self, ExecutorError> {
        let dir = root.join(engine_key);
        let failed = |source| ExecutorError::Cache {
            path: dir.display().to_string(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(failed)?;
        Ok(Self { dir })
    }

    /// Where the artifact of the component with `digest` lives.
    pub(crate) fn artifact_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.cwasm"))
    }

    /// Writes `bytes` to a fresh private scratch file in the cache directory
    /// (same filesystem, so a later rename is atomic).
    pub(crate) fn scratch_file(&self, bytes: &[u8]) -> Result<tempfile::TempPath, LoadError> {
        let mut file = tempfile::Builder::new()
            .prefix(".upload-")
            .tempfile_in(&self.dir)
            .map_err(|e| LoadError::Host(format!("cannot create a scratch file: {e}")))?;
        file.write_all(bytes)
            .and_then(|()| file.flush())
            .map_err(|e| LoadError::Host(format!("cannot write a scratch file: {e}")))?;
        Ok(file.into_temp_path())
    }

    /// A path for the compiler child to write to, unique to this compile.
    pub(crate) fn scratch_output(&self) -> Result<tempfile::TempPath, LoadError> {
        tempfile::Builder::new()
            .prefix(".artifact-")
            .tempfile_in(&self.dir)
            .map(tempfile::NamedTempFile::into_temp_path)
            .map_err(|e| LoadError::Host(format!("cannot create a scratch file: {e}")))
    }

    /// Moves a finished artifact into place under its digest.
    pub(crate) fn publish(
        &self,
        scratch: tempfile::TempPath,
        digest: &str,
    ) -> Result<PathBuf, LoadError> {
        let path = self.artifact_path(digest);
        scratch
            .persist(&path)
            .map_err(|e| LoadError::Host(format!("cannot store the compiled artifact: {e}")))?;
        Ok(path)
    }

    /// Removes an artifact that wasmtime refused (for example truncated by a
    /// crash), so the next load compiles it again.
    pub(crate) fn discard(&self, digest: &str) {
        // Best effort: if removal fails the next load fails the same way and
        // reports it.
        let _ = fs::remove_file(self.artifact_path(digest));
    }
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_tells_kinds_apart() {
        assert!(matches!(check_header(b"hello"), Err(LoadError::NotWasm)));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(matches!(
            check_header(b"\0asm\x02\0\0\0"),
            Err(LoadError::Invalid(_))
        ));
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
