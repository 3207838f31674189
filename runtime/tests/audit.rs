//! The audit trail end to end, on a real `baton serve`: real actions leave
//! entries in order with their actor, action and target; a refused action
//! leaves none; `GET /v1/audit` filters, pages and is for admins only; and
//! `baton audit verify` finds the trail intact, then names the entry an
//! attacker with the database file edited or deleted.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::path::Path;

use baton_test_programs::GUESTS_TOOLBOX;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use support::server::{FLOW, Server, cli, create_token, err, out, problem};

/// `GET /v1/audit` with a query, as the admin: the page.
async fn audit(http: &reqwest::Client, server: &Server, query: &str) -> Value {
    server.get(http, &format!("/v1/audit{query}")).await
}

/// (actor, action, target) of each entry of a page.
fn summary(page: &Value) -> Vec<(String, String, String)> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn triples(expected: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// The server's database, opened directly (as someone with the file could).
async fn open_database(dir: &tempfile::TempDir) -> sqlx::SqliteConnection {
    let path: &Path = &dir.path().join("data/baton.db");
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_records_actions_in_order_and_shows_an_edited_entry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();

    // Real actions. Uploading the same bytes again stores nothing, so it
    // is not audited.
    let uploaded = server.upload(&http, GUESTS_TOOLBOX).await;
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let plugin: Value = uploaded.json().await.unwrap();
    let version = plugin["version"].as_str().unwrap().to_string();
    let digest = plugin["digest"].as_str().unwrap().to_string();
    assert_eq!(
        server.upload(&http, GUESTS_TOOLBOX).await.status(),
        StatusCode::CREATED
    );
    let operator = create_token(&http, &server, "op", "operator").await;
    let viewer = create_token(&http, &server, "view", "viewer").await;
    create_token(&http, &server, "temp", "viewer").await;
    let saved = http
        .put(server.at("/v1/workflows/flow"))
        .bearer_auth(&operator)
        .header("content-type", "application/yaml")
        .body(FLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);
    // A version nothing uses, to delete.
    let spare = http
        .post(server.at("/v1/plugins?version=9.9.9"))
        .bearer_auth(&server.token)
        .header("content-type", "application/wasm")
        .body(std::fs::read(GUESTS_TOOLBOX).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(spare.status(), StatusCode::CREATED);
    let revoked = http
        .delete(server.at("/v1/tokens/temp"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let deleted = http
        .delete(server.at("/v1/plugins/toolbox/9.9.9"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Refused actions write nothing, their audit entry included.
    let refused = [
        http.post(server.at("/v1/tokens"))
            .bearer_auth(&server.token)
            .json(&json!({"name": "op", "role": "viewer"})),
        http.delete(server.at("/v1/tokens/temp"))
            .bearer_auth(&server.token),
        http.delete(server.at(&format!("/v1/plugins/toolbox/{version}")))
            .bearer_auth(&server.token),
        http.delete(server.at("/v1/plugins/toolbox/9.9.9"))
            .bearer_auth(&server.token),
    ];
    for request in refused {
        assert!(request.send().await.unwrap().status().is_client_error());
    }

    let plugin_target = format!("plugin/toolbox@{version}");
    let all = audit(&http, &server, "").await;
    assert_eq!(
        summary(&all),
        triples(&[
            ("system", "token.create", "token/admin"),
            ("token:admin", "plugin.upload", &plugin_target),
            ("token:admin", "token.create", "token/op"),
            ("token:admin", "token.create", "token/view"),
            ("token:admin", "token.create", "token/temp"),
            ("token:op", "workflow.save", "workflow/flow"),
            ("token:admin", "plugin.upload", "plugin/toolbox@9.9.9"),
            ("token:admin", "token.revoke", "token/temp"),
            ("token:admin", "plugin.delete", "plugin/toolbox@9.9.9"),
        ])
    );
    assert!(all["next_cursor"].is_null());
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries[0]["detail"], json!({"role": "admin"}));
    assert_eq!(entries[1]["detail"], json!({"digest": digest}));
    assert_eq!(entries[5]["detail"], json!({"version": 1}));
    assert_eq!(entries[8]["detail"], json!({"digest": digest}));
    let mut previous = "0".repeat(64);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["seq"], i + 1);
        assert_eq!(entry["prev_hash"], previous.as_str());
        assert!(entry["at"].as_i64().unwrap() > 0);
        previous = entry["hash"].as_str().unwrap().to_string();
    }

    // Filters.
    let by_op = audit(&http, &server, "?actor=token:op").await;
    assert_eq!(
        summary(&by_op),
        triples(&[("token:op", "workflow.save", "workflow/flow")])
    );
    let tokens = audit(&http, &server, "?action=token.").await;
    assert_eq!(summary(&tokens).len(), 5);
    let uploads = audit(&http, &server, "?action=plugin.upload&actor=token:admin").await;
    assert_eq!(summary(&uploads).len(), 2);
    let temp = audit(&http, &server, "?target=token/temp").await;
    assert_eq!(
        summary(&temp)
            .iter()
            .map(|(_, action, _)| action.as_str())
            .collect::<Vec<_>>(),
        ["token.create", "token.revoke"]
    );
    let future = audit(&http, &server, "?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["entries"], json!([]));
    let past = audit(&http, &server, "?until=1971-01-01T00:00:00Z").await;
    assert_eq!(past["entries"], json!([]));
    let now = audit(
        &http,
        &server,
        "?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(now["entries"], all["entries"]);

    // Pages, oldest first, that add up to the whole trail.
    let mut paged = Vec::new();
    let mut query = "?limit=4".to_string();
    let mut pages = 0;
    loop {
        let page = audit(&http, &server, &query).await;
        paged.extend(page["entries"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(Value::Array(paged), all["entries"]);

    // Bad filters are problems.
    for (query, kind) in [
        ("?since=yesterday", "bad-request"),
        ("?until=2026-13-01T00:00:00Z", "bad-request"),
        ("?limit=0", "bad-request"),
        ("?limit=501", "bad-request"),
        ("?limit=many", "bad-request"),
        ("?cursor=abc", "invalid-cursor"),
        ("?cursor=-4", "invalid-cursor"),
        ("?colour=red", "bad-request"),
    ] {
        let response = http
            .get(server.at(&format!("/v1/audit{query}")))
            .bearer_auth(&server.token)
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::BAD_REQUEST, kind).await;
    }

    // Admins only.
    for token in [&viewer, &operator] {
        let response = http
            .get(server.at("/v1/audit"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let anonymous = http.get(server.at("/v1/audit")).send().await.unwrap();
    problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Documented.
    let document: Value = reqwest::get(server.at("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operation = &document["paths"]["/v1/audit"]["get"];
    assert_eq!(operation["operationId"], "audit_list");
    assert!(operation["responses"]["403"].is_object());
    assert!(document["components"]["schemas"]["AuditRecord"].is_object());

    // The CLI: a table, JSON, and an intact chain.
    let listed = cli(
        &server,
        &server.token,
        &["audit", "list", "--actor", "token:op"],
    );
    assert!(listed.status.success(), "{}", err(&listed));
    assert!(out(&listed).starts_with("SEQ"), "{}", out(&listed));
    assert!(out(&listed).contains("workflow/flow"), "{}", out(&listed));
    let listed = cli(
        &server,
        &server.token,
        &[
            "audit", "list", "--action", "plugin.", "--limit", "2", "--json",
        ],
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["entries"].as_array().unwrap().len(), 2);
    assert_eq!(listed["next_cursor"], "7");
    let verified = cli(&server, &server.token, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", err(&verified));
    assert_eq!(out(&verified).trim(), "audit trail intact: 9 entries");
    let verified = cli(&server, &server.token, &["audit", "verify", "--json"]);
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(
        report,
        json!({"intact": true, "entries": 9, "last": {"seq": 9, "hash": previous}})
    );
    let forbidden = cli(&server, &operator, &["audit", "verify"]);
    assert_eq!(forbidden.status.code(), Some(3), "{}", err(&forbidden));
    assert!(server.stop().success());

    // With the file: the database refuses to change or remove an entry...
    let mut db = open_database(&dir).await;
    for statement in [
        "UPDATE audit SET detail = '{\"digest\":\"evil\"}' WHERE seq = 3",
        "DELETE FROM audit WHERE seq = 3",
    ] {
        let refused = sqlx::query(statement).execute(&mut db).await.unwrap_err();
        assert!(
            refused.to_string().contains("append-only"),
            "{statement}: {refused}"
        );
    }
    // ... until an attacker drops the trigger and rewrites an entry.
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET target = 'plugin/other@1.0.0' WHERE seq = 3")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let server = Server::start(&dir);
    let verified = cli(&server, &server.token, &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(1), "{}", err(&verified));
    assert!(
        err(&verified).contains("audit trail broken at entry 3: "),
        "{}",
        err(&verified)
    );
    assert!(err(&verified).contains("edited"), "{}", err(&verified));
    let json = cli(&server, &server.token, &["audit", "verify", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert_eq!(report["broken"]["seq"], 3);
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_garbled_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let http = reqwest::Client::new();
    for name in ["a", "b", "c"] {
        create_token(&http, &server, name, "viewer").await;
    }
    let verified = cli(&server, &server.token, &["audit", "verify"]);
    assert_eq!(out(&verified).trim(), "audit trail intact: 4 entries");
    assert!(server.stop().success());

    // Entry 2 is removed: the gap is named.
    let mut db = open_database(&dir).await;
    sqlx::query("DROP TRIGGER audit_no_delete")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE seq = 2")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let server = Server::start(&dir);
    let verified = cli(&server, &server.token, &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(1), "{}", err(&verified));
    assert!(
        err(&verified).contains("audit trail broken at entry 2: it is missing"),
        "{}",
        err(&verified)
    );
    assert!(server.stop().success());

    // An entry whose detail is no longer JSON is still listed, and named.
    let mut db = open_database(&dir).await;
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET detail = 'not json' WHERE seq = 1")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let server = Server::start(&dir);
    let page = audit(&http, &server, "").await;
    assert_eq!(page["entries"][0]["detail"], "not json");
    let verified = cli(&server, &server.token, &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(1), "{}", err(&verified));
    assert!(
        err(&verified).contains("audit trail broken at entry 1: "),
        "{}",
        err(&verified)
    );
    assert!(server.stop().success());
}
