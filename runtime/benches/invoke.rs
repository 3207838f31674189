//! One invocation of a trivial Rust step (the built-in `echo` plugin): a
//! fresh store instantiated from the cached `InstancePre`, `run` called with
//! a small JSON input, the store dropped. Measured with one caller and with
//! two concurrent callers.
//!
//! Run with `cargo bench -p baton --bench invoke`.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::time::{Duration, Instant};

use baton::wasm::{Executor, ExecutorConfig, Invocation};
use baton_test_programs::PLUGINS_ECHO;
use criterion::{Criterion, criterion_group, criterion_main};

const INPUT: &str = r#"{"alert":"HighLoad","severity":"critical","value":0.93}"#;

fn invocation() -> Invocation {
    Invocation {
        run_id: "bench".into(),
        step_id: "echo".into(),
        attempt: 1,
        idempotency_key: "bench/echo".into(),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cache = tempfile::tempdir().expect("temp dir");
    let executor = Executor::new(ExecutorConfig::new(
        cache.path(),
        env!("CARGO_BIN_EXE_baton"),
    ))
    .expect("executor");
    let wasm = std::fs::read(PLUGINS_ECHO).expect("echo component");
    let plugin = runtime.block_on(executor.load(&wasm)).expect("load echo");
    let call = invocation();
    // Sanity: the measured call succeeds.
    let report = runtime.block_on(executor.invoke(&plugin, &call, INPUT));
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);

    c.bench_function("invoke echo, 1 caller", |b| {
        b.to_async(&runtime)
            .iter(|| async { executor.invoke(&plugin, &call, INPUT).await })
    });

    // Two callers on two worker threads: the time reported is per
    // invocation (wall time of the batch divided by the invocations in it).
    c.bench_function("invoke echo, 2 concurrent callers (per invocation)", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                let callers: Vec<_> = (0..2)
                    .map(|_| {
                        let (executor, plugin, call) =
                            (executor.clone(), plugin.clone(), call.clone());
                        tokio::spawn(async move {
                            for _ in 0..iters.div_ceil(2) {
                                let report = executor.invoke(&plugin, &call, INPUT).await;
                                std::hint::black_box(report);
                            }
                        })
                    })
                    .collect();
                for caller in callers {
                    caller.await.expect("caller");
                }
                let elapsed = started.elapsed();
                // Each caller did ceil(iters/2); normalise to `iters` calls.
                elapsed.mul_f64(iters as f64 / (2 * iters.div_ceil(2)) as f64)
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
