//! Event-driven orchestration end to end against a real `baton serve`:
//! Alertmanager alerts driving a rule into a run, correlation of repeated
//! firing, the resolved alert waking a `wait_for` step, approvals with
//! separation of duties, and policies of every effect. Webhooks and the
//! role checks of the new routes are in `resources_api.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on anything unexpected"
)]

mod support;

use std::time::{Duration, Instant};

use baton_test_programs::GUESTS_TOOLBOX;
use reqwest::StatusCode;
use serde_json::{Value, json};

use support::server::{Server, apply, create_token as token, problem};

const FIRING: &str = include_str!("../../tests/fixtures/alertmanager-v4-firing.json");
const RESOLVED: &str = include_str!("../../tests/fixtures/alertmanager-v4-resolved.json");
const FINGERPRINT: &str = "407897479c00a123";

const INCIDENT: &str = r#"
kind: Workflow
name: incident
input: {type: object, required: [fingerprint]}
steps:
  - id: diagnose
    uses: toolbox
    with: {value: 1}
  - id: resolved
    needs: [diagnose]
    wait_for:
      event: alertmanager.alert.resolved
      if: event.subject == input.fingerprint
      timeout: 1h
  - id: change
    needs: [resolved]
    approval:
      approvers: {roles: [operator]}
      message: "Open a change for ${{ input.fingerprint }}?"
      timeout: 4h
  - id: open-change
    needs: [change]
    if: steps.change.output.approved
    uses: toolbox
    with: {value: 2}
outputs:
  resolved: "${{ !steps.resolved.output.timed_out }}"
  approved: "${{ steps.change.output.approved }}"
  by: "${{ steps.change.output.by }}"
---
kind: Rule
name: disk-alerts
on: alertmanager.alert.firing
if: event.data.labels.severity == 'critical'
workflow: incident
input:
  fingerprint: "${{ event.subject }}"
  alert: "${{ event.data }}"
correlate: {key: event.subject, window: 1h}
---
kind: Rule
name: ignored
on: alertmanager.alert.firing
if: event.data.labels.severity == 'info'
workflow: incident
"#;

async fn alert(http: &reqwest::Client, server: &Server, body: &str) -> i64 {
    let answer: Value = http
        .post(server.at("/v1/hooks/alertmanager"))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["events"][0]["seq"].as_i64().expect("stored")
}

/// Polls `path` until `done` holds (a guard against hangs, not timing).
async fn until(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = server.get(http, path).await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

async fn decide(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    id: &str,
    decision: &str,
) -> reqwest::Response {
    http.post(server.at(&format!("/v1/approvals/{id}")))
        .bearer_auth(token)
        .json(&json!({"decision": decision, "comment": "checked the dashboards"}))
        .send()
        .await
        .unwrap()
}

/// Waits for the run's first approval; the page.
async fn approvals_of(http: &reqwest::Client, server: &Server, run: &str) -> Value {
    until(http, server, &format!("/v1/approvals?run={run}"), |p| {
        !p["approvals"].as_array().unwrap().is_empty()
    })
    .await
}

/// Decides, which must succeed.
async fn decided(http: &reqwest::Client, server: &Server, token: &str, id: &str, decision: &str) {
    let answer = decide(http, server, token, id, decision).await;
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_alert_starts_one_incident_that_waits_for_its_resolution_and_an_approval() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    assert_eq!(
        server.upload(&http, GUESTS_TOOLBOX).await.status(),
        StatusCode::CREATED
    );
    let applied: Value = apply(&http, &server, &server.token, INCIDENT)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = applied["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "created", "created"], "{applied}");

    // The firing alert: the critical rule starts a run, the other does not match.
    let firing = alert(&http, &server, FIRING).await;
    let event = server.get(&http, &format!("/v1/events/{firing}")).await;
    let consequences = event["consequences"].as_array().unwrap();
    assert_eq!(consequences.len(), 1, "{event}");
    assert_eq!(consequences[0]["rule"], "disk-alerts");
    assert_eq!(consequences[0]["outcome"], "started");
    let run_id = consequences[0]["run_id"].as_str().unwrap().to_string();
    let run_path = format!("/v1/runs/{run_id}");
    let run = until(&http, &server, &run_path, |r| {
        step(r, "resolved")["status"] == "waiting"
    })
    .await;
    assert_eq!(run["input"]["fingerprint"], FINGERPRINT);
    assert_eq!(run["started_by"], "rule:disk-alerts");
    assert_eq!(run["event_seq"], firing);

    // The same alert firing again (a new firing of the same fingerprint)
    // inside the window is delivered to the running incident.
    let mut again: Value = serde_json::from_str(FIRING).unwrap();
    again["alerts"][0]["startsAt"] = json!("2026-12-04T10:00:00Z");
    let repeated = alert(&http, &server, &again.to_string()).await;
    let event = server.get(&http, &format!("/v1/events/{repeated}")).await;
    assert_eq!(event["consequences"][0]["outcome"], "delivered", "{event}");
    assert_eq!(event["consequences"][0]["run_id"], run_id.as_str());
    let runs = server.get(&http, "/v1/runs?workflow=incident").await;
    assert_eq!(
        runs["runs"].as_array().unwrap().len(),
        1,
        "one incident: {runs}"
    );

    // The resolution wakes the wait.
    let resolved = alert(&http, &server, RESOLVED).await;
    let event = server.get(&http, &format!("/v1/events/{resolved}")).await;
    assert_eq!(event["consequences"][0]["outcome"], "woke", "{event}");
    assert_eq!(event["consequences"][0]["step_id"], "resolved");
    let run = until(&http, &server, &run_path, |r| {
        step(r, "change")["status"] == "waiting"
    })
    .await;
    assert_eq!(step(&run, "resolved")["output"]["timed_out"], false);
    assert_eq!(
        step(&run, "resolved")["output"]["event"]["subject"],
        FINGERPRINT
    );

    // The approval: a viewer cannot decide; an operator can.
    let pending = server.get(&http, "/v1/approvals?status=pending").await;
    let approvals = pending["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{pending}");
    assert_eq!(
        approvals[0]["message"],
        format!("Open a change for {FINGERPRINT}?")
    );
    assert_eq!(approvals[0]["requested_by"], "rule:disk-alerts");
    let id = approvals[0]["id"].as_str().unwrap().to_string();
    let viewer = token(&http, &server, "vera", "viewer").await;
    problem(
        decide(&http, &server, &viewer, &id, "approve").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let operator = token(&http, &server, "olga", "operator").await;
    let decided = decide(&http, &server, &operator, &id, "approve").await;
    assert_eq!(decided.status(), StatusCode::OK);
    problem(
        decide(&http, &server, &operator, &id, "reject").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let run = until(&http, &server, &run_path, |r| r["status"] == "succeeded").await;
    assert_eq!(
        run["output"],
        json!({"resolved": true, "approved": true, "by": "token:olga"})
    );
    assert_eq!(
        step(&run, "change")["output"]["comment"],
        "checked the dashboards"
    );

    // The rule start, the decision and the apply are in the audit trail.
    let audit = server.get(&http, "/v1/audit?limit=500").await;
    let entries = audit["entries"].as_array().unwrap();
    let has = |actor: &str, action: &str| {
        entries
            .iter()
            .any(|e| e["actor"] == actor && e["action"] == action)
    };
    assert!(has("rule:disk-alerts", "run.start"), "{audit}");
    assert!(has("token:olga", "approval.decide"), "{audit}");
    assert!(has("token:admin", "resource.save"), "{audit}");

    // Applying the same file again changes nothing.
    let again: Value = apply(&http, &server, &server.token, INCIDENT)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        again["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] == "unchanged"),
        "{again}"
    );
}

const SELF_APPROVAL: &str = r#"
kind: Workflow
name: needs-ok
steps:
  - id: ok
    approval:
      timeout: 1h
"#;

#[tokio::test]
async fn whoever_started_a_run_cannot_approve_it_unless_a_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    assert_eq!(
        apply(&http, &server, &server.token, SELF_APPROVAL)
            .await
            .status(),
        StatusCode::OK
    );
    let alice = token(&http, &server, "alice", "operator").await;
    let bob = token(&http, &server, "bob", "operator").await;

    let start = |who: String| {
        let http = http.clone();
        let url = server.at("/v1/workflows/needs-ok/runs");
        async move {
            let run: Value = http
                .post(url)
                .bearer_auth(who)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            run["id"].as_str().unwrap().to_string()
        }
    };
    let pending_for = |run: String| {
        let http = http.clone();
        let server = &server;
        async move {
            let page = until(
                &http,
                server,
                &format!("/v1/approvals?run={run}&status=pending"),
                |p| !p["approvals"].as_array().unwrap().is_empty(),
            )
            .await;
            page["approvals"][0]["id"].as_str().unwrap().to_string()
        }
    };
    let run = start(alice.clone()).await;
    let id = pending_for(run.clone()).await;
    let refused = problem(
        decide(&http, &server, &alice, &id, "approve").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("separation of duties"),
        "{refused}"
    );
    decided(&http, &server, &bob, &id, "reject").await;
    let state = until(&http, &server, &format!("/v1/runs/{run}"), |r| {
        r["status"] == "succeeded"
    })
    .await;
    assert_eq!(step(&state, "ok")["output"]["approved"], false);
    assert_eq!(step(&state, "ok")["output"]["decision"], "reject");

    // A break-glass policy lets alice approve her own run; only an admin
    // may apply it.
    let policy = "kind: Policy\nname: break-glass\non: approval\nif: actor == 'token:alice'\neffect: allow\n";
    problem(
        apply(&http, &server, &alice, policy).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        apply(&http, &server, &server.token, policy).await.status(),
        StatusCode::OK
    );
    let run = start(alice.clone()).await;
    let id = pending_for(run.clone()).await;
    decided(&http, &server, &alice, &id, "approve").await;
    let state = until(&http, &server, &format!("/v1/runs/{run}"), |r| {
        r["status"] == "succeeded"
    })
    .await;
    assert_eq!(step(&state, "ok")["output"]["by"], "token:alice");
}

const GOVERNED: &str = r#"
kind: Workflow
name: deploy
steps:
  - id: provision
    uses: toolbox
    with: {value: "${{ input.n }}"}
outputs: {value: "${{ steps.provision.output.value }}"}
---
kind: Workflow
name: fan
steps:
  - id: each
    for_each: "[5, 50]"
    uses: toolbox
    with: {value: "${{ item }}"}
outputs: {values: "${{ steps.each.output.map(o, o.value) }}"}
---
kind: Policy
name: no-huge
if: plugin.name == 'toolbox' && input.value > 100
effect: deny
message: at most 100 machines
---
kind: Policy
name: gate-big
if: plugin.name == 'toolbox' && input.value > 10
effect: require_approval
approvers: {roles: [admin]}
message: a big provisioning needs an admin
---
kind: Policy
name: trusted-size
if: input.value == 42
effect: allow
---
kind: Policy
name: freeze
on: run
if: workflow.name == 'deploy' && has(run.input.freeze) && run.input.freeze == true && in_window(now, 'Mon-Sun 00:00-24:00', 'UTC')
effect: deny
message: change freeze
---
kind: Policy
name: gate-run
on: run
if: has(run.input.n) && run.input.n == 7
effect: require_approval
approvers: {tokens: [root2]}
message: sevens need a second look
---
kind: Policy
name: never
on: run
if: "!in_window(now, 'Mon-Sun', 'UTC')"
effect: deny
"#;

#[tokio::test]
async fn policies_deny_gate_and_allow_steps_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    assert_eq!(
        server.upload(&http, GUESTS_TOOLBOX).await.status(),
        StatusCode::CREATED
    );
    let answer = apply(&http, &server, &server.token, GOVERNED).await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        answer.text().await.unwrap()
    );
    let operator = token(&http, &server, "olga", "operator").await;
    let start = |input: Value| {
        let http = http.clone();
        let url = server.at("/v1/workflows/deploy/runs");
        let token = server.token.clone();
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"input": input}))
                .send()
                .await
                .unwrap()
        }
    };
    let run_id = |response: reqwest::Response| async move {
        let status = response.status();
        let run: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{run}");
        run["id"].as_str().unwrap().to_string()
    };
    let finished = |id: String| {
        let http = http.clone();
        let server = &server;
        async move {
            until(&http, server, &format!("/v1/runs/{id}"), |r| {
                ["succeeded", "failed", "cancelled"].contains(&r["status"].as_str().unwrap())
            })
            .await
        }
    };

    // No policy applies.
    let small = finished(run_id(start(json!({"n": 1})).await).await).await;
    assert_eq!(small["status"], "succeeded");
    // Deny: the step fails naming the policy.
    let huge = finished(run_id(start(json!({"n": 500})).await).await).await;
    assert_eq!(huge["status"], "failed");
    assert_eq!(step(&huge, "provision")["error"]["kind"], "policy-denied");
    assert!(
        step(&huge, "provision")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-huge"),
        "{huge}"
    );
    // Allow overrides require_approval.
    let trusted = finished(run_id(start(json!({"n": 42})).await).await).await;
    assert_eq!(trusted["output"]["value"], 42);
    // Require approval: a gate with the policy's approvers.
    let big = run_id(start(json!({"n": 50})).await).await;
    let page = approvals_of(&http, &server, &big).await;
    let gate = &page["approvals"][0];
    assert_eq!(
        (gate["gate"].as_str(), gate["policy"].as_str()),
        (Some("policy"), Some("gate-big"))
    );
    let id = gate["id"].as_str().unwrap();
    let refused = problem(
        decide(&http, &server, &operator, id, "approve").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("not an approver"),
        "{refused}"
    );
    // The admin started it, but a policy gate's requester is the admin too:
    // another admin approves.
    let second_admin = token(&http, &server, "root2", "admin").await;
    decided(&http, &server, &second_admin, id, "approve").await;
    let big = finished(big).await;
    assert_eq!(big["output"]["value"], 50, "{big}");
    // Rejected gate: the step fails with the policy's name.
    let rejected = run_id(start(json!({"n": 60})).await).await;
    let page = approvals_of(&http, &server, &rejected).await;
    let id = page["approvals"][0]["id"].as_str().unwrap();
    decided(&http, &server, &second_admin, id, "reject").await;
    let rejected = finished(rejected).await;
    assert_eq!(
        step(&rejected, "provision")["error"]["kind"],
        "policy-rejected"
    );

    // A gate holds one for_each element; the other runs.
    let fan: Value = http
        .post(server.at("/v1/workflows/fan/runs"))
        .bearer_auth(&server.token)
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fan = fan["id"].as_str().unwrap().to_string();
    let page = approvals_of(&http, &server, &fan).await;
    assert_eq!(page["approvals"][0]["item"], 1, "{page}");
    let id = page["approvals"][0]["id"].as_str().unwrap();
    decided(&http, &server, &second_admin, id, "approve").await;
    let fan = finished(fan).await;
    assert_eq!(fan["output"]["values"], json!([5, 50]), "{fan}");

    // A run-level gate: nothing starts before the decision.
    let seven = run_id(start(json!({"n": 7})).await).await;
    let page = approvals_of(&http, &server, &seven).await;
    let gate = &page["approvals"][0];
    assert_eq!(
        (gate["gate"].as_str(), gate["step_id"].as_str()),
        (Some("run"), Some("$run"))
    );
    assert_eq!(gate["message"], "sevens need a second look");
    let state = server.get(&http, &format!("/v1/runs/{seven}")).await;
    assert_eq!(state["status"], "running");
    assert_eq!(step(&state, "provision")["status"], "pending");
    let id = gate["id"].as_str().unwrap();
    decided(&http, &server, &second_admin, id, "approve").await;
    let seven = finished(seven).await;
    assert_eq!(seven["output"]["value"], 7, "{seven}");
    // Rejected at the gate: the run fails, and cannot be retried past it.
    let refused = run_id(start(json!({"n": 7})).await).await;
    let page = approvals_of(&http, &server, &refused).await;
    let id = page["approvals"][0]["id"].as_str().unwrap();
    decided(&http, &server, &second_admin, id, "reject").await;
    let state = finished(refused.clone()).await;
    assert_eq!(state["status"], "failed");
    assert_eq!(state["error"]["kind"], "policy-rejected", "{state}");
    let retry = http
        .post(server.at(&format!("/v1/runs/{refused}/retry")))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    problem(retry, StatusCode::CONFLICT, "conflict").await;

    // A run-level policy with a maintenance window refuses the start.
    let frozen = problem(
        start(json!({"n": 1, "freeze": true})).await,
        StatusCode::FORBIDDEN,
        "policy-denied",
    )
    .await;
    assert!(
        frozen["detail"].as_str().unwrap().contains("freeze"),
        "{frozen}"
    );

    // Every decision is in the audit trail.
    let audit = server
        .get(&http, "/v1/audit?action=policy.decision&limit=500")
        .await;
    let entries = audit["entries"].as_array().unwrap();
    for policy in [
        "policy:no-huge",
        "policy:gate-big",
        "policy:trusted-size",
        "policy:freeze",
    ] {
        assert!(
            entries.iter().any(|e| e["actor"] == policy),
            "{policy}: {audit}"
        );
    }
}
