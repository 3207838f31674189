//! The `baton` binary: parses the command line and hands over to [`cli`].

mod cli;

/// mimalloc, which also serves SQLite's and wasmtime's `malloc` (the crate's
/// `override` feature): the engine's writer, SQLite and the plugin workers
/// allocate and free across threads all the time, which glibc's allocator
/// handles poorly (about 25% more step completions per second with it).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
