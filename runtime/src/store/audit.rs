//! The audit trail: who did what and when, append-only and tamper-evident.
//!
//! Every entry carries the hash of the one before it, so an entry edited or
//! deleted behind Baton's back breaks the chain from that entry on, and
//! [`verify_chain`] names the first broken one. Entries are appended with
//! [`AuditLog::append_audit`] in the transaction of the action they record,
//! never updated or deleted (the database refuses both). This module holds
//! the shapes, the hash and the verification; it does not decide what is
//! audited (the engine and the API do) and writes no SQL itself.
//!
//! The chain cannot show entries cut off its end; what it shows is that
//! what is there is what was written, in order, without gaps.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Result;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Tags the hash input, so that a hash of the trail cannot be taken for a
/// hash of anything else (and a later encoding can change the tag).
const HASH_DOMAIN: &[u8] = b"baton-audit-v1";

/// Who did something: an entry's `actor`.
pub mod actor {
    /// Baton itself (the first admin token).
    pub const SYSTEM: &str = "system";
    /// The embedded CLI (`baton workflow run`), which has no token.
    pub const LOCAL: &str = "local";

    /// A request made with this API token.
    pub fn token(name: &str) -> String {
        format!("token:{name}")
    }

    /// A rule that matched an event.
    pub fn rule(name: &str) -> String {
        format!("rule:{name}")
    }

    /// A schedule that fired.
    pub fn schedule(name: &str) -> String {
        format!("schedule:{name}")
    }

    /// A policy that decided.
    pub fn policy(name: &str) -> String {
        format!("policy:{name}")
    }
}

/// What was done: an entry's `action`, `<resource>.<verb>`.
pub mod action {
    /// A plugin version was uploaded (target `plugin/<name>@<version>`).
    pub const PLUGIN_UPLOAD: &str = "plugin.upload";
    /// A plugin version was deleted (target `plugin/<name>@<version>`).
    pub const PLUGIN_DELETE: &str = "plugin.delete";
    /// A workflow version was saved (target `workflow/<name>`).
    pub const WORKFLOW_SAVE: &str = "workflow.save";
    /// A resource was saved.
    pub const RESOURCE_SAVE: &str = "resource.save";
    /// A resource was deleted.
    pub const RESOURCE_DELETE: &str = "resource.delete";
    /// A run was started.
    pub const RUN_START: &str = "run.start";
    /// A run was cancelled.
    pub const RUN_CANCEL: &str = "run.cancel";
    /// A run was retried.
    pub const RUN_RETRY: &str = "run.retry";
    /// An approval was decided.
    pub const APPROVAL_DECIDE: &str = "approval.decide";
    /// A policy decided.
    pub const POLICY_DECISION: &str = "policy.decision";
    /// A token was created (target `token/<name>`).
    pub const TOKEN_CREATE: &str = "token.create";
    /// A token was revoked (target `token/<name>`).
    pub const TOKEN_REVOKE: &str = "token.revoke";
    /// A plugin's grant was saved (target `plugin/<name>` or
    /// `plugin/<name>@<version>`).
    pub const GRANT_SAVE: &str = "grant.save";
    /// A plugin's grant was removed (target as for `grant.save`).
    pub const GRANT_DELETE: &str = "grant.delete";
    /// A secret was saved (target `secret/<name>`; never the value).
    pub const SECRET_SET: &str = "secret.set";
    /// A secret was removed (target `secret/<name>`).
    pub const SECRET_DELETE: &str = "secret.delete";
    /// Every secret was sealed again under a new master key (target
    /// `secrets`).
    pub const SECRET_REKEY: &str = "secret.rekey";
}

/// An entry to append: what happened, before it gets its place and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When (ms since the Unix epoch), from the engine's clock.
    pub at: i64,
    /// Who (see [`actor`]).
    pub actor: String,
    /// What (see [`action`]).
    pub action: String,
    /// On what: `<kind>/<name>`, such as `plugin/echo@1.0.0`.
    pub target: String,
    /// Particulars, a JSON object.
    pub detail: Value,
}

impl AuditEntry {
    /// An entry with `at` 0: whoever appends it sets the time.
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
        detail: Value,
    ) -> AuditEntry {
        AuditEntry {
            at: 0,
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            detail,
        }
    }

    /// The same entry at this time (ms).
    #[must_use]
    pub fn at(mut self, at: i64) -> AuditEntry {
        self.at = at;
        self
    }
}

/// A stored entry, with its place in the trail and its hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Its place: 1 for the first entry, then one more than the previous.
    pub seq: i64,
    /// When (ms since the Unix epoch).
    pub at: i64,
    /// Who: `token:<name>`, `rule:<name>`, `schedule:<name>`,
    /// `policy:<name>`, `system` or `local`.
    pub actor: String,
    /// What, such as `plugin.upload` or `run.cancel`.
    pub action: String,
    /// On what, such as `plugin/echo@1.0.0`.
    pub target: String,
    /// Particulars.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// The hash of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// sha256 of this entry's fields and `prev_hash`, hex.
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record's fields give.
    pub fn computed_hash(&self) -> String {
        chain_hash(
            &self.prev_hash,
            self.seq,
            self.at,
            &self.actor,
            &self.action,
            &self.target,
            &detail_text(&self.detail),
        )
    }
}

/// A filter over the trail, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries of this actor.
    pub actor: Option<String>,
    /// Only entries whose action starts with this.
    pub action: Option<String>,
    /// Only entries whose target starts with this.
    pub target: Option<String>,
    /// Only entries at or after this time (ms).
    pub since: Option<i64>,
    /// Only entries before this time (ms).
    pub until: Option<i64>,
    /// Only entries after this one (a page's cursor).
    pub after: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Appending to the trail, inside a write transaction.
pub trait AuditLog {
    /// Appends entries after the last one, in order, each chained to the one
    /// before; nothing for an empty slice. The entries become durable with
    /// the transaction, and only with it.
    fn append_audit(&mut self, entries: &[AuditEntry]) -> impl Future<Output = Result<()>> + Send;
}

/// The text of a detail that is hashed and stored: compact JSON (object
/// keys sorted, as `serde_json` keeps them), so it reads back the same.
pub fn detail_text(detail: &Value) -> String {
    detail.to_string()
}

/// The hash of an entry: sha256, hex, over its fields and the previous
/// entry's hash. Each text field is length-prefixed and each number fixed
/// width, so no two different entries encode the same.
pub fn chain_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    detail_text: &str,
) -> String {
    fn field(hasher: &mut Sha256, bytes: &[u8]) {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Sha256::new();
    field(&mut hasher, HASH_DOMAIN);
    field(&mut hasher, prev_hash.as_bytes());
    hasher.update(seq.to_be_bytes());
    hasher.update(at.to_be_bytes());
    field(&mut hasher, actor.as_bytes());
    field(&mut hasher, action.as_bytes());
    field(&mut hasher, target.as_bytes());
    field(&mut hasher, detail_text.as_bytes());
    hex::encode(hasher.finalize())
}

/// Where a chain stands: its last entry (seq 0 and the genesis hash before
/// the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The last entry's `seq`.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

impl Default for ChainHead {
    fn default() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }
    }
}

/// Gives entries their place and hashes after `head`, and moves `head` to
/// the last of them.
pub fn chain_entries(head: &mut ChainHead, entries: &[AuditEntry]) -> Vec<AuditRecord> {
    entries
        .iter()
        .map(|entry| {
            let seq = head.seq + 1;
            let hash = chain_hash(
                &head.hash,
                seq,
                entry.at,
                &entry.actor,
                &entry.action,
                &entry.target,
                &detail_text(&entry.detail),
            );
            let prev_hash = std::mem::replace(&mut head.hash, hash.clone());
            head.seq = seq;
            AuditRecord {
                seq,
                at: entry.at,
                actor: entry.actor.clone(),
                action: entry.action.clone(),
                target: entry.target.clone(),
                detail: entry.detail.clone(),
                prev_hash,
                hash,
            }
        })
        .collect()
}

/// The first entry of a trail that does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {reason}")]
pub struct BrokenEntry {
    /// The entry (for a gap, the first missing one).
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks records, in `seq` order, that follow `head`: no gap, each linked
/// to the one before, each hash what its fields give. Returns how many were
/// checked and moves `head` to the last, so a trail can be checked page by
/// page; or names the first broken entry.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    head: &mut ChainHead,
) -> Result<usize, BrokenEntry> {
    let mut checked = 0;
    for record in records {
        let expected = head.seq + 1;
        if record.seq < expected {
            return Err(BrokenEntry {
                seq: record.seq,
                reason: format!("it comes again or out of order, after entry {}", head.seq),
            });
        }
        if record.seq > expected {
            let missing = if record.seq == expected + 1 {
                format!(
                    "it is missing (entry {} follows entry {})",
                    record.seq, head.seq
                )
            } else {
                format!(
                    "entries {expected} to {} are missing (entry {} follows entry {})",
                    record.seq - 1,
                    record.seq,
                    head.seq
                )
            };
            return Err(BrokenEntry {
                seq: expected,
                reason: missing,
            });
        }
        if record.prev_hash != head.hash {
            let previous = if head.seq == 0 {
                "the genesis hash".to_string()
            } else {
                format!("the hash of entry {}", head.seq)
            };
            return Err(BrokenEntry {
                seq: record.seq,
                reason: format!("its prev_hash is not {previous}"),
            });
        }
        if record.computed_hash() != record.hash {
            return Err(BrokenEntry {
                seq: record.seq,
                reason: "its content does not match its hash (it was edited)".into(),
            });
        }
        head.seq = record.seq;
        head.hash.clone_from(&record.hash);
        checked += 1;
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn trail(count: usize) -> Vec<AuditRecord> {
        let entries: Vec<AuditEntry> = (0..count)
            .map(|i| {
                AuditEntry::new(
                    actor::token("admin"),
                    action::PLUGIN_UPLOAD,
                    format!("plugin/p{i}@1.0.0"),
                    json!({"digest": format!("{i:064}"), "n": i}),
                )
                .at(1_000 + i as i64)
            })
            .collect();
        chain_entries(&mut ChainHead::default(), &entries)
    }

    fn verify(records: &[AuditRecord]) -> Result<usize, BrokenEntry> {
        verify_chain(records, &mut ChainHead::default())
    }

    #[test]
    fn an_untouched_trail_verifies() {
        let records = trail(5);
        assert_eq!(records[0].seq, 1);
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(verify(&records), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn a_trail_verifies_page_by_page() {
        let records = trail(7);
        let mut head = ChainHead::default();
        assert_eq!(verify_chain(&records[..3], &mut head), Ok(3));
        assert_eq!(head.seq, 3);
        assert_eq!(verify_chain(&records[3..], &mut head), Ok(4));
        assert_eq!(head.hash, records[6].hash);
    }

    #[test]
    fn appending_continues_the_chain() {
        let records = trail(3);
        let mut head = ChainHead {
            seq: 3,
            hash: records[2].hash.clone(),
        };
        let more = chain_entries(
            &mut head,
            &[AuditEntry::new("system", action::TOKEN_CREATE, "token/x", json!({})).at(9)],
        );
        assert_eq!(more[0].seq, 4);
        assert_eq!(head.seq, 4);
        let all: Vec<AuditRecord> = records.into_iter().chain(more).collect();
        assert_eq!(verify(&all), Ok(4));
    }

    #[test]
    fn an_edited_entry_is_named() {
        for edit in [
            (|r: &mut AuditRecord| r.detail = json!({"digest": "evil"})) as fn(&mut AuditRecord),
            |r| r.actor = "token:someone-else".into(),
            |r| r.action = action::PLUGIN_DELETE.into(),
            |r| r.target = "plugin/other@1.0.0".into(),
            |r| r.at += 1,
        ] {
            let mut records = trail(4);
            edit(&mut records[2]);
            let broken = verify(&records).unwrap_err();
            assert_eq!(broken.seq, 3);
            assert!(broken.reason.contains("edited"), "{broken}");
        }
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut records = trail(4);
        records[1].detail = json!({"digest": "evil"});
        records[1].hash = records[1].computed_hash();
        let broken = verify(&records).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("hash of entry 2"), "{broken}");
    }

    #[test]
    fn a_wrong_first_link_is_named() {
        let mut records = trail(2);
        records[0].prev_hash = "1".repeat(64);
        let broken = verify(&records).unwrap_err();
        assert_eq!(broken.seq, 1);
        assert!(broken.reason.contains("genesis"), "{broken}");
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut records = trail(5);
        records.remove(2);
        let broken = verify(&records).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("missing"), "{broken}");

        let mut records = trail(5);
        records.drain(0..2);
        let broken = verify(&records).unwrap_err();
        assert_eq!(broken.seq, 1);
        assert!(broken.reason.contains("entries 1 to 2"), "{broken}");
    }

    #[test]
    fn a_repeated_entry_is_named() {
        let mut records = trail(3);
        records.insert(2, records[1].clone());
        assert_eq!(verify(&records).unwrap_err().seq, 2);
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        let base = chain_hash(GENESIS_HASH, 1, 2, "ab", "c", "t", "{}");
        assert_ne!(base, chain_hash(GENESIS_HASH, 1, 2, "a", "bc", "t", "{}"));
        assert_ne!(base, chain_hash(GENESIS_HASH, 1, 2, "ab", "", "ct", "{}"));
        assert_ne!(base, chain_hash(GENESIS_HASH, 2, 1, "ab", "c", "t", "{}"));
        assert_eq!(base, chain_hash(GENESIS_HASH, 1, 2, "ab", "c", "t", "{}"));
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn a_detail_reads_back_as_it_was_hashed() {
        let detail = json!({"z": 1, "a": [1.5, "x", null], "m": {"b": true, "a": -3}});
        let text = detail_text(&detail);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(detail_text(&back), text);
    }
}
