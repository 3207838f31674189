//! Outbound HTTP end to end: the `netprobe` guest sends requests through
//! the SDK client, the executor's egress policy decides, and real HTTP
//! servers on 127.0.0.1 answer. Each test checks what the plugin saw and
//! the step log (method, origin and status present; path, query and
//! headers never).
//!
//! The TLS server uses the certificates in `tests/fixtures/tls` (a private
//! CA and a certificate for 127.0.0.1 it signed).
//!
//! Requests to 10.0.0.1 and 169.254.169.254 are refused before any lookup
//! or connection: no test here ever sends a packet off this machine.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{Method, StatusCode, header};
use axum::routing::{any, get};
use baton::wasm::{
    Access, EgressLimits, EgressPolicy, EgressRule, Executor, InvocationLimits, InvocationReport,
    LogLine, Plugin, TlsTrust,
};
use baton_test_programs::GUESTS_NETPROBE;
use serde_json::{Value, json};
use support::*;

/// In the path, the query and a header of requests; never in a log line.
const SECRET_PATH: &str = "T000-SECRET-PATH";
const SECRET_QUERY: &str = "SECRET-QUERY-VALUE";
const SECRET_HEADER: &str = "SECRET-HEADER-VALUE";

/// Bytes the `/big` route streams, far over the test limit.
const BIG_BODY: usize = 1 << 20;
/// The response cap of the size test.
const SMALL_LIMIT: u64 = 64 << 10;

#[derive(serde::Deserialize)]
struct To {
    to: String,
}

/// The test server's routes: plain answers, redirects, a body far over the
/// limit (streamed, so only counting can stop it), and silence.
fn routes() -> Router {
    let big = || async {
        let chunks = (0..BIG_BODY / 1024).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024]));
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let silent = || async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        "too late"
    };
    let redirect =
        |Query(to): Query<To>| async move { (StatusCode::FOUND, [(header::LOCATION, to.to)]) };
    let loop_back = || async {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/loop")],
        )
    };
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/hooks/{secret}", get(|| async { "hook" }))
        .route(
            "/method",
            any(|method: Method| async move { method.to_string() }),
        )
        .route("/echo", any(|body: String| async move { body }))
        .route("/redirect", get(redirect))
        .route("/loop", get(loop_back))
        .route("/big", get(big))
        .route("/silent", get(silent))
}

/// A server on 127.0.0.1 and its port.
async fn serve() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    port
}

/// The private CA of the TLS fixtures.
const TEST_CA: &str = include_str!("../../tests/fixtures/tls/ca.pem");
const SERVER_CERT: &str = include_str!("../../tests/fixtures/tls/server.pem");
const SERVER_KEY: &str = include_str!("../../tests/fixtures/tls/server.key");
/// What the TLS server answers to every request.
const TLS_BODY: &str = "hello over TLS";

/// An HTTPS server on 127.0.0.1 with the fixture certificate: one fixed
/// answer per connection, then close.
async fn serve_tls() -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let certificates = CertificateDer::pem_slice_iter(SERVER_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    #[allow(deprecated, reason = "ring, as the runtime uses")]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{TLS_BODY}",
                    TLS_BODY.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn limits() -> InvocationLimits {
    InvocationLimits {
        wall_timeout: Duration::from_secs(20),
        ..InvocationLimits::default()
    }
}

/// The netprobe plugin on its own executor.
struct Probe {
    executor: Executor,
    plugin: Arc<Plugin>,
    _cache: tempfile::TempDir,
}

impl Probe {
    async fn new() -> Probe {
        let (executor, cache) = executor_with(limits());
        let plugin = load(&executor, GUESTS_NETPROBE).await;
        Probe {
            executor,
            plugin,
            _cache: cache,
        }
    }

    /// Runs the probe with `input` under `policy`; the step never fails.
    async fn run(&self, policy: EgressPolicy, input: Value) -> (Value, Vec<LogLine>) {
        let access = Access {
            egress: Arc::new(policy),
            ..Access::default()
        };
        let report: InvocationReport = self
            .executor
            .invoke_with_access(
                &self.plugin,
                &invocation("probe"),
                &input.to_string(),
                &limits(),
                access,
            )
            .await
            .unwrap();
        let output = report.outcome.expect("netprobe never fails its step");
        let lines = report
            .logs
            .into_iter()
            .filter(|l| l.message.starts_with("outbound HTTP"))
            .collect();
        (output, lines)
    }

    async fn get(&self, policy: EgressPolicy, url: &str) -> (Value, Vec<LogLine>) {
        self.run(policy, json!({"url": url})).await
    }
}

fn rule(origin: &str, private_network: bool) -> EgressRule {
    EgressRule::parse(origin, None, private_network).unwrap()
}

fn policy(rules: Vec<EgressRule>) -> EgressPolicy {
    EgressPolicy {
        rules,
        ..EgressPolicy::default()
    }
}

/// The error the plugin saw.
fn error(output: &Value) -> &str {
    output["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {output}"))
}

/// Asserts one log line per request and returns their texts.
fn messages(lines: &[LogLine], requests: usize) -> Vec<&str> {
    assert_eq!(lines.len(), requests, "{lines:#?}");
    lines.iter().map(|l| l.message.as_str()).collect()
}

fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{text:?} lacks {part:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_origin_is_reached_and_logged_without_path_query_or_headers() {
    let probe = Probe::new().await;
    let port = serve().await;
    let origin = format!("http://127.0.0.1:{port}");
    let (output, lines) = probe
        .run(
            policy(vec![rule(&origin, true)]),
            json!({
                "url": format!("{origin}/hooks/{SECRET_PATH}?token={SECRET_QUERY}"),
                "headers": {"authorization": format!("Bearer {SECRET_HEADER}")},
            }),
        )
        .await;
    assert_eq!(output["status"], 200, "{output}");
    assert_eq!(output["body"], "hook");
    assert_eq!(output["error"], Value::Null);

    let [line] = messages(&lines, 1)[..] else {
        unreachable!()
    };
    assert_contains(
        line,
        &format!("outbound HTTP GET {origin}: status 200, 4 bytes in "),
    );
    for secret in [SECRET_PATH, SECRET_QUERY, SECRET_HEADER, "/hooks", "token"] {
        assert!(!line.contains(secret), "{line:?} leaks {secret:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_ports_and_schemes_are_refused() {
    let probe = Probe::new().await;
    let port = serve().await;
    let other_port = serve().await;
    let granted = || policy(vec![rule(&format!("http://127.0.0.1:{port}"), true)]);
    let cases = [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{other_port}"),
        format!("https://127.0.0.1:{port}"),
    ];
    for origin in cases {
        let (output, lines) = probe.get(granted(), &format!("{origin}/hello")).await;
        assert_eq!(
            error(&output),
            format!(
                "outbound HTTP refused: GET {origin} is not granted to this plugin: no entry of its outbound allowlist allows this origin with this method"
            )
        );
        let [line] = messages(&lines, 1)[..] else {
            unreachable!()
        };
        assert_contains(
            line,
            &format!(
                "outbound HTTP GET {origin} refused: origin {origin} is not in this plugin's outbound allowlist"
            ),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_match_subdomains_but_not_the_parent() {
    let probe = Probe::new().await;
    let port = serve().await;
    let wildcard = || policy(vec![rule(&format!("http://*.localhost:{port}"), true)]);

    // `*.localhost` is loopback without asking DNS, hence private_network.
    let (output, lines) = probe
        .get(wildcard(), &format!("http://api.eu.localhost:{port}/hello"))
        .await;
    assert_eq!(output["body"], "hello", "{output}");
    assert_contains(
        messages(&lines, 1)[0],
        &format!("GET http://api.eu.localhost:{port}: status 200"),
    );

    for url in [
        format!("http://localhost:{port}/hello"),
        format!("http://api.localhost:{}/hello", port.wrapping_add(1)),
        format!("http://127.0.0.1:{port}/hello"),
    ] {
        let (output, lines) = probe.get(wildcard(), &url).await;
        assert_contains(error(&output), "is not granted to this plugin");
        assert_contains(
            messages(&lines, 1)[0],
            "is not in this plugin's outbound allowlist",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_can_be_restricted() {
    let probe = Probe::new().await;
    let port = serve().await;
    let origin = format!("http://127.0.0.1:{port}");
    let get_only = || {
        policy(vec![
            EgressRule::parse(&origin, Some(&["get".to_owned()]), true).unwrap(),
        ])
    };
    let (output, _) = probe
        .run(
            get_only(),
            json!({"method": "GET", "url": format!("{origin}/method")}),
        )
        .await;
    assert_eq!(output["body"], "GET", "{output}");

    let (output, lines) = probe
        .run(
            get_only(),
            json!({"method": "POST", "url": format!("{origin}/method"), "body": "x"}),
        )
        .await;
    assert_contains(
        error(&output),
        &format!("outbound HTTP refused: POST {origin}"),
    );
    assert_contains(
        messages(&lines, 1)[0],
        &format!("refused: method POST is not allowed for {origin} (allowed: GET)"),
    );

    // A second rule for the same origin adds POST; the body goes through.
    let mut get_and_post = get_only();
    get_and_post
        .rules
        .push(EgressRule::parse(&origin, Some(&["POST".to_owned()]), true).unwrap());
    let (output, lines) = probe
        .run(
            get_and_post,
            json!({"method": "POST", "url": format!("{origin}/echo"), "body": "ping"}),
        )
        .await;
    assert_eq!(output["body"], "ping", "{output}");
    assert_contains(
        messages(&lines, 1)[0],
        &format!("POST {origin}: status 200, 4 bytes"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_checked_hop_by_hop() {
    let probe = Probe::new().await;
    let port = serve().await;
    let origin = format!("http://127.0.0.1:{port}");
    let granted = || policy(vec![rule(&origin, true)]);

    // Inside the allowlist: followed.
    let (output, lines) = probe
        .get(granted(), &format!("{origin}/redirect?to=/hello"))
        .await;
    assert_eq!(output["status"], 200, "{output}");
    assert_eq!(output["body"], "hello");
    assert_eq!(output["url"], format!("{origin}/hello"));
    let lines = messages(&lines, 2);
    assert_contains(lines[0], &format!("GET {origin}: status 302"));
    assert_contains(lines[1], &format!("GET {origin}: status 200"));

    // Outside: the host refuses the hop, and the plugin is told where.
    let outside = format!("http://localhost:{port}");
    let (output, lines) = probe
        .get(granted(), &format!("{origin}/redirect?to={outside}/hello"))
        .await;
    assert_eq!(
        error(&output),
        format!(
            "outbound HTTP refused: GET {outside} is not granted to this plugin: no entry of its outbound allowlist allows this origin with this method (after 1 redirect)"
        )
    );
    let lines = messages(&lines, 2);
    assert_contains(lines[0], "status 302");
    assert_contains(
        lines[1],
        &format!("refused: origin {outside} is not in this plugin's outbound allowlist"),
    );

    // A loop ends after five hops.
    let (output, lines) = probe.get(granted(), &format!("{origin}/loop")).await;
    assert_eq!(
        error(&output),
        format!("HTTP redirect not followed: more than 5 redirects (the last from {origin})")
    );
    assert!(messages(&lines, 6).iter().all(|l| l.contains("status 307")));

    // Not following: the 3xx is the answer.
    let (output, _) = probe
        .run(
            granted(),
            json!({"url": format!("{origin}/redirect?to=/hello"), "follow_redirects": false}),
        )
        .await;
    assert_eq!(output["status"], 302, "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_need_private_network() {
    let probe = Probe::new().await;
    let port = serve().await;

    // A name that resolves to loopback is refused like the address itself.
    let localhost = format!("http://localhost:{port}");
    let (output, lines) = probe
        .get(
            policy(vec![rule(&localhost, false)]),
            &format!("{localhost}/hello"),
        )
        .await;
    assert_contains(error(&output), "outbound HTTP refused");
    assert_contains(error(&output), "may not reach");
    assert_contains(
        messages(&lines, 1)[0],
        &format!(
            "localhost resolves to 127.0.0.1, a loopback address; the grant for {localhost} does not allow private networks"
        ),
    );

    // The loopback literal: refused without private_network, reached with it.
    let loopback = format!("http://127.0.0.1:{port}");
    let (output, lines) = probe
        .get(
            policy(vec![rule(&loopback, false)]),
            &format!("{loopback}/hello"),
        )
        .await;
    assert_contains(error(&output), "may not reach");
    assert_contains(messages(&lines, 1)[0], "127.0.0.1 is a loopback address");
    let (output, _) = probe
        .get(
            policy(vec![rule(&loopback, true)]),
            &format!("{loopback}/hello"),
        )
        .await;
    assert_eq!(output["body"], "hello", "{output}");

    // Private and metadata addresses: refused before any connection, with
    // or without a rule naming them (never with private_network here).
    for (target, class) in [
        ("http://10.0.0.1", "a private address"),
        ("http://169.254.169.254", "a link-local address"),
    ] {
        let started = Instant::now();
        let (output, lines) = probe
            .get(policy(vec![]), &format!("{target}/latest/meta-data"))
            .await;
        assert_contains(error(&output), "is not granted to this plugin");
        assert_contains(
            messages(&lines, 1)[0],
            "is not in this plugin's outbound allowlist",
        );

        let (output, lines) = probe
            .get(
                policy(vec![rule(target, false)]),
                &format!("{target}/latest/meta-data"),
            )
            .await;
        assert_contains(error(&output), "may not reach");
        assert_contains(messages(&lines, 1)[0], &format!("is {class}"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no connection was tried"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_bounded_in_size_and_time() {
    let probe = Probe::new().await;
    let port = serve().await;
    let origin = format!("http://127.0.0.1:{port}");
    let bounded = || EgressPolicy {
        rules: vec![rule(&origin, true)],
        limits: EgressLimits {
            max_response_bytes: SMALL_LIMIT,
            total_timeout: Duration::from_secs(1),
            ..EgressLimits::default()
        },
        ..EgressPolicy::default()
    };

    let (output, lines) = probe.get(bounded(), &format!("{origin}/big")).await;
    assert_eq!(
        error(&output),
        format!(
            "HTTP response too large: the response body of {origin} is over the limit of {SMALL_LIMIT} bytes"
        )
    );
    assert_contains(
        messages(&lines, 1)[0],
        &format!("the response body was cut at the limit of {SMALL_LIMIT} bytes"),
    );

    let started = Instant::now();
    let (output, lines) = probe.get(bounded(), &format!("{origin}/silent")).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        error(&output),
        format!("HTTP request timed out: {origin} did not answer in time")
    );
    assert_contains(messages(&lines, 1)[0], "no response within");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_trusts_the_mozilla_roots_and_the_deployments_own_authorities() {
    let probe = Probe::new().await;
    let port = serve_tls().await;
    let origin = format!("https://127.0.0.1:{port}");
    let url = format!("{origin}/status?token={SECRET_QUERY}");

    // The Mozilla roots alone: a private CA's certificate is refused.
    let (output, lines) = probe.get(policy(vec![rule(&origin, true)]), &url).await;
    assert_contains(error(&output), "certificate");
    let line = messages(&lines, 1)[0];
    assert_contains(line, &format!("GET {origin}"));
    assert_contains(
        line,
        "TLS handshake with 127.0.0.1 failed: invalid peer certificate",
    );
    assert!(!line.contains(SECRET_QUERY), "{line}");

    // With the deployment's CA (as `--ca-file` gives): reached, and the
    // certificate is still checked against the URL's host.
    let trusted = EgressPolicy {
        rules: vec![rule(&origin, true)],
        trust: TlsTrust::with_pem(TEST_CA.as_bytes(), "ca.pem").unwrap(),
        ..EgressPolicy::default()
    };
    let (output, lines) = probe.get(trusted.clone(), &url).await;
    assert_eq!(output["status"], 200, "{output}");
    assert_eq!(output["body"], TLS_BODY, "{output}");
    let line = messages(&lines, 1)[0];
    assert_contains(line, &format!("GET {origin}: status 200"));
    assert!(!line.contains(SECRET_QUERY), "{line}");
}
