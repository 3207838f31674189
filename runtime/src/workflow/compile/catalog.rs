//! What a workflow may refer to when it is saved: plugins and other
//! workflows, behind the [`Catalog`] trait the engine implements, plus
//! [`StaticCatalog`], a list in memory for tests and tools.

use std::cmp::Ordering;

/// A plugin version the catalog resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPlugin {
    /// The exact version.
    pub version: String,
    /// sha256 of the component, in hex.
    pub digest: String,
}

/// What exists when a workflow is saved. Implemented by the engine.
pub trait Catalog {
    /// `version: None` = the newest version (semver order). None when unknown.
    fn plugin(&self, name: &str, version: Option<&str>) -> Option<ResolvedPlugin>;
    /// Whether that workflow (and version, if given) exists.
    fn workflow(&self, name: &str, version: Option<i64>) -> bool;
}

/// A catalog held in memory.
///
/// The newest version of a plugin is the highest by semver; versions that
/// are not semver rank below every semver one and compare as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticCatalog {
    /// `(name, version, digest)` of every plugin version.
    pub plugins: Vec<(String, String, String)>,
    /// `(name, version)` of every workflow version.
    pub workflows: Vec<(String, i64)>,
}

impl Catalog for StaticCatalog {
    fn plugin(&self, name: &str, version: Option<&str>) -> Option<ResolvedPlugin> {
        let mut candidates = self
            .plugins
            .iter()
            .filter(|(n, v, _)| n == name && version.is_none_or(|wanted| v == wanted));
        let found = match version {
            Some(_) => candidates.next(),
            None => candidates.max_by(|a, b| compare_versions(&a.1, &b.1)),
        }?;
        Some(ResolvedPlugin {
            version: found.1.clone(),
            digest: found.2.clone(),
        })
    }

    fn workflow(&self, name: &str, version: Option<i64>) -> bool {
        self.workflows
            .iter()
            .any(|(n, v)| n == name && version.is_none_or(|wanted| *v == wanted))
    }
}

/// Semver order; non-semver versions first (oldest), as strings.
fn compare_versions(a: &str, b: &str) -> Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_versions(versions: &[&str]) -> StaticCatalog {
        StaticCatalog {
            plugins: versions
                .iter()
                .map(|v| ("echo".to_string(), v.to_string(), format!("sha-{v}")))
                .collect(),
            workflows: vec![("child".into(), 1), ("child".into(), 2)],
        }
    }

    #[test]
    fn newest_is_the_highest_semver_version() {
        let catalog = with_versions(&["1.9.0", "nightly", "1.10.0", "1.10.0-rc.1"]);
        assert_eq!(catalog.plugin("echo", None).unwrap().version, "1.10.0");
        assert_eq!(
            catalog.plugin("echo", Some("nightly")).unwrap().digest,
            "sha-nightly"
        );
        assert_eq!(catalog.plugin("echo", Some("2.0.0")), None);
        assert_eq!(catalog.plugin("other", None), None);
        let only_names = with_versions(&["alpha", "beta"]);
        assert_eq!(only_names.plugin("echo", None).unwrap().version, "beta");
    }

    #[test]
    fn workflows_match_by_name_and_version() {
        let catalog = with_versions(&[]);
        assert!(catalog.workflow("child", None));
        assert!(catalog.workflow("child", Some(2)));
        assert!(!catalog.workflow("child", Some(3)));
        assert!(!catalog.workflow("other", None));
    }
}
