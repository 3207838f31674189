//! Event ingestion end to end against a real `baton serve`: the three
//! CloudEvents modes and their bad variants, the Alertmanager webhook with
//! real payloads, duplicates, listing, and durability across a restart.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::{Server, problem};

const FIRING: &str = include_str!("../../tests/fixtures/alertmanager-v4-firing.json");
const RESOLVED: &str = include_str!("../../tests/fixtures/alertmanager-v4-resolved.json");

fn event(id: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "/ci", "type": "deploy.done",
        "subject": "web", "time": "2026-12-04T10:00:00Z", "data": {"version": "1.2.3"}
    })
}

async fn post(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    http.post(server.at(path))
        .bearer_auth(&server.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudevents_in_every_mode_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();

    // Structured mode; the same event again is a duplicate.
    for duplicate in [false, true] {
        let answer = post(
            &http,
            &server,
            "/v1/events",
            "application/cloudevents+json",
            event("e1").to_string(),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["duplicates"], u64::from(duplicate));
        assert_eq!(answer["events"][0]["duplicate"], duplicate);
    }
    // Batch mode, with a duplicate of an earlier event inside.
    let batch = json!([event("e2"), event("e3"), event("e1")]);
    let answer: Value = post(
        &http,
        &server,
        "/v1/events",
        "application/cloudevents-batch+json",
        batch.to_string(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (answer["accepted"].clone(), answer["duplicates"].clone()),
        (json!(2), json!(1))
    );
    // Binary mode.
    let answer = http
        .post(server.at("/v1/events"))
        .bearer_auth(&server.token)
        .header("ce-specversion", "1.0")
        .header("ce-id", "b1")
        .header("ce-source", "/hooks/x")
        .header("ce-type", "ticket.closed")
        .header("ce-subject", "INC-1")
        .header("content-type", "application/json")
        .body(r#"{"ticket": "INC-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    // Listing, newest first, with filters and a cursor.
    let page = server.get(&http, "/v1/events?limit=2").await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event"]["type"], "ticket.closed");
    assert_eq!(events[0]["event"]["data"], json!({"ticket": "INC-1"}));
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = server
        .get(&http, &format!("/v1/events?limit=10&cursor={cursor}"))
        .await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
    let deploys = server.get(&http, "/v1/events?type=deploy.done").await;
    assert_eq!(deploys["events"].as_array().unwrap().len(), 3);
    let seq = deploys["events"][0]["seq"].as_i64().unwrap();
    let one = server.get(&http, &format!("/v1/events/{seq}")).await;
    assert_eq!(one["event"]["id"], "e3");
    assert_eq!(one["received_by"], "admin");

    // Stored durably: still there after a restart.
    assert!(server.stop().success());
    let server = Server::start(&dir);
    let all = server.get(&http, "/v1/events").await;
    assert_eq!(all["events"].as_array().unwrap().len(), 4);
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    let mut missing = event("x");
    missing.as_object_mut().unwrap().remove("source");
    let mut bad_time = event("y");
    bad_time["time"] = json!("last tuesday");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "application/cloudevents+json",
            missing.to_string(),
            "source",
        ),
        ("application/cloudevents+json", bad_time.to_string(), "time"),
        ("application/cloudevents+json", "{not json".into(), ""),
        ("application/cloudevents+json", "[]".into(), ""),
        (
            "application/cloudevents-batch+json",
            json!([event("ok"), missing]).to_string(),
            "[1].source",
        ),
        ("application/cloudevents-batch+json", "[]".into(), ""),
    ];
    for (content_type, body, at) in cases {
        let answer = post(&http, &server, "/v1/events", content_type, body.clone()).await;
        let problem = problem(answer, StatusCode::BAD_REQUEST, "invalid-event").await;
        assert_eq!(problem["errors"][0]["path"], at, "{body}");
    }
    // Not CloudEvents at all.
    let answer = post(&http, &server, "/v1/events", "application/json", "{}").await;
    problem(
        answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    // Binary mode without a type.
    let answer = http
        .post(server.at("/v1/events"))
        .bearer_auth(&server.token)
        .header("ce-specversion", "1.0")
        .header("ce-id", "b1")
        .header("ce-source", "/x")
        .body("hi")
        .send()
        .await
        .unwrap();
    let body = problem(answer, StatusCode::BAD_REQUEST, "invalid-event").await;
    assert_eq!(body["errors"][0]["path"], "ce-type");
    // Alertmanager: wrong version, wrong content type.
    let mut old: Value = serde_json::from_str(FIRING).unwrap();
    old["version"] = json!("3");
    let answer = post(
        &http,
        &server,
        "/v1/hooks/alertmanager",
        "application/json",
        old.to_string(),
    )
    .await;
    problem(answer, StatusCode::BAD_REQUEST, "invalid-event").await;
    let answer = post(
        &http,
        &server,
        "/v1/hooks/alertmanager",
        "text/plain",
        FIRING,
    )
    .await;
    problem(
        answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    // A viewer may read but not send.
    let viewer: Value = http
        .post(server.at("/v1/tokens"))
        .bearer_auth(&server.token)
        .json(&json!({"name": "v", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let viewer = viewer["token"].as_str().unwrap();
    let answer = http
        .post(server.at("/v1/events"))
        .bearer_auth(viewer)
        .header("content-type", "application/cloudevents+json")
        .body(event("v").to_string())
        .send()
        .await
        .unwrap();
    problem(answer, StatusCode::FORBIDDEN, "forbidden").await;
    for path in ["/v1/events?cursor=abc", "/v1/events?cursor=-1"] {
        let answer = http
            .get(server.at(path))
            .bearer_auth(&server.token)
            .send()
            .await
            .unwrap();
        problem(answer, StatusCode::BAD_REQUEST, "invalid-cursor").await;
    }
    let answer = http
        .get(server.at("/v1/events/99"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    problem(answer, StatusCode::NOT_FOUND, "not-found").await;

    let all = server.get(&http, "/v1/events").await;
    assert_eq!(all["events"], json!([]));
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_notifications_become_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    for (body, duplicates) in [(FIRING, 0), (FIRING, 1), (RESOLVED, 0)] {
        let answer = post(
            &http,
            &server,
            "/v1/hooks/alertmanager",
            "application/json",
            body,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["duplicates"], duplicates, "{answer}");
    }
    let page = server
        .get(&http, "/v1/events?subject=407897479c00a123")
        .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event"]["type"], "alertmanager.alert.resolved");
    assert_eq!(events[1]["event"]["type"], "alertmanager.alert.firing");
    assert_eq!(events[1]["event"]["data"]["labels"]["severity"], "critical");
    assert_eq!(
        events[1]["event"]["data"]["commonLabels"]["service"],
        "billing-db"
    );
    assert_eq!(events[1]["received_by"], "alertmanager:admin");
    assert!(server.stop().success());
}
