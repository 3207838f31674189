//! The resource routes against a real `baton serve`: generic webhooks
//! with HMAC signatures mapping bodies to events, and the role checks and
//! bad-document answers of `/v1/apply`, `/v1/resources` and
//! `/v1/approvals`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on anything unexpected"
)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};

use support::server::{Server, apply, create_token as token, post_hook, problem, signature};

#[tokio::test]
async fn webhooks_check_signatures_and_map_bodies_to_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let hook = "kind: Webhook\nname: grafana\nauth:\n  hmac: {secret: 0123456789abcdef-secret}\nevent:\n  type: \"grafana.alert.${{ body.status }}\"\n  subject: \"${{ body.rule }}\"\n  id: \"${{ headers['x-delivery'] }}\"\n";
    assert_eq!(
        apply(&http, &server, &server.token, hook).await.status(),
        StatusCode::OK
    );
    let listed = server.get(&http, "/v1/resources/webhooks").await;
    assert_eq!(
        listed[0]["spec"]["auth"]["hmac"]["secret"], "<redacted>",
        "{listed}"
    );
    assert!(!listed.to_string().contains("0123456789abcdef-secret"));

    let body = br#"{"status": "firing", "rule": "cpu-high"}"#;
    let signature = signature(b"0123456789abcdef-secret", body);
    let send = |signature: &str, body: &'static [u8]| {
        http.post(server.at("/v1/hooks/grafana"))
            .header("content-type", "application/json")
            .header("x-signature-256", signature)
            .header("x-delivery", "d-1")
            .body(body)
            .send()
    };
    problem(
        send("sha256=00", body).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    problem(
        send(&signature, b"{\"status\": \"other\"}").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let events = server.get(&http, "/v1/events").await;
    assert!(
        events["events"].as_array().unwrap().is_empty(),
        "nothing stored: {events}"
    );
    let stored: Value = send(&signature, body).await.unwrap().json().await.unwrap();
    assert_eq!(stored["accepted"], 1, "{stored}");
    let again: Value = send(&signature, body).await.unwrap().json().await.unwrap();
    assert_eq!(
        again["duplicates"], 1,
        "the delivery id deduplicates: {again}"
    );
    let events = server.get(&http, "/v1/events").await;
    let event = &events["events"][0]["event"];
    assert_eq!(
        (event["type"].as_str(), event["subject"].as_str()),
        (Some("grafana.alert.firing"), Some("cpu-high"))
    );
    let unknown = http
        .post(server.at("/v1/hooks/nope"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn a_webhook_key_kept_as_a_secret_is_read_for_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let hook = "kind: Webhook\nname: grafana\nauth:\n  hmac: {secret: {secret: grafana-hmac}}\nevent:\n  type: grafana.alert\n";
    assert_eq!(
        apply(&http, &server, &server.token, hook).await.status(),
        StatusCode::OK
    );
    // The document shows the secret's name (it reveals nothing).
    let listed = server.get(&http, "/v1/resources/webhooks").await;
    assert_eq!(
        listed[0]["spec"]["auth"]["hmac"]["secret"],
        json!({"secret": "grafana-hmac"}),
        "{listed}"
    );

    let body = br#"{"status": "firing"}"#;
    let sign = |key: &[u8]| signature(key, body);
    let (client, target) = (&http, &server);
    let send = move |signed: String| async move {
        Ok::<_, ()>(post_hook(client, target, "grafana", &signed, body).await)
    };
    let set = |value: &'static str| {
        http.put(server.at("/v1/secrets/grafana-hmac"))
            .bearer_auth(&server.token)
            .json(&json!({ "value": value }))
            .send()
    };

    // Not set yet: every caller is refused, and nothing is stored.
    let answer = send(sign(b"first key, kept sealed")).await.unwrap();
    let refused = problem(answer, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(
        refused.to_string().contains("its key is not set"),
        "{refused}"
    );

    assert!(
        set("first key, kept sealed")
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let stored: Value = send(sign(b"first key, kept sealed"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["accepted"], 1, "{stored}");
    problem(
        send(sign(b"a guess")).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // A new value takes effect at once; the old one no longer signs.
    assert!(
        set("second key, kept sealed")
            .await
            .unwrap()
            .status()
            .is_success()
    );
    problem(
        send(sign(b"first key, kept sealed")).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let stored: Value = send(sign(b"second key, kept sealed"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["accepted"], 1, "{stored}");
    let events = server.get(&http, "/v1/events").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 2, "{events}");

    // A malformed reference is refused when the document is saved.
    let bad = "kind: Webhook\nname: bad\nauth:\n  token: {secret: 42}\nevent:\n  type: x.y\n";
    let answer = apply(&http, &server, &server.token, bad).await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("{secret: <name of a Baton secret>}"),
        "{text}"
    );
}

#[tokio::test]
async fn the_new_routes_check_roles_and_refuse_bad_documents() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let viewer = token(&http, &server, "vera", "viewer").await;
    let operator = token(&http, &server, "olga", "operator").await;
    let rule = "kind: Rule\nname: r\non: x.y\nworkflow: nope\n";
    // Unauthenticated, then too weak, on every new route.
    for (method, path) in [
        ("POST", "/v1/apply"),
        ("GET", "/v1/resources/rules"),
        ("GET", "/v1/resources/rules/r"),
        ("DELETE", "/v1/resources/rules/r"),
        ("GET", "/v1/approvals"),
        ("GET", "/v1/approvals/x"),
        ("POST", "/v1/approvals/x"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = http
            .request(method.clone(), server.at(path))
            .send()
            .await
            .unwrap();
        problem(answer, StatusCode::UNAUTHORIZED, "unauthorized").await;
        if method != reqwest::Method::GET {
            let answer = http
                .request(method, server.at(path))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap();
            problem(answer, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    // A document naming a workflow that does not exist, plus other problems:
    // every one is reported and nothing is saved.
    let bad = format!(
        "{rule}---\nkind: Schedule\nname: s\ncron: 61 * * * *\nworkflow: w\n---\nkind: Gadget\nname: g\n"
    );
    let answer = apply(&http, &server, &operator, &bad).await;
    let body = problem(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-resources",
    )
    .await;
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["[2].kind"], "{body}");
    let answer = apply(
        &http,
        &server,
        &operator,
        &bad.replace("---\nkind: Gadget\nname: g\n", ""),
    )
    .await;
    let body = problem(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-resources",
    )
    .await;
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["[0].workflow", "[1].cron"], "{body}");
    for bad in ["", "kind: [", "\u{0}\u{1}"] {
        let answer = apply(&http, &server, &operator, bad).await;
        assert!(
            answer.status().is_client_error(),
            "{bad:?}: {}",
            answer.status()
        );
    }
    let rules = server.get(&http, "/v1/resources/rules").await;
    assert_eq!(rules, json!([]));
    problem(
        http.get(server.at("/v1/resources/gadgets"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    problem(
        http.post(server.at("/v1/approvals/nope"))
            .bearer_auth(&operator)
            .json(&json!({"decision": "approve"}))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    problem(
        http.post(server.at("/v1/approvals/nope"))
            .bearer_auth(&operator)
            .json(&json!({"decision": "maybe"}))
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad-request",
    )
    .await;
}
