//! Compiling untrusted components in a child process.
//!
//! A hostile module can make the compiler itself use unbounded memory or
//! time, so compilation never happens in the serving process: the `baton`
//! binary is re-invoked with a hidden subcommand under an address-space limit
//! (`RLIMIT_AS`) and killed after a wall-clock limit. The parent only ever
//! sees a finished artifact file or a classified [`LoadError`].

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncReadExt;

use super::config::CompilerSandbox;
use super::engine;
use super::error::LoadError;

/// Name of the hidden subcommand of the `baton` binary that compiles.
pub const COMPILE_SUBCOMMAND: &str = "__compile-component";

/// Exit code of the child when the component itself is invalid.
const EXIT_INVALID: i32 = 2;
/// Exit code of the child when it could not read or write its files.
const EXIT_IO: i32 = 3;
/// Most bytes of the child's stderr kept for the error message.
const MAX_CHILD_MESSAGE: usize = 4 << 10;

/// The work of one compiler child: read `input`, write the artifact to
/// `output`.
#[derive(Debug, Clone)]
pub struct CompileRequest {
    /// The component file.
    pub input: PathBuf,
    /// Where the compiled artifact goes.
    pub output: PathBuf,
}

/// Body of the compiler child process. Returns the exit code; the error text
/// is printed on stderr for the parent.
pub fn run_compile_child(request: &CompileRequest) -> i32 {
    let bytes = match std::fs::read(&request.input) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("cannot read {}: {e}", request.input.display());
            return EXIT_IO;
        }
    };
    let engine = match engine::compile_engine() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_IO;
        }
    };
    let artifact = match engine.precompile_component(&bytes) {
        Ok(artifact) => artifact,
        Err(e) => {
            eprintln!("{e:#}");
            return EXIT_INVALID;
        }
    };
    if let Err(e) = std::fs::write(&request.output, artifact) {
        eprintln!("cannot write {}: {e}", request.output.display());
        return EXIT_IO;
    }
    0
}

/// Compiles the component at `input` into `output` in a sandboxed child.
pub(crate) async fn compile_in_child(
    sandbox: &CompilerSandbox,
    input: &Path,
    output: &Path,
) -> Result<(), LoadError> {
    let mut command = tokio::process::Command::new(&sandbox.program);
    command
        .arg(COMPILE_SUBCOMMAND)
        .arg(input)
        .arg(output)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let memory_limit = sandbox.memory_limit_bytes;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setrlimit, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || limit_child(memory_limit));
    }
    let mut child = command.spawn().map_err(|e| {
        LoadError::Host(format!(
            "cannot start the compiler {}: {e}",
            sandbox.program.display()
        ))
    })?;
    let mut stderr = child.stderr.take();
    let waited = tokio::time::timeout(sandbox.timeout, async {
        let mut message = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            // Read everything so the child never blocks on a full pipe, keep
            // only the end.
            let mut chunk = [0u8; 4096];
            loop {
                match stderr.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        message.extend_from_slice(&chunk[..n]);
                        let excess = message.len().saturating_sub(MAX_CHILD_MESSAGE);
                        message.drain(..excess);
                    }
                }
            }
        }
        (child.wait().await, message)
    })
    .await;
    let Ok((status, message)) = waited else {
        // Dropping the child (kill_on_drop) kills it.
        return Err(LoadError::CompilerLimit("time limit"));
    };
    let status =
        status.map_err(|e| LoadError::Host(format!("waiting for the compiler failed: {e}")))?;
    classify_exit(status, &String::from_utf8_lossy(&message))
}

fn classify_exit(status: ExitStatus, message: &str) -> Result<(), LoadError> {
    use std::os::unix::process::ExitStatusExt;
    let message = message.trim();
    let out_of_memory = message.contains("memory allocation of")
        || message.contains("Cannot allocate memory")
        || message.contains("out of memory");
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        _ if out_of_memory => Err(LoadError::CompilerLimit("memory limit")),
        (Some(EXIT_INVALID), _) => Err(LoadError::Invalid(message.to_owned())),
        (_, Some(libc::SIGKILL | libc::SIGABRT | libc::SIGSEGV | libc::SIGBUS)) => {
            Err(LoadError::CompilerLimit("memory limit"))
        }
        _ => Err(LoadError::Host(format!(
            "the compiler failed ({status}): {message}"
        ))),
    }
}

fn limit_child(memory_limit: u64) -> std::io::Result<()> {
    let address_space = libc::rlimit {
        rlim_cur: memory_limit,
        rlim_max: memory_limit,
    };
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls with valid pointers to stack values.
    let failed = unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &address_space) != 0
            || libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0
    };
    if failed {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
