//! Reading a workflow document (YAML or JSON text) into a [`Definition`].
//!
//! Only the shape is checked here (unknown fields, wrong types, missing
//! fields), each problem with its path; whether the document makes sense is
//! [`compile`](super::compile)'s job.

use super::problems::{Problem, Problems};
use crate::workflow::Definition;

/// Serde's names of the document types, and what to call them in messages.
const TYPE_NAMES: &[(&str, &str)] = &[
    (
        "struct Definition",
        "a workflow (a map with `name` and `steps`)",
    ),
    ("struct StepDefinition", "a step (a map with an `id`)"),
    (
        "struct RetryDefinition",
        "a retry policy (a map with `max_attempts`)",
    ),
];

/// Parses YAML or JSON text into a [`Definition`]. Text whose first
/// non-space character is `{` is read as JSON, anything else as YAML.
///
/// Unknown fields, wrong types and missing fields are reported with their
/// path (and the line and column); an empty document is a problem too.
pub fn parse_definition(text: &str) -> Result<Definition, Problems> {
    if text.trim_start().starts_with('{') {
        parse_json(text)
    } else {
        parse_yaml(text)
    }
}

fn parse_json(text: &str) -> Result<Definition, Problems> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let definition = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| problem(&error.path().to_string(), &error.inner().to_string()))?;
    deserializer
        .end()
        .map_err(|error| problem("", &error.to_string()))?;
    Ok(definition)
}

fn parse_yaml(text: &str) -> Result<Definition, Problems> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        // A document of only comments or blanks parses as null and would be
        // reported as a missing `name`.
        if matches!(
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text),
            Ok(serde_yaml_ng::Value::Null)
        ) {
            return Problems(vec![Problem::new("", "the document is empty")]);
        }
        problem(&error.path().to_string(), &error.inner().to_string())
    })
}

/// One problem at `path`. The YAML parser prefixes messages with its own
/// notion of the path (`steps[0]: unknown field ...`), which is dropped.
fn problem(path: &str, message: &str) -> Problems {
    // serde_path_to_error calls the root `.`.
    let path = if path == "." { "" } else { path };
    let mut message = message;
    for prefix in ancestors(path) {
        if let Some(rest) = message.strip_prefix(&format!("{prefix}: ")) {
            message = rest;
            break;
        }
    }
    let mut message = message.to_string();
    for (serde_name, name) in TYPE_NAMES {
        message = message.replace(serde_name, name);
    }
    Problems(vec![Problem::new(path, message)])
}

/// `steps[0].retry.max` and each of its ancestors, longest first.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let cuts = path
        .char_indices()
        .filter(|(_, c)| matches!(c, '.' | '['))
        .map(|(i, _)| i)
        .rev();
    std::iter::once(path).chain(cuts.map(|i| &path[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_problem(text: &str) -> Problem {
        let problems = parse_definition(text).unwrap_err().0;
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.into_iter().next().unwrap()
    }

    #[test]
    fn yaml_and_json_parse_to_the_same_definition() {
        let yaml = "name: hello\nsteps:\n  - id: greet\n    uses: greet@1.0.0\n    with: {who: world}\n    if: true\n";
        let json = r#"{"name": "hello", "steps": [{"id": "greet", "uses": "greet@1.0.0", "with": {"who": "world"}, "if": "true"}]}"#;
        let from_yaml = parse_definition(yaml).unwrap();
        assert_eq!(from_yaml, parse_definition(json).unwrap());
        assert_eq!(from_yaml.steps[0].condition.as_deref(), Some("true"));
    }

    #[test]
    fn unknown_fields_are_reported_at_their_path() {
        let problem = only_problem("name: x\nsteps:\n  - id: a\n    sleep: 1s\n    retyr: {}\n");
        assert_eq!(problem.path, "steps[0].retyr");
        assert!(
            problem
                .message
                .starts_with("unknown field `retyr`, expected one of"),
            "{}",
            problem.message
        );
        assert!(
            problem.message.ends_with("at line 5 column 5"),
            "{}",
            problem.message
        );

        let problem = only_problem(r#"{"name": "x", "steps": [{"id": "a", "retyr": 1}]}"#);
        assert_eq!(problem.path, "steps[0].retyr");
        assert!(problem.message.starts_with("unknown field `retyr`"));
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field() {
        let problem = only_problem("name: x\nsteps:\n  - id: a\n    retry: {max_attempts: many}\n");
        assert_eq!(problem.path, "steps[0].retry.max_attempts");
        assert!(
            problem
                .message
                .starts_with("invalid type: string \"many\", expected u32")
        );

        let problem = only_problem("name: x\nsteps:\n  - uses: echo\n");
        assert_eq!(problem.path, "steps[0]");
        assert!(
            problem.message.starts_with("missing field `id`"),
            "{}",
            problem.message
        );

        let problem = only_problem("name: x\n");
        assert_eq!(problem.path, "");
        assert!(problem.message.starts_with("missing field `steps`"));

        let problem = only_problem("- a\n- b\n");
        assert!(
            problem.message.contains("expected a workflow (a map"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn empty_documents_and_bad_syntax_are_clear() {
        for text in ["", "  \n", "# just a comment\n"] {
            assert_eq!(only_problem(text).message, "the document is empty");
        }
        let problem = only_problem("name: x\nsteps: [\n");
        assert!(problem.message.contains("line 3"), "{}", problem.message);
        let problem = only_problem(r#"{"name": "x", "steps": []} trailing"#);
        assert_eq!(problem.path, "");
        assert!(problem.message.starts_with("trailing characters"));
    }
}
