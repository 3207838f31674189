//! Redaction: replacing every verbatim occurrence of a secret value in text
//! or JSON with `[secret:<name>]`.
//!
//! Every non-empty value is redacted, however short (so a secret `1` turns
//! every `1` into a tag: choose values accordingly). Where occurrences
//! overlap or nest (`pass` inside `password`, or `abc` and `bcd` in
//! `abcd`), the whole stretch they cover is replaced, by the tag of its
//! longest value, so no part of any occurrence survives. One Aho-Corasick
//! pass finds every occurrence of every value, so the cost is linear in the
//! text plus the occurrences, whatever the number of secrets. Values are
//! matched byte for byte, case and all; a value that is not UTF-8 cannot
//! occur in text and is skipped. This file does not decide which secrets a
//! run can see, nor where redaction is applied.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;

use super::error::{Result, SecretsError};

/// Redacts a fixed set of secret values. Build it once per run (or per set
/// of secrets) and use it for every output; it is cheap to share.
///
/// The values are held, unencrypted, inside the matcher for as long as the
/// redactor lives. `Debug` shows the names only.
#[derive(Clone)]
pub struct Redactor {
    /// `None` when there is nothing to redact.
    matcher: Option<AhoCorasick>,
    /// The names, by pattern index.
    names: Vec<String>,
    /// `[secret:<name>]`, by pattern index.
    tags: Vec<String>,
}

/// A stretch of text covered by overlapping occurrences, and the pattern
/// that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    /// The longest occurrence in the stretch (the first of equal ones).
    pattern: usize,
    pattern_len: usize,
}

impl Redactor {
    /// A redactor for these `(name, value)` pairs. Empty and non-UTF-8
    /// values are ignored; when several names share a value, the first
    /// name in sorted order labels it.
    pub fn new<N, V>(secrets: impl IntoIterator<Item = (N, V)>) -> Result<Redactor>
    where
        N: AsRef<str>,
        V: AsRef<[u8]>,
    {
        // The values are moved, not copied, so no stray copy is left.
        let secrets: Vec<(N, V)> = secrets.into_iter().collect();
        let mut entries: Vec<(&str, &str)> = secrets
            .iter()
            .filter_map(|(name, value)| {
                let text = std::str::from_utf8(value.as_ref()).ok()?;
                (!text.is_empty()).then_some((name.as_ref(), text))
            })
            .collect();
        // Longest first, then by name: deterministic labels for equal
        // values and for ties between overlapping occurrences.
        entries.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
        entries.dedup_by(|later, earlier| later.1 == earlier.1);
        let matcher = if entries.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(entries.iter().map(|(_, value)| value))
                    .map_err(|error| SecretsError::Redactor(error.to_string()))?,
            )
        };
        let tags = entries
            .iter()
            .map(|(name, _)| format!("[secret:{name}]"))
            .collect();
        let names = entries.iter().map(|(name, _)| (*name).to_owned()).collect();
        Ok(Redactor {
            matcher,
            names,
            tags,
        })
    }

    /// A redactor that changes nothing.
    pub fn empty() -> Redactor {
        Redactor {
            matcher: None,
            names: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Whether there is no value to redact.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Replaces each occurrence of a value in `text` with its tag; borrows
    /// `text` back when there is none.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let spans = self.spans(text);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut redacted = String::with_capacity(text.len());
        let mut copied = 0;
        for span in spans {
            // Values are UTF-8 and so is `text`, and UTF-8 is
            // self-synchronising: every occurrence, and every union of
            // occurrences, starts and ends on a character boundary.
            redacted.push_str(&text[copied..span.start]);
            redacted.push_str(&self.tags[span.pattern]);
            copied = span.end;
        }
        redacted.push_str(&text[copied..]);
        Cow::Owned(redacted)
    }

    /// Redacts `value` in place: object keys and strings, and numbers whose
    /// text holds a value (they become the redacted string). Returns whether
    /// anything changed.
    pub fn redact_json(&self, value: &mut Value) -> bool {
        if self.is_empty() {
            return false;
        }
        match value {
            Value::Null | Value::Bool(_) => false,
            Value::Number(number) => {
                let text = number.to_string();
                match self.redact_str(&text) {
                    Cow::Borrowed(_) => false,
                    Cow::Owned(redacted) => {
                        *value = Value::String(redacted);
                        true
                    }
                }
            }
            Value::String(text) => match self.redact_str(text) {
                Cow::Borrowed(_) => false,
                Cow::Owned(redacted) => {
                    *text = redacted;
                    true
                }
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, item| self.redact_json(item) | changed),
            Value::Object(map) => {
                let mut changed = map
                    .values_mut()
                    .fold(false, |changed, item| self.redact_json(item) | changed);
                if map.keys().any(|key| !self.spans(key).is_empty()) {
                    changed = true;
                    let entries = std::mem::take(map);
                    for (key, item) in entries {
                        let redacted = self.redact_str(&key).into_owned();
                        // Two keys can redact to the same text: keep both.
                        let mut unique = redacted.clone();
                        let mut copy = 1;
                        while map.contains_key(&unique) {
                            copy += 1;
                            unique = format!("{redacted}#{copy}");
                        }
                        map.insert(unique, item);
                    }
                }
                changed
            }
        }
    }

    /// The stretches of `text` to replace, in order and disjoint.
    fn spans(&self, text: &str) -> Vec<Span> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let mut spans: Vec<Span> = Vec::new();
        // Overlapping matches come out in order of their end, so a new one
        // can only overlap a suffix of the spans merged so far; popping
        // them keeps the whole pass linear.
        for found in matcher.find_overlapping_iter(text) {
            let mut span = Span {
                start: found.start(),
                end: found.end(),
                pattern: found.pattern().as_usize(),
                pattern_len: found.len(),
            };
            while let Some(last) = spans.last().copied()
                && last.end > span.start
            {
                spans.pop();
                span.end = span.end.max(last.end);
                let last_names = last.pattern_len > span.pattern_len
                    || (last.pattern_len == span.pattern_len && last.start <= span.start);
                if last_names {
                    span.pattern = last.pattern;
                    span.pattern_len = last.pattern_len;
                }
                span.start = span.start.min(last.start);
            }
            spans.push(span);
        }
        spans
    }
}

impl Default for Redactor {
    fn default() -> Redactor {
        Redactor::empty()
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor(secrets: &[(&str, &str)]) -> Redactor {
        Redactor::new(secrets.iter().copied()).unwrap()
    }

    #[test]
    fn replaces_every_occurrence_with_its_tag() {
        let r = redactor(&[("db", "hunter2"), ("api", "sk-123")]);
        for (text, expected) in [
            ("nothing here", "nothing here"),
            ("hunter2", "[secret:db]"),
            ("pw=hunter2 key=sk-123.", "pw=[secret:db] key=[secret:api]."),
            ("hunter2hunter2", "[secret:db][secret:db]"),
            ("hunter2sk-123", "[secret:db][secret:api]"),
            ("Hunter2 hunter", "Hunter2 hunter"),
            ("", ""),
        ] {
            assert_eq!(r.redact_str(text), expected, "{text:?}");
        }
        assert!(matches!(r.redact_str("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn nested_and_overlapping_values_leave_nothing_behind() {
        let r = redactor(&[
            ("short", "pass"),
            ("long", "password"),
            ("abc", "abc"),
            ("bcd", "bcd"),
            ("xpa", "xpa"),
        ]);
        for (text, expected) in [
            // A value inside a longer one: the longer one names it.
            ("password", "[secret:long]"),
            ("pass word", "[secret:short] word"),
            ("passpassword", "[secret:short][secret:long]"),
            // Overlapping values: the stretch goes, named by the first of
            // the longest.
            ("abcd", "[secret:abc]"),
            ("abcde bcd", "[secret:abc]e [secret:bcd]"),
            // A short value starting before a long one.
            ("xpassword", "[secret:long]"),
            ("abcdabc", "[secret:abc][secret:abc]"),
        ] {
            assert_eq!(r.redact_str(text), expected, "{text:?}");
        }
    }

    #[test]
    fn repeated_overlapping_occurrences_merge() {
        let r = redactor(&[("a", "aa")]);
        assert_eq!(r.redact_str("aaa"), "[secret:a]");
        assert_eq!(r.redact_str("aa aaaa a"), "[secret:a] [secret:a] a");
    }

    #[test]
    fn empty_and_non_utf8_values_are_ignored_and_equal_values_share_a_name() {
        let r = Redactor::new([
            ("empty", &b""[..]),
            ("binary", &[0xff, 0xfe][..]),
            ("zeta", b"same"),
            ("alpha", b"same"),
        ])
        .unwrap();
        assert_eq!(r.redact_str("the same"), "the [secret:alpha]");
        assert!(!r.is_empty());
        let nothing = Redactor::new([("empty", "")]).unwrap();
        assert!(nothing.is_empty());
        assert!(Redactor::empty().is_empty());
        assert!(Redactor::default().is_empty());
        assert_eq!(nothing.redact_str("anything"), "anything");
    }

    #[test]
    fn unicode_values_and_neighbours_stay_whole() {
        let r = redactor(&[("kanji", "秘密"), ("emoji", "🔑x"), ("accent", "é")]);
        for (text, expected) in [
            ("a秘密b", "a[secret:kanji]b"),
            ("秘秘密密", "秘[secret:kanji]密"),
            ("🔑🔑x", "🔑[secret:emoji]"),
            ("café é", "caf[secret:accent] [secret:accent]"),
            // `e` + combining acute is not the precomposed `é`.
            ("cafe\u{301}", "cafe\u{301}"),
        ] {
            assert_eq!(r.redact_str(text), expected, "{text:?}");
        }
    }

    #[test]
    fn json_keys_strings_and_numbers_are_redacted() {
        let r = redactor(&[("token", "hunter2"), ("pin", "4242"), ("k", "apikey")]);
        let mut value = json!({
            "user": "alice",
            "password": "pw is hunter2",
            "nested": [{"apikey": true}, 424242, 1.5, null, "4242"],
            "x-apikey-header": {"hunter2": 4242},
            "count": 7,
        });
        assert!(r.redact_json(&mut value));
        assert_eq!(
            value,
            json!({
                "user": "alice",
                "password": "pw is [secret:token]",
                "nested": [{"[secret:k]": true}, "[secret:pin]", 1.5, null, "[secret:pin]"],
                "x-[secret:k]-header": {"[secret:token]": "[secret:pin]"},
                "count": 7,
            })
        );
        let mut clean = json!({"user": "alice", "n": [1, 2.5, false]});
        let before = clean.clone();
        assert!(!r.redact_json(&mut clean));
        assert_eq!(clean, before);
    }

    #[test]
    fn keys_that_redact_alike_are_both_kept() {
        let r = redactor(&[("t", "hunter2")]);
        let mut value = json!({"hunter2": 1, "[secret:t]": 2});
        assert!(r.redact_json(&mut value));
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 2);
        let mut values: Vec<_> = object.values().cloned().collect();
        values.sort_by_key(|v| v.as_i64());
        assert_eq!(values, [json!(1), json!(2)]);
        assert!(object.keys().all(|key| !key.contains("hunter2")));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let r = redactor(&[("db", "hunter2")]);
        let debug = format!("{r:?}");
        assert!(debug.contains("db"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn a_mebibyte_with_ten_secrets_is_linear() {
        // Guards against quadratic merging: pathological repetition
        // overlaps every match with the next.
        let secrets: Vec<(String, String)> = (0..10)
            .map(|i| {
                (
                    format!("s{i}"),
                    format!("secret-value-{i:02}-{}", "x".repeat(i)),
                )
            })
            .collect();
        let mut secrets_and_a = secrets.clone();
        secrets_and_a.push(("a".into(), "aaaa".into()));
        let r = Redactor::new(secrets_and_a).unwrap();
        let mut text = String::with_capacity(1 << 20);
        let mut i = 0;
        while text.len() < 1 << 20 {
            text.push_str("some ordinary log output, ");
            text.push_str(&secrets[i % 10].1);
            text.push('\n');
            i += 1;
        }
        let redacted = r.redact_str(&text);
        assert!(!redacted.contains("secret-value"));
        assert_eq!(redacted.matches("[secret:s").count(), i);
        let run = "a".repeat(1 << 20);
        assert_eq!(r.redact_str(&run), "[secret:a]");
    }
}
