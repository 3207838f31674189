//! Cursor pagination shared by the listings: the page size rule, the
//! refusal of a cursor this server did not give out, cutting a page (each
//! listing asks the store for one row more than the page, to know whether
//! another page follows), and the time filters.

use super::problem::{ApiError, ApiResult, Kind};

/// Page size without `limit`.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page.
pub const MAX_PAGE: u32 = 500;

/// The page size asked for, checked.
pub fn page_size(limit: Option<u32>) -> ApiResult<u32> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            Kind::BadRequest,
            format!("`limit` must be 1 to {MAX_PAGE}"),
        ))
    }
}

/// The answer to a cursor that does not decode.
pub fn invalid_cursor() -> ApiError {
    ApiError::new(
        Kind::InvalidCursor,
        "the cursor is not one this server gave out; start again without it",
    )
}

/// A cursor that is a row's place in a log (events, audit entries).
pub fn decode_seq(cursor: &str) -> ApiResult<i64> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq > 0)
        .ok_or_else(invalid_cursor)
}

/// A `since` or `until` filter: an RFC 3339 time, as ms since the epoch.
pub fn parse_time(field: &str, text: &str) -> ApiResult<i64> {
    let time = humantime::parse_rfc3339_weak(text).map_err(|e| {
        ApiError::new(
            Kind::BadRequest,
            format!("`{field}` must be an RFC 3339 time such as 2026-01-31T12:00:00Z: {e}"),
        )
    })?;
    let ms = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::new(Kind::BadRequest, format!("`{field}` is before 1970")))?
        .as_millis();
    i64::try_from(ms)
        .map_err(|_| ApiError::new(Kind::BadRequest, format!("`{field}` is too far ahead")))
}

/// Cuts `rows` (fetched with `limit + 1`) to a page, with the cursor of
/// the next page when there is one.
pub fn cut<T>(
    mut rows: Vec<T>,
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(cursor) } else { None };
    (rows, next)
}
