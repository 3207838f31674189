//! `baton serve` end to end: a real server process on a loopback port with a
//! temporary data directory, driven over HTTP as a client would, restarted,
//! and fed bad input of every kind.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::process::Command;

use baton_test_programs::GUESTS_TOOLBOX;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::{FLOW, Server, follow, problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_save_run_follow_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let admin = server.token.clone();

    // Health, unauthenticated.
    let health = http.get(server.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = http.get(server.at("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // Upload the plugin; again with the same bytes is a no-op.
    let wasm = std::fs::read(GUESTS_TOOLBOX).unwrap();
    let mut digest = String::new();
    for _ in 0..2 {
        let uploaded = http
            .post(server.at("/v1/plugins"))
            .bearer_auth(&admin)
            .header("content-type", "application/wasm")
            .body(wasm.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(uploaded.status(), StatusCode::CREATED);
        let plugin: Value = uploaded.json().await.unwrap();
        assert_eq!(plugin["name"], "toolbox");
        assert_eq!(plugin["digest"].as_str().unwrap().len(), 64);
        digest = plugin["digest"].as_str().unwrap().to_string();
    }
    let versions: Value = server.get(&http, "/v1/plugins/toolbox").await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["digest"], digest);

    // Save a workflow.
    let saved = http
        .put(server.at("/v1/workflows/flow"))
        .bearer_auth(&admin)
        .header("content-type", "application/yaml")
        .body(FLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["version"], 1);

    // Start a run and follow it to its end.
    let started = http
        .post(server.at("/v1/workflows/flow/runs"))
        .bearer_auth(&admin)
        .json(&json!({"input": {"n": 21}}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let run: Value = started.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_string();
    let events = follow(&http, &server, &run_id).await;
    assert_eq!(events[0].0, "state");
    // The stream ends with the run's end: its `run` event, or the opening
    // state when the run had already ended.
    let (last, data) = events.last().unwrap();
    assert!(
        last == "run" || (last == "state" && events.len() == 1),
        "{events:?}"
    );
    assert_eq!(data["status"], "succeeded");
    let state: Value = server.get(&http, &format!("/v1/runs/{run_id}")).await;
    assert_eq!(state["output"], json!({"doubled": 42}));
    assert_eq!(state["steps"][0]["attempts"][0]["status"], "succeeded");
    let logs: Value = server.get(&http, &format!("/v1/runs/{run_id}/logs")).await;
    assert!(
        logs["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["step"] == "one" && l["message"] == "hello"),
        "{logs}"
    );

    // The same idempotency key gives the same run; with another input, 409.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = http
            .post(server.at("/v1/workflows/flow/runs"))
            .bearer_auth(&admin)
            .header("idempotency-key", "order-7")
            .json(&json!({"input": {"n": 1}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let run: Value = response.json().await.unwrap();
        ids.push(run["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids[0], ids[1]);
    let reused = http
        .post(server.at("/v1/workflows/flow/runs"))
        .bearer_auth(&admin)
        .header("idempotency-key", "order-7")
        .json(&json!({"input": {"n": 2}}))
        .send()
        .await
        .unwrap();
    problem(reused, StatusCode::CONFLICT, "conflict").await;

    // Pagination: two runs, one per page.
    let page: Value = server.get(&http, "/v1/runs?workflow=flow&limit=1").await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);
    assert_eq!(page["runs"][0]["id"], ids[0].as_str());
    let cursor = page["next_cursor"].as_str().unwrap();
    let page: Value = server
        .get(
            &http,
            &format!("/v1/runs?workflow=flow&limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(page["runs"][0]["id"], run_id.as_str());
    assert!(page["next_cursor"].is_null());
    // Time filters.
    let all = server
        .get(&http, "/v1/runs?since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(all["runs"].as_array().unwrap().len(), 2);
    let none = server
        .get(&http, "/v1/runs?until=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(none["runs"], json!([]));
    let failed = server.get(&http, "/v1/runs?status=failed").await;
    assert_eq!(failed["runs"], json!([]));

    // Metrics counted the run (its events reach the metrics a moment after
    // the commit).
    let finished = "baton_runs_finished_total{workflow=\"flow\",status=\"succeeded\"}";
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http
            .get(server.at("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(finished) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(metrics.contains(finished), "{metrics}");
    assert!(metrics.contains("baton_step_duration_seconds_bucket"));
    assert!(metrics.contains("baton_http_requests_total"));

    // Stop and start again: everything is still there, and no new admin
    // token was made.
    assert!(server.stop().success());
    let server = Server::start(&dir);
    assert_eq!(server.token, admin);
    let state: Value = server.get(&http, &format!("/v1/runs/{run_id}")).await;
    assert_eq!(state["status"], "succeeded");
    let workflow: Value = server.get(&http, "/v1/workflows/flow").await;
    assert_eq!(workflow["version"], 1);
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();

    let none = http.get(server.at("/v1/runs")).send().await.unwrap();
    problem(none, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let bad = http
        .get(server.at("/v1/runs"))
        .bearer_auth("baton_nope")
        .send()
        .await
        .unwrap();
    problem(bad, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let mut tokens = std::collections::HashMap::new();
    for role in ["viewer", "operator"] {
        let created = http
            .post(server.at("/v1/tokens"))
            .bearer_auth(&server.token)
            .json(&json!({"name": role, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        tokens.insert(role, created["token"].as_str().unwrap().to_string());
    }
    let listed: Value = server.get(&http, "/v1/tokens").await;
    assert!(!listed.to_string().contains(&tokens["viewer"]));

    // The route x role matrix: (method, path, least role).
    let routes = [
        ("GET", "/v1/plugins/x", "viewer"),
        ("GET", "/v1/plugins/x/1.0.0", "viewer"),
        ("GET", "/v1/workflows/x", "viewer"),
        ("GET", "/v1/workflows/x/versions", "viewer"),
        ("GET", "/v1/runs/x", "viewer"),
        ("GET", "/v1/runs/x/logs", "viewer"),
        ("GET", "/v1/runs/x/events", "viewer"),
        ("DELETE", "/v1/tokens/nobody", "admin"),
        ("GET", "/v1/events", "viewer"),
        ("GET", "/v1/events/1", "viewer"),
        ("POST", "/v1/events", "operator"),
        ("POST", "/v1/hooks/alertmanager", "operator"),
        ("GET", "/v1/plugins", "viewer"),
        ("POST", "/v1/plugins", "admin"),
        ("DELETE", "/v1/plugins/x/1.0.0", "admin"),
        ("GET", "/v1/workflows", "viewer"),
        ("PUT", "/v1/workflows/x", "operator"),
        ("GET", "/v1/runs", "viewer"),
        ("POST", "/v1/workflows/x/runs", "operator"),
        ("POST", "/v1/runs/x/cancel", "operator"),
        ("POST", "/v1/runs/x/retry", "operator"),
        ("GET", "/v1/tokens", "admin"),
        ("POST", "/v1/tokens", "admin"),
        ("POST", "/v1/apply", "operator"),
        ("GET", "/v1/resources/rules", "viewer"),
        ("GET", "/v1/resources/rules/x", "viewer"),
        ("DELETE", "/v1/resources/rules/x", "operator"),
        ("DELETE", "/v1/resources/policies/x", "admin"),
        ("GET", "/v1/approvals", "viewer"),
        ("GET", "/v1/approvals/x", "viewer"),
        ("POST", "/v1/approvals/x", "operator"),
        ("GET", "/v1/audit", "admin"),
        ("GET", "/v1/plugins/x/grants", "viewer"),
        ("PUT", "/v1/plugins/x/grants", "admin"),
        ("DELETE", "/v1/plugins/x/grants", "admin"),
        ("GET", "/v1/secrets", "operator"),
        ("PUT", "/v1/secrets/x", "admin"),
        ("DELETE", "/v1/secrets/x", "admin"),
    ];
    let rank = |role: &str| {
        ["viewer", "operator", "admin"]
            .iter()
            .position(|r| *r == role)
    };
    for (method, path, least) in routes {
        for (role, token) in [
            ("viewer", &tokens["viewer"]),
            ("operator", &tokens["operator"]),
            ("admin", &server.token),
        ] {
            let response = http
                .request(method.parse().unwrap(), server.at(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            if rank(role) < rank(least) {
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {role}"
                );
            } else {
                assert_ne!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {role}"
                );
                assert!(
                    !response.status().is_server_error(),
                    "{method} {path} as {role}: {}",
                    response.status()
                );
            }
        }
    }

    // A revoked token stops working at once.
    let revoked = http
        .delete(server.at("/v1/tokens/viewer"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let after = http
        .get(server.at("/v1/runs"))
        .bearer_auth(&tokens["viewer"])
        .send()
        .await
        .unwrap();
    problem(after, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(server.stop().success());
}

/// A bad request: method, path, content type, body, and the status and
/// problem kind it must get.
type BadCase<'a> = (&'a str, &'a str, &'a str, Vec<u8>, StatusCode, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let admin = &server.token;
    let send = |method: &str, path: &str, content_type: &str, body: Vec<u8>| {
        http.request(method.parse().unwrap(), server.at(path))
            .bearer_auth(admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let core = wat::parse_str("(module)").unwrap();
    let mut truncated = std::fs::read(GUESTS_TOOLBOX).unwrap();
    truncated.truncate(truncated.len() / 2);
    let doc =
        "name: w\nsteps:\n  - id: a\n    uses: nope\n  - id: a\n    sleep: soon\n    needs: [zz]\n";
    let huge = format!(
        "name: w\ndescription: \"{}\"\nsteps: []\n",
        "x".repeat(100_000)
    );
    use StatusCode as S;
    // (method, path, content type, body, status, problem kind); the
    // answer's problem body is kept for the checks below.
    let cases: Vec<BadCase> = vec![
        // Plugins: wrong type, not wasm, a core module, truncated, a bad
        // version override.
        (
            "POST",
            "/v1/plugins",
            "application/json",
            b"{}".to_vec(),
            S::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/v1/plugins",
            "application/wasm",
            b"hello".to_vec(),
            S::UNPROCESSABLE_ENTITY,
            "plugin-refused",
        ),
        (
            "POST",
            "/v1/plugins",
            "application/wasm",
            core,
            S::UNPROCESSABLE_ENTITY,
            "plugin-refused",
        ),
        (
            "POST",
            "/v1/plugins",
            "application/wasm",
            truncated,
            S::UNPROCESSABLE_ENTITY,
            "plugin-refused",
        ),
        (
            "POST",
            "/v1/plugins?version=banana",
            "application/wasm",
            b"\0asm".to_vec(),
            S::BAD_REQUEST,
            "bad-request",
        ),
        // Workflows: malformed YAML, invalid document, name mismatch,
        // wrong type, oversize.
        (
            "PUT",
            "/v1/workflows/w",
            "application/yaml",
            b"name: [".to_vec(),
            S::UNPROCESSABLE_ENTITY,
            "invalid-workflow",
        ),
        (
            "PUT",
            "/v1/workflows/w",
            "application/yaml",
            doc.into(),
            S::UNPROCESSABLE_ENTITY,
            "invalid-workflow",
        ),
        (
            "PUT",
            "/v1/workflows/other",
            "application/yaml",
            "name: w\nsteps: []\n".into(),
            S::UNPROCESSABLE_ENTITY,
            "invalid-workflow",
        ),
        (
            "PUT",
            "/v1/workflows/w",
            "image/png",
            b"x".to_vec(),
            S::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            "PUT",
            "/v1/workflows/w",
            "application/yaml",
            huge.into(),
            S::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
        // Runs: unknown workflow, malformed JSON, unknown field, wrong type.
        (
            "POST",
            "/v1/workflows/none/runs",
            "application/json",
            b"{}".to_vec(),
            S::NOT_FOUND,
            "not-found",
        ),
        (
            "POST",
            "/v1/workflows/w/runs",
            "application/json",
            b"{\"input\":".to_vec(),
            S::BAD_REQUEST,
            "bad-request",
        ),
        (
            "POST",
            "/v1/workflows/w/runs",
            "application/json",
            b"{\"inptu\":1}".to_vec(),
            S::BAD_REQUEST,
            "bad-request",
        ),
        (
            "POST",
            "/v1/workflows/w/runs",
            "text/plain",
            b"{}".to_vec(),
            S::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
    ];
    let mut bodies = Vec::new();
    for (method, path, content_type, body, status, kind) in cases {
        let answer = send(method, path, content_type, body).await.unwrap();
        bodies.push(problem(answer, status, kind).await);
    }
    // The invalid document lists every problem; the mismatch names `name`.
    let errors = bodies[6]["errors"].as_array().unwrap();
    assert!(errors.len() >= 3, "{}", bodies[6]);
    assert!(
        errors
            .iter()
            .all(|e| e["path"].is_string() && e["message"].is_string())
    );
    assert_eq!(bodies[7]["errors"][0]["path"], "name");

    // Unknown ids, bad filters and cursors.
    for path in [
        "/v1/runs/0190b6c8-8f4e-7cc4-9a51-0a3c6e2b9f10",
        "/v1/runs/nope/logs",
        "/v1/runs/nope/events",
        "/v1/plugins/nope",
        "/v1/plugins/nope/1.0.0",
        "/v1/workflows/nope",
        "/v1/workflows/nope/versions",
        "/v1/nothing-here",
    ] {
        let r = http
            .get(server.at(path))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::NOT_FOUND, "not-found").await;
    }
    for path in ["/v1/runs?cursor=garbage", "/v1/runs?cursor=1.not-a-uuid"] {
        let r = http
            .get(server.at(path))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::BAD_REQUEST, "invalid-cursor").await;
    }
    for path in [
        "/v1/runs?status=sleepy",
        "/v1/runs?limit=0",
        "/v1/runs?since=yesterday",
        "/v1/runs?colour=red",
    ] {
        let r = http
            .get(server.at(path))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::BAD_REQUEST, "bad-request").await;
    }
    let r = http
        .delete(server.at("/v1/runs"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;

    // Nothing was written, and the server still answers.
    for path in ["/v1/plugins", "/v1/workflows"] {
        let listed: Value = server.get(&http, path).await;
        assert_eq!(listed, json!([]), "{path}");
    }
    let runs: Value = server.get(&http, "/v1/runs").await;
    assert_eq!(runs["runs"], json!([]));
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let document: Value = reqwest::get(server.at("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/plugins", &["get", "post"][..]),
        ("/v1/plugins/{name}", &["get"]),
        ("/v1/plugins/{name}/{version}", &["get", "delete"]),
        ("/v1/workflows", &["get"]),
        ("/v1/workflows/{name}", &["get", "put"]),
        ("/v1/workflows/{name}/versions", &["get"]),
        ("/v1/workflows/{name}/runs", &["post"]),
        ("/v1/runs", &["get"]),
        ("/v1/runs/{id}", &["get"]),
        ("/v1/runs/{id}/logs", &["get"]),
        ("/v1/runs/{id}/events", &["get"]),
        ("/v1/runs/{id}/cancel", &["post"]),
        ("/v1/runs/{id}/retry", &["post"]),
        ("/v1/tokens", &["get", "post"]),
        ("/v1/tokens/{name}", &["delete"]),
        ("/v1/openapi.json", &["get"]),
        ("/v1/events", &["get", "post"]),
        ("/v1/events/{seq}", &["get"]),
        ("/v1/hooks/alertmanager", &["post"]),
        ("/v1/hooks/{name}", &["post"]),
        ("/v1/apply", &["post"]),
        ("/v1/resources/{kind}", &["get"]),
        ("/v1/resources/{kind}/{name}", &["get", "delete"]),
        ("/v1/approvals", &["get"]),
        ("/v1/approvals/{id}", &["get", "post"]),
        ("/v1/audit", &["get"]),
        ("/v1/plugins/{name}/grants", &["get", "put", "delete"]),
        ("/v1/secrets", &["get"]),
        ("/v1/secrets/{name}", &["put", "delete"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/metrics", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} missing"
            );
        }
    }
    assert!(document["components"]["schemas"]["Problem"].is_object());
    // Every /v1 operation documents its problems, the common ones too.
    let start = &paths["/v1/workflows/{name}/runs"]["post"]["responses"];
    for status in [
        "201", "400", "401", "403", "404", "409", "413", "415", "422", "500", "503",
    ] {
        assert!(start.get(status).is_some(), "POST .../runs lacks {status}");
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    // A real validator (openapi-spec-validator, from PyPI; `.ci/run`
    // installs it).
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_string(&document).unwrap()).unwrap();
    let checked = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 with openapi-spec-validator (pip install openapi-spec-validator)");
    assert!(
        checked.status.success(),
        "the OpenAPI document is not valid:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_still_running_after_the_grace_period_runs_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&dir, &["--grace", "200ms"]);
    let http = reqwest::Client::new();
    let uploaded = server.upload(&http, GUESTS_TOOLBOX).await;
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let flow = "name: slow\nsteps:\n  - id: spin\n    uses: toolbox\n    with: { spin_ms: 1500, spin_before_attempt: 2, value: 7 }\n";
    server.save(&http, "slow", flow).await;
    let id = server.start_run(&http, "slow").await;
    // Wait until the attempt runs, then stop the server.
    loop {
        let state = server.get(&http, &format!("/v1/runs/{id}")).await;
        if state["steps"][0]["status"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(server.stop().success());

    // After a restart the step runs again (the toolbox spins only before
    // attempt 2) and the run succeeds; the first attempt is abandoned, not
    // failed.
    let server = Server::start(&dir);
    let events = follow(&http, &server, &id).await;
    let (_, last) = events.last().unwrap();
    assert_eq!(last["status"], "succeeded", "{events:?}");
    let state = server.get(&http, &format!("/v1/runs/{id}")).await;
    let attempts = state["steps"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{state}");
    assert_eq!(attempts[0]["status"], "abandoned");
    assert_eq!(attempts[0]["error_kind"], "released");
    assert_eq!(attempts[1]["status"], "succeeded");
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_refused_or_contained() {
    use baton_test_programs::{GUESTS_EVIL_IMPORT, GUESTS_HOSTILE, GUESTS_WRONG_WORLD};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    // Components of another world, or importing what Baton never links.
    for path in [GUESTS_WRONG_WORLD, GUESTS_EVIL_IMPORT] {
        let refused = server.upload(&http, path).await;
        let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "plugin-refused").await;
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    // A valid plugin that misbehaves when it runs: each attack fails its
    // step with a classified error; the server carries on.
    assert_eq!(
        server.upload(&http, GUESTS_HOSTILE).await.status(),
        StatusCode::CREATED
    );
    let mut flow = String::from("name: attacks\nsteps:\n");
    for attack in ["panic", "memory-bomb", "not-json", "giant-output"] {
        flow.push_str(&format!(
            "  - id: {}\n    uses: hostile\n    with: {{ attack: {attack} }}\n    on_error: continue\n",
            attack.replace('-', "_")
        ));
    }
    server.save(&http, "attacks", &flow).await;
    let id = server.start_run(&http, "attacks").await;
    follow(&http, &server, &id).await;
    let state = server.get(&http, &format!("/v1/runs/{id}")).await;
    let kinds: Vec<&str> = state["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["error"]["kind"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        kinds,
        [
            "trap",
            "memory-limit-exceeded",
            "invalid-output",
            "invalid-output"
        ],
        "{state}"
    );
    let health = http.get(server.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(server.stop().success());
}
