//! The router in-process: requests handed straight to the axum service
//! over a real engine and SQLite file (no socket), for the answers that do
//! not need a server process.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use baton::server::{self, Limits};
use serde_json::{Value, json};
use support::engine::Harness;
use tower::ServiceExt;

struct Api {
    router: axum::Router,
    admin: String,
    _harness: Harness,
}

async fn api(max_body: usize) -> Api {
    let harness = Harness::new().await;
    let admin = server::bootstrap_admin(&harness.engine, harness.dir.path())
        .await
        .unwrap()
        .unwrap();
    // A second bootstrap finds the token and makes none.
    assert!(
        server::bootstrap_admin(&harness.engine, harness.dir.path())
            .await
            .unwrap()
            .is_none()
    );
    let state = server::state(
        harness.engine.clone(),
        Limits {
            max_body,
            max_plugin: 1 << 20,
        },
    );
    let (router, _) = server::router(state);
    Api {
        router,
        admin,
        _harness: harness,
    }
}

impl Api {
    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let api = api(1 << 20).await;
    let path = api._harness.dir.path().join(server::ADMIN_TOKEN_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), api.admin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_without_a_server_process() {
    let api = api(1024).await;
    let (status, body) = api
        .call(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, _) = api
        .call(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);

    // Over the JSON body limit: 413, whatever the route.
    let big = json!({"input": {"x": "y".repeat(2000)}}).to_string();
    let (status, body) = api
        .call(
            api.request("POST", "/v1/workflows/w/runs")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["type"], "urn:baton:problem:payload-too-large");

    // A bad bearer scheme, an empty token.
    for value in ["Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer ", "Bearer"] {
        let (status, body) = api
            .call(
                Request::get("/v1/runs")
                    .header(header::AUTHORIZATION, value)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}: {body}");
    }

    // Token names and roles are checked.
    for body in [
        json!({"name": "has space", "role": "viewer"}),
        json!({"name": "ok", "role": "root"}),
    ] {
        let (status, answer) = api
            .call(
                api.request("POST", "/v1/tokens")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
    // A second live token with the same name is a conflict.
    let create = || {
        api.request("POST", "/v1/tokens")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"name": "ci", "role": "viewer"}).to_string(),
            ))
            .unwrap()
    };
    assert_eq!(api.call(create()).await.0, StatusCode::CREATED);
    let (status, body) = api.call(create()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A plugin in use cannot be deleted.
    let (status, _) = api
        .call(
            api.request("PUT", "/v1/workflows/uses")
                .header(header::CONTENT_TYPE, "application/yaml")
                .body(Body::from(
                    "name: uses\nsteps:\n  - id: a\n    uses: toolbox\n",
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, plugins) = api
        .call(
            api.request("GET", "/v1/plugins")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let version = plugins[0]["version"].as_str().unwrap().to_string();
    let (status, body) = api
        .call(
            api.request("DELETE", &format!("/v1/plugins/toolbox/{version}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["type"], "urn:baton:problem:in-use");
    assert!(body["detail"].as_str().unwrap().contains("uses@1"));

    // One no workflow uses can: the same bytes under another name.
    let wasm = std::fs::read(baton_test_programs::GUESTS_TOOLBOX).unwrap();
    let (status, body) = api
        .call(
            api.request("POST", "/v1/plugins?name=spare&version=9.9.9")
                .header(header::CONTENT_TYPE, "application/wasm")
                .body(Body::from(wasm))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["name"], &body["version"]),
        (&json!("spare"), &json!("9.9.9"))
    );
    let delete = || {
        api.request("DELETE", "/v1/plugins/spare/9.9.9")
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(api.call(delete()).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.call(delete()).await.0, StatusCode::NOT_FOUND);
    // The shared component bytes stay for `toolbox`.
    let (status, _) = api
        .call(
            api.request("POST", "/v1/workflows/uses/runs")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}
