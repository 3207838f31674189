//! The Prometheus Alertmanager webhook (payload version 4): each alert of a
//! notification becomes one event.
//!
//! - `type`: `alertmanager.alert.firing` or `alertmanager.alert.resolved`;
//! - `subject`: the alert's fingerprint (the same while it fires and when it
//!   resolves, so a workflow can wait for the resolution of its alert);
//! - `source`: the Alertmanager's `externalURL`;
//! - `id`: fingerprint, status and `startsAt` (a notification repeated for
//!   the same firing is the same event, stored once);
//! - `data`: the alert, with the group's `receiver`, `groupKey`,
//!   `groupLabels`, `commonLabels`, `commonAnnotations` and `externalURL`.

use serde_json::{Value, json};

use super::{Event, EventProblem};

fn problem(at: &str, message: impl Into<String>) -> EventProblem {
    EventProblem {
        at: at.to_string(),
        message: message.into(),
    }
}

fn string<'v>(value: &'v Value, field: &str, at: &str) -> Result<&'v str, EventProblem> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| problem(&format!("{at}{field}"), "a non-empty string is required"))
}

/// The events of one webhook body.
pub fn events(body: &[u8]) -> Result<Vec<Event>, EventProblem> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| problem("", format!("the body is not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(problem("", "the body must be a JSON object"));
    }
    let version = payload.get("version").and_then(Value::as_str);
    if version != Some("4") {
        return Err(problem(
            "version",
            format!("only Alertmanager webhook payload version 4 is supported (got {version:?})"),
        ));
    }
    let external = string(&payload, "externalURL", "")?;
    let alerts = payload
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| problem("alerts", "an array of alerts is required"))?;
    if alerts.is_empty() {
        return Err(problem("alerts", "the notification has no alerts"));
    }
    let group = json!({
        "receiver": payload.get("receiver"),
        "groupKey": payload.get("groupKey"),
        "groupLabels": payload.get("groupLabels"),
        "commonLabels": payload.get("commonLabels"),
        "commonAnnotations": payload.get("commonAnnotations"),
        "externalURL": external,
    });
    alerts
        .iter()
        .enumerate()
        .map(|(i, alert)| {
            let at = format!("alerts[{i}].");
            if !alert.is_object() {
                return Err(problem(
                    &format!("alerts[{i}]"),
                    "an alert must be an object",
                ));
            }
            let fingerprint = string(alert, "fingerprint", &at)?;
            let status = string(alert, "status", &at)?;
            if status != "firing" && status != "resolved" {
                return Err(problem(
                    &format!("{at}status"),
                    format!("`{status}` is neither firing nor resolved"),
                ));
            }
            let starts_at = string(alert, "startsAt", &at)?;
            let mut data = alert.clone();
            if let (Some(data), Some(group)) = (data.as_object_mut(), group.as_object()) {
                for (name, value) in group {
                    data.insert(name.clone(), value.clone());
                }
            }
            let time = if status == "resolved" {
                alert.get("endsAt").and_then(Value::as_str)
            } else {
                Some(starts_at)
            };
            Ok(Event {
                id: format!("{fingerprint}/{status}/{starts_at}"),
                source: external.to_string(),
                kind: format!("alertmanager.alert.{status}"),
                subject: Some(fingerprint.to_string()),
                time: time
                    .filter(|t| humantime::parse_rfc3339_weak(t).is_ok())
                    .map(str::to_string),
                datacontenttype: Some("application/json".into()),
                dataschema: None,
                data: Some(data),
                data_base64: None,
                extensions: Default::default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = include_str!("../../../tests/fixtures/alertmanager-v4-firing.json");
    const RESOLVED: &str = include_str!("../../../tests/fixtures/alertmanager-v4-resolved.json");

    #[test]
    fn a_real_firing_and_resolved_pair() {
        let firing = events(FIRING.as_bytes()).unwrap();
        let resolved = events(RESOLVED.as_bytes()).unwrap();
        assert_eq!(firing.len(), 1);
        assert_eq!(firing[0].kind, "alertmanager.alert.firing");
        assert_eq!(resolved[0].kind, "alertmanager.alert.resolved");
        assert_eq!(firing[0].subject, resolved[0].subject);
        assert_ne!(firing[0].id, resolved[0].id);
        let data = firing[0].data.as_ref().unwrap();
        assert_eq!(data["labels"]["severity"], "critical");
        assert_eq!(data["commonLabels"]["service"], "billing-db");
        assert_eq!(data["receiver"], "orch");
        assert_eq!(firing[0].source, "http://vm:19093");
        // A repeated notification is the same event.
        assert_eq!(events(FIRING.as_bytes()).unwrap()[0].id, firing[0].id);
    }

    #[test]
    fn malformed_payloads_say_where() {
        let mut payload: Value = serde_json::from_str(FIRING).unwrap();
        payload["version"] = json!("3");
        let body = serde_json::to_vec(&payload).unwrap();
        assert_eq!(events(&body).unwrap_err().at, "version");
        let mut payload: Value = serde_json::from_str(FIRING).unwrap();
        payload["alerts"][0]
            .as_object_mut()
            .unwrap()
            .remove("fingerprint");
        let body = serde_json::to_vec(&payload).unwrap();
        assert_eq!(events(&body).unwrap_err().at, "alerts[0].fingerprint");
        assert!(events(b"[]").is_err());
        assert!(events(b"{").is_err());
    }
}
