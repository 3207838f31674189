//! CloudEvents 1.0 over HTTP: structured mode (`application/cloudevents+json`),
//! binary mode (`ce-*` headers, the body is the data) and batch mode
//! (`application/cloudevents-batch+json`).
//!
//! Each is checked against the spec's rules for the attributes Baton relies
//! on: `specversion` is `1.0`; `id`, `source` and `type` are non-empty
//! strings; `time` is RFC 3339; extension names are lowercase letters and
//! digits (at most 20); `data` and `data_base64` are not both present.
//! Every problem is reported with where it is (`[2].source`, `ce-type`).

use std::collections::BTreeMap;

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::{Event, EventProblem};

/// The attributes the spec defines (the rest are extensions).
const CONTEXT_ATTRIBUTES: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
];

/// Longest attribute value Baton keeps (ids, sources, types, subjects).
const MAX_ATTRIBUTE_LEN: usize = 1024;

fn problem(at: &str, message: impl Into<String>) -> EventProblem {
    EventProblem {
        at: at.to_string(),
        message: message.into(),
    }
}

fn check_name(at: &str, name: &str) -> Result<(), EventProblem> {
    let valid = !name.is_empty()
        && name.len() <= 20
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(problem(
            at,
            format!(
                "`{name}` is not a valid attribute name (lowercase letters and digits, at most 20)"
            ),
        ))
    }
}

fn check_time(at: &str, time: &str) -> Result<(), EventProblem> {
    humantime::parse_rfc3339_weak(time)
        .map(|_| ())
        .map_err(|e| problem(at, format!("`time` must be an RFC 3339 timestamp: {e}")))
}

/// A required string attribute.
fn required(
    attributes: &mut BTreeMap<String, String>,
    name: &str,
    at: &str,
) -> Result<String, EventProblem> {
    match attributes.remove(name) {
        Some(value) if !value.is_empty() => Ok(value),
        Some(_) => Err(problem(at, format!("`{name}` must not be empty"))),
        None => Err(problem(at, format!("`{name}` is required"))),
    }
}

/// Builds an event from its string attributes and data, checking them.
fn assemble(
    mut attributes: BTreeMap<String, String>,
    data: Option<Value>,
    data_base64: Option<String>,
    prefix: &str,
) -> Result<Event, EventProblem> {
    let at = |name: &str| format!("{prefix}{name}");
    let specversion = required(&mut attributes, "specversion", &at("specversion"))?;
    if specversion != "1.0" {
        return Err(problem(
            &at("specversion"),
            format!("unsupported specversion `{specversion}` (expected 1.0)"),
        ));
    }
    let id = required(&mut attributes, "id", &at("id"))?;
    let source = required(&mut attributes, "source", &at("source"))?;
    let kind = required(&mut attributes, "type", &at("type"))?;
    let subject = attributes.remove("subject");
    let time = attributes.remove("time");
    if let Some(time) = &time {
        check_time(&at("time"), time)?;
    }
    let datacontenttype = attributes.remove("datacontenttype");
    let dataschema = attributes.remove("dataschema");
    for (name, value) in [
        ("id", Some(&id)),
        ("source", Some(&source)),
        ("type", Some(&kind)),
        ("subject", subject.as_ref()),
    ] {
        if value.is_some_and(|v| v.len() > MAX_ATTRIBUTE_LEN) {
            return Err(problem(
                &at(name),
                format!("`{name}` is longer than {MAX_ATTRIBUTE_LEN} bytes"),
            ));
        }
    }
    for name in attributes.keys() {
        check_name(&at(name), name)?;
    }
    Ok(Event {
        id,
        source,
        kind,
        subject,
        time,
        datacontenttype,
        dataschema,
        data,
        data_base64,
        extensions: attributes,
    })
}

/// One structured-mode event (a JSON object); `prefix` locates it in a
/// batch.
pub fn from_json(value: Value, prefix: &str) -> Result<Event, EventProblem> {
    let Value::Object(object) = value else {
        return Err(problem(
            prefix.trim_end_matches('.'),
            "an event must be a JSON object",
        ));
    };
    let mut attributes = BTreeMap::new();
    let mut data = None;
    let mut data_base64 = None;
    for (name, value) in object {
        let at = format!("{prefix}{name}");
        match (name.as_str(), value) {
            ("data", value) => data = Some(value),
            ("data_base64", Value::String(text)) => {
                base64::engine::general_purpose::STANDARD
                    .decode(&text)
                    .map_err(|e| problem(&at, format!("`data_base64` is not base64: {e}")))?;
                data_base64 = Some(text);
            }
            ("data_base64", _) => return Err(problem(&at, "`data_base64` must be a string")),
            (_, Value::String(text)) => {
                attributes.insert(name, text);
            }
            // Extension attributes may be booleans or integers; keep their
            // canonical string form, as the spec's type system does.
            (_, Value::Bool(b)) if !CONTEXT_ATTRIBUTES.contains(&name.as_str()) => {
                attributes.insert(name, b.to_string());
            }
            (_, Value::Number(n)) if !CONTEXT_ATTRIBUTES.contains(&name.as_str()) && n.is_i64() => {
                attributes.insert(name, n.to_string());
            }
            _ => {
                return Err(problem(&at, format!("`{name}` must be a string")));
            }
        }
    }
    if data.is_some() && data_base64.is_some() {
        return Err(problem(
            prefix.trim_end_matches('.'),
            "an event has either `data` or `data_base64`, not both",
        ));
    }
    assemble(attributes, data, data_base64, prefix)
}

/// A structured-mode body.
pub fn structured(body: &[u8]) -> Result<Event, EventProblem> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| problem("", format!("the body is not JSON: {e}")))?;
    from_json(value, "")
}

/// A batch-mode body: every event is checked before any is accepted.
pub fn batch(body: &[u8]) -> Result<Vec<Event>, EventProblem> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| problem("", format!("the body is not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(problem("", "a batch is a JSON array of events"));
    };
    if items.is_empty() {
        return Err(problem("", "the batch is empty"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| from_json(item, &format!("[{i}].")))
        .collect()
}

/// Whether a media type is JSON (`application/json`, `text/json`, `+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// A binary-mode request: attributes in `ce-*` headers, the body is the
/// data (parsed when its content type is JSON, text when it is UTF-8,
/// base64 otherwise).
pub fn binary(headers: &HeaderMap, body: &[u8]) -> Result<Event, EventProblem> {
    let mut attributes = BTreeMap::new();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let text = value
            .to_str()
            .map_err(|_| problem(name.as_str(), "the header is not visible ASCII"))?;
        // Header values are percent-encoded where they need to be.
        let decoded = percent_decode(text)
            .ok_or_else(|| problem(name.as_str(), "invalid percent-encoding"))?;
        if attributes.insert(attribute.to_string(), decoded).is_some() {
            return Err(problem(name.as_str(), "the header is repeated"));
        }
    }
    for reserved in ["data", "data_base64", "datacontenttype"] {
        if attributes.contains_key(reserved) {
            return Err(problem(
                &format!("ce-{reserved}"),
                "not an attribute in binary mode",
            ));
        }
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (data, data_base64) = if body.is_empty() {
        (None, None)
    } else if content_type.as_deref().is_some_and(is_json) {
        let value = serde_json::from_slice(body)
            .map_err(|e| problem("body", format!("the data is not JSON: {e}")))?;
        (Some(value), None)
    } else if let Ok(text) = std::str::from_utf8(body) {
        (Some(Value::String(text.to_string())), None)
    } else {
        (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
        )
    };
    if let Some(content_type) = content_type {
        attributes.insert("datacontenttype".into(), content_type);
    }
    assemble(attributes, data, data_base64, "ce-")
}

fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The event as a structured-mode JSON object.
pub fn to_json(event: &Event) -> Value {
    let mut object = Map::new();
    object.insert("specversion".into(), "1.0".into());
    object.insert("id".into(), event.id.clone().into());
    object.insert("source".into(), event.source.clone().into());
    object.insert("type".into(), event.kind.clone().into());
    for (name, value) in [
        ("subject", &event.subject),
        ("time", &event.time),
        ("datacontenttype", &event.datacontenttype),
        ("dataschema", &event.dataschema),
        ("data_base64", &event.data_base64),
    ] {
        if let Some(value) = value {
            object.insert(name.into(), value.clone().into());
        }
    }
    if let Some(data) = &event.data {
        object.insert("data".into(), data.clone());
    }
    for (name, value) in &event.extensions {
        object.insert(name.clone(), value.clone().into());
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": {"a": 1}})
    }

    #[test]
    fn a_structured_event_round_trips() {
        let mut value = event();
        value["subject"] = json!("db01");
        value["time"] = json!("2026-12-04T15:24:21Z");
        value["traceparent"] = json!("00-ab");
        value["priority"] = json!(3);
        let parsed = from_json(value, "").unwrap();
        assert_eq!(parsed.kind, "t");
        assert_eq!(parsed.extensions["priority"], "3");
        let back = to_json(&parsed);
        assert_eq!(back["data"], json!({"a": 1}));
        assert_eq!(back["traceparent"], "00-ab");
    }

    #[test]
    fn missing_and_bad_attributes_are_named() {
        let cases = [
            ("specversion", Some(json!("0.3")), "specversion"),
            ("id", Some(json!("")), "id"),
            ("source", None, "source"),
            ("type", Some(json!(7)), "type"),
            ("time", Some(json!("yesterday")), "time"),
            ("Bad_Name", Some(json!("x")), "Bad_Name"),
            ("data_base64", Some(json!("***")), "data_base64"),
        ];
        for (field, value, at) in cases {
            let mut event = event();
            let object = event.as_object_mut().unwrap();
            match value {
                Some(value) => object.insert(field.into(), value),
                None => object.remove(field),
            };
            if field == "data_base64" {
                object.remove("data");
            }
            let problem = from_json(event, "").unwrap_err();
            assert_eq!(problem.at, at, "{field}: {}", problem.message);
        }
        let mut both = event();
        both["data_base64"] = json!("aGk=");
        assert!(from_json(both, "").is_err());
    }

    #[test]
    fn a_batch_is_checked_whole() {
        let good = event();
        let mut bad = event();
        bad.as_object_mut().unwrap().remove("type");
        let body = serde_json::to_vec(&json!([good, bad])).unwrap();
        let problem = batch(&body).unwrap_err();
        assert_eq!(problem.at, "[1].type");
        assert!(batch(b"[]").is_err());
        assert!(batch(b"{}").is_err());
        assert_eq!(
            batch(&serde_json::to_vec(&json!([event(), event()])).unwrap())
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn binary_mode_reads_headers_and_body() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "42"),
            ("ce-source", "/hooks"),
            ("ce-type", "deploy.done"),
            ("ce-subject", "web%2F1"),
            ("content-type", "application/json"),
        ] {
            headers.insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        let event = binary(&headers, br#"{"ok": true}"#).unwrap();
        assert_eq!(event.subject.as_deref(), Some("web/1"));
        assert_eq!(event.data, Some(json!({"ok": true})));
        assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
        let raw = binary(
            &{
                let mut h = headers.clone();
                h.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/octet-stream"),
                );
                h
            },
            &[0xff, 0x00],
        )
        .unwrap();
        assert_eq!(raw.data_base64.as_deref(), Some("/wA="));
        headers.remove("ce-type");
        assert_eq!(binary(&headers, b"{}").unwrap_err().at, "ce-type");
        assert!(binary(&headers, b"not json").is_err());
    }
}
