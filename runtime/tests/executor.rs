//! The executor against real components built from source: well-behaved
//! plugins, every hostile behaviour with its exact classification, isolation
//! under concurrency, and the compiled-artifact cache.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use baton::wasm::{FailureKind, InvocationLimits, LogLevel, LogSource, StepFailure};
use baton_test_programs::{GUESTS_HOSTILE, GUESTS_KITCHEN_SINK, PLUGINS_ECHO};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_returns_its_input_and_the_attempt() {
    let (executor, _cache) = executor();
    let echo = load(&executor, PLUGINS_ECHO).await;
    assert_eq!(echo.info().name, "echo");
    assert_eq!(echo.info().version, "0.1.0");
    assert_eq!(echo.digest(), baton::wasm::digest(&read(PLUGINS_ECHO)));

    let report = executor
        .invoke(&echo, &invocation("greet"), r#"{"message":"hi","n":[1,2]}"#)
        .await;
    assert_eq!(
        report.outcome,
        Ok(json!({"input": {"message": "hi", "n": [1, 2]}, "step_id": "greet", "attempt": 1}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_that_is_not_json_is_refused_before_the_guest_runs() {
    let (executor, _cache) = executor();
    let echo = load(&executor, PLUGINS_ECHO).await;
    let report = run(&executor, &echo, "{not json").await;
    assert_eq!(
        report.outcome.unwrap_err().kind(),
        FailureKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kitchen_sink_sees_every_capability_denied_and_keeps_running() {
    let (executor, _cache) = executor();
    let sink = load(&executor, GUESTS_KITCHEN_SINK).await;

    let caps = &sink.info().capabilities;
    assert_eq!(caps.outbound_hosts, ["https://api.example.com"]);
    assert_eq!(caps.secrets, ["api-token"]);
    assert!(caps.kv);
    assert_eq!(caps.events, ["kitchen.done"]);
    assert_eq!(sink.info().input_schema["type"], "object");

    let report = run(&executor, &sink, "{}").await;
    let output = report.outcome.expect("kitchen sink succeeds");
    assert_eq!(output["run_id"], "run-1");
    assert_eq!(output["idempotency_key"], "run-1/s");
    assert_eq!(output["deadline_in_future"], true);
    for field in ["kv_get", "kv_set", "kv_delete", "kv_cas", "secret", "event"] {
        let text = output[field].as_str().unwrap();
        assert!(text.starts_with("not granted: "), "{field}: {text}");
    }
    assert!(output["secret"].as_str().unwrap().contains("\"api-token\""));
    assert_eq!(
        output["http"],
        "outbound HTTP refused: GET https://api.example.com is not granted to this plugin: no entry of its outbound allowlist allows this origin with this method"
    );

    let levels: Vec<_> = report
        .logs
        .iter()
        .filter(|l| l.source == LogSource::Plugin)
        .map(|l| l.level)
        .collect();
    assert_eq!(
        levels,
        [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ]
    );
    assert!(
        report
            .logs
            .iter()
            .any(|l| l.source == LogSource::Stdout && l.message == "hello from stdout")
    );
    // The host's own note of the refused HTTP request.
    let refusal = report.logs.last().unwrap();
    assert_eq!(refusal.source, LogSource::Host);
    assert_eq!(refusal.level, LogLevel::Warn);
    assert!(
        refusal.message.contains("GET https://api.example.com"),
        "{}",
        refusal.message
    );
    assert!(!refusal.message.contains("ping"), "paths are not logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_step_errors_keep_their_kind_and_message() {
    let (executor, _cache) = executor();
    let sink = load(&executor, GUESTS_KITCHEN_SINK).await;
    let cases = [
        (
            "invalid-input",
            StepFailure::InvalidInput {
                message: "fail was asked for".into(),
            },
        ),
        (
            "permanent",
            StepFailure::Permanent {
                message: "the remote said no".into(),
            },
        ),
        (
            "retryable",
            StepFailure::Retryable {
                message: "the remote is busy".into(),
                retry_after_ms: Some(1500),
            },
        ),
    ];
    for (fail, expected) in cases {
        let report = run(&executor, &sink, &json!({ "fail": fail }).to_string()).await;
        assert_eq!(report.outcome, Err(expected), "{fail}");
    }
    // `?` on a refused secret becomes a permanent failure.
    let report = run(&executor, &sink, r#"{"fail":"secret"}"#).await;
    assert_eq!(report.outcome.unwrap_err().kind(), FailureKind::Permanent);
    // Input that does not fit the input type is invalid input.
    let report = run(&executor, &sink, r#"{"fail": 3}"#).await;
    assert_eq!(
        report.outcome.unwrap_err().kind(),
        FailureKind::InvalidInput
    );
}

/// One hostile behaviour and what it must be classified as.
struct Attack {
    name: &'static str,
    kind: FailureKind,
    /// Text the failure's message must contain.
    says: &'static str,
}

const ATTACKS: &[Attack] = &[
    Attack {
        name: "infinite-loop",
        kind: FailureKind::CpuBudgetExceeded,
        says: "300 ms",
    },
    Attack {
        name: "denied-imports",
        kind: FailureKind::CpuBudgetExceeded,
        says: "300 ms",
    },
    Attack {
        name: "memory-bomb",
        kind: FailureKind::MemoryLimitExceeded,
        says: "33554432-byte",
    },
    Attack {
        name: "deep-recursion",
        kind: FailureKind::StackOverflow,
        says: "stack",
    },
    Attack {
        name: "giant-output",
        kind: FailureKind::InvalidOutput,
        says: "over the limit of 262144 bytes",
    },
    Attack {
        name: "not-json",
        kind: FailureKind::InvalidOutput,
        says: "not JSON",
    },
    Attack {
        name: "panic",
        kind: FailureKind::Trap,
        says: "hostile guest panicked on purpose",
    },
    Attack {
        name: "huge-log-line",
        kind: FailureKind::Trap,
        says: "too much data",
    },
    Attack {
        name: "sleep",
        kind: FailureKind::Timeout,
        says: "2000 ms",
    },
    Attack {
        name: "no-such-attack",
        kind: FailureKind::InvalidInput,
        says: "unknown attack",
    },
];

/// Slack on top of a limit for the time an attack may take to be stopped:
/// scheduling on a loaded 2-core machine, not a performance target.
const STOP_SLACK: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hostile_behaviour_gets_its_exact_classification_within_its_limit() {
    let (executor, _cache) = executor();
    let hostile = load(&executor, GUESTS_HOSTILE).await;
    let limits = tight_limits();
    for attack in ATTACKS {
        let report = run(
            &executor,
            &hostile,
            &json!({ "attack": attack.name }).to_string(),
        )
        .await;
        let failure = report.outcome.expect_err(attack.name);
        assert_eq!(failure.kind(), attack.kind, "{}: {failure}", attack.name);
        assert!(
            failure.to_string().contains(attack.says),
            "{}: {failure}",
            attack.name
        );
        assert!(
            report.duration < limits.wall_timeout + STOP_SLACK,
            "{} took {:?}",
            attack.name,
            report.duration
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_carries_a_demangled_backtrace() {
    let (executor, _cache) = executor();
    let hostile = load(&executor, GUESTS_HOSTILE).await;
    let report = run(&executor, &hostile, r#"{"attack":"panic"}"#).await;
    let Err(StepFailure::Trap { message, backtrace }) = report.outcome else {
        panic!("expected a trap");
    };
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        backtrace.iter().any(|f| f.starts_with("run ")),
        "{backtrace:?}"
    );
    assert!(
        backtrace.iter().any(|f| f.contains("core::panicking")),
        "{backtrace:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_bounded_and_counted() {
    let (executor, _cache) = executor();
    let hostile = load(&executor, GUESTS_HOSTILE).await;
    let limits = InvocationLimits {
        cpu_budget: Duration::from_secs(20),
        wall_timeout: Duration::from_secs(30),
        ..tight_limits()
    };
    let report = executor
        .invoke_with_limits(
            &hostile,
            &invocation("s"),
            r#"{"attack":"log-flood"}"#,
            &limits,
        )
        .await
        .expect("limits fit");
    eprintln!("log flood took {:?}", report.duration);
    assert_eq!(report.outcome, Ok(json!({"flooded": true})));
    assert_eq!(report.logs.len(), tight_limits().max_log_lines);
    assert_eq!(report.logs_dropped, 200_000 - report.logs.len() as u64);
    assert_eq!(report.logs[0].message, "flood line 0");
    assert_eq!(report.logs[1].source, LogSource::Stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_invocations_do_not_disturb_concurrent_ones() {
    let (executor, _cache) = executor();
    let hostile = load(&executor, GUESTS_HOSTILE).await;
    let echo = load(&executor, PLUGINS_ECHO).await;
    let mut tasks = tokio::task::JoinSet::new();
    for attack in ATTACKS {
        let (executor, hostile) = (executor.clone(), hostile.clone());
        tasks.spawn(async move {
            let input = json!({ "attack": attack.name }).to_string();
            let report = run(&executor, &hostile, &input).await;
            (attack.name, Some(attack.kind), report)
        });
    }
    for i in 0..6 {
        let (executor, echo) = (executor.clone(), echo.clone());
        tasks.spawn(async move {
            // Stagger the well-behaved calls across the hostile ones.
            tokio::time::sleep(Duration::from_millis(100 * i)).await;
            let report = run(&executor, &echo, &json!({ "i": i }).to_string()).await;
            ("echo", None, report)
        });
    }
    let mut echoes = 0;
    while let Some(done) = tasks.join_next().await {
        let (name, expected, report) = done.expect("task");
        match expected {
            Some(kind) => assert_eq!(report.outcome.unwrap_err().kind(), kind, "{name}"),
            None => {
                assert!(report.outcome.is_ok(), "{:?}", report.outcome);
                echoes += 1;
            }
        }
    }
    assert_eq!(echoes, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_invocation_limits_override_the_defaults() {
    let (executor, _cache) = executor();
    let echo = load(&executor, PLUGINS_ECHO).await;
    let mut limits = tight_limits();
    limits.max_output_bytes = 10;
    let report = executor
        .invoke_with_limits(&echo, &invocation("s"), "{}", &limits)
        .await
        .expect("limits fit the pool");
    assert_eq!(
        report.outcome.unwrap_err().kind(),
        FailureKind::InvalidOutput
    );

    limits.memory_bytes = u64::MAX;
    let refused = executor
        .invoke_with_limits(&echo, &invocation("s"), "{}", &limits)
        .await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("above the pool's largest memory")
    );
}
