//! Events: what Baton ingests (CloudEvents 1.0, Prometheus Alertmanager
//! webhooks) turned into one [`Event`] shape, checked before anything is
//! stored. The engine stores them durably (see
//! [`Engine::ingest`](crate::engine::Engine::ingest)); rules act on them.

pub mod alertmanager;
pub mod cloudevents;
pub mod pattern;

pub use pattern::{EventPattern, event_view};

use std::collections::BTreeMap;

use serde_json::Value;

/// An event, with the CloudEvents 1.0 attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `id`: with `source`, identifies the event (a redelivery has the same).
    pub id: String,
    /// `source`.
    pub source: String,
    /// `type`.
    pub kind: String,
    /// `subject`.
    pub subject: Option<String>,
    /// `time` (RFC 3339), as given.
    pub time: Option<String>,
    /// `datacontenttype`.
    pub datacontenttype: Option<String>,
    /// `dataschema`.
    pub dataschema: Option<String>,
    /// `data`, when it is JSON or text.
    pub data: Option<Value>,
    /// `data_base64`, for binary data.
    pub data_base64: Option<String>,
    /// Extension attributes.
    pub extensions: BTreeMap<String, String>,
}

impl Event {
    /// The stored form of this event, received from `by` (`seq` and
    /// `received_at` are set when it is stored).
    pub fn into_record(self, by: &str) -> crate::store::EventRecord {
        crate::store::EventRecord {
            seq: 0,
            id: self.id,
            source: self.source,
            kind: self.kind,
            subject: self.subject,
            time: self.time,
            datacontenttype: self.datacontenttype,
            dataschema: self.dataschema,
            data: self.data.map(|d| d.to_string()),
            data_base64: self.data_base64,
            extensions: serde_json::to_string(&self.extensions).unwrap_or_else(|_| "{}".into()),
            received_at: 0,
            received_by: by.to_string(),
        }
    }
}

/// Why an event was refused, and where (`[2].source`, `ce-type`,
/// `alerts[0].fingerprint`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if at.is_empty() { String::new() } else { format!("{at}: ") })]
pub struct EventProblem {
    /// Where.
    pub at: String,
    /// What is wrong.
    pub message: String,
}
