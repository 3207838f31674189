//! Reading and writing [`EgressRule`]s in configuration.
//!
//! An entry is either a bare origin string (`"https://api.example.com"`) or
//! an object `{"origin": "...", "methods": ["GET"], "private_network": true}`.
//! Both go through [`EgressRule::parse`], so a bad entry fails with its
//! message. Rules are always written in the object form, with the canonical
//! origin text.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::rule::EgressRule;

/// The object form, as written.
#[derive(Serialize)]
struct RuleOut {
    origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    methods: Option<Vec<String>>,
    private_network: bool,
}

/// The object form, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleIn {
    origin: String,
    #[serde(default)]
    methods: Option<Vec<String>>,
    #[serde(default)]
    private_network: bool,
}

impl Serialize for EgressRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RuleOut {
            origin: self.to_string(),
            methods: self.methods(),
            private_network: self.private_network(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EgressRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RuleVisitor)
    }
}

struct RuleVisitor;

impl<'de> Visitor<'de> for RuleVisitor {
    type Value = EgressRule;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an origin such as \"https://api.example.com\" or an object with `origin`")
    }

    fn visit_str<E: de::Error>(self, origin: &str) -> Result<EgressRule, E> {
        EgressRule::parse(origin, None, false).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EgressRule, A::Error> {
        let fields = RuleIn::deserialize(de::value::MapAccessDeserializer::new(map))?;
        EgressRule::parse(
            &fields.origin,
            fields.methods.as_deref(),
            fields.private_network,
        )
        .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn both_forms_are_read_and_the_object_form_is_written() {
        let bare: EgressRule =
            serde_json::from_value(json!("HTTPS://API.example.com:443")).unwrap();
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"origin": "https://api.example.com", "private_network": false})
        );

        let object: EgressRule = serde_json::from_value(json!({
            "origin": "http://*.internal:8080",
            "methods": ["get", "POST"],
            "private_network": true,
        }))
        .unwrap();
        let written = serde_json::to_value(&object).unwrap();
        assert_eq!(
            written,
            json!({
                "origin": "http://*.internal:8080",
                "methods": ["GET", "POST"],
                "private_network": true,
            })
        );
        let again: EgressRule = serde_json::from_value(written).unwrap();
        assert_eq!(again, object);
    }

    #[test]
    fn errors_carry_the_parse_message() {
        let error = serde_json::from_value::<EgressRule>(json!("https://api.example.com/v1"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("remove the path"), "{error}");

        let error = serde_json::from_value::<EgressRule>(json!({
            "origin": "https://api.example.com",
            "methods": [],
        }))
        .unwrap_err()
        .to_string();
        assert!(error.contains("allows nothing"), "{error}");

        let error = serde_json::from_value::<EgressRule>(json!({
            "origin": "https://api.example.com",
            "private": true,
        }))
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown field `private`"), "{error}");

        assert!(serde_json::from_value::<EgressRule>(json!(42)).is_err());
    }

    #[test]
    fn yaml_lists_mix_both_forms() {
        let rules: Vec<EgressRule> = serde_yaml_ng::from_str(
            "- https://api.example.com\n- origin: http://127.0.0.1:9000\n  private_network: true\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert!(rules[1].private_network());
    }
}
