//! Event type patterns, as rules and `wait_for` steps name the events they
//! want: an exact type (`alertmanager.alert.firing`) or a pattern where `*`
//! stands for any run of characters (`alertmanager.alert.*`, `*.resolved`).

use serde_json::{Value, json};

use crate::store::EventRecord;

/// Longest pattern accepted.
pub const MAX_PATTERN_LEN: usize = 256;

/// A checked event type pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventPattern(String);

impl EventPattern {
    /// Checks a pattern: letters, digits and `.`, `-`, `_`, `:`, `/`, `*`;
    /// not empty; at most [`MAX_PATTERN_LEN`] bytes.
    pub fn parse(text: &str) -> Result<EventPattern, String> {
        if text.is_empty() {
            return Err("an event type pattern cannot be empty".into());
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "an event type pattern is at most {MAX_PATTERN_LEN} characters"
            ));
        }
        if let Some(bad) = text.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/' | '*'))
        }) {
            return Err(format!(
                "`{text}`: {bad:?} cannot appear in an event type pattern (use letters, digits, \
                 `.`, `-`, `_`, `:`, `/` and `*` for any run of characters)"
            ));
        }
        Ok(EventPattern(text.to_string()))
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern has a `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0.contains('*')
    }

    /// Whether `kind` (an event type) matches.
    pub fn matches(&self, kind: &str) -> bool {
        glob(self.0.as_bytes(), kind.as_bytes())
    }
}

impl std::fmt::Display for EventPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `*`-only glob matching, linear with backtracking to the last star.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// An event as expressions see it: `event.type`, `event.subject`,
/// `event.data`, ...
pub fn event_view(event: &EventRecord) -> Value {
    let extensions: Value = serde_json::from_str(&event.extensions)
        .unwrap_or_else(|_| Value::Object(Default::default()));
    json!({
        "seq": event.seq,
        "id": event.id,
        "source": event.source,
        "type": event.kind,
        "subject": event.subject,
        "time": event.time,
        "datacontenttype": event.datacontenttype,
        "data": event.data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
        "data_base64": event.data_base64,
        "extensions": extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run_of_characters() {
        let pattern = |p: &str| EventPattern::parse(p).expect(p);
        assert!(pattern("alertmanager.alert.firing").matches("alertmanager.alert.firing"));
        assert!(!pattern("alertmanager.alert.firing").matches("alertmanager.alert.resolved"));
        assert!(pattern("alertmanager.alert.*").matches("alertmanager.alert.resolved"));
        assert!(pattern("*.resolved").matches("alertmanager.alert.resolved"));
        assert!(pattern("a*b*c").matches("aXXbYYc"));
        assert!(!pattern("a*b*c").matches("aXXbYY"));
        assert!(pattern("*").matches(""));
        assert!(!pattern("alert").matches("alerts"));
    }

    #[test]
    fn patterns_are_checked() {
        assert!(EventPattern::parse("").is_err());
        assert!(EventPattern::parse("a b").is_err());
        assert!(EventPattern::parse("a'; DROP").is_err());
        assert!(EventPattern::parse(&"a".repeat(300)).is_err());
        assert!(EventPattern::parse("com.example/x:y-z_1.*").is_ok());
    }
}
