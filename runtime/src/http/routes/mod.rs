//! The API's routes, one module per area, and what they share (pagination).
//!
//! - `accounts`: `/api/auth/*` (sign-up, login, logout, profile, API tokens).
//! - `business`: `/api/business/*` (a user's tenants).
//! - `admin`: `/admin/*` (invites, private mode, users).

mod accounts;
mod admin;
mod business;

use axum::Router;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, Fields};

/// Every API route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().merge(accounts::routes()).merge(business::routes()).merge(admin::routes())
}

/// Items per page when the client does not say.
const DEFAULT_PAGE_SIZE: i64 = 50;
/// Most items per page.
const MAX_PAGE_SIZE: i64 = 100;

/// `?after=ID&limit=N`: keyset pagination by id. `after` is the `next_after` of the
/// previous page (absent for the first page).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// The last id of the previous page.
    after: Option<i64>,
    /// Items per page, 1 to 100 (default 50).
    limit: Option<i64>,
}

impl PageQuery {
    /// The page size, checked.
    fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Ok(limit),
            Some(_) => Err(ApiError::BadRequest {
                code: "invalid_query",
                message: "the query string has an invalid parameter".to_owned(),
                fields: Fields::from([("limit".to_owned(), format!("must be between 1 and {MAX_PAGE_SIZE}"))]),
            }),
        }
    }
}

/// One page of a list: the items, and the `after` that fetches the next page (`null`
/// on the last page).
#[derive(Debug, Serialize)]
pub(crate) struct Page<T> {
    /// This page's items, ordered by id.
    items: Vec<T>,
    /// Pass as `?after=` for the next page; `null` when there is none.
    next_after: Option<i64>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched rows: the extra row only says whether there is more.
    fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_after = if more { rows.last().map(id_of) } else { None };
        Self { items: rows, next_after }
    }

    /// Changes the items' form, keeping the page.
    fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_after: self.next_after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_points_at_the_next_one_only_when_there_is_more() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!((page.items.as_slice(), page.next_after), (&[1, 2][..], Some(2)));
        let last = Page::from_rows(vec![3], 2, |n| *n);
        assert_eq!((last.items.as_slice(), last.next_after), (&[3][..], None));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageQuery::default().limit().ok(), Some(50));
        assert!(PageQuery { after: None, limit: Some(0) }.limit().is_err());
        assert!(PageQuery { after: None, limit: Some(101) }.limit().is_err());
    }
}
