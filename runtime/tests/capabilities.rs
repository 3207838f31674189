//! Plugin capabilities against a real `baton serve`: secrets granted and
//! not granted, redacted from outputs, logs and errors and encrypted at
//! rest; key-value state isolated per plugin and bounded by its quota;
//! events emitted by a plugin feeding a rule; grants per version and the
//! role checks and bad-grant answers of the new routes. Every plugin is
//! the `capable` guest built from source.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on anything unexpected"
)]

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use support::BATON;
use support::server::{Server, apply, create_token, problem};

const SECRET: &str = "tok-51a8f0c2-never-shown";

/// One step of `plugin` running the actions given as the run's input.
fn workflow(name: &str, plugin: &str) -> String {
    format!(
        "name: {name}\ninput:\n  type: object\nsteps:\n  - id: use\n    uses: {plugin}\n    with: {{ actions: \"${{{{ input.actions }}}}\" }}\n"
    )
}

/// Starts a run with these actions and waits for its end; the run.
async fn run(http: &reqwest::Client, server: &Server, name: &str, actions: Value) -> Value {
    run_with(http, server, name, json!({ "actions": actions })).await
}

/// Starts a run with this input and waits for its end; the run.
async fn run_with(http: &reqwest::Client, server: &Server, name: &str, input: Value) -> Value {
    let started = http
        .post(server.at(&format!("/v1/workflows/{name}/runs")))
        .bearer_auth(&server.token)
        .json(&json!({ "input": input }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = server.get(http, &format!("/v1/runs/{id}")).await;
        if matches!(
            state["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            return state;
        }
        assert!(Instant::now() < deadline, "the run never ended: {state}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The `results` of the run's one step.
fn results(run: &Value) -> Vec<Value> {
    run["steps"][0]["output"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {run}"))
        .clone()
}

async fn put_json(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    http.put(server.at(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Saves a grant as the admin, which must succeed.
async fn save_grant(http: &reqwest::Client, server: &Server, path: &str, body: Value) {
    let saved = put_json(http, server, &server.token, path, body).await;
    assert_eq!(saved.status(), StatusCode::OK, "PUT {path}");
}

async fn upload_as(http: &reqwest::Client, server: &Server, name: &str) -> Value {
    let uploaded = http
        .post(server.at(&format!("/v1/plugins?name={name}")))
        .bearer_auth(&server.token)
        .header("content-type", "application/wasm")
        .body(std::fs::read(baton_test_programs::GUESTS_CAPABLE).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    uploaded.json().await.unwrap()
}

#[tokio::test]
async fn secrets_are_granted_redacted_and_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let operator = create_token(&http, &server, "ops", "operator").await;
    let viewer = create_token(&http, &server, "eyes", "viewer").await;

    // Requested versus granted, before any grant.
    let plugin = upload_as(&http, &server, "capable").await;
    assert_eq!(
        plugin["capabilities"]["secrets"],
        json!(["api-token"]),
        "{plugin}"
    );
    assert_eq!(plugin["granted"], Value::Null);
    assert_eq!(plugin["grant_scope"], "none");

    // Secrets: write-only, admin only to write, never shown.
    let path = "/v1/secrets/api-token";
    let body = json!({"value": SECRET, "description": "ticketing API"});
    problem(
        put_json(&http, &server, &operator, path, body.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let created = put_json(&http, &server, &server.token, path, body.clone()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let replaced = put_json(&http, &server, &server.token, path, body).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["name"], "api-token");
    assert!(!replaced.to_string().contains(SECRET));
    for (bad, status, kind) in [
        (json!({"value": ""}), StatusCode::BAD_REQUEST, "bad-request"),
        (json!({"valeur": "x"}), StatusCode::UNPROCESSABLE_ENTITY, ""),
        (
            json!({"value": "x".repeat(70_000)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
    ] {
        let answer = put_json(&http, &server, &server.token, path, bad).await;
        if kind.is_empty() {
            assert!(answer.status().is_client_error(), "{}", answer.status());
        } else {
            problem(answer, status, kind).await;
        }
    }
    problem(
        put_json(
            &http,
            &server,
            &server.token,
            "/v1/secrets/bad%20name",
            json!({"value": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    )
    .await;
    let listed = http
        .get(server.at("/v1/secrets"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed[0]["name"], "api-token");
    assert_eq!(listed[0]["description"], "ticketing API");
    assert!(!listed.to_string().contains(SECRET));
    let refused = http
        .get(server.at("/v1/secrets"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    server
        .save(&http, "vault", &workflow("vault", "capable"))
        .await;
    let read = json!([{"secret": "api-token"}]);

    // Not granted: the plugin is told so, and goes on.
    let denied = run(&http, &server, "vault", read.clone()).await;
    assert_eq!(denied["status"], "succeeded", "{denied}");
    let error = results(&denied)[0]["error"].as_str().unwrap().to_string();
    assert!(error.contains("not granted"), "{error}");

    // Granted: readable, and redacted from the output.
    let grant = json!({"secrets": ["api-token"]});
    let saved = put_json(
        &http,
        &server,
        &operator,
        "/v1/plugins/capable/grants",
        grant.clone(),
    )
    .await;
    problem(saved, StatusCode::FORBIDDEN, "forbidden").await;
    save_grant(&http, &server, "/v1/plugins/capable/grants", grant).await;
    let shown = server.get(&http, "/v1/plugins/capable/0.1.0").await;
    assert_eq!(shown["granted"]["secrets"], json!(["api-token"]), "{shown}");
    assert_eq!(shown["grant_scope"], "plugin");
    let granted = run(
        &http,
        &server,
        "vault",
        json!([{"secret": "api-token"}, {"secret": "other"}, {"log_secret": "api-token"}]),
    )
    .await;
    let answers = results(&granted);
    assert_eq!(answers[0]["ok"], "[secret:api-token]", "{granted}");
    assert!(
        answers[1]["error"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );
    let id = granted["id"].as_str().unwrap();
    let logs = server.get(&http, &format!("/v1/runs/{id}/logs")).await;
    let text = logs.to_string();
    assert!(text.contains("the token is [secret:api-token]"), "{logs}");
    assert!(text.contains("stdout sees [secret:api-token]"), "{logs}");
    assert!(!text.contains(SECRET));

    // In an error message too.
    let failed = run(
        &http,
        &server,
        "vault",
        json!([{"fail_with_secret": "api-token"}]),
    )
    .await;
    assert_eq!(failed["status"], "failed");
    let shown = failed.to_string();
    assert!(
        shown.contains("refused with [secret:api-token]"),
        "{failed}"
    );
    assert!(!shown.contains(SECRET));

    // Audited without the value.
    let audit = server.get(&http, "/v1/audit?limit=100").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"secret.set") && actions.contains(&"grant.save"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains(SECRET));

    // Encrypted at rest: no file of the data directory holds the value.
    let stopped = server.stop();
    assert!(stopped.success());
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{} holds the secret in clear",
                path.display()
            );
        }
    }

    // Another master key is refused at start, naming the mismatch.
    let wrong = std::process::Command::new(BATON)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("BATON_CACHE_DIR", dir.path().join("cache"))
        .env("BATON_MASTER_KEY", "00".repeat(32))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("master key does not match"), "{stderr}");

    // The right key (the file's) still opens them.
    let server = Server::start(&dir);
    let again = run(&http, &server, "vault", read).await;
    assert_eq!(results(&again)[0]["ok"], "[secret:api-token]", "{again}");

    // A granted secret is redacted even from an attempt that did not read
    // it: here the value comes back out of key-value state.
    let grant = json!({"secrets": ["api-token"], "kv": true, "events": ["capable.*"]});
    save_grant(&http, &server, "/v1/plugins/capable/grants", grant).await;
    run(
        &http,
        &server,
        "vault",
        json!([{"kv_set": ["kept", SECRET]}]),
    )
    .await;
    let kept = run(&http, &server, "vault", json!([{"kv_get": "kept"}])).await;
    assert_eq!(results(&kept)[0]["ok"], "[secret:api-token]", "{kept}");

    // And from the events a plugin emits, subject and data.
    let leak = json!({"type": "capable.leak", "subject": SECRET, "data": {"token": SECRET}});
    let emitted = run(&http, &server, "vault", json!([{ "emit": leak }])).await;
    assert_eq!(results(&emitted)[0], json!({"ok": null}), "{emitted}");
    let events = server.get(&http, "/v1/events?type=capable.leak").await;
    let event = &events["events"][0]["event"];
    assert_eq!(event["subject"], "[secret:api-token]", "{events}");
    assert_eq!(event["data"], json!({"token": "[secret:api-token]"}));
}

#[tokio::test]
async fn kv_is_private_to_each_plugin_and_bounded_by_its_quota() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    upload_as(&http, &server, "alpha").await;
    upload_as(&http, &server, "beta").await;
    server.save(&http, "a", &workflow("a", "alpha")).await;
    server.save(&http, "b", &workflow("b", "beta")).await;

    let denied = run(&http, &server, "a", json!([{"kv_get": "k"}])).await;
    assert!(
        results(&denied)[0]["error"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );

    for (plugin, grant) in [
        ("alpha", json!({"kv": {"quota_bytes": 1000}})),
        ("beta", json!({"kv": true})),
    ] {
        save_grant(
            &http,
            &server,
            &format!("/v1/plugins/{plugin}/grants"),
            grant,
        )
        .await;
    }
    let a = run(
        &http,
        &server,
        "a",
        json!([
            {"kv_set": ["k", "from alpha"]},
            {"kv_get": "k"},
            {"kv_cas": ["k", "wrong", "x"]},
            {"kv_cas": ["k", "from alpha", "swapped"]},
            {"kv_cas": ["new", null, "created"]},
            {"kv_get": "k"},
        ]),
    )
    .await;
    let answers = results(&a);
    assert_eq!(
        answers,
        vec![
            json!({"ok": null}),
            json!({"ok": "from alpha"}),
            json!({"ok": false}),
            json!({"ok": true}),
            json!({"ok": true}),
            json!({"ok": "swapped"}),
        ],
        "{a}"
    );
    // The same key in another plugin is another key.
    let b = run(
        &http,
        &server,
        "b",
        json!([{"kv_get": "k"}, {"kv_set": ["k", "beta's"]}]),
    )
    .await;
    assert_eq!(results(&b)[0], json!({"ok": null}), "{b}");
    let a = run(
        &http,
        &server,
        "a",
        json!([{"kv_get": "k"}, {"kv_delete": "new"}, {"kv_delete": "new"}]),
    )
    .await;
    assert_eq!(
        results(&a),
        vec![
            json!({"ok": "swapped"}),
            json!({"ok": true}),
            json!({"ok": false})
        ]
    );

    // Over the quota: refused, and nothing stored; within it, fine.
    let a = run(
        &http,
        &server,
        "a",
        json!([
            {"kv_fill": {"key": "big", "size": 2000}},
            {"kv_get": "big"},
            {"kv_fill": {"key": "fits", "size": 900}},
            {"kv_fill": {"key": "more", "size": 200}},
            {"kv_delete": "fits"},
            {"kv_fill": {"key": "more", "size": 200}},
            {"kv_set": ["", "empty key"]},
        ]),
    )
    .await;
    let answers = results(&a);
    assert!(
        answers[0]["error"].as_str().unwrap().contains("quota"),
        "{a}"
    );
    assert_eq!(answers[1], json!({"ok": null}));
    assert_eq!(answers[2], json!({"ok": null}));
    assert!(
        answers[3]["error"].as_str().unwrap().contains("quota"),
        "{a}"
    );
    assert_eq!(answers[4], json!({"ok": true}));
    assert_eq!(answers[5], json!({"ok": null}));
    assert!(answers[6]["error"].as_str().unwrap().contains("key"), "{a}");
}

#[tokio::test]
async fn emitted_events_feed_rules_and_grants_follow_versions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    upload_as(&http, &server, "capable").await;
    server
        .save(&http, "emitter", &workflow("emitter", "capable"))
        .await;
    server
        .save(&http, "echoed", &workflow("echoed", "capable"))
        .await;
    let rule =
        "kind: Rule\nname: on-done\non: capable.done\nworkflow: echoed\ninput:\n  actions: []\n";
    assert_eq!(
        apply(&http, &server, &server.token, rule).await.status(),
        StatusCode::OK
    );

    let emit = json!([{"emit": {"type": "capable.done", "subject": "ticket-7", "data": {"n": 1}}}]);
    let denied = run(&http, &server, "emitter", emit.clone()).await;
    assert!(
        results(&denied)[0]["error"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );

    // A grant for another version does not apply to 0.1.0; the
    // plugin-wide one does, and a version's own grant replaces it.
    let save =
        |path: &'static str, grant: Value| put_json(&http, &server, &server.token, path, grant);
    assert_eq!(
        save(
            "/v1/plugins/capable/grants?version=9.9.9",
            json!({"events": ["capable.*"]})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let other = run(&http, &server, "emitter", emit.clone()).await;
    assert!(
        results(&other)[0]["error"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );
    assert_eq!(
        save(
            "/v1/plugins/capable/grants",
            json!({"events": ["capable.*"], "kv": true})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let emitted = run(&http, &server, "emitter", emit.clone()).await;
    assert_eq!(results(&emitted)[0], json!({"ok": null}), "{emitted}");
    let run_id = emitted["id"].as_str().unwrap();

    // The event is stored with the run and step as its source, and the
    // rule started a run from it.
    let events = server.get(&http, "/v1/events?type=capable.done").await;
    let stored = &events["events"][0];
    assert_eq!(
        stored["event"]["source"],
        format!("/runs/{run_id}/steps/use"),
        "{events}"
    );
    assert_eq!(stored["event"]["subject"], "ticket-7");
    assert_eq!(stored["event"]["data"], json!({"n": 1}));
    assert_eq!(stored["received_by"], "plugin:capable");
    let seq = stored["seq"].as_i64().unwrap();
    let detail = server.get(&http, &format!("/v1/events/{seq}")).await;
    assert_eq!(detail["consequences"][0]["outcome"], "started", "{detail}");

    // Types outside the grant stay refused.
    let wrong = run(
        &http,
        &server,
        "emitter",
        json!([{"emit": {"type": "other.done"}}]),
    )
    .await;
    assert!(
        results(&wrong)[0]["error"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );

    // This version's own grant replaces the plugin-wide one whole.
    assert_eq!(
        save(
            "/v1/plugins/capable/grants?version=0.1.0",
            json!({"kv": true})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let shown = server.get(&http, "/v1/plugins/capable/0.1.0").await;
    assert_eq!(shown["grant_scope"], "version", "{shown}");
    let narrowed = run(&http, &server, "emitter", emit.clone()).await;
    assert!(
        results(&narrowed)[0]["error"]
            .as_str()
            .unwrap()
            .contains("not granted")
    );
    let grants = server.get(&http, "/v1/plugins/capable/grants").await;
    assert_eq!(grants.as_array().unwrap().len(), 3, "{grants}");
    let removed = http
        .delete(server.at("/v1/plugins/capable/grants?version=0.1.0"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let again = run(&http, &server, "emitter", emit).await;
    assert_eq!(results(&again)[0], json!({"ok": null}), "{again}");
    let missing = http
        .delete(server.at("/v1/plugins/capable/grants?version=0.1.0"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    problem(missing, StatusCode::NOT_FOUND, "not-found").await;

    // Bad grants change nothing and say why.
    for (grant, needle) in [
        (json!({"outbound": ["ftp://x.example.com"]}), "outbound[0]"),
        (json!({"secrets": ["bad name"]}), "secrets[0]"),
        (json!({"kv": {"quota_bytes": 0}}), "quota_bytes"),
        (
            json!({"limits": {"memory_bytes": 1u64 << 40}}),
            "memory_bytes",
        ),
        (json!({"everything": true}), "everything"),
    ] {
        let answer = save("/v1/plugins/capable/grants", grant).await;
        let body = problem(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid-grant").await;
        assert!(body["detail"].as_str().unwrap().contains(needle), "{body}");
    }
    let text = http
        .put(server.at("/v1/plugins/capable/grants"))
        .bearer_auth(&server.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    let bad_version = save("/v1/plugins/capable/grants?version=latest", json!({})).await;
    problem(bad_version, StatusCode::BAD_REQUEST, "bad-request").await;
    let grants = server.get(&http, "/v1/plugins/capable/grants").await;
    assert_eq!(grants.as_array().unwrap().len(), 2, "{grants}");
}

#[tokio::test]
async fn grants_override_the_limits_of_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    assert_eq!(
        server
            .upload(&http, baton_test_programs::GUESTS_TOOLBOX)
            .await
            .status(),
        StatusCode::CREATED
    );
    let spin = "name: spin\ninput:\n  type: object\nsteps:\n  - id: use\n    uses: toolbox\n    with: { spin_ms: \"${{ input.ms }}\", value: \"${{ input.value }}\" }\n";
    server.save(&http, "spin", spin).await;
    // The default CPU budget (5 s) lets a 1 s spin finish; the grant's
    // 100 ms stops it.
    let fine = run_with(&http, &server, "spin", json!({"ms": 1000, "value": 1})).await;
    assert_eq!(fine["status"], "succeeded", "{fine}");
    let grant = json!({"limits": {"cpu_ms": 100, "max_output_bytes": 256}});
    save_grant(&http, &server, "/v1/plugins/toolbox/grants", grant).await;
    let stopped = run_with(&http, &server, "spin", json!({"ms": 1000, "value": 1})).await;
    assert_eq!(stopped["status"], "failed", "{stopped}");
    assert_eq!(
        stopped["steps"][0]["attempts"][0]["error_kind"], "cpu-budget-exceeded",
        "{stopped}"
    );
    // The output cap too.
    let long = run_with(
        &http,
        &server,
        "spin",
        json!({"ms": 0, "value": "x".repeat(300)}),
    )
    .await;
    assert_eq!(
        long["steps"][0]["attempts"][0]["error_kind"], "invalid-output",
        "{long}"
    );
    let short = run_with(&http, &server, "spin", json!({"ms": 0, "value": "x"})).await;
    assert_eq!(short["status"], "succeeded", "{short}");
}
