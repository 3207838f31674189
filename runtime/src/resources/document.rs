//! Reading an `apply` file: one or more documents (YAML separated by
//! `---`, or JSON: one object or a list), each with a `kind` and a `name`.

use serde::Deserialize;
use serde_json::Value;

use crate::workflow::{Problem, Problems};

/// Most documents in one file.
pub const MAX_DOCUMENTS: usize = 1000;

/// The kinds of resource.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
pub enum Kind {
    /// A workflow (versioned).
    Workflow,
    /// A rule.
    Rule,
    /// A schedule.
    Schedule,
    /// A policy.
    Policy,
    /// A webhook.
    Webhook,
}

impl Kind {
    /// Every kind, in the order `apply` saves them.
    pub const ALL: [Kind; 5] = [
        Kind::Workflow,
        Kind::Policy,
        Kind::Webhook,
        Kind::Rule,
        Kind::Schedule,
    ];

    /// `Workflow`, `Rule`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workflow => "Workflow",
            Kind::Rule => "Rule",
            Kind::Schedule => "Schedule",
            Kind::Policy => "Policy",
            Kind::Webhook => "Webhook",
        }
    }

    /// Reads a kind as written in documents (`Rule`) or on the command line
    /// and in URLs (`rule`, `rules`).
    pub fn parse(text: &str) -> Option<Kind> {
        let lower = text.to_ascii_lowercase();
        let singular = match lower.as_str() {
            "policies" => "policy",
            other => other.strip_suffix('s').unwrap_or(other),
        };
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(singular))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The document without `kind`.
    pub body: Value,
    /// Its path in problems: `[0]`, `[1]`, ...
    pub path: String,
}

/// Splits a file into documents and reads each one's kind and name.
/// Every problem is reported, with the document's index as its path.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, Problems> {
    let values = read_values(text)?;
    let mut problems = Vec::new();
    let mut documents = Vec::new();
    if values.is_empty() {
        problems.push(Problem::new("", "the file holds no documents"));
    }
    if values.len() > MAX_DOCUMENTS {
        return Err(Problems(vec![Problem::new(
            "",
            format!("at most {MAX_DOCUMENTS} documents per file"),
        )]));
    }
    for (i, value) in values.into_iter().enumerate() {
        let path = format!("[{i}]");
        let Value::Object(mut map) = value else {
            problems.push(Problem::new(
                &path,
                "a document is a map with `kind` and `name`",
            ));
            continue;
        };
        let kind = match map.remove("kind") {
            Some(Value::String(kind)) => match Kind::parse(&kind).filter(|k| k.as_str() == kind) {
                Some(kind) => kind,
                None => {
                    problems.push(Problem::new(
                        format!("{path}.kind"),
                        format!(
                            "unknown kind `{kind}` (kinds: Workflow, Rule, Schedule, Policy, Webhook)"
                        ),
                    ));
                    continue;
                }
            },
            Some(_) => {
                problems.push(Problem::new(format!("{path}.kind"), "`kind` is a string"));
                continue;
            }
            None => {
                problems.push(Problem::new(
                    &path,
                    "missing `kind` (Workflow, Rule, Schedule, Policy or Webhook)",
                ));
                continue;
            }
        };
        let name = match map.get("name") {
            Some(Value::String(name)) => name.clone(),
            _ => {
                problems.push(Problem::new(
                    format!("{path}.name"),
                    "missing `name` (a string)",
                ));
                continue;
            }
        };
        if let Some(first) = documents
            .iter()
            .find(|d: &&Document| d.kind == kind && d.name == name)
        {
            problems.push(Problem::new(
                format!("{path}.name"),
                format!("{kind} `{name}` is also defined by document {}", first.path),
            ));
            continue;
        }
        documents.push(Document {
            kind,
            name,
            body: Value::Object(map),
            path,
        });
    }
    if problems.is_empty() {
        Ok(documents)
    } else {
        Err(Problems(problems))
    }
}

fn read_values(text: &str) -> Result<Vec<Value>, Problems> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Problems(vec![Problem::new("", format!("invalid JSON: {e}"))]))?;
        return Ok(match value {
            Value::Array(items) => items,
            other => vec![other],
        });
    }
    let mut values = Vec::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        if i >= MAX_DOCUMENTS {
            return Err(Problems(vec![Problem::new(
                "",
                format!("at most {MAX_DOCUMENTS} documents per file"),
            )]));
        }
        let value = Value::deserialize(document).map_err(|e| {
            Problems(vec![Problem::new(
                format!("[{i}]"),
                format!("invalid YAML: {e}"),
            )])
        })?;
        // `---` with nothing after it is an empty document, not an error.
        if !value.is_null() {
            values.push(value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_and_checked() {
        let text = "kind: Rule\nname: a\non: x\n---\nkind: Policy\nname: b\n---\n";
        let documents = parse_documents(text).expect("two documents");
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].kind, Kind::Policy);
        assert!(documents[0].body.get("kind").is_none());

        let problems = parse_documents("kind: Rule\nname: a\n---\nkind: Rule\nname: a\n---\nkind: Nope\nname: c\n---\nname: d\n---\n- 1\n")
            .expect_err("problems")
            .0;
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["[1].name", "[2].kind", "[3]", "[4]"]);
        assert!(parse_documents("").is_err());
        assert!(parse_documents("kind: Rule\nname: [unclosed").is_err());
    }

    #[test]
    fn kinds_read_singular_and_plural() {
        assert_eq!(Kind::parse("rules"), Some(Kind::Rule));
        assert_eq!(Kind::parse("policies"), Some(Kind::Policy));
        assert_eq!(Kind::parse("Workflow"), Some(Kind::Workflow));
        assert_eq!(Kind::parse("tickets"), None);
    }
}
