//! A real `baton serve` child process on a loopback port, and helpers to
//! drive it over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::BATON;

/// A two-step workflow of the toolbox plugin: input `n`, output
/// `doubled`, and a log line `hello` in step `one`.
pub const FLOW: &str = "name: flow
input:
  type: object
  required: [n]
steps:
  - id: one
    uses: toolbox
    with: { value: \"${{ input.n }}\", log: hello }
  - id: two
    needs: [one]
    uses: toolbox
    with: { value: \"${{ steps.one.output.value * 2 }}\" }
outputs: { doubled: \"${{ steps.two.output.value }}\" }
";

/// A running `baton serve`.
pub struct Server {
    child: Child,
    /// Base URL.
    pub url: String,
    /// The admin token.
    pub token: String,
}

impl Server {
    pub fn start(dir: &tempfile::TempDir) -> Server {
        Server::start_with(dir, &[])
    }

    pub fn start_with(dir: &tempfile::TempDir, extra: &[&str]) -> Server {
        let mut child = Command::new(BATON)
            .args(["serve", "--listen", "127.0.0.1:0", "--max-body", "64KiB"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("BATON_CACHE_DIR", dir.path().join("cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("baton listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        let token = std::fs::read_to_string(dir.path().join("data/admin-token"))
            .unwrap()
            .trim()
            .to_string();
        Server { child, url, token }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid; no memory involved.
        unsafe {
            libc::kill(i32::try_from(self.child.id()).unwrap(), libc::SIGTERM);
        }
        self.child.wait().unwrap()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Uploads a component as the admin; the answer.
    pub async fn upload(&self, http: &reqwest::Client, path: &str) -> reqwest::Response {
        http.post(self.at("/v1/plugins"))
            .bearer_auth(&self.token)
            .header("content-type", "application/wasm")
            .body(std::fs::read(path).unwrap())
            .send()
            .await
            .unwrap()
    }

    /// Saves a workflow as the admin, which must succeed.
    pub async fn save(&self, http: &reqwest::Client, name: &str, yaml: &str) {
        let saved = http
            .put(self.at(&format!("/v1/workflows/{name}")))
            .bearer_auth(&self.token)
            .header("content-type", "application/yaml")
            .body(yaml.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), StatusCode::CREATED);
    }

    /// Starts a run as the admin; its id.
    pub async fn start_run(&self, http: &reqwest::Client, name: &str) -> String {
        let started = http
            .post(self.at(&format!("/v1/workflows/{name}/runs")))
            .bearer_auth(&self.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), StatusCode::CREATED);
        let run: Value = started.json().await.unwrap();
        run["id"].as_str().unwrap().to_string()
    }

    /// GET as the admin; the JSON body of a 200.
    pub async fn get(&self, http: &reqwest::Client, path: &str) -> Value {
        let response = http
            .get(self.at(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI against a server with a token.
pub fn cli(server: &Server, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(BATON)
        .args(args)
        .env("BATON_URL", &server.url)
        .env("BATON_TOKEN", token)
        .output()
        .unwrap()
}

/// A command's standard output, as text.
pub fn out(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's standard error, as text.
pub fn err(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates a token as the admin; its secret.
pub async fn create_token(
    http: &reqwest::Client,
    server: &Server,
    name: &str,
    role: &str,
) -> String {
    let created = http
        .post(server.at("/v1/tokens"))
        .bearer_auth(&server.token)
        .json(&json!({"name": name, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    created["token"].as_str().unwrap().to_string()
}

/// Applies a file of resources with a token; the answer.
pub async fn apply(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    text: &str,
) -> reqwest::Response {
    http.post(server.at("/v1/apply"))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(text.to_string())
        .send()
        .await
        .unwrap()
}

/// Asserts a problem answer of this status and kind.
pub async fn problem(response: reqwest::Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], format!("urn:baton:problem:{kind}"), "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// Follows a run's event stream to its end; returns the event names.
pub async fn follow(http: &reqwest::Client, server: &Server, run: &str) -> Vec<(String, Value)> {
    let response = http
        .get(server.at(&format!("/v1/runs/{run}/events")))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut data = None;
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = Some(n.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str::<Value>(d).unwrap());
            }
        }
        if let (Some(name), Some(data)) = (name, data) {
            events.push((name, data));
        }
    }
    events
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `key`, as a webhook
/// expects it in `X-Signature-256` by default.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs a JSON `body` to the webhook `name`, signed with `signature`.
pub async fn post_hook(
    http: &reqwest::Client,
    server: &Server,
    name: &str,
    signature: &str,
    body: &'static [u8],
) -> reqwest::Response {
    http.post(server.at(&format!("/v1/hooks/{name}")))
        .header("content-type", "application/json")
        .header("x-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap()
}
