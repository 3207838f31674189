//! Time helpers for expressions: `now` as a CEL timestamp, and
//! `in_window(timestamp, window, time_zone)` for maintenance and blackout
//! windows.
//!
//! A window is days, hours or both, read in a time zone from the IANA
//! database (`Europe/Paris`, `UTC`):
//!
//! - `Mon-Fri 09:00-17:00`: weekdays, from 09:00 to before 17:00;
//! - `Sat,Sun`: the whole of both days;
//! - `22:00-06:00`: every night (a range whose end is not after its start
//!   crosses midnight; the days, if given, are those of the local date at
//!   the instant tested);
//! - `Fri 18:00-24:00, Mon 00:00-06:00` is not one window: combine two calls
//!   with `||`.
//!
//! CEL's own timestamp methods also take a time zone, for example
//! `now.getDayOfWeek('Europe/Paris')` (0 = Sunday) and
//! `now.getHours('Europe/Paris')`.

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Timelike};
use std::sync::Arc;

/// `now` (epoch milliseconds) as a CEL timestamp, in UTC.
pub fn timestamp(ms: i64) -> cel::Value {
    let time = chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .fixed_offset();
    cel::Value::Timestamp(time)
}

/// Adds the helpers to a context.
pub(crate) fn register(context: &mut cel::Context<'_, '_>) -> Result<(), String> {
    context
        .add_function(
            "in_window",
            |at: DateTime<FixedOffset>,
             window: Arc<String>,
             zone: Arc<String>|
             -> Result<bool, cel::ExecutionError> {
                in_window(at, &window, &zone)
                    .map_err(|e| cel::ExecutionError::function_error("in_window", e))
            },
        )
        .map_err(|e| format!("cannot declare in_window: {e:?}"))
}

/// Whether `at` falls in `window` read in `zone`.
pub fn in_window(at: DateTime<FixedOffset>, window: &str, zone: &str) -> Result<bool, String> {
    let zone: chrono_tz::Tz = zone.parse().map_err(|_| {
        format!("unknown time zone {zone:?} (use an IANA name such as Europe/Paris)")
    })?;
    let window = Window::parse(window)?;
    let local = at.with_timezone(&zone);
    Ok(window.contains(
        local.weekday().num_days_from_monday(),
        local.hour() * 60 + local.minute(),
    ))
}

/// A parsed window: allowed weekdays (bit 0 = Monday) and a minute range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    days: u8,
    minutes: Option<(u32, u32)>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    /// Parses `[days] [HH:MM-HH:MM]`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let bad = |why: &str| {
            format!(
                "window {text:?}: {why} (examples: \"Mon-Fri 09:00-17:00\", \"Sat,Sun\", \"22:00-06:00\")"
            )
        };
        let mut days = None;
        let mut minutes = None;
        for part in text.split_whitespace() {
            if part.contains(':') {
                if minutes.is_some() {
                    return Err(bad("more than one time range"));
                }
                let (from, to) = part
                    .split_once('-')
                    .ok_or_else(|| bad("a time range is HH:MM-HH:MM"))?;
                let from = clock(from).ok_or_else(|| bad("times are HH:MM from 00:00 to 24:00"))?;
                let to = clock(to).ok_or_else(|| bad("times are HH:MM from 00:00 to 24:00"))?;
                if from == to {
                    return Err(bad("a time range cannot be empty"));
                }
                minutes = Some((from, to));
            } else {
                if days.is_some() {
                    return Err(bad("more than one list of days"));
                }
                let mut mask = 0u8;
                for item in part.split(',').filter(|s| !s.is_empty()) {
                    let (from, to) = match item.split_once('-') {
                        Some((a, b)) => (day(a), day(b)),
                        None => (day(item), day(item)),
                    };
                    let (Some(from), Some(to)) = (from, to) else {
                        return Err(bad(
                            "days are Mon, Tue, Wed, Thu, Fri, Sat, Sun or ranges such as Mon-Fri",
                        ));
                    };
                    let mut d = from;
                    loop {
                        mask |= 1 << d;
                        if d == to {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                if mask == 0 {
                    return Err(bad("no days"));
                }
                days = Some(mask);
            }
        }
        if days.is_none() && minutes.is_none() {
            return Err(bad("empty"));
        }
        Ok(Window {
            days: days.unwrap_or(0x7f),
            minutes,
        })
    }

    /// Whether a local weekday (0 = Monday) and minute of the day are in.
    pub fn contains(&self, weekday: u32, minute: u32) -> bool {
        if self.days & (1 << weekday) == 0 {
            return false;
        }
        match self.minutes {
            None => true,
            Some((from, to)) if from < to => minute >= from && minute < to,
            Some((from, to)) => minute >= from || minute < to,
        }
    }
}

fn day(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| lower.len() >= 3 && d.starts_with(&lower[..3]) && lower.len() <= 9)
        .and_then(|i| u32::try_from(i).ok())
}

fn clock(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).expect("a time")
    }

    #[test]
    fn windows_are_read_in_their_time_zone() {
        // Friday 2026-12-04 16:30 UTC is 17:30 in Paris.
        let friday = at("2026-12-04T16:30:00Z");
        assert_eq!(in_window(friday, "Mon-Fri 09:00-17:00", "UTC"), Ok(true));
        assert_eq!(
            in_window(friday, "Mon-Fri 09:00-17:00", "Europe/Paris"),
            Ok(false)
        );
        assert_eq!(in_window(friday, "Sat,Sun", "UTC"), Ok(false));
        // 23:30 UTC on Friday is already Saturday in Tokyo.
        let late = at("2026-12-04T23:30:00Z");
        assert_eq!(in_window(late, "Sat,Sun", "Asia/Tokyo"), Ok(true));
        assert_eq!(in_window(late, "22:00-06:00", "UTC"), Ok(true));
        assert_eq!(
            in_window(at("2026-12-04T07:00:00Z"), "22:00-06:00", "UTC"),
            Ok(false)
        );
        assert_eq!(in_window(late, "Fri-Mon", "UTC"), Ok(true));
        assert_eq!(in_window(late, "Fri 18:00-24:00", "UTC"), Ok(true));
    }

    #[test]
    fn bad_windows_and_zones_are_explained() {
        let now = at("2026-12-04T16:30:00Z");
        for (window, zone, needle) in [
            ("Mon-Fri 9:00-17:00", "UTC", "HH:MM"),
            ("Funday", "UTC", "days are"),
            ("", "UTC", "empty"),
            ("10:00-10:00", "UTC", "empty"),
            ("25:00-26:00", "UTC", "HH:MM"),
            ("Mon", "Mars/Base", "unknown time zone"),
        ] {
            let error = in_window(now, window, zone).expect_err(window);
            assert!(error.contains(needle), "{window}: {error}");
        }
    }

    #[test]
    fn expressions_can_use_now_and_in_window() {
        use crate::workflow::expr::{Expr, Scope};
        let friday_noon_utc = 1_796_385_600_000; // 2026-12-04T12:00:00Z
        let scope = Scope {
            now: Some(friday_noon_utc),
            ..Scope::default()
        };
        let expr = Expr::parse(
            "in_window(now, 'Mon-Fri 09:00-17:00', 'Europe/Paris') && now.getHours('Europe/Paris') == 13",
        )
        .expect("parses");
        assert_eq!(expr.evaluate_bool(&scope), Ok(true));
        let bad = Expr::parse("in_window(now, 'Mon-Fri', 'Nowhere/City')").expect("parses");
        assert!(bad.evaluate_bool(&scope).is_err());
    }
}
