//! Errors of the storage layer.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A write conflicts with what is stored (for example an immutable
    /// version saved again with different content).
    #[error("{0}")]
    Conflict(String),
    /// A stored value could not be read back (a damaged or foreign database).
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Result of the storage layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
