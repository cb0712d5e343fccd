//! The approvals web page at `/approvals`, for a person who holds an approver's token: the
//! pending requests with their plans in words, a reason field and approve/reject buttons, and
//! the recently decided ones below.
//!
//! The page is rendered on the server ([`maud`] escapes every value). Its few lines of script
//! ([`SCRIPT`]) keep the token in the tab's `sessionStorage`, send it as an `Authorization`
//! header to fetch the list (`GET /approvals/requests`, an HTML fragment rendered here) and
//! post a decision to the same API as every other client (`POST /v1/approvals/{id}/approve`).
//! The token is never in a cookie, so another site cannot make a browser decide anything: a
//! cross-site form cannot set the header, and the API answers no CORS preflight. The
//! Content-Security-Policy allows only this page's own script and style, and no framing.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use super::approvals::ApprovalsApi;
use crate::approvals::{self, plan_in_words, state_at, Filter};
use crate::journal::time;
use crate::store::{Approval, ApprovalState, Millis};

/// Decided requests shown below the pending ones.
const RECENT: usize = 20;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The page's routes, on the approvals API's state.
pub fn routes() -> Router<ApprovalsApi> {
    Router::new()
        .route("/approvals", get(page))
        .route("/approvals/requests", get(requests))
        .route(
            "/approvals/page.js",
            get(|| asset("text/javascript", SCRIPT)),
        )
        .route("/approvals/page.css", get(|| asset("text/css", STYLE)))
}

/// A response with the page's security headers.
fn secured(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    secured(StatusCode::OK, content_type, body.to_string())
}

/// The page itself: the token form and an empty list, filled by the script once a token is
/// given. It shows nothing of the store, so it needs no token.
async fn page() -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Approvals · sagemaker-remediator" }
                link rel="stylesheet" href="/approvals/page.css";
                script src="/approvals/page.js" defer {}
            }
            body {
                header {
                    h1 { "Approval requests" }
                    form #login {
                        label for="token" { "Approver token" }
                        input #token type="password" name="token" autocomplete="off" required;
                        button type="submit" { "Sign in" }
                        button #logout type="button" hidden { "Sign out" }
                    }
                }
                p #message role="status" {}
                main #requests {
                    p.hint { "Sign in with your approver token to see the requests." }
                }
            }
        }
    };
    secured(
        StatusCode::OK,
        "text/html; charset=utf-8",
        markup.into_string(),
    )
}

/// The lists, as an HTML fragment, for the approver whose token the request carries.
async fn requests(State(api): State<ApprovalsApi>, headers: HeaderMap) -> Response {
    let Some(approver) = api.approver(&headers) else {
        return secured(
            StatusCode::UNAUTHORIZED,
            "text/html; charset=utf-8",
            html! { p.error { "This token is not an approver's." } }.into_string(),
        );
    };
    let now = api.clock.now();
    let store = &*api.store;
    let lists = approvals::list(store, Filter::State(ApprovalState::Pending), now, 200).and_then(
        |pending| {
            let mut recent = approvals::list(store, Filter::All, now, RECENT + pending.len())?;
            recent.retain(|a| state_at(a, now) != ApprovalState::Pending);
            recent.truncate(RECENT);
            Ok((pending, recent))
        },
    );
    let (pending, recent) = match lists {
        Ok(lists) => lists,
        Err(e) => {
            tracing::error!(event = "approvals_page_store_failed", error = %e);
            return secured(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html; charset=utf-8",
                html! { p.error { "The store is not available; try again." } }.into_string(),
            );
        }
    };
    let markup = html! {
        p.who { "Signed in as " strong #approver { (approver) } "." }
        section #pending {
            h2 { "Pending (" (pending.len()) ")" }
            @if pending.is_empty() {
                p.hint { "Nothing waits for a decision." }
            }
            @for a in &pending {
                (pending_request(a))
            }
        }
        section #recent {
            h2 { "Recently decided" }
            @if recent.is_empty() {
                p.hint { "No decisions yet." }
            } @else {
                table {
                    thead { tr { th { "#" } th { "Resource" } th { "Controls" } th { "State" }
                        th { "By" } th { "When" } th { "Reason" } } }
                    tbody {
                        @for a in &recent { (recent_row(a, now)) }
                    }
                }
            }
        }
    };
    secured(
        StatusCode::OK,
        "text/html; charset=utf-8",
        markup.into_string(),
    )
}

fn controls(a: &Approval) -> String {
    a.controls
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn pending_request(a: &Approval) -> Markup {
    html! {
        article.request id={ "request-" (a.id) } {
            h3 { "#" (a.id) " " (a.resource.name) }
            dl {
                dt { "Plan" } dd.plan { (plan_in_words(&a.plan)) }
                dt { "Controls" } dd { (controls(a)) }
                dt { "Resource" } dd { code { (a.resource.arn) } }
                dt { "Account" } dd { (a.resource.account) " · " (a.resource.region) }
                dt { "Requested" } dd { (time(a.requested_at)) }
                dt { "Expires" } dd { (time(a.expires_at)) }
            }
            form.decide data-id=(a.id) {
                label for={ "reason-" (a.id) } { "Reason" }
                input id={ "reason-" (a.id) } name="reason" required maxlength="1000"
                    placeholder="e.g. change ticket";
                button.approve type="submit" value="approve" { "Approve" }
                button.reject type="submit" value="reject" { "Reject" }
            }
        }
    }
}

fn recent_row(a: &Approval, now: Millis) -> Markup {
    let state = state_at(a, now);
    html! {
        tr id={ "decided-" (a.id) } {
            td { (a.id) }
            td { (a.resource.name) }
            td { (controls(a)) }
            td class=(state) { (state) }
            td { (a.decided_by.as_deref().unwrap_or("")) }
            td { (a.decided_at.map(time).unwrap_or_default()) }
            td { (a.reason.as_deref().unwrap_or("")) }
        }
    }
}

/// The page's script: the token in `sessionStorage` and an `Authorization` header, nothing
/// else. Every value it shows comes from the server, rendered and escaped there, or is set as
/// text.
const SCRIPT: &str = r#""use strict";
const key = "sagemaker-remediator-token";
const $ = (id) => document.getElementById(id);
const auth = () => ({ Authorization: "Bearer " + sessionStorage.getItem(key) });
function say(text, error) { $("message").textContent = text; $("message").className = error ? "error" : ""; }
async function load() {
  if (!sessionStorage.getItem(key)) return;
  const r = await fetch("/approvals/requests", { headers: auth() });
  $("requests").innerHTML = await r.text();
  if (r.status === 401) { sessionStorage.removeItem(key); }
  $("logout").hidden = r.status === 401;
}
document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(key, $("token").value);
    $("token").value = "";
    say("", false);
    load();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(key); location.reload(); });
  $("requests").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target, verdict = e.submitter.value, id = form.dataset.id;
    const r = await fetch("/v1/approvals/" + id + "/" + verdict, {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ reason: form.elements.reason.value }),
    });
    const body = await r.json();
    say(r.ok ? "Request #" + id + " " + body.state + " by " + body.decided_by + "." : body.error, !r.ok);
    load();
  });
  load();
});
"#;

const STYLE: &str = "body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
header { display: flex; justify-content: space-between; align-items: center; gap: 1em; }
form { display: flex; gap: .5em; align-items: center; flex-wrap: wrap; }
.request { border: 1px solid #ccc; border-radius: 6px; padding: .5em 1em 1em; margin: 1em 0; }
dl { display: grid; grid-template-columns: 8em 1fr; gap: .2em 1em; }
dt { color: #666; } dd { margin: 0; } .plan { font-weight: 600; }
input[name=reason] { flex: 1; min-width: 16em; }
button.approve { background: #1a7f37; color: #fff; } button.reject { background: #b42318; color: #fff; }
button { border: 1px solid #888; border-radius: 4px; padding: .3em .9em; cursor: pointer; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #eee; }
.error { color: #b42318; } .hint { color: #666; }
.approved { color: #1a7f37; } .rejected, .expired { color: #b42318; } .superseded { color: #666; }
";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::json;
    use sha2::{Digest, Sha256};
    use tower::ServiceExt;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Approver;
    use crate::model::{ControlId, ResourceRef, ResourceType};
    use crate::store::{NewApproval, RemediationKind, SqliteStore, Store, Verdict};

    const TOKEN: &str = "page-test-token";

    fn router() -> (Router, Arc<SqliteStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let approver = Approver {
            name: "carol".into(),
            token_sha256: hex::encode(Sha256::digest(TOKEN.as_bytes())),
        };
        let api = ApprovalsApi::new(store.clone(), &[approver], Clock::System).unwrap();
        (super::super::approvals::routes(Some(api)), store, dir)
    }

    fn request(store: &SqliteStore, name: &str) -> Approval {
        let now = crate::clock::now_ms();
        let new = NewApproval {
            resource: ResourceRef {
                account: "111122223333".into(),
                region: "us-east-1".into(),
                resource_type: ResourceType::NotebookInstance,
                name: name.into(),
                arn: format!("arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/{name}")
                    .into(),
            },
            controls: vec![ControlId::SageMaker3],
            kind: RemediationKind::NotebookFix,
            plan: json!({"disable_root_access": true}),
            fingerprint: format!("fp-{name}"),
            requested_at: now,
            expires_at: now + 3_600_000,
        };
        store.request_approval(&new, &[]).unwrap()
    }

    async fn get(
        router: &Router,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut builder = Request::get(path);
        if let Some(t) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let response = router
            .clone()
            .oneshot(builder.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_page_shows_nothing_of_the_store_and_forbids_framing_and_foreign_scripts() {
        let (router, store, _dir) = router();
        request(&store, "secret-nb");
        let (status, headers, body) = get(&router, "/approvals", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.contains("secret-nb"));
        assert!(body.contains(r#"<script src="/approvals/page.js" defer>"#));
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        // The script keeps the token out of cookies.
        let (_, headers, script) = get(&router, "/approvals/page.js", None).await;
        assert_eq!(headers[header::CONTENT_TYPE], "text/javascript");
        assert!(script.contains("sessionStorage") && !script.contains("cookie"));
    }

    #[tokio::test]
    async fn the_list_needs_an_approvers_token_and_escapes_what_people_wrote() {
        let (router, store, _dir) = router();
        let waiting = request(&store, "waiting-nb");
        let decided = request(&store, "decided-nb");
        store
            .decide_approval(
                decided.id,
                Verdict::Reject,
                "carol",
                "<script>alert(1)</script> & no",
                crate::clock::now_ms(),
            )
            .unwrap();
        for token in [None, Some("wrong")] {
            let (status, _, body) = get(&router, "/approvals/requests", token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(!body.contains("waiting-nb"), "{body}");
        }
        let (status, _, body) = get(&router, "/approvals/requests", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains(&format!(r#"id="request-{}""#, waiting.id)),
            "{body}"
        );
        assert!(body.contains("stop the notebook, disable root access"));
        assert!(body.contains(&format!(r#"id="decided-{}""#, decided.id)));
        assert!(!body.contains("<script>"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; no"),
            "{body}"
        );
        assert!(body.contains(r#"<strong id="approver">carol</strong>"#));
    }
}
