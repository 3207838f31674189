//! Durations and retry policies: parsing `30s`-style text and checking it
//! against the limits Baton accepts.

use std::time::Duration;

use super::problems::Problem;
use crate::workflow::{
    BackoffKind, DEFAULT_RETRY_INITIAL, DEFAULT_RETRY_MAX, MAX_RETRY_ATTEMPTS, RetryDefinition,
    RetryPolicy,
};

/// Longest `sleep` accepted.
pub const MAX_SLEEP: Duration = Duration::from_secs(366 * 24 * 60 * 60);
/// Longest `timeout` accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a duration at `path`, which must be longer than zero and at most
/// `max` (named `limit` in the message) when given.
pub(crate) fn duration(
    path: &str,
    text: &str,
    max: Option<(Duration, &str)>,
    problems: &mut Vec<Problem>,
) -> Option<Duration> {
    let message = match humantime::parse_duration(text.trim()) {
        Err(_) => format!("`{text}` is not a duration (examples: 30s, 10m, 1h 30m)"),
        Ok(duration) if duration.is_zero() => {
            format!("`{text}`: a duration must be longer than zero")
        }
        Ok(duration) => match max {
            Some((max, limit)) if duration > max => format!("`{text}` is too long: {limit}"),
            _ => return Some(duration),
        },
    };
    problems.push(Problem::new(path, message));
    None
}

/// Checks a `retry:` block at `path` and fills in its defaults.
pub(super) fn retry_policy(
    path: &str,
    retry: &RetryDefinition,
    problems: &mut Vec<Problem>,
) -> Option<RetryPolicy> {
    let before = problems.len();
    if !(1..=MAX_RETRY_ATTEMPTS).contains(&retry.max_attempts) {
        problems.push(Problem::new(
            format!("{path}.max_attempts"),
            format!(
                "`max_attempts` must be from 1 to {MAX_RETRY_ATTEMPTS} (it counts the first \
                 attempt), got {}",
                retry.max_attempts
            ),
        ));
    }
    let jitter = retry.jitter.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&jitter) {
        problems.push(Problem::new(
            format!("{path}.jitter"),
            format!("`jitter` must be from 0 to 1, got {jitter}"),
        ));
    }
    let initial = match &retry.initial {
        Some(text) => duration(&format!("{path}.initial"), text, None, problems),
        None => Some(DEFAULT_RETRY_INITIAL),
    };
    let max = match &retry.max {
        Some(text) => duration(&format!("{path}.max"), text, None, problems),
        None => Some(DEFAULT_RETRY_MAX),
    };
    if let (Some(initial), Some(max)) = (initial, max)
        && initial > max
    {
        let default = if retry.max.is_none() {
            ", the default"
        } else {
            ""
        };
        problems.push(Problem::new(
            format!("{path}.initial"),
            format!(
                "`initial` ({}) is longer than `max` ({}{default})",
                humantime::format_duration(initial),
                humantime::format_duration(max)
            ),
        ));
    }
    if problems.len() > before {
        return None;
    }
    Some(RetryPolicy {
        max_attempts: retry.max_attempts,
        exponential: retry.backoff.unwrap_or(BackoffKind::Exponential) == BackoffKind::Exponential,
        initial: initial?,
        max: max?,
        jitter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(max_attempts: u32) -> RetryDefinition {
        RetryDefinition {
            max_attempts,
            backoff: None,
            initial: None,
            max: None,
            jitter: None,
        }
    }

    #[test]
    fn durations_are_humantime_and_bounded() {
        let mut problems = Vec::new();
        assert_eq!(
            duration("p", "1h 30m", None, &mut problems),
            Some(Duration::from_secs(5400))
        );
        let limit = Some((MAX_TIMEOUT, "a timeout can be at most 24h"));
        assert_eq!(duration("p", "25h", limit, &mut problems), None);
        assert_eq!(duration("p", "0s", None, &mut problems), None);
        assert_eq!(duration("p", "5 parsecs", None, &mut problems), None);
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`25h` is too long: a timeout can be at most 24h",
                "`0s`: a duration must be longer than zero",
                "`5 parsecs` is not a duration (examples: 30s, 10m, 1h 30m)",
            ]
        );
    }

    #[test]
    fn retry_defaults_to_exponential_from_one_second_to_five_minutes() {
        let policy = retry_policy("r", &retry(3), &mut Vec::new()).unwrap();
        assert_eq!(
            policy,
            RetryPolicy {
                max_attempts: 3,
                ..RetryPolicy::default()
            }
        );
    }

    #[test]
    fn retry_limits_are_reported_per_field() {
        let mut problems = Vec::new();
        let bad = RetryDefinition {
            jitter: Some(1.5),
            initial: Some("10m".into()),
            ..retry(0)
        };
        assert_eq!(retry_policy("steps[0].retry", &bad, &mut problems), None);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "steps[0].retry.max_attempts",
                "steps[0].retry.jitter",
                "steps[0].retry.initial"
            ]
        );
        assert_eq!(
            problems[2].message,
            "`initial` (10m) is longer than `max` (5m, the default)"
        );
    }
}
