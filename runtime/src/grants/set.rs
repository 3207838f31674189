//! The grants in force, by plugin name and version, kept in memory by the
//! engine and replaced whole when one changes.

use std::collections::HashMap;
use std::sync::Arc;

use super::Grant;

/// Every saved grant.
#[derive(Debug, Clone, Default)]
pub struct GrantSet {
    plugins: HashMap<String, PluginGrants>,
}

#[derive(Debug, Clone, Default)]
struct PluginGrants {
    all: Option<Arc<Grant>>,
    versions: HashMap<String, Arc<Grant>>,
}

impl GrantSet {
    /// Adds the grant of `plugin` (for one `version`, or every one).
    pub fn insert(&mut self, plugin: &str, version: Option<&str>, grant: Grant) {
        let entry = self.plugins.entry(plugin.to_string()).or_default();
        match version {
            Some(version) => {
                entry.versions.insert(version.to_string(), Arc::new(grant));
            }
            None => entry.all = Some(Arc::new(grant)),
        }
    }

    /// Whether `plugin` has a grant for some version of its own.
    pub fn has_versions(&self, plugin: &str) -> bool {
        self.plugins
            .get(plugin)
            .is_some_and(|grants| !grants.versions.is_empty())
    }

    /// Whether `plugin` has a grant of its own for `version`.
    pub fn has_version(&self, plugin: &str, version: &str) -> bool {
        self.plugins
            .get(plugin)
            .is_some_and(|grants| grants.versions.contains_key(version))
    }

    /// What `plugin` at `version` may reach: its version's grant, else the
    /// plugin-wide one, else nothing.
    pub fn effective(&self, plugin: &str, version: &str) -> Option<Arc<Grant>> {
        let grants = self.plugins.get(plugin)?;
        grants
            .versions
            .get(version)
            .or(grants.all.as_ref())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_grant_replaces_the_plugin_grant() {
        let mut set = GrantSet::default();
        let wide = Grant {
            secrets: vec!["a".into()],
            ..Grant::default()
        };
        let narrow = Grant {
            secrets: vec!["b".into()],
            ..Grant::default()
        };
        set.insert("rt", None, wide.clone());
        set.insert("rt", Some("2.0.0"), narrow.clone());
        assert_eq!(*set.effective("rt", "1.0.0").unwrap(), wide);
        assert_eq!(*set.effective("rt", "2.0.0").unwrap(), narrow);
        assert!(set.effective("other", "1.0.0").is_none());
    }
}
