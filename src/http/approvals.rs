//! The approvals API on the operations port:
//!
//! - `GET /v1/approvals?state=pending` (`pending` by default; `approved`, `rejected`,
//!   `expired`, `superseded`, `all`): `{"approvals": [...]}`, newest first;
//! - `GET /v1/approvals/{id}`: one request;
//! - `POST /v1/approvals/{id}/approve` and `/reject` with `{"reason": "..."}`: the decision,
//!   recorded as made by the approver whose token was sent.
//!
//! Every call needs `Authorization: Bearer TOKEN` of a configured approver (the configuration
//! holds the SHA-256 of each token; the hashes are compared in constant time). Answers: 401
//! with nothing changed for a missing or wrong token, 404 for an unknown id (and for every path
//! when no approver is configured: the API is off), 409 for a request that is no longer pending
//! or has expired, 400 for a body without a reason. Bodies are limited to 4 KiB.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::approvals::{self, Filter};
use crate::clock::Clock;
use crate::config::Approver;
use crate::store::{Store, StoreError, Verdict};

/// The largest decision body accepted.
const MAX_DECISION_BYTES: usize = 4 * 1024;

/// What the API works with.
#[derive(Clone)]
pub struct ApprovalsApi {
    pub store: Arc<dyn Store>,
    /// (name, SHA-256 of the token).
    approvers: Arc<Vec<(String, [u8; 32])>>,
    pub clock: Clock,
}

impl std::fmt::Debug for ApprovalsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalsApi")
            .field("approvers", &self.approvers.len())
            .finish_non_exhaustive()
    }
}

impl ApprovalsApi {
    /// The API for these approvers; `None` when there are none (the API is off). Hashes that
    /// are not 64 hex digits are skipped (the configuration's validation refuses them).
    pub fn new(
        store: Arc<dyn Store>,
        approvers: &[Approver],
        clock: Clock,
    ) -> Option<ApprovalsApi> {
        let approvers: Vec<(String, [u8; 32])> = approvers
            .iter()
            .filter_map(|a| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&a.token_sha256, &mut hash).ok()?;
                Some((a.name.clone(), hash))
            })
            .collect();
        (!approvers.is_empty()).then(|| ApprovalsApi {
            store,
            approvers: Arc::new(approvers),
            clock,
        })
    }

    /// The approver whose token `headers` carry. Every configured hash is compared, in
    /// constant time, whatever matched before.
    pub fn approver(&self, headers: &HeaderMap) -> Option<String> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (name, expected) in self.approvers.iter() {
            if bool::from(hash.ct_eq(expected)) {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// The API's routes (none when `api` is `None`: every path answers 404).
pub fn routes(api: Option<ApprovalsApi>) -> Router {
    let Some(api) = api else {
        return Router::new();
    };
    Router::new()
        .route("/v1/approvals", get(list))
        .route("/v1/approvals/{id}", get(one))
        .route("/v1/approvals/{id}/approve", post(approve))
        .route("/v1/approvals/{id}/reject", post(reject))
        .merge(super::page::routes())
        .layer(DefaultBodyLimit::max(MAX_DECISION_BYTES))
        .with_state(api)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (status, Json(json!({ "error": message.into() }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        if let Ok(v) = "Bearer".parse() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    response
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "a bearer token of a configured approver is required",
    )
}

fn store_error(e: &StoreError) -> Response {
    match e {
        StoreError::NotFound { .. } => error(StatusCode::NOT_FOUND, e.to_string()),
        StoreError::Conflict { .. } => error(StatusCode::CONFLICT, e.to_string()),
        _ => {
            tracing::error!(event = "approvals_api_store_failed", error = %e);
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is not available",
            )
        }
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    state: Option<String>,
}

async fn list(
    State(api): State<ApprovalsApi>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if api.approver(&headers).is_none() {
        return unauthorized();
    }
    let state = q.state.as_deref().unwrap_or("pending");
    let Some(filter) = Filter::parse(state) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("state `{state}` is not one of pending, approved, rejected, expired, superseded, all"),
        );
    };
    let now = api.clock.now();
    match approvals::list(&*api.store, filter, now, 500) {
        Ok(found) => {
            let items: Vec<_> = found.iter().map(|a| approvals::to_json(a, now)).collect();
            Json(json!({ "approvals": items })).into_response()
        }
        Err(e) => store_error(&e),
    }
}

async fn one(State(api): State<ApprovalsApi>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if api.approver(&headers).is_none() {
        return unauthorized();
    }
    match api.store.approval(id) {
        Ok(Some(a)) => Json(approvals::to_json(&a, api.clock.now())).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no approval request {id}")),
        Err(e) => store_error(&e),
    }
}

async fn approve(
    State(api): State<ApprovalsApi>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    decide(&api, &headers, id, Verdict::Approve, &body)
}

async fn reject(
    State(api): State<ApprovalsApi>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    decide(&api, &headers, id, Verdict::Reject, &body)
}

fn decide(
    api: &ApprovalsApi,
    headers: &HeaderMap,
    id: i64,
    verdict: Verdict,
    body: &[u8],
) -> Response {
    let Some(by) = api.approver(headers) else {
        return unauthorized();
    };
    let reason = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(|r| r.trim().to_string()))
        .filter(|r| !r.is_empty());
    let Some(reason) = reason else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be JSON with a non-empty \"reason\"",
        );
    };
    let now = api.clock.now();
    match approvals::decide(&*api.store, id, verdict, &by, &reason, now) {
        Ok(a) => Json(approvals::to_json(&a, now)).into_response(),
        Err(e) => store_error(&e),
    }
}
