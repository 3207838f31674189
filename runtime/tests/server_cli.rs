//! The `baton` CLI as a client of a real `baton serve`: push, apply, start
//! and watch, listings, logs, tokens, and the exit codes of failures.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::process::Command;

use baton_test_programs::GUESTS_TOOLBOX;
use serde_json::{Value, json};
use support::BATON;
use support::server::{FLOW, Server, cli, err, out};

#[test]
fn the_cli_drives_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.token.clone();
    let flow = dir.path().join("flow.yaml");
    std::fs::write(&flow, FLOW).unwrap();
    let flow = flow.display().to_string();

    let pushed = cli(&server, &admin, &["plugin", "push", GUESTS_TOOLBOX]);
    assert!(pushed.status.success(), "{}", err(&pushed));
    assert!(
        out(&pushed).starts_with("pushed toolbox@"),
        "{}",
        out(&pushed)
    );
    let listed = cli(&server, &admin, &["plugin", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "toolbox");

    let applied = cli(&server, &admin, &["workflow", "apply", &flow]);
    assert!(applied.status.success(), "{}", err(&applied));
    assert_eq!(out(&applied).trim(), "saved flow version 1");
    let shown = cli(&server, &admin, &["workflow", "show", "flow"]);
    assert!(out(&shown).contains("uses: toolbox"));

    // Start and watch to the end: the output on stdout, progress on stderr.
    let watched = cli(
        &server,
        &admin,
        &["run", "start", "flow", "--input", r#"{"n": 4}"#, "--watch"],
    );
    assert!(watched.status.success(), "{}", err(&watched));
    let output: Value = serde_json::from_str(&out(&watched)).unwrap();
    assert_eq!(output, json!({"doubled": 8}));
    assert!(err(&watched).contains("succeeded"), "{}", err(&watched));

    let runs = cli(&server, &admin, &["run", "list", "--json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    let id = runs["runs"][0]["id"].as_str().unwrap().to_string();
    let table = cli(&server, &admin, &["run", "list"]);
    assert!(out(&table).starts_with("ID"));
    assert!(out(&table).contains(&id));
    let shown = cli(&server, &admin, &["run", "show", &id]);
    assert!(out(&shown).contains("succeeded"), "{}", out(&shown));
    let logs = cli(&server, &admin, &["run", "logs", &id]);
    assert!(out(&logs).contains("hello"), "{}", out(&logs));

    // A run that fails: watch exits 1.
    let breaks = dir.path().join("breaks.yaml");
    std::fs::write(
        &breaks,
        "name: breaks\nsteps:\n  - id: x\n    uses: toolbox\n    with: { fail: permanent }\n",
    )
    .unwrap();
    let applied = cli(
        &server,
        &admin,
        &["workflow", "apply", &breaks.display().to_string()],
    );
    assert!(applied.status.success(), "{}", err(&applied));
    let failed = cli(&server, &admin, &["run", "start", "breaks", "--watch"]);
    assert_eq!(failed.status.code(), Some(1), "{}", err(&failed));
    assert!(err(&failed).contains("failed"), "{}", err(&failed));

    // An input the schema refuses: the server's problem, exit 3.
    let failing = cli(
        &server,
        &admin,
        &["run", "start", "flow", "--input", r#"{"m": 1}"#],
    );
    assert_eq!(failing.status.code(), Some(3), "{}", err(&failing));
    assert!(err(&failing).contains("Invalid input"), "{}", err(&failing));

    // Tokens: a viewer may read but not start.
    let created = cli(
        &server,
        &admin,
        &["token", "create", "--name", "eve", "--role", "viewer"],
    );
    assert!(created.status.success(), "{}", err(&created));
    let viewer = out(&created).trim().to_string();
    let refused = cli(&server, &viewer, &["run", "start", "flow"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        err(&refused).contains("Forbidden (403)"),
        "{}",
        err(&refused)
    );
    let read = cli(&server, &viewer, &["run", "list"]);
    assert!(read.status.success());
    let revoked = cli(&server, &admin, &["token", "revoke", "eve"]);
    assert!(revoked.status.success());
    let after = cli(&server, &viewer, &["run", "list"]);
    assert_eq!(after.status.code(), Some(3));
    assert!(err(&after).contains("Unauthorized (401)"));

    // Unknown ids and bad files are clear errors.
    let missing = cli(&server, &admin, &["run", "show", "nope"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(err(&missing).contains("no run `nope`"), "{}", err(&missing));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: flow\nsteps:\n  - id: a\n    uses: nope\n").unwrap();
    let invalid = cli(
        &server,
        &admin,
        &["workflow", "apply", &bad.display().to_string()],
    );
    assert_eq!(invalid.status.code(), Some(3));
    assert!(err(&invalid).contains("steps[0].uses"), "{}", err(&invalid));

    // A server that is not there.
    let nowhere = Command::new(BATON)
        .args(["run", "list", "--url", "http://127.0.0.1:9"])
        .env_remove("BATON_TOKEN")
        .output()
        .unwrap();
    assert_eq!(nowhere.status.code(), Some(4), "{}", err(&nowhere));
    assert!(err(&nowhere).contains("cannot reach http://127.0.0.1:9"));
    assert!(server.stop().success());
}
