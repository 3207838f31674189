//! Names and ids: the workflow name, step ids, and the one namespace that
//! main and compensation steps share.

use std::collections::HashMap;

use super::problems::Problem;
use crate::workflow::Definition;

/// Longest workflow name or step id, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// Which of a workflow's two DAGs a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dag {
    /// `steps`.
    Main,
    /// `on_failure`.
    Compensation,
}

impl Dag {
    /// The document field that lists this DAG's steps.
    pub(super) fn field(self) -> &'static str {
        match self {
            Dag::Main => "steps",
            Dag::Compensation => "on_failure",
        }
    }
}

/// Whether `name` matches `^[a-z][a-z0-9_-]{0,63}$`.
pub(super) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Reports `name` at `path` unless it is a valid name; `what` says what it
/// names ("workflow name", "step id").
pub(crate) fn check_name(path: &str, what: &str, name: &str, problems: &mut Vec<Problem>) {
    if !is_valid_name(name) {
        problems.push(Problem::new(
            path,
            format!(
                "`{name}` is not a valid {what}: use lowercase letters, digits, `-` and `_`, \
                 starting with a letter, at most {MAX_NAME_LEN} characters"
            ),
        ));
    }
}

/// Every step id of a definition, with where it was first defined.
#[derive(Debug)]
pub(super) struct StepIds<'d> {
    first: HashMap<&'d str, (Dag, usize)>,
}

impl<'d> StepIds<'d> {
    /// Indexes the ids of both DAGs, reporting invalid and duplicate ids.
    pub(super) fn index(definition: &'d Definition, problems: &mut Vec<Problem>) -> StepIds<'d> {
        let mut first = HashMap::new();
        for (dag, steps) in [
            (Dag::Main, &definition.steps),
            (Dag::Compensation, &definition.on_failure),
        ] {
            for (i, step) in steps.iter().enumerate() {
                let path = format!("{}[{i}].id", dag.field());
                check_name(&path, "step id", &step.id, problems);
                if let Some((other_dag, other)) = first.get(step.id.as_str()) {
                    problems.push(Problem::new(
                        path,
                        format!(
                            "duplicate step id `{}` (also `{}[{other}].id`); ids are unique \
                             across `steps` and `on_failure`",
                            step.id,
                            Dag::field(*other_dag)
                        ),
                    ));
                } else {
                    first.insert(step.id.as_str(), (dag, i));
                }
            }
        }
        StepIds { first }
    }

    /// The DAG and index of the step with this id.
    pub(super) fn get(&self, id: &str) -> Option<(Dag, usize)> {
        self.first.get(id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_lowercase_identifiers() {
        for good in ["a", "db-restart", "step_2", &"a".repeat(64)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "2fa", "Deploy", "-x", "a b", "é", &"a".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
