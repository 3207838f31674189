//! Schedules: start a workflow at the times a cron expression gives, read
//! in a time zone. After downtime, missed occurrences run once (or are
//! skipped); a run still going when the next occurrence comes is allowed
//! to overlap, or the occurrence is skipped, or queued until it ends.

use std::str::FromStr;

use chrono::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflow::expr::Template;
use crate::workflow::{Problem, join_problem_path};

/// What schedule expressions may use: `schedule.name`, `schedule.time`.
pub const VARIABLES: &[&str] = &["schedule"];

/// A schedule document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// The schedule's name.
    pub name: String,
    /// What it is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A cron expression: five fields (minute hour day-of-month month
    /// day-of-week), or six with seconds first; names (`MON`), ranges,
    /// steps, `L`, `#` and `@daily`-style nicknames are accepted.
    pub cron: String,
    /// The IANA time zone the expression is read in (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The workflow to start: `name` or `name@version`.
    pub workflow: String,
    /// The run's input: JSON whose strings may hold `${{ }}` over
    /// `schedule` (`schedule.name`, `schedule.time`, the occurrence in RFC
    /// 3339). Absent: `{"schedule": <schedule>}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// After downtime: run a missed occurrence `once` (default) or `skip`
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUp>,
    /// When the previous run is still going: `skip` the occurrence
    /// (default), `allow` a second run, or `queue` it (at most one waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<Overlap>,
    /// `false` keeps the schedule without starting runs.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// What happens to occurrences missed while Baton was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// One run for all of them.
    #[default]
    Once,
    /// None.
    Skip,
}

/// What happens when an occurrence comes while the last run is going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Nothing starts.
    #[default]
    Skip,
    /// Another run starts.
    Allow,
    /// It starts when the last one ends (at most one waits).
    Queue,
}

/// A compiled schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Its name.
    pub name: String,
    /// The cron expression.
    pub cron: croner::Cron,
    /// The time zone.
    pub zone: chrono_tz::Tz,
    /// The workflow it starts.
    pub workflow: String,
    /// A pinned version, or the newest.
    pub version: Option<i64>,
    /// The input template.
    pub input: Template,
    /// Missed occurrences.
    pub catch_up: CatchUp,
    /// Overlapping runs.
    pub overlap: Overlap,
    /// Whether it starts runs.
    pub enabled: bool,
    /// The cron text and zone, to tell whether timing changed.
    pub timing: String,
}

impl Schedule {
    /// The first occurrence strictly after `after` (epoch ms), or `None`
    /// when the expression never matches again.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = self.zone.timestamp_millis_opt(after).single()?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(next.timestamp_millis())
    }

    /// The latest occurrence at or before `at`, not before `since`.
    pub fn last_at_or_before(&self, at: i64, since: i64) -> Option<i64> {
        let start = self.zone.timestamp_millis_opt(at).single()?;
        let previous = self.cron.find_previous_occurrence(&start, true).ok()?;
        let previous = previous.timestamp_millis();
        (previous >= since).then_some(previous)
    }
}

/// Compiles a schedule document.
pub fn compile(body: &Value, path: &str) -> Result<Schedule, Vec<Problem>> {
    let spec: ScheduleSpec = super::read_spec(body, path)?;
    let at = |field: &str| join_problem_path(path, field);
    let mut problems = Vec::new();
    crate::workflow::check_name(&at("name"), "schedule name", &spec.name, &mut problems);
    let cron = croner::Cron::from_str(spec.cron.trim())
        .map_err(|e| {
            problems.push(Problem::new(
                at("cron"),
                format!(
                    "`{}` is not a cron expression: {e} (examples: `0 2 * * *`, `*/15 * * * MON-FRI`, `@hourly`)",
                    spec.cron
                ),
            ))
        })
        .ok();
    let zone_name = spec.timezone.as_deref().unwrap_or("UTC");
    let zone = chrono_tz::Tz::from_str(zone_name)
        .map_err(|_| {
            problems.push(Problem::new(
                at("timezone"),
                format!("unknown time zone `{zone_name}` (use an IANA name such as Europe/Paris)"),
            ))
        })
        .ok();
    let workflow = super::workflow_reference(&at("workflow"), &spec.workflow, &mut problems);
    let default_input = serde_json::json!({"schedule": "${{ schedule }}"});
    let input = super::template(
        &at("input"),
        spec.input.as_ref().unwrap_or(&default_input),
        VARIABLES,
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(cron), Some(zone), Some((workflow, version)), Some(input)) =
        (cron, zone, workflow, input)
    else {
        return Err(vec![Problem::new(path, "the schedule is incomplete")]);
    };
    let schedule = Schedule {
        name: spec.name,
        cron,
        zone,
        workflow,
        version,
        input,
        catch_up: spec.catch_up.unwrap_or_default(),
        overlap: spec.overlap.unwrap_or_default(),
        enabled: spec.enabled,
        timing: format!("{} {zone_name}", spec.cron.trim()),
    };
    if schedule.next_after(0).is_none() {
        return Err(vec![Problem::new(
            at("cron"),
            "this expression never matches",
        )]);
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .timestamp_millis()
    }

    #[test]
    fn occurrences_follow_the_time_zone() {
        let schedule = compile(
            &json!({"name": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Paris", "workflow": "report"}),
            "[0]",
        )
        .expect("compiles");
        // 02:00 in Paris in winter is 01:00 UTC.
        assert_eq!(
            schedule.next_after(ms("2026-12-04T12:00:00Z")),
            Some(ms("2026-12-05T01:00:00Z"))
        );
        assert_eq!(
            schedule.last_at_or_before(ms("2026-12-04T12:00:00Z"), 0),
            Some(ms("2026-12-04T01:00:00Z"))
        );
        assert_eq!(
            schedule.last_at_or_before(ms("2026-12-04T12:00:00Z"), ms("2026-12-04T02:00:00Z")),
            None
        );
    }

    #[test]
    fn bad_schedules_are_explained() {
        let problems = compile(
            &json!({"name": "x", "cron": "61 * * * *", "timezone": "Mars/Base", "workflow": "w",
                    "overlap": "sometimes"}),
            "[1]",
        )
        .expect_err("problems");
        assert_eq!(problems[0].path, "[1].overlap");
        let problems = compile(
            &json!({"name": "x", "cron": "61 * * * *", "timezone": "Mars/Base", "workflow": "w"}),
            "[1]",
        )
        .expect_err("problems");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["[1].cron", "[1].timezone"]);
    }
}
