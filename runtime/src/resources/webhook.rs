//! Generic JSON webhooks: `POST /v1/hooks/<name>` checks the caller with
//! the webhook's own ingest token or an HMAC-SHA256 signature of the raw
//! body, then maps the JSON body (and headers) to an event with CEL
//! templates. The resulting event goes through the same pipeline as any
//! other (rules, waits).
//!
//! The token or HMAC key is either written in the document or, better,
//! named as a Baton secret (`{secret: <name>}`), sealed at rest and read
//! when a request comes in.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::events::{Event, EventProblem};
use crate::workflow::expr::{Scope, Template};
use crate::workflow::{Problem, join_problem_path};

/// What webhook templates may use: the parsed `body` and the request
/// `headers` (lowercase names).
pub const VARIABLES: &[&str] = &["body", "headers"];
/// Shortest secret accepted.
pub const MIN_SECRET_LEN: usize = 16;
/// Default signature header.
pub const DEFAULT_SIGNATURE_HEADER: &str = "x-signature-256";
/// Default signature prefix.
pub const DEFAULT_SIGNATURE_PREFIX: &str = "sha256=";
/// Names reserved by built-in hooks.
pub const RESERVED_NAMES: &[&str] = &["alertmanager"];
/// Shown instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// A webhook document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// The webhook's name: it is served at `/v1/hooks/<name>`.
    pub name: String,
    /// What it is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How callers prove who they are: exactly one of `token` and `hmac`.
    pub auth: AuthSpec,
    /// How the body becomes an event.
    pub event: EventSpec,
}

/// A token or key: the text itself, kept in the webhook document, or the
/// name of a Baton secret (sealed at rest, never in the document).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Credential {
    /// The text itself (at least 16 characters).
    Inline(String),
    /// A secret set with `PUT /v1/secrets/{name}`.
    Secret(SecretRef),
}

/// The name of a Baton secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name.
    pub secret: String,
}

const CREDENTIAL_SHAPE: &str = "expected the text itself or `{secret: <name of a Baton secret>}`";

impl<'de> Deserialize<'de> for Credential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Credential::Inline(text)),
            Value::Object(map) if map.len() == 1 => match map.get("secret") {
                Some(Value::String(name)) => Ok(Credential::Secret(SecretRef {
                    secret: name.clone(),
                })),
                _ => Err(D::Error::custom(CREDENTIAL_SHAPE)),
            },
            _ => Err(D::Error::custom(CREDENTIAL_SHAPE)),
        }
    }
}

/// Webhook authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// An ingest token the caller sends as `Authorization: Bearer <token>`
    /// (at least 16 characters), or the secret holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Credential>,
    /// An HMAC-SHA256 signature of the raw body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacSpec>,
}

/// An HMAC-SHA256 signature check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacSpec {
    /// The shared key (at least 16 characters), or the secret holding it.
    pub secret: Credential,
    /// The header holding the signature (default `X-Signature-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Text before the hex signature in the header (default `sha256=`;
    /// empty for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// The event a request becomes. Strings may hold `${{ }}` over `body`
/// and `headers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// The event type, such as `grafana.alert.${{ body.status }}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The subject, such as `${{ body.ruleUID }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The event id; give one (such as `${{ headers['x-request-id'] }}`)
    /// for redeliveries to be stored once. Absent: a new id per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The data: any JSON (default: the whole body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A compiled token or key.
#[derive(Clone)]
pub enum Key {
    /// The bytes themselves.
    Inline(Vec<u8>),
    /// The name of the secret holding them.
    Secret(String),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Inline(_) => f.write_str("Key::Inline(..)"),
            Key::Secret(name) => write!(f, "Key::Secret({name:?})"),
        }
    }
}

/// How a compiled webhook checks callers.
#[derive(Debug, Clone)]
pub enum Auth {
    /// The ingest token.
    Token(Key),
    /// The HMAC key, header and prefix.
    Hmac {
        /// The key.
        key: Key,
        /// Lowercase header name.
        header: String,
        /// Prefix before the hex.
        prefix: String,
    },
}

/// A compiled webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its name.
    pub name: String,
    /// Caller check.
    pub auth: Auth,
    /// Templates of the event's fields.
    pub kind: Template,
    /// Subject template.
    pub subject: Option<Template>,
    /// Id template.
    pub id: Option<Template>,
    /// Data template.
    pub data: Template,
}

/// Why a request to a webhook is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The caller did not prove who it is.
    #[error("{0}")]
    Unauthorized(String),
    /// The body or mapping is wrong.
    #[error("{0}")]
    Invalid(EventProblem),
}

impl Webhook {
    /// The secret holding the token or key, when the document names one:
    /// the caller reads it and hands it to [`Webhook::check`].
    pub fn secret(&self) -> Option<&str> {
        match &self.auth {
            Auth::Token(Key::Secret(name))
            | Auth::Hmac {
                key: Key::Secret(name),
                ..
            } => Some(name),
            _ => None,
        }
    }

    /// The token or key bytes: inline, or `stored` (the value of
    /// [`Webhook::secret`], `None` when it is not set).
    fn key<'a>(&self, key: &'a Key, stored: Option<&'a [u8]>) -> Result<&'a [u8], HookError> {
        match key {
            Key::Inline(bytes) => Ok(bytes),
            Key::Secret(_) => stored.ok_or_else(|| {
                HookError::Unauthorized(format!(
                    "webhook `{}` cannot check callers: its key is not set",
                    self.name
                ))
            }),
        }
    }

    /// Checks the caller: `authorization` for tokens, the signature header
    /// for HMAC, against the raw body. `stored` is the value of
    /// [`Webhook::secret`], when there is one.
    pub fn check(
        &self,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        stored: Option<&[u8]>,
    ) -> Result<(), HookError> {
        match &self.auth {
            Auth::Token(key) => {
                let expected: [u8; 32] = Sha256::digest(self.key(key, stored)?.trim_ascii()).into();
                let given = headers
                    .get("authorization")
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or_else(|| {
                        HookError::Unauthorized(format!(
                            "webhook `{}` needs its ingest token as `Authorization: Bearer <token>`",
                            self.name
                        ))
                    })?;
                let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
                // Both sides are digests: comparing them reveals nothing
                // about the token.
                if given != expected {
                    return Err(HookError::Unauthorized(format!(
                        "wrong ingest token for webhook `{}`",
                        self.name
                    )));
                }
                Ok(())
            }
            Auth::Hmac {
                key,
                header,
                prefix,
            } => {
                let secret = self.key(key, stored)?;
                let value = headers.get(header).ok_or_else(|| {
                    HookError::Unauthorized(format!(
                        "webhook `{}` needs an HMAC-SHA256 signature of the body in `{header}`",
                        self.name
                    ))
                })?;
                let signature = value
                    .trim()
                    .strip_prefix(prefix.as_str())
                    .and_then(|hex_text| hex::decode(hex_text).ok())
                    .ok_or_else(|| {
                        HookError::Unauthorized(format!(
                            "`{header}` must be `{prefix}<hex HMAC-SHA256 of the body>`"
                        ))
                    })?;
                let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| {
                    HookError::Unauthorized("the webhook's secret cannot be used".into())
                })?;
                mac.update(body);
                mac.verify_slice(&signature).map_err(|_| {
                    HookError::Unauthorized(format!(
                        "the signature in `{header}` does not match the body"
                    ))
                })
            }
        }
    }

    /// Maps a JSON body to an event.
    pub fn event(
        &self,
        headers: &BTreeMap<String, String>,
        body: &[u8],
    ) -> Result<Event, HookError> {
        let invalid = |at: &str, message: String| {
            HookError::Invalid(EventProblem {
                at: at.into(),
                message,
            })
        };
        let body: Value = serde_json::from_slice(body)
            .map_err(|e| invalid("", format!("the body is not JSON: {e}")))?;
        let headers_value = json!(headers);
        let extra = [("body", &body), ("headers", &headers_value)];
        let scope = Scope {
            extra: &extra,
            ..Scope::default()
        };
        let text = |field: &str, template: &Template| -> Result<String, HookError> {
            match template.render(&scope) {
                Ok(Value::String(s)) if !s.is_empty() => Ok(s),
                Ok(other) => Err(invalid(
                    &format!("event.{field}"),
                    format!("expected a non-empty string, got {other}"),
                )),
                Err(e) => Err(invalid(&format!("event.{field}"), e.to_string())),
            }
        };
        let kind = text("type", &self.kind)?;
        crate::events::EventPattern::parse(&kind)
            .ok()
            .filter(|p| !p.is_wildcard())
            .ok_or_else(|| invalid("event.type", format!("`{kind}` is not an event type")))?;
        let subject = self
            .subject
            .as_ref()
            .map(|t| text("subject", t))
            .transpose()?;
        let id = match &self.id {
            Some(t) => text("id", t)?,
            None => uuid::Uuid::now_v7().to_string(),
        };
        let data = self
            .data
            .render(&scope)
            .map_err(|e| invalid("event.data", e.to_string()))?;
        Ok(Event {
            id,
            source: format!("baton:webhook/{}", self.name),
            kind,
            subject,
            time: None,
            datacontenttype: Some("application/json".into()),
            dataschema: None,
            data: Some(data),
            data_base64: None,
            extensions: BTreeMap::new(),
        })
    }
}

/// A spec as shown to users: inline tokens and keys replaced by
/// [`REDACTED`] (a secret's name stays: it reveals nothing).
pub fn redact(spec: &mut Value) {
    let hide = |value: Option<&mut Value>| {
        if let Some(value) = value.filter(|v| v.is_string()) {
            *value = Value::String(REDACTED.into());
        }
    };
    if let Some(auth) = spec.get_mut("auth") {
        hide(auth.get_mut("token"));
        hide(auth.get_mut("hmac").and_then(|h| h.get_mut("secret")));
    }
}

/// Compiles a credential; `what` names it in problems.
fn credential(
    credential: &Credential,
    at: &str,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<Key> {
    match credential {
        Credential::Inline(text) if text.chars().count() < MIN_SECRET_LEN => {
            problems.push(Problem::new(
                at,
                format!(
                    "{what} has at least {MIN_SECRET_LEN} characters (or name a Baton secret: \
                     `{{secret: <name>}}`)"
                ),
            ));
            None
        }
        // As written: a token is trimmed when checked, an HMAC key never.
        Credential::Inline(text) => Some(Key::Inline(text.as_bytes().to_vec())),
        Credential::Secret(reference) => match crate::secrets::validate_name(&reference.secret) {
            Ok(()) => Some(Key::Secret(reference.secret.clone())),
            Err(message) => {
                problems.push(Problem::new(format!("{at}.secret"), message));
                None
            }
        },
    }
}

/// Compiles a webhook document.
pub fn compile(body: &Value, path: &str) -> Result<Webhook, Vec<Problem>> {
    let spec: WebhookSpec = super::read_spec(body, path)?;
    let at = |field: &str| join_problem_path(path, field);
    let mut problems = Vec::new();
    crate::workflow::check_name(&at("name"), "webhook name", &spec.name, &mut problems);
    if RESERVED_NAMES.contains(&spec.name.as_str()) {
        problems.push(Problem::new(
            at("name"),
            format!("`{}` is a built-in hook; pick another name", spec.name),
        ));
    }
    let auth = match (&spec.auth.token, &spec.auth.hmac) {
        (Some(token), None) => {
            credential(token, &at("auth.token"), "an ingest token", &mut problems).map(Auth::Token)
        }
        (None, Some(hmac)) => {
            let header = hmac
                .header
                .clone()
                .unwrap_or_else(|| DEFAULT_SIGNATURE_HEADER.into())
                .to_ascii_lowercase();
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                problems.push(Problem::new(
                    at("auth.hmac.header"),
                    format!("`{header}` is not a header name"),
                ));
            }
            credential(
                &hmac.secret,
                &at("auth.hmac.secret"),
                "a key",
                &mut problems,
            )
            .map(|key| Auth::Hmac {
                key,
                header,
                prefix: hmac
                    .prefix
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SIGNATURE_PREFIX.into()),
            })
        }
        _ => {
            problems.push(Problem::new(
                at("auth"),
                "give exactly one of `token` and `hmac`",
            ));
            None
        }
    };
    let string = |field: &str, text: &str, problems: &mut Vec<Problem>| {
        super::template(&at(field), &Value::String(text.into()), VARIABLES, problems)
    };
    let kind = string("event.type", &spec.event.kind, &mut problems);
    let subject = spec
        .event
        .subject
        .as_deref()
        .map(|s| string("event.subject", s, &mut problems));
    let id = spec
        .event
        .id
        .as_deref()
        .map(|s| string("event.id", s, &mut problems));
    let default_data = Value::String("${{ body }}".into());
    let data = super::template(
        &at("event.data"),
        spec.event.data.as_ref().unwrap_or(&default_data),
        VARIABLES,
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(auth), Some(kind), Some(data)) = (auth, kind, data) else {
        return Err(vec![Problem::new(path, "the webhook is incomplete")]);
    };
    Ok(Webhook {
        name: spec.name,
        auth,
        kind,
        subject: subject.flatten(),
        id: id.flatten(),
        data,
    })
}

#[cfg(test)]
mod tests;
