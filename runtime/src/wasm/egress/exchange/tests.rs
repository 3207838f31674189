//! [`send`] against canned servers on 127.0.0.1, without a guest: what
//! the guest would get, and the one log line per request.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::wasm::egress::{EgressLimits, EgressRule};
use crate::wasm::logbook::{LogBookLimits, LogLine};

/// How a canned server answers every connection.
#[derive(Clone, Copy)]
enum Answer {
    /// This raw response, then close.
    Raw(&'static str),
    /// A chunked body of `chunks` chunks of `size` bytes.
    Chunks { chunks: usize, size: usize },
    /// Read the request and never answer.
    Silence,
    /// This raw response (a head and part of its body), then nothing more
    /// with the connection open.
    Stall(&'static str),
}

async fn server(answer: Answer) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0_u8; 4096];
                let _ = stream.read(&mut head).await;
                match answer {
                    Answer::Raw(text) => {
                        let _ = stream.write_all(text.as_bytes()).await;
                    }
                    Answer::Chunks { chunks, size } => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                            .await;
                        let chunk = format!("{size:x}\r\n{}\r\n", "x".repeat(size));
                        for _ in 0..chunks {
                            if stream.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        let _ = stream.write_all(b"0\r\n\r\n").await;
                    }
                    Answer::Silence => tokio::time::sleep(Duration::from_secs(30)).await,
                    Answer::Stall(text) => {
                        let _ = stream.write_all(text.as_bytes()).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                }
            });
        }
    });
    port
}

fn policy(rules: &[&str], limits: EgressLimits) -> Arc<EgressPolicy> {
    let rules = rules
        .iter()
        .map(|origin| EgressRule::parse(origin, None, true).unwrap())
        .collect();
    Arc::new(EgressPolicy {
        rules,
        limits,
        ..EgressPolicy::default()
    })
}

fn log() -> LogBook {
    LogBook::new(LogBookLimits {
        lines: 100,
        bytes: 1 << 20,
        line_bytes: 4096,
    })
}

fn get(url: &str) -> http::Request<WasiBody> {
    let body = Empty::new()
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync();
    http::Request::get(url)
        .header("authorization", "Bearer s3cret-token")
        .body(body)
        .unwrap()
}

/// The request slots of one invocation under `policy`.
fn slots(policy: &EgressPolicy) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(policy.limits.max_concurrent_requests))
}

fn deadline() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(10)
}

/// Sends, reads the whole body, and returns it (or its error) with the log.
async fn fetch(
    policy: Arc<EgressPolicy>,
    url: &str,
) -> (Result<(u16, String), String>, Vec<LogLine>) {
    let slots = slots(&policy);
    fetch_in(policy, slots, url).await
}

/// [`fetch`] with the slots of an invocation that may have other requests
/// in progress.
async fn fetch_in(
    policy: Arc<EgressPolicy>,
    slots: Arc<Semaphore>,
    url: &str,
) -> (Result<(u16, String), String>, Vec<LogLine>) {
    let log = log();
    let result = match send(policy, log.clone(), deadline(), slots, get(url), None).await {
        Err(error) => Err(error.to_string()),
        Ok((response, driver)) => {
            tokio::spawn(Box::into_pin(driver));
            let status = response.status().as_u16();
            match response.into_body().collect().await {
                Ok(body) => Ok((status, String::from_utf8_lossy(&body.to_bytes()).into())),
                Err(error) => Err(error.to_string()),
            }
        }
    };
    (result, log.take().0)
}

fn only_line(lines: &[LogLine]) -> &str {
    assert_eq!(lines.len(), 1, "{lines:?}");
    &lines[0].message
}

#[tokio::test]
async fn a_granted_request_is_logged_without_path_query_or_headers() {
    let port = server(Answer::Raw(
        "HTTP/1.1 201 Created\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
    ))
    .await;
    let origin = format!("http://127.0.0.1:{port}");
    let (result, lines) = fetch(
        policy(&[&origin], EgressLimits::default()),
        &format!("{origin}/hooks/T000/B000/XXXX?token=abc"),
    )
    .await;
    assert_eq!(result, Ok((201, "hello".into())));
    let line = only_line(&lines);
    assert!(
        line.starts_with(&format!(
            "outbound HTTP GET {origin}: status 201, 5 bytes in "
        )),
        "{line}"
    );
    for secret in ["hooks", "XXXX", "token", "abc", "s3cret", "Bearer"] {
        assert!(!line.contains(secret), "{line}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_fails_as_it_streams() {
    let port = server(Answer::Chunks {
        chunks: 64,
        size: 1000,
    })
    .await;
    let origin = format!("http://127.0.0.1:{port}");
    let limits = EgressLimits {
        max_response_bytes: 10_000,
        ..EgressLimits::default()
    };
    let (result, lines) = fetch(policy(&[&origin], limits), &format!("{origin}/big")).await;
    let error = result.unwrap_err();
    assert!(error.contains("exceeds limit: 10000 bytes"), "{error}");
    let line = only_line(&lines);
    assert!(line.contains("cut at the limit of 10000 bytes"), "{line}");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_fails_before_reading() {
    let port = server(Answer::Raw(
        "HTTP/1.1 200 OK\r\ncontent-length: 999999\r\n\r\nxx",
    ))
    .await;
    let origin = format!("http://127.0.0.1:{port}");
    let limits = EgressLimits {
        max_response_bytes: 100,
        ..EgressLimits::default()
    };
    let (result, lines) = fetch(policy(&[&origin], limits), &origin).await;
    assert!(result.unwrap_err().contains("exceeds limit: 100 bytes"));
    assert!(only_line(&lines).contains("status 200, 0 bytes"));
}

#[tokio::test]
async fn a_silent_server_meets_the_total_timeout() {
    let port = server(Answer::Silence).await;
    let origin = format!("http://127.0.0.1:{port}");
    let limits = EgressLimits {
        total_timeout: Duration::from_millis(300),
        ..EgressLimits::default()
    };
    let started = std::time::Instant::now();
    let (result, lines) = fetch(policy(&[&origin], limits), &origin).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        result.unwrap_err(),
        WasiError::HttpResponseTimeout.to_string()
    );
    let line = only_line(&lines);
    assert!(line.contains("failed after"), "{line}");
    assert!(line.contains("no response within"), "{line}");
}

#[tokio::test]
async fn refusals_happen_before_any_connection() {
    let port = server(Answer::Raw("HTTP/1.1 200 OK\r\n\r\n")).await;
    let granted = format!("http://127.0.0.1:{port}");
    let cases = [
        (
            "http://10.0.0.1/x",
            "origin http://10.0.0.1:80 is not in this plugin's outbound allowlist",
        ),
        (
            "http://169.254.169.254/latest/meta-data",
            "origin http://169.254.169.254:80 is not in this plugin's outbound allowlist",
        ),
        (
            &format!("https://127.0.0.1:{port}/"),
            "is not in this plugin's outbound allowlist",
        ),
    ];
    for (url, reason) in cases {
        let (result, lines) = fetch(policy(&[&granted], EgressLimits::default()), url).await;
        assert_eq!(
            result.unwrap_err(),
            WasiError::HttpRequestDenied.to_string()
        );
        let line = only_line(&lines);
        assert!(
            line.contains(" refused: ") && line.contains(reason),
            "{line}"
        );
    }

    let private = Arc::new(EgressPolicy {
        rules: vec![EgressRule::parse("http://10.0.0.1", None, false).unwrap()],
        ..EgressPolicy::default()
    });
    let (result, lines) = fetch(private, "http://10.0.0.1/").await;
    assert_eq!(
        result.unwrap_err(),
        WasiError::DestinationIpProhibited.to_string()
    );
    assert!(only_line(&lines).contains(
        "10.0.0.1 is a private address; the grant for http://10.0.0.1 does not allow private networks"
    ));
}

#[tokio::test]
async fn https_to_a_plain_server_fails_in_the_tls_handshake() {
    let port = server(Answer::Raw("HTTP/1.1 200 OK\r\n\r\n")).await;
    let origin = format!("https://127.0.0.1:{port}");
    let (result, lines) = fetch(policy(&[&origin], EgressLimits::default()), &origin).await;
    assert_eq!(result.unwrap_err(), WasiError::TlsProtocolError.to_string());
    assert!(only_line(&lines).contains("TLS handshake with 127.0.0.1 failed"));
}

#[tokio::test]
async fn requests_in_progress_at_once_are_capped() {
    let stalled = server(Answer::Stall(
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello",
    ))
    .await;
    let quick = server(Answer::Raw(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
    ))
    .await;
    let stalled = format!("http://127.0.0.1:{stalled}");
    let quick = format!("http://127.0.0.1:{quick}");
    let policy = policy(
        &[&stalled, &quick],
        EgressLimits {
            max_concurrent_requests: 2,
            connect_timeout: Duration::from_millis(300),
            ..EgressLimits::default()
        },
    );
    let slots = slots(&policy);

    // Two responses whose bodies are still coming hold both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let (response, driver) = send(
            policy.clone(),
            log(),
            deadline(),
            slots.clone(),
            get(&stalled),
            None,
        )
        .await
        .unwrap();
        held.push((response, tokio::spawn(Box::into_pin(driver))));
    }
    // A third waits for a slot until its connect timeout, then fails.
    let started = std::time::Instant::now();
    let (result, lines) = fetch_in(policy.clone(), slots.clone(), &quick).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        result.unwrap_err(),
        WasiError::ConnectionLimitReached.to_string()
    );
    let line = only_line(&lines);
    assert!(
        line.contains("2 outbound requests of this step are already in progress"),
        "{line}"
    );
    // Once one of them ends, the next request goes through.
    let (response, driver) = held.pop().unwrap();
    drop(response);
    driver.abort();
    let _ = driver.await;
    let (result, _) = fetch_in(policy, slots, &quick).await;
    assert_eq!(result, Ok((200, "ok".into())));
}
