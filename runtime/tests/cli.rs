//! `baton plugin run` and `baton plugin inspect` as a plugin author uses
//! them: real processes, real components, exit codes and streams checked.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::process::{Command, Output};

use baton_test_programs::{
    EXAMPLES_GREET, GUESTS_HOSTILE, GUESTS_KITCHEN_SINK, GUESTS_WRONG_WORLD, PLUGINS_ECHO,
};
use support::BATON;

fn baton(args: &[&str], cache: &tempfile::TempDir) -> Output {
    Command::new(BATON)
        .args(args)
        .env("BATON_CACHE_DIR", cache.path())
        .output()
        .expect("run baton")
}

/// `baton plugin run COMPONENT --input INPUT EXTRA...`.
fn plugin_run(component: &str, input: &str, extra: &[&str], cache: &tempfile::TempDir) -> Output {
    let mut args = vec!["plugin", "run", component, "--input", input];
    args.extend_from_slice(extra);
    baton(&args, cache)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_prints_the_output_json_on_stdout() {
    let cache = tempfile::tempdir().unwrap();
    let out = plugin_run(PLUGINS_ECHO, r#"{"x":1}"#, &["--step-id", "probe"], &cache);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        output,
        serde_json::json!({"input": {"x": 1}, "step_id": "probe", "attempt": 1})
    );
}

#[test]
fn run_shows_plugin_logs_on_stderr() {
    let cache = tempfile::tempdir().unwrap();
    let out = baton(&["plugin", "run", GUESTS_KITCHEN_SINK], &cache);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("[warn] warn line"), "{stderr}");
    assert!(
        stderr.contains("[info stdout] hello from stdout"),
        "{stderr}"
    );
}

#[test]
fn run_json_reports_everything_on_stdout() {
    let cache = tempfile::tempdir().unwrap();
    let out = plugin_run(
        GUESTS_HOSTILE,
        r#"{"attack":"not-json"}"#,
        &["--json"],
        &cache,
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["kind"], "invalid-output");
    assert!(report["output"].is_null());
}

#[test]
fn a_failed_step_exits_1_with_the_classified_error() {
    let cache = tempfile::tempdir().unwrap();
    let out = plugin_run(
        GUESTS_HOSTILE,
        r#"{"attack":"infinite-loop"}"#,
        &["--cpu", "200ms"],
        &cache,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr)
            .contains("error: cpu-budget-exceeded: the step used its CPU budget of 200 ms"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_stack_size_is_a_flag() {
    let cache = tempfile::tempdir().unwrap();
    // Even `describe`, run while loading, cannot work in 1 KiB.
    let out = plugin_run(GUESTS_KITCHEN_SINK, "{}", &["--stack", "1KiB"], &cache);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stack-overflow"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_refused_component_exits_3_naming_the_problem() {
    let cache = tempfile::tempdir().unwrap();
    let out = baton(&["plugin", "inspect", GUESTS_WRONG_WORLD], &cache);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("does not implement the baton:plugin step world"));

    let out = baton(&["plugin", "run", "/nonexistent.wasm"], &cache);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("cannot read /nonexistent.wasm"));
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let cache = tempfile::tempdir().unwrap();
    let out = plugin_run(PLUGINS_ECHO, "{oops", &[], &cache);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("the input is not valid JSON"));

    let out = baton(&["plugin", "run", PLUGINS_ECHO, "--memory", "lots"], &cache);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--memory"),
        "{}",
        text(&out.stderr)
    );

    let out = baton(&["plugin", "run", PLUGINS_ECHO, "--timeout", "0s"], &cache);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("must be above zero"));
}

#[test]
fn inspect_prints_what_describe_returns() {
    let cache = tempfile::tempdir().unwrap();
    let out = baton(&["plugin", "inspect", GUESTS_KITCHEN_SINK], &cache);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["name"], "kitchen-sink");
    assert_eq!(
        info["capabilities"]["secrets"],
        serde_json::json!(["api-token"])
    );
    assert_eq!(info["digest"].as_str().unwrap().len(), 64);
}

#[test]
fn the_readme_quick_start_plugin_greets() {
    let cache = tempfile::tempdir().unwrap();
    let out = plugin_run(EXAMPLES_GREET, r#"{"name":"Ada"}"#, &[], &cache);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"greeting": "Hello, Ada!"}));
    assert!(text(&out.stderr).contains("[info] greeting on attempt 1"));

    let out = plugin_run(EXAMPLES_GREET, r#"{"name":" "}"#, &[], &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error: invalid-input: name must not be empty"));
}

#[test]
fn serve_checks_its_ca_file_before_creating_anything() {
    let cache = tempfile::tempdir().unwrap();
    let data = cache.path().join("data");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tls");
    let serve = |ca: &str| {
        baton(
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
                "--ca-file",
                ca,
            ],
            &cache,
        )
    };

    let out = serve("/nonexistent/ca.pem");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot read the CA file /nonexistent/ca.pem"),
        "{}",
        text(&out.stderr)
    );
    let key = format!("{fixtures}/server.key");
    let out = serve(&key);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("holds no PEM certificate"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !data.exists(),
        "a refused setting created the data directory"
    );

    // A good bundle: the server starts and says what it trusts.
    let mut child = Command::new(BATON)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--ca-file")
        .arg(format!("{fixtures}/ca.pem"))
        .env("BATON_CACHE_DIR", cache.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(
        line.starts_with("baton listening on http://127.0.0.1:"),
        "{line}"
    );
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = text(&out.stderr);
    assert!(
        log.contains("outbound TLS trusts extra certificate authorities")
            && log.contains("authorities=1"),
        "{log}"
    );
}
