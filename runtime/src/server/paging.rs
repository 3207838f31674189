//! Cursor pagination shared by the listings: the page size rule, the
//! refusal of a cursor this server did not give out, and cutting a page
//! (each listing asks the store for one row more than the page, to know
//! whether another page follows).

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
