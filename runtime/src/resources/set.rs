//! Every compiled resource in force, indexed for the writer: rules by the
//! event type they react to (exact types in a map, patterns with `*` in a
//! list), policies by the point they apply at.

use std::collections::{BTreeMap, HashMap};

use super::Resource;
use super::policy::{Point, Policy};
use super::rule::Rule;
use super::schedule::Schedule;
use super::webhook::Webhook;

/// The resources in force.
#[derive(Debug, Default)]
pub struct ResourceSet {
    rules: Vec<Rule>,
    exact: HashMap<String, Vec<usize>>,
    wildcard: Vec<usize>,
    policies: HashMap<Point, Vec<Policy>>,
    schedules: BTreeMap<String, Schedule>,
    webhooks: BTreeMap<String, Webhook>,
}

impl ResourceSet {
    /// Indexes resources (any order; each kind is kept in name order).
    pub fn new(resources: impl IntoIterator<Item = Resource>) -> ResourceSet {
        let mut set = ResourceSet::default();
        let mut rules = Vec::new();
        for resource in resources {
            match resource {
                Resource::Rule(rule) => rules.push(rule),
                Resource::Policy(policy) => {
                    set.policies.entry(policy.point).or_default().push(policy)
                }
                Resource::Schedule(schedule) => {
                    set.schedules.insert(schedule.name.clone(), schedule);
                }
                Resource::Webhook(webhook) => {
                    set.webhooks.insert(webhook.name.clone(), webhook);
                }
            }
        }
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, rule) in rules.iter().enumerate() {
            if !rule.enabled {
                continue;
            }
            if rule.pattern.is_wildcard() {
                set.wildcard.push(i);
            } else {
                set.exact
                    .entry(rule.pattern.as_str().to_string())
                    .or_default()
                    .push(i);
            }
        }
        set.rules = rules;
        for policies in set.policies.values_mut() {
            policies.sort_by(|a, b| a.name.cmp(&b.name));
        }
        set
    }

    /// The enabled rules whose pattern matches `kind`, in name order.
    pub fn rules_for(&self, kind: &str) -> Vec<&Rule> {
        let mut found: Vec<usize> = self.exact.get(kind).cloned().unwrap_or_default();
        found.extend(
            self.wildcard
                .iter()
                .copied()
                .filter(|&i| self.rules[i].pattern.matches(kind)),
        );
        found.sort_unstable();
        found.into_iter().map(|i| &self.rules[i]).collect()
    }

    /// Whether any rule is enabled.
    pub fn has_rules(&self) -> bool {
        !self.exact.is_empty() || !self.wildcard.is_empty()
    }

    /// The policies of one point, in name order.
    pub fn policies(&self, point: Point) -> &[Policy] {
        self.policies.get(&point).map_or(&[], Vec::as_slice)
    }

    /// The schedules, by name.
    pub fn schedules(&self) -> &BTreeMap<String, Schedule> {
        &self.schedules
    }

    /// A webhook.
    pub fn webhook(&self, name: &str) -> Option<&Webhook> {
        self.webhooks.get(name)
    }
}
