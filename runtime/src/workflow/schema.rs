//! The JSON Schema of the workflow format, generated from [`Definition`].
//!
//! `docs/workflow.schema.json` is this schema, committed so that editors can
//! point at it; a test keeps the two identical (run it with `BATON_BLESS=1`
//! to rewrite the file after changing the format).

use serde_json::Value;

use super::Definition;

/// The JSON Schema (draft 2020-12) of a workflow document.
pub fn definition_schema() -> Value {
    schemars::schema_for!(Definition).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schema_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/workflow.schema.json");
        let generated = serde_json::to_string_pretty(&definition_schema()).unwrap() + "\n";
        if std::env::var("BATON_BLESS").as_deref() == Ok("1") {
            std::fs::write(path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/workflow.schema.json is out of date: run \
             `BATON_BLESS=1 cargo test --lib workflow::schema` in runtime/"
        );
    }
}
