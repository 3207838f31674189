//! Loading components: every kind of bad file is refused with its own clear
//! error and leaves the executor working; compiled artifacts are cached on
//! disk and reused; the compiler child is held to its limits.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use baton::wasm::{Executor, ExecutorConfig, LoadError};
use baton_test_programs::{GUESTS_EVIL_IMPORT, GUESTS_WRONG_WORLD, PLUGINS_ECHO};
use support::*;

/// Deterministic noise (a xorshift generator), so the test is repeatable.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// What a refusal must look like.
type Expected = fn(&LoadError) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_with_specific_errors_and_change_nothing() {
    let (executor, cache) = executor();
    let echo = read(PLUGINS_ECHO);
    let core_module = wat::parse_str("(module (func (export \"run\")))").unwrap();
    let mut garbage_component = b"\0asm\x0d\0\x01\0".to_vec();
    garbage_component.extend(noise(512));

    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        ("empty file", Vec::new(), |e| {
            matches!(e, LoadError::NotWasm)
        }),
        ("random bytes", noise(4096), |e| {
            matches!(e, LoadError::NotWasm)
        }),
        ("core module", core_module, |e| {
            matches!(e, LoadError::CoreModule)
        }),
        (
            "truncated component",
            echo[..echo.len() / 2].to_vec(),
            |e| matches!(e, LoadError::Invalid(_)),
        ),
        ("component header then noise", garbage_component, |e| {
            matches!(e, LoadError::Invalid(_))
        }),
        (
            "wrong world",
            read(GUESTS_WRONG_WORLD),
            |e| matches!(e, LoadError::WrongWorld(m) if m.contains("describe")),
        ),
        (
            "import the world does not offer",
            read(GUESTS_EVIL_IMPORT),
            |e| matches!(e, LoadError::UnsupportedImport(m) if m.contains("exec")),
        ),
    ];
    for (name, bytes, expected) in cases {
        let error = executor.load(&bytes).await.expect_err(name);
        assert!(expected(&error), "{name}: {error:?}");
        assert!(!error.is_host_fault(), "{name}: {error}");
    }

    // Nothing was cached for the refused files: only the artifacts of the
    // two components that compiled (wrong world, evil import) exist.
    let artifacts = cached_artifacts(cache.path());
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");

    // The executor still works.
    let plugin = load(&executor, PLUGINS_ECHO).await;
    assert!(run(&executor, &plugin, "{}").await.outcome.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_component_is_refused_before_anything_else() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = ExecutorConfig::new(cache.path(), BATON);
    config.max_component_bytes = 1000;
    let executor = Executor::new(config).unwrap();
    let error = executor.load(&read(PLUGINS_ECHO)).await.unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { limit: 1000, .. }),
        "{error}"
    );
}

fn cached_artifacts(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for engine_dir in std::fs::read_dir(root).unwrap() {
        for file in std::fs::read_dir(engine_dir.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "cwasm") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_artifacts_are_reused_across_executors_without_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let first = Executor::new(ExecutorConfig::new(cache.path(), BATON)).unwrap();
    let digest = load(&first, PLUGINS_ECHO).await.digest().to_owned();
    drop(first);
    let artifacts = cached_artifacts(cache.path());
    assert_eq!(artifacts.len(), 1);
    assert!(artifacts[0].ends_with(format!("{digest}.cwasm")));

    // A compiler that cannot run proves the second load never compiles.
    let second = Executor::new(ExecutorConfig::new(cache.path(), "/nonexistent/baton")).unwrap();
    let plugin = load(&second, PLUGINS_ECHO).await;
    assert!(run(&second, &plugin, "{}").await.outcome.is_ok());
    // ... and that an uncached component does need the compiler.
    let error = second.load(&read(GUESTS_WRONG_WORLD)).await.unwrap_err();
    assert!(error.is_host_fault(), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_cached_artifact_is_discarded_and_compiled_again() {
    let cache = tempfile::tempdir().unwrap();
    let first = Executor::new(ExecutorConfig::new(cache.path(), BATON)).unwrap();
    load(&first, PLUGINS_ECHO).await;
    drop(first);
    let artifact = &cached_artifacts(cache.path())[0];
    std::fs::write(artifact, b"not an artifact").unwrap();

    let second = Executor::new(ExecutorConfig::new(cache.path(), BATON)).unwrap();
    let plugin = load(&second, PLUGINS_ECHO).await;
    assert!(run(&second, &plugin, "{}").await.outcome.is_ok());
    assert!(std::fs::metadata(artifact).unwrap().len() > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compiler_child_is_held_to_its_memory_and_time_limits() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = ExecutorConfig::new(cache.path(), BATON);
    config.compiler.memory_limit_bytes = 16 << 20;
    let starved = Executor::new(config).unwrap();
    let error = starved.load(&read(PLUGINS_ECHO)).await.unwrap_err();
    assert!(
        matches!(error, LoadError::CompilerLimit("memory limit")),
        "{error}"
    );

    let mut config = ExecutorConfig::new(cache.path(), BATON);
    config.compiler.timeout = Duration::from_millis(1);
    let hurried = Executor::new(config).unwrap();
    let error = hurried.load(&read(PLUGINS_ECHO)).await.unwrap_err();
    assert!(
        matches!(error, LoadError::CompilerLimit("time limit")),
        "{error}"
    );
    assert!(cached_artifacts(cache.path()).is_empty());
}
