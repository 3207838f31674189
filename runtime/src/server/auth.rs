//! Bearer-token authentication and roles.
//!
//! A token is `baton_` followed by 64 hex digits of OS randomness; only its
//! sha256 is stored. Each request's token is looked up by hash (a short
//! cache in front of the database keeps this off the hot path) and the
//! [`Caller`] it names is handed to handlers, which state the [`Role`] they
//! need. Revoking a token clears it from this process's cache at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::store::{ApiStore, Role, SqliteStore, TokenRecord};

use super::problem::{ApiError, Kind};
use super::state::AppState;

/// The prefix of every token, so leaked ones are easy to spot.
pub const TOKEN_PREFIX: &str = "baton_";
/// How long a verified token is trusted without asking the database.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Most tokens kept in the cache.
const CACHE_MAX: usize = 4096;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// Who this is in the audit trail: `token:<name>`.
    pub fn actor(&self) -> String {
        crate::store::actor::token(&self.name)
    }

    /// Refuses the call unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                Kind::Forbidden,
                format!(
                    "token `{}` has role {}; this needs {}",
                    self.name,
                    self.role.as_str(),
                    role.as_str()
                ),
            ))
        }
    }
}

/// A new token: the secret to show once, and the record to store.
pub struct NewToken {
    /// The token itself; never stored.
    pub secret: String,
    /// What is stored.
    pub record: TokenRecord,
}

/// sha256 of a token, hex.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a token with fresh OS randomness.
pub fn new_token(name: &str, role: Role, created_by: &str, now: i64) -> NewToken {
    let bytes: [u8; 32] = rand::random();
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    NewToken {
        record: TokenRecord {
            name: name.to_string(),
            role,
            hash: hash_token(&secret),
            created_by: created_by.to_string(),
            created_at: now,
            revoked_at: None,
        },
        secret,
    }
}

/// Checks a token name: what `baton token create --name` accepts.
pub fn check_token_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid token name `{name}`: use 1 to 64 letters, digits, `-`, `_`, `.` or `@`"
        ))
    }
}

/// Verified tokens by hash, trusted for ten seconds.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(caller, _)| caller.clone())
    }

    fn put(&self, hash: String, caller: Caller) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (caller, Instant::now()));
    }

    /// Forgets every cached token with this name (it was revoked).
    pub fn forget(&self, name: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, (caller, _)| caller.name != name);
    }
}

/// Finds the caller of a bearer token.
pub async fn authenticate(
    store: &SqliteStore,
    cache: &TokenCache,
    secret: &str,
) -> Result<Caller, ApiError> {
    let hash = hash_token(secret);
    if let Some(caller) = cache.get(&hash) {
        return Ok(caller);
    }
    let Some(token) = store.token_by_hash(&hash).await? else {
        return Err(ApiError::new(
            Kind::Unauthorized,
            "the bearer token is not valid (unknown or revoked)",
        ));
    };
    let caller = Caller {
        name: token.name,
        role: token.role,
    };
    cache.put(hash, caller.clone());
    Ok(caller)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::new(
                Kind::Unauthorized,
                "send a token as `Authorization: Bearer <token>`",
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    Kind::Unauthorized,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        authenticate(state.engine.store(), &state.tokens, secret).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token("a", Role::Admin, "baton", 0);
        let b = new_token("a", Role::Admin, "baton", 0);
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.secret.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(a.record.hash, hash_token(&a.secret));
        assert!(!a.record.hash.contains(&a.secret));
    }

    #[test]
    fn roles_are_ordered() {
        let viewer = Caller {
            name: "v".into(),
            role: Role::Viewer,
        };
        assert!(viewer.require(Role::Viewer).is_ok());
        assert_eq!(
            viewer.require(Role::Operator).unwrap_err().kind,
            Kind::Forbidden
        );
        let admin = Caller {
            name: "a".into(),
            role: Role::Admin,
        };
        assert!(admin.require(Role::Operator).is_ok());
    }

    #[test]
    fn token_names_are_checked() {
        assert!(check_token_name("ci-bot@team.example").is_ok());
        assert!(check_token_name("").is_err());
        assert!(check_token_name("has space").is_err());
        assert!(check_token_name(&"x".repeat(65)).is_err());
    }
}
