//! `baton workflow run|validate|resume` as an operator uses them: real
//! processes, real components, exit codes and streams checked.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use baton_test_programs::GUESTS_TOOLBOX;
use support::BATON;

fn baton(args: &[&str], dir: &tempfile::TempDir) -> Output {
    Command::new(BATON)
        .args(args)
        .env("BATON_CACHE_DIR", dir.path().join("cache"))
        .current_dir(dir.path())
        .output()
        .expect("run baton")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, content: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

const PLUGIN: &str = "--plugin";

fn toolbox() -> String {
    format!("toolbox={GUESTS_TOOLBOX}")
}

#[test]
fn run_shows_progress_and_prints_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        &dir,
        "flow.yaml",
        "name: twice\nsteps:\n  - id: one\n    uses: toolbox\n    with: { value: \"${{ input.n }}\" }\n  - id: two\n    needs: [one]\n    uses: toolbox\n    with: { value: \"${{ steps.one.output.value * 2 }}\" }\noutputs: { doubled: \"${{ steps.two.output.value }}\" }\n",
    );
    let out = baton(
        &[
            "workflow",
            "run",
            &flow,
            "--input",
            r#"{"n": 21}"#,
            PLUGIN,
            &toolbox(),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"doubled": 42}));
    let progress = text(&out.stderr);
    for line in [
        "run twice: running",
        "one: running",
        "one: succeeded",
        "two: succeeded",
        "run twice: succeeded",
    ] {
        assert!(progress.contains(line), "missing {line:?} in\n{progress}");
    }

    let json = baton(
        &[
            "workflow",
            "run",
            &flow,
            "--quiet",
            "--json",
            "--input",
            r#"{"n": 1}"#,
            PLUGIN,
            &toolbox(),
        ],
        &dir,
    );
    assert!(json.status.success());
    assert!(json.stderr.is_empty(), "--quiet: {}", text(&json.stderr));
    let state: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(state["status"], "succeeded");
    assert_eq!(state["steps"][1]["attempts"][0]["status"], "succeeded");
}

#[test]
fn a_failed_run_exits_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        &dir,
        "flow.yaml",
        "name: doomed\nsteps:\n  - id: boom\n    uses: toolbox\n    with: { fail: permanent }\n",
    );
    let out = baton(
        &["workflow", "run", &flow, "--quiet", PLUGIN, &toolbox()],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("failed") && stderr.contains("asked to fail"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_workflow_exits_3_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        &dir,
        "bad.yaml",
        "name: bad\nsteps:\n  - id: a\n    uses: toolbox\n    needs: [b]\n  - id: b\n    uses: toolbox\n    needs: [a]\n  - id: c\n    sleep: soon\n",
    );
    for command in ["validate", "run"] {
        let out = baton(&["workflow", command, &flow, PLUGIN, &toolbox()], &dir);
        assert_eq!(out.status.code(), Some(3), "{command}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("cycle: "), "{stderr}");
        assert!(stderr.contains("steps[2].sleep: "), "{stderr}");
    }
    let good = write(
        &dir,
        "good.yaml",
        "name: good\nsteps:\n  - id: a\n    uses: toolbox\n",
    );
    let out = baton(&["workflow", "validate", &good, PLUGIN, &toolbox()], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("workflow `good` is valid"));
}

#[test]
fn bad_usage_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        &dir,
        "flow.yaml",
        "name: ok\nsteps:\n  - id: a\n    uses: toolbox\n",
    );
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["workflow", "run", &flow, "--input", "{nope"],
            2,
            "--input is not valid JSON",
        ),
        (
            &["workflow", "run", "/no/such/flow.yaml"],
            2,
            "cannot read /no/such/flow.yaml",
        ),
        (&["workflow", "resume"], 2, "resume needs --data-dir"),
        (
            &["workflow", "run", &flow, PLUGIN, "other=/no/such.wasm"],
            2,
            "cannot read /no/such.wasm",
        ),
        (
            &[
                "workflow",
                "run",
                &flow,
                PLUGIN,
                &format!("echo={GUESTS_TOOLBOX}"),
            ],
            3,
            "describes itself as plugin `toolbox`, not `echo`",
        ),
        (
            &["workflow", "run", &flow, "--input", r#"{}"#],
            3,
            "no plugin `toolbox`",
        ),
    ];
    for (args, code, message) in cases {
        let out = baton(args, &dir);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(message),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_data_directory_serves_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let flow = write(
        &dir,
        "flow.yaml",
        "name: nap\nsteps:\n  - id: nap\n    sleep: 1h\n",
    );
    let mut first = Command::new(BATON)
        .args(["workflow", "run", &flow, "--data-dir", &data])
        .env("BATON_CACHE_DIR", dir.path().join("cache"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(first.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().ends_with("nap: waiting") {
            break;
        }
    }
    let second = baton(&["workflow", "resume", "--data-dir", &data], &dir);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(second.status.code(), Some(3));
    assert!(
        text(&second.stderr).contains("another baton process is using"),
        "{}",
        text(&second.stderr)
    );
}

#[test]
fn the_example_workflow_validates_against_the_example_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/workflows/hello.yaml"
    );
    let greet = format!("greet={}", baton_test_programs::EXAMPLES_GREET);
    let out = baton(&["workflow", "validate", example, PLUGIN, &greet], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
