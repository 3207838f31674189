//! Sends the one HTTP request its input describes with the SDK client and
//! returns the status and body, or the error text. An HTTP failure never
//! fails the step, so tests can assert on what the plugin saw.

use std::collections::BTreeMap;

use baton_sdk::http::Request;
use baton_sdk::{Capabilities, Context, Step, StepError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// GET, HEAD, POST, PUT, PATCH or DELETE.
    #[serde(default = "get")]
    method: String,
    /// The whole URL, path and query included.
    url: String,
    /// A text body to send.
    #[serde(default)]
    body: Option<String>,
    /// Whether GET and HEAD follow redirects (the SDK's default).
    #[serde(default = "yes")]
    follow_redirects: bool,
    /// Request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Bounds the exchange, in milliseconds (the host's limits still apply).
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn get() -> String {
    "GET".into()
}

fn yes() -> bool {
    true
}

#[derive(Serialize, JsonSchema)]
struct Output {
    status: Option<u16>,
    body: Option<String>,
    /// The URL that answered, after redirects.
    url: Option<String>,
    error: Option<String>,
}

struct Netprobe;

impl Step for Netprobe {
    type Input = Input;
    type Output = Output;

    fn capabilities() -> Capabilities {
        Capabilities::default()
            .outbound_host("http://127.0.0.1")
            .outbound_host("https://*.example.com")
    }

    fn run(_ctx: &Context, input: Input) -> Result<Output, StepError> {
        let mut request = match input.method.to_ascii_uppercase().as_str() {
            "GET" => Request::get(&input.url),
            "HEAD" => Request::head(&input.url),
            "POST" => Request::post(&input.url),
            "PUT" => Request::put(&input.url),
            "PATCH" => Request::patch(&input.url),
            "DELETE" => Request::delete(&input.url),
            other => {
                return Err(StepError::invalid_input(format!(
                    "unsupported method {other}"
                )));
            }
        };
        for (name, value) in &input.headers {
            request = request.header(name, value);
        }
        if let Some(body) = input.body {
            request = request.body(body);
        }
        if let Some(ms) = input.timeout_ms {
            request = request.timeout(std::time::Duration::from_millis(ms));
        }
        let output = match request.follow_redirects(input.follow_redirects).send() {
            Ok(response) => Output {
                status: Some(response.status),
                body: Some(response.text()),
                url: Some(response.url),
                error: None,
            },
            Err(error) => Output {
                status: None,
                body: None,
                url: None,
                error: Some(error.to_string()),
            },
        };
        Ok(output)
    }
}

baton_sdk::export_step!(Netprobe);
