//! A client of Baton's HTTP API, as the `baton` CLI uses it.
//!
//! Each method is one request; answers are returned as JSON values (the
//! shapes are in the OpenAPI document), and every error answer as the
//! server's [`Problem`](ClientError::Problem), so callers can show its
//! detail. [`Client::follow`] reads a run's Server-Sent Events.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::server::views::{AuditPage, AuditParams};

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem document.
    #[error("{title} ({status}): {detail}{}", errors_text(.errors))]
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem's `type`.
        kind: String,
        /// Its title.
        title: String,
        /// Its detail.
        detail: String,
        /// Field problems (`path: message`), for documents.
        errors: Vec<String>,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered something that is not the API's.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
    /// The request could not be made (bad URL, unreadable file).
    #[error("{0}")]
    Usage(String),
}

fn errors_text(errors: &[String]) -> String {
    errors.iter().map(|e| format!("\n  {e}")).collect()
}

/// Result of a client call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// One event of a run's stream: its name (`state`, `run`, `step`,
/// `attempt`) and JSON data.
#[derive(Debug, Clone)]
pub struct RunEvent {
    /// Event name.
    pub name: String,
    /// Its data.
    pub data: Value,
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base` (such as `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: Option<String>) -> Result<Client> {
        let base = base.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| ClientError::Usage(format!("invalid server URL {base:?}: {e}")))?;
        if parsed.scheme() != "http" {
            return Err(ClientError::Usage(format!(
                "invalid server URL {base:?}: only http:// is supported (put a TLS proxy in front \
                 of Baton for https)"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up HTTP: {e}")))?;
        Ok(Client { base, token, http })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            message = format!("{message}: {inner}");
            source = inner.source();
        }
        ClientError::Unreachable {
            url: self.base.clone(),
            message,
        }
    }

    async fn send(&self, builder: RequestBuilder) -> Result<reqwest::Response> {
        let response = builder.send().await.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(problem(response).await)
    }

    async fn json(&self, builder: RequestBuilder) -> Result<Value> {
        let response = self.send(builder).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        response
            .json()
            .await
            .map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// GET a JSON resource.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.json(self.request(Method::GET, path)).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Result<Value> {
        let mut builder = self.request(Method::POST, path).json(body);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.json(builder).await
    }

    /// POST or PUT raw bytes with a content type.
    pub async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value> {
        let builder = self
            .request(method, path)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.json(builder).await
    }

    /// DELETE a resource.
    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.json(self.request(Method::DELETE, path)).await
    }

    /// Applies a file of resources (multi-document YAML, or JSON): every
    /// document is checked, then all changes are saved at once, or none;
    /// with `dry_run`, only checked. The answer lists what happened to each
    /// document.
    pub async fn apply(&self, text: &str, dry_run: bool) -> Result<Value> {
        let mut builder = self
            .request(Method::POST, "/v1/apply")
            .header(reqwest::header::CONTENT_TYPE, "application/yaml")
            .body(text.to_string());
        if dry_run {
            builder = builder.query(&[("dry_run", "true")]);
        }
        self.json(builder).await
    }

    /// The resources of one kind (`rules`, `schedules`, `policies` or
    /// `webhooks`), by name.
    pub async fn resources(&self, kind: &str) -> Result<Value> {
        self.get(&format!("/v1/resources/{}", segment(kind))).await
    }

    /// One resource.
    pub async fn resource(&self, kind: &str, name: &str) -> Result<Value> {
        self.get(&format!(
            "/v1/resources/{}/{}",
            segment(kind),
            segment(name)
        ))
        .await
    }

    /// Deletes a rule, schedule, policy or webhook.
    pub async fn delete_resource(&self, kind: &str, name: &str) -> Result<()> {
        self.delete(&format!(
            "/v1/resources/{}/{}",
            segment(kind),
            segment(name)
        ))
        .await
        .map(drop)
    }

    /// A plugin's grants: the plugin-wide one and those of single versions.
    pub async fn grants(&self, plugin: &str) -> Result<Value> {
        self.get(&format!("/v1/plugins/{}/grants", segment(plugin)))
            .await
    }

    /// Saves a plugin's grant (with `version`, that version's own),
    /// replacing the one before whole. The server checks the document; the
    /// answer is the saved entry.
    pub async fn put_grant(
        &self,
        plugin: &str,
        version: Option<&str>,
        grant: &Value,
    ) -> Result<Value> {
        let builder = self
            .request(
                Method::PUT,
                &format!("/v1/plugins/{}/grants", segment(plugin)),
            )
            .query(&version_query(version))
            .json(grant);
        self.json(builder).await
    }

    /// Removes a plugin's grant (with `version`, that version's own).
    pub async fn delete_grant(&self, plugin: &str, version: Option<&str>) -> Result<()> {
        let builder = self
            .request(
                Method::DELETE,
                &format!("/v1/plugins/{}/grants", segment(plugin)),
            )
            .query(&version_query(version));
        self.json(builder).await.map(drop)
    }

    /// The secrets: names and metadata, never values.
    pub async fn secrets(&self) -> Result<Value> {
        self.get("/v1/secrets").await
    }

    /// Saves a secret; the answer is its metadata, and whether it was
    /// created (rather than replaced).
    pub async fn put_secret(
        &self,
        name: &str,
        value: &str,
        description: Option<&str>,
    ) -> Result<(Value, bool)> {
        let mut body = serde_json::json!({ "value": value });
        if let Some(description) = description {
            body["description"] = Value::String(description.to_string());
        }
        let response = self
            .send(
                self.request(Method::PUT, &format!("/v1/secrets/{}", segment(name)))
                    .json(&body),
            )
            .await?;
        let created = response.status() == StatusCode::CREATED;
        let info = response
            .json()
            .await
            .map_err(|e| ClientError::Unexpected(format!("secret: {e}")))?;
        Ok((info, created))
    }

    /// Removes a secret.
    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        self.delete(&format!("/v1/secrets/{}", segment(name)))
            .await
            .map(drop)
    }

    /// A page of approvals, oldest first: only those of `status` and of
    /// `run` when given, after `cursor` (a page's `next_cursor`).
    pub async fn approvals(
        &self,
        status: Option<&str>,
        run: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Value> {
        let query: Vec<(&str, &str)> = [("status", status), ("run", run), ("cursor", cursor)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        self.json(self.request(Method::GET, "/v1/approvals").query(&query))
            .await
    }

    /// One approval.
    pub async fn approval(&self, id: &str) -> Result<Value> {
        self.get(&format!("/v1/approvals/{}", segment(id))).await
    }

    /// Decides an approval: `decision` is `approve` or `reject`. The answer
    /// is the decided approval.
    pub async fn decide(&self, id: &str, decision: &str, comment: Option<&str>) -> Result<Value> {
        let mut body = serde_json::json!({ "decision": decision });
        if let Some(comment) = comment {
            body["comment"] = Value::String(comment.to_string());
        }
        self.post(&format!("/v1/approvals/{}", segment(id)), &body, &[])
            .await
    }

    /// A page of the audit trail, oldest first (admin).
    pub async fn audit(&self, params: &AuditParams) -> Result<AuditPage> {
        let response = self
            .send(self.request(Method::GET, "/v1/audit").query(params))
            .await?;
        response
            .json()
            .await
            .map_err(|e| ClientError::Unexpected(format!("audit page: {e}")))
    }

    /// A run's events until it ends.
    pub async fn follow(
        &self,
        run_id: &str,
    ) -> Result<impl Stream<Item = Result<RunEvent>> + use<>> {
        use eventsource_stream::Eventsource;
        let response = self
            .send(self.request(Method::GET, &format!("/v1/runs/{run_id}/events")))
            .await?;
        let base = self.base.clone();
        Ok(response.bytes_stream().eventsource().map(move |event| {
            let event = event.map_err(|e| ClientError::Unreachable {
                url: base.clone(),
                message: format!("the event stream broke: {e}"),
            })?;
            let data = serde_json::from_str(&event.data)
                .map_err(|e| ClientError::Unexpected(format!("event data: {e}")))?;
            Ok(RunEvent {
                name: event.event,
                data,
            })
        }))
    }
}

/// `?version=` when a version is given.
fn version_query(version: Option<&str>) -> Vec<(&'static str, &str)> {
    version.map(|v| ("version", v)).into_iter().collect()
}

/// Escapes text (a name or id) for one segment of a URL path, or a query
/// value.
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Reads an error answer as a problem (or describes what came instead).
async fn problem(response: reqwest::Response) -> ClientError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<Value>(&text) {
        Ok(body) if body.get("type").is_some() => ClientError::Problem {
            status: status.as_u16(),
            kind: body["type"].as_str().unwrap_or_default().to_string(),
            title: body["title"].as_str().unwrap_or("Error").to_string(),
            detail: body["detail"].as_str().unwrap_or_default().to_string(),
            errors: body["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| {
                            let path = e["path"].as_str().unwrap_or_default();
                            let message = e["message"].as_str().unwrap_or_default();
                            if path.is_empty() {
                                message.to_string()
                            } else {
                                format!("{path}: {message}")
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        _ => ClientError::Unexpected(format!(
            "{status}: {}",
            text.chars().take(200).collect::<String>()
        )),
    }
}
