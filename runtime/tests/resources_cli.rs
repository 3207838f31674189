//! `baton apply|get|delete` and `baton approval ...` against a real `baton
//! serve`: the examples in `examples/resources/` apply (and stay in sync
//! with each other), listings and documents print as people read them,
//! problems print with their paths, and an approval is decided from the
//! command line.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use baton_test_programs::PLUGINS_ECHO;
use serde_json::Value;
use support::BATON;
use support::server::{Server, cli, err, out};

/// The examples, from the repository root.
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/resources");
/// Each per-kind example file; together they hold `incident.yaml`'s
/// documents.
const KIND_FILES: &[&str] = &[
    "workflows.yaml",
    "policies.yaml",
    "webhooks.yaml",
    "rules.yaml",
    "schedules.yaml",
];
/// The secret of the example webhook, which must never be shown.
const WEBHOOK_SECRET: &str = "replace-me-with-a-long-random-secret";
/// How long an approval may take to appear after its run starts.
const WAIT: Duration = Duration::from_secs(20);

/// Runs a command that must succeed; its stdout.
fn ok(server: &Server, token: &str, args: &[&str]) -> String {
    let output = cli(server, token, args);
    assert!(output.status.success(), "{args:?}: {}", err(&output));
    out(&output)
}

fn example(file: &str) -> String {
    format!("{EXAMPLES}/{file}")
}

/// The lines of an apply, sorted.
fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn resources_are_applied_listed_shown_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.token.clone();
    ok(&server, &admin, &["plugin", "push", PLUGINS_ECHO]);
    let incident = example("incident.yaml");

    // A dry run reports what would be created, and saves nothing.
    let dry = cli(&server, &admin, &["apply", "-f", &incident, "--dry-run"]);
    assert!(dry.status.success(), "{}", err(&dry));
    assert!(err(&dry).contains("dry run"), "{}", err(&dry));
    let created = vec![
        "Policy/break-glass created (revision 1)",
        "Policy/compute-needs-approval created (revision 1)",
        "Policy/weekend-freeze created (revision 1)",
        "Rule/high-cpu created (revision 1)",
        "Schedule/nightly-report created (revision 1)",
        "Webhook/grafana created (revision 1)",
        "Workflow/incident created (version 1)",
        "Workflow/nightly-report created (version 1)",
    ];
    assert_eq!(sorted_lines(&out(&dry)), created);
    assert_eq!(
        ok(&server, &admin, &["get", "rules"]).trim(),
        "NAME  REVISION  UPDATED"
    );

    // For real, then again: nothing changes the second time.
    let applied = ok(&server, &admin, &["apply", "-f", &incident]);
    assert_eq!(sorted_lines(&applied), created);
    let again = ok(&server, &admin, &["apply", "-f", &incident]);
    let unchanged: Vec<String> = created
        .iter()
        .map(|line| line.replace("created", "unchanged"))
        .collect();
    assert_eq!(sorted_lines(&again), unchanged);
    // The per-kind files hold the same documents as incident.yaml.
    for file in KIND_FILES {
        let applied = ok(&server, &admin, &["apply", "-f", &example(file)]);
        assert!(
            applied.lines().all(|line| line.contains(" unchanged (")),
            "{file} differs from incident.yaml:\n{applied}"
        );
    }
    // From stdin, as JSON.
    let piped = Command::new(BATON)
        .args(["apply", "-f", "-", "--json"])
        .env("BATON_URL", &server.url)
        .env("BATON_TOKEN", &admin)
        .stdin(std::fs::File::open(example("rules.yaml")).unwrap())
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", err(&piped));
    let piped: Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(piped["dry_run"], false);
    assert_eq!(piped["resources"][0]["action"], "unchanged");

    // Listings and documents.
    let rules = ok(&server, &admin, &["get", "rules"]);
    let lines: Vec<&str> = rules.lines().collect();
    assert_eq!(lines[0], "NAME      REVISION  UPDATED", "{rules}");
    assert!(lines[1].starts_with("high-cpu  1         "), "{rules}");
    let rule: Value =
        serde_json::from_str(&ok(&server, &admin, &["get", "rule", "high-cpu", "--json"])).unwrap();
    assert_eq!(rule["kind"], "Rule");
    assert_eq!(rule["revision"], 1);
    assert_eq!(rule["spec"]["workflow"], "incident");
    assert_eq!(rule["spec"]["correlate"]["window"], "1h");
    let document = ok(&server, &admin, &["get", "rule", "high-cpu"]);
    assert!(
        document.starts_with("# Rule high-cpu revision 1, updated "),
        "{document}"
    );
    assert!(
        document.contains("kind: Rule\nname: high-cpu\n"),
        "{document}"
    );
    let policies = ok(&server, &admin, &["get", "policies"]);
    assert_eq!(policies.lines().count(), 4, "{policies}");
    let workflows = ok(&server, &admin, &["get", "workflows"]);
    assert!(workflows.contains("incident"), "{workflows}");
    assert!(workflows.contains("nightly-report"), "{workflows}");
    let workflow = ok(&server, &admin, &["get", "workflow", "incident"]);
    assert!(workflow.contains("wait_for:"), "{workflow}");

    // Webhook secrets never come back.
    let webhooks = ok(&server, &admin, &["get", "webhooks"]);
    assert!(webhooks.contains("grafana"), "{webhooks}");
    for shown in [
        ok(&server, &admin, &["get", "webhooks", "--json"]),
        ok(&server, &admin, &["get", "webhook", "grafana"]),
    ] {
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains(WEBHOOK_SECRET), "{shown}");
    }

    // A file with problems: every one with its path, nothing saved, exit 3.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "kind: Rule\nname: orphan\non: x.y\nworkflow: missing\n---\n\
         kind: Schedule\nname: never\ncron: \"61 * * * *\"\nworkflow: incident\n---\n\
         kind: Policy\nname: odd\nif: plugin.name == 'x'\neffect: deny\ncolour: red\n",
    )
    .unwrap();
    let refused = cli(
        &server,
        &admin,
        &["apply", "-f", &bad.display().to_string()],
    );
    assert_eq!(refused.status.code(), Some(3), "{}", err(&refused));
    for path in ["[0].workflow: ", "[1].cron: ", "[2].colour: "] {
        assert!(err(&refused).contains(path), "{path}: {}", err(&refused));
    }
    assert!(!ok(&server, &admin, &["get", "rules"]).contains("orphan"));

    // Usage errors exit 2; unknown names are the server's 404, exit 3.
    let unknown = cli(&server, &admin, &["get", "tickets"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", err(&unknown));
    let workflow = cli(&server, &admin, &["delete", "workflow", "incident"]);
    assert_eq!(workflow.status.code(), Some(2), "{}", err(&workflow));
    let missing = cli(&server, &admin, &["get", "rule", "nope"]);
    assert_eq!(missing.status.code(), Some(3), "{}", err(&missing));
    let unreadable = cli(&server, &admin, &["apply", "-f", "/nonexistent.yaml"]);
    assert_eq!(unreadable.status.code(), Some(2), "{}", err(&unreadable));

    // Deleting.
    let deleted = ok(&server, &admin, &["delete", "rule", "high-cpu"]);
    assert_eq!(deleted.trim(), "Rule/high-cpu deleted");
    assert!(!ok(&server, &admin, &["get", "rules"]).contains("high-cpu"));
    let twice = cli(&server, &admin, &["delete", "rule", "high-cpu"]);
    assert_eq!(twice.status.code(), Some(3), "{}", err(&twice));
    assert!(server.stop().success());
}

/// Polls `approval list --run RUN --json` until it lists one approval.
fn pending_approval(server: &Server, token: &str, run: &str) -> Value {
    let started = Instant::now();
    loop {
        let page: Value = serde_json::from_str(&ok(
            server,
            token,
            &["approval", "list", "--run", run, "--json"],
        ))
        .unwrap();
        if let Some(approval) = page["approvals"].get(0) {
            return approval.clone();
        }
        assert!(started.elapsed() < WAIT, "no approval for run {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn approvals_are_listed_and_decided() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.token.clone();

    // Nothing to decide yet: the header only.
    let empty = ok(&server, &admin, &["approval", "list"]);
    assert_eq!(
        empty.trim(),
        "ID  RUN  STEP  GATE  STATUS  MESSAGE  DEADLINE"
    );

    let gate = dir.path().join("gate.yaml");
    std::fs::write(
        &gate,
        "kind: Workflow\nname: gate\nsteps:\n  - id: ask\n    approval:\n      \
         message: Ship it?\n      timeout: 1h\noutputs: \"${{ steps.ask.output }}\"\n",
    )
    .unwrap();
    ok(
        &server,
        &admin,
        &["apply", "-f", &gate.display().to_string()],
    );
    let run = ok(&server, &admin, &["run", "start", "gate"])
        .trim()
        .to_string();
    let approval = pending_approval(&server, &admin, &run);
    let id = approval["id"].as_str().unwrap().to_string();
    assert_eq!(approval["status"], "pending");

    let listed = ok(
        &server,
        &admin,
        &["approval", "list", "--status", "pending"],
    );
    let row = listed.lines().nth(1).unwrap_or_default();
    for cell in [
        id.as_str(),
        run.as_str(),
        "ask",
        "step",
        "pending",
        "Ship it?",
    ] {
        assert!(row.contains(cell), "{cell}: {listed}");
    }
    let shown = ok(&server, &admin, &["approval", "show", &id]);
    assert!(shown.contains("approvers:"), "{shown}");
    assert!(shown.contains("any operator or admin"), "{shown}");
    assert!(shown.contains("requested by: token:admin"), "{shown}");

    // Whoever started the run may not decide it.
    let own = cli(&server, &admin, &["approval", "approve", &id]);
    assert_eq!(own.status.code(), Some(3), "{}", err(&own));
    assert!(err(&own).contains("separation of duties"), "{}", err(&own));

    let operator = ok(
        &server,
        &admin,
        &["token", "create", "--name", "ops", "--role", "operator"],
    )
    .trim()
    .to_string();
    let decided = ok(
        &server,
        &operator,
        &["approval", "approve", &id, "--comment", "looks fine"],
    );
    assert!(
        decided.starts_with(&format!("approval {id} approved by token:ops")),
        "{decided}"
    );
    let again = cli(&server, &operator, &["approval", "reject", &id]);
    assert_eq!(again.status.code(), Some(3), "{}", err(&again));
    let shown = ok(&server, &admin, &["approval", "show", &id]);
    assert!(shown.contains("comment:      looks fine"), "{shown}");

    let watched = ok(&server, &admin, &["run", "watch", &run]);
    let output: Value = serde_json::from_str(&watched).unwrap();
    assert_eq!(output["approved"], true);
    assert_eq!(output["by"], "token:ops");
    assert!(server.stop().success());
}
