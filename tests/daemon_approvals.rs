//! Approvals and exemptions end to end: "auto in dev, approval in prod" as configured, the
//! daemon as a process, decisions made with the `approvals` command and the HTTP API while it
//! runs, exemptions with a date, moto's EventBridge and SQS, the SageMaker simulator counting
//! every call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use aws_sdk_sagemaker::types::Tag;
use common::daemon::{family_event, World, ACCOUNT, REGION};
use sagemaker_remediator::sim::CallCounts;
use sagemaker_remediator::store::{Remediation, RemediationStatus};
use serde_json::Value;

const STOP: &str = "StopNotebookInstance";
const UPDATE: &str = "UpdateNotebookInstance";
const START: &str = "StartNotebookInstance";

/// Fixes in prod wait for approval; elsewhere they run at once.
const PROD_NEEDS_APPROVAL: &str = "\n[approvals]\nrules = [{ tags = { env = \"prod\" } }]\n";

fn arn(name: &str) -> String {
    format!(
        "arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{}",
        name.to_lowercase()
    )
}

async fn tag_prod(world: &World, name: &str) {
    world
        .sagemaker
        .add_tags()
        .resource_arn(arn(name))
        .tags(Tag::builder().key("env").value("prod").build())
        .send()
        .await
        .unwrap();
}

fn fixes_of<'j>(journal: &'j [Remediation], name: &str) -> Vec<&'j Remediation> {
    journal
        .iter()
        .filter(|r| r.kind == "notebook-fix" && r.resource.arn.ends_with(&format!("/{name}")))
        .collect()
}

/// Waits until the journal holds a succeeded fix of `name`; the journal then.
async fn wait_fixed(world: &World, name: &str, what: &str) -> Vec<Remediation> {
    world
        .wait_journal(Duration::from_secs(60), what, |j| {
            fixes_of(j, name)
                .iter()
                .any(|r| r.status == RemediationStatus::Succeeded)
        })
        .await
}

/// One Security Hub finding event per notebook.
async fn security_hub_events(world: &World, names: &[&str]) {
    let events: Vec<_> = names
        .iter()
        .map(|n| family_event("securityhub", n))
        .collect();
    world.put_events(&events).await;
}

/// `approvals list --state STATE --format json`.
fn requests(world: &World, state: &str) -> Vec<Value> {
    let out = world.cli(&["approvals", "list", "--state", state, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until `what` holds for the pending requests.
async fn wait_requests(world: &World, state: &str, what: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = requests(world, state);
        if what(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "{state} requests: {found:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (at most `within`) until the daemon's metric `series` is at least `value`.
async fn wait_metric(
    daemon: &mut common::daemon::Daemon,
    series: &str,
    value: f64,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    while daemon.metric(series) < value {
        assert!(
            Instant::now() < deadline,
            "{series} < {value}: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The (Stop, Update, Start) calls that succeeded at the simulator.
fn stop_update_start(calls: &CallCounts) -> (u64, u64, u64) {
    (
        calls.succeeded(STOP),
        calls.succeeded(UPDATE),
        calls.succeeded(START),
    )
}

fn decide(world: &World, verb: &str, id: i64, by: &str, reason: &str) -> std::process::Output {
    world.cli(&[
        "approvals",
        verb,
        &id.to_string(),
        "--by",
        by,
        "--reason",
        reason,
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_waits_for_approval_with_no_mutating_call_then_is_fixed_once() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("enforce", PROD_NEEDS_APPROVAL, &[]);
    daemon.wait_ready().await;
    world.notebook("dev-nb", true).await;
    world.notebook("prod-nb", true).await;
    tag_prod(&world, "prod-nb").await;
    world.sim.simulator.reset_calls();
    security_hub_events(&world, &["dev-nb", "prod-nb"]).await;

    // Dev is fixed at once; prod gets a request and nothing else.
    wait_fixed(&world, "dev-nb", "the dev fix").await;
    let pending = wait_requests(&world, "pending", |r| r.len() == 1).await;
    let request = &pending[0];
    assert_eq!(request["resource_arn"], arn("prod-nb"));
    assert_eq!(request["controls"], serde_json::json!(["SageMaker.3"]));
    assert_eq!(request["plan"]["disable_root_access"], true);
    assert!(request["expires_at"].as_str().unwrap() > request["requested_at"].as_str().unwrap());
    let id = request["id"].as_i64().unwrap();
    // More triggers while it waits ask nothing again and do nothing.
    world.put_events(&[family_event("config", "prod-nb")]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(requests(&world, "all").len(), 1);
    let calls = world.sim.simulator.calls();
    assert_eq!(
        stop_update_start(&calls),
        (1, 1, 1),
        "only dev-nb was touched: {calls:?}"
    );
    assert!(fixes_of(&world.journal(), "prod-nb").is_empty());
    assert_eq!(world.describe("prod-nb").await.1, "Enabled");

    // No approver is configured: the HTTP API is off.
    assert_eq!(daemon.get("/v1/approvals").map(|r| r.0), Some(404));
    // A decision on an unknown request, or without a reason, changes nothing.
    let unknown = decide(&world, "approve", 999, "alice", "ok");
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let out = decide(
        &world,
        "approve",
        id,
        "alice",
        "CHG-42: root access off in prod",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = world
        .wait_journal(Duration::from_secs(60), "the prod fix", |j| {
            fixes_of(j, "prod-nb")
                .iter()
                .any(|r| r.status == RemediationStatus::Succeeded)
        })
        .await;
    let calls = world.sim.simulator.calls();
    assert_eq!(stop_update_start(&calls), (2, 2, 2), "{calls:?}");
    assert_eq!(
        world.describe("prod-nb").await,
        ("InService".to_string(), "Disabled".to_string())
    );
    let fix = fixes_of(&journal, "prod-nb")[0];
    let step = fix.steps.iter().find(|s| s.step == "Approve").unwrap();
    assert!(
        step.detail
            .contains(&format!("request #{id} approved by alice")),
        "{step:?}"
    );
    assert!(step.detail.contains("CHG-42"), "{step:?}");
    let approved = requests(&world, "approved");
    assert_eq!(approved[0]["remediation_id"], fix.id);
    assert_eq!(approved[0]["decided_by"], "alice");
    // Deciding it again is refused.
    let again = decide(&world, "reject", id, "bob", "too late");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not pending"));
    let text = world.cli(&["remediations", "--resource", &arn("prod-nb")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("approved by alice"));
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_request_leads_to_nothing_and_a_changed_plan_voids_an_approval() {
    let world = World::start(Duration::from_millis(300)).await;
    // SageMaker.8 fixed too, so changing a notebook's platform changes its plan.
    let extra = format!("{PROD_NEEDS_APPROVAL}\n[actions]\n\"SageMaker.8\" = \"fix\"\n");
    let mut daemon = world.daemon("enforce", &extra, &[]);
    daemon.wait_ready().await;
    world.notebook("rejected-nb", true).await;
    world.notebook("changed-nb", true).await;
    tag_prod(&world, "rejected-nb").await;
    tag_prod(&world, "changed-nb").await;
    world.sim.simulator.reset_calls();
    security_hub_events(&world, &["rejected-nb", "changed-nb"]).await;
    let pending = wait_requests(&world, "pending", |r| r.len() == 2).await;
    let id_of = |name: &str| {
        pending
            .iter()
            .find(|r| r["resource_arn"] == arn(name))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (rejected, changed) = (id_of("rejected-nb"), id_of("changed-nb"));

    let out = decide(
        &world,
        "reject",
        rejected,
        "carol",
        "not during the quarter close",
    );
    assert!(out.status.success());
    // Someone moves changed-nb to an older platform before the approval.
    let sm = &world.sagemaker;
    sm.stop_notebook_instance()
        .notebook_instance_name("changed-nb")
        .send()
        .await
        .unwrap();
    world
        .wait_status("changed-nb", "Stopped", Duration::from_secs(30))
        .await;
    sm.update_notebook_instance()
        .notebook_instance_name("changed-nb")
        .platform_identifier("notebook-al2-v3")
        .send()
        .await
        .unwrap();
    world
        .wait_status("changed-nb", "Stopped", Duration::from_secs(30))
        .await;
    sm.start_notebook_instance()
        .notebook_instance_name("changed-nb")
        .send()
        .await
        .unwrap();
    world
        .wait_status("changed-nb", "InService", Duration::from_secs(30))
        .await;
    let out = decide(&world, "approve", changed, "dave", "ok for root access");
    assert!(out.status.success());

    // The approval was for the old plan: a new request for the new one, and no fix.
    let renewed = wait_requests(&world, "pending", |r| {
        r.iter().any(|r| r["resource_arn"] == arn("changed-nb"))
    })
    .await;
    let new = renewed
        .iter()
        .find(|r| r["resource_arn"] == arn("changed-nb"))
        .unwrap();
    assert_ne!(new["id"].as_i64().unwrap(), changed);
    assert_eq!(new["plan"]["platform"], "notebook-al2023-v1");
    let superseded = requests(&world, "superseded");
    assert_eq!(superseded.len(), 1, "{superseded:#?}");
    assert_eq!(superseded[0]["id"], changed);

    // The rejected plan is not asked again on more triggers.
    world
        .put_events(&[family_event("config", "rejected-nb")])
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = requests(&world, "all");
    assert_eq!(
        all.iter()
            .filter(|r| r["resource_arn"] == arn("rejected-nb"))
            .count(),
        1
    );
    let calls = world.sim.simulator.calls();
    // The only mutating calls are the test's own (one Stop, Update and Start of changed-nb).
    assert_eq!(stop_update_start(&calls), (1, 1, 1), "{calls:?}");
    let journal = world.journal();
    assert!(fixes_of(&journal, "rejected-nb").is_empty());
    assert!(fixes_of(&journal, "changed-nb").is_empty());
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// One HTTP request to the daemon's port: (status, body).
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let code = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (code, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_api_refuses_missing_and_wrong_tokens_and_decides_with_a_right_one() {
    let world = World::start(Duration::from_millis(300)).await;
    let token = "alice-secret-token";
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let extra = format!(
        "{PROD_NEEDS_APPROVAL}approvers = [{{ name = \"alice\", token_sha256 = \"{hash}\" }}]\n"
    );
    let mut daemon = world.daemon("enforce", &extra, &[]);
    daemon.wait_ready().await;
    // The token itself is in no file the daemon was given.
    assert!(!std::fs::read_to_string(world.config_path())
        .unwrap()
        .contains(token));
    world.notebook("api-nb", true).await;
    tag_prod(&world, "api-nb").await;
    world.sim.simulator.reset_calls();
    world
        .put_events(&[family_event("securityhub", "api-nb")])
        .await;
    let pending = wait_requests(&world, "pending", |r| r.len() == 1).await;
    let id = pending[0]["id"].as_i64().unwrap();
    let port = daemon.port;
    let approve = format!("/v1/approvals/{id}/approve");
    let reason = r#"{"reason": "CHG-7"}"#;

    assert_eq!(http(port, "GET", "/v1/approvals", None, "").0, 401);
    assert_eq!(http(port, "GET", "/v1/approvals", Some("wrong"), "").0, 401);
    assert_eq!(http(port, "POST", &approve, None, reason).0, 401);
    assert_eq!(
        http(port, "POST", &approve, Some("alice-secret-tokeN"), reason).0,
        401
    );
    assert_eq!(requests(&world, "pending").len(), 1, "nothing changed");

    let (code, body) = http(port, "GET", "/v1/approvals?state=pending", Some(token), "");
    assert_eq!(code, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listed["approvals"][0]["id"], id);
    assert_eq!(
        http(port, "GET", "/v1/approvals?state=bogus", Some(token), "").0,
        400
    );
    let (code, body) = http(port, "GET", &format!("/v1/approvals/{id}"), Some(token), "");
    assert_eq!(code, 200);
    assert!(body.contains("disable root access"), "{body}");
    assert_eq!(
        http(port, "GET", "/v1/approvals/999", Some(token), "").0,
        404
    );
    assert_eq!(http(port, "POST", &approve, Some(token), "{}").0, 400);
    assert_eq!(
        http(
            port,
            "POST",
            "/v1/approvals/999/approve",
            Some(token),
            reason
        )
        .0,
        404
    );
    let big = format!(r#"{{"reason": "{}"}}"#, "x".repeat(8 * 1024));
    assert_eq!(http(port, "POST", &approve, Some(token), &big).0, 413);
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.succeeded(STOP), 0, "{calls:?}");

    let (code, body) = http(port, "POST", &approve, Some(token), reason);
    assert_eq!(code, 200, "{body}");
    let decided: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(decided["state"], "approved");
    assert_eq!(decided["decided_by"], "alice");
    assert_eq!(
        http(
            port,
            "POST",
            &format!("/v1/approvals/{id}/reject"),
            Some(token),
            reason
        )
        .0,
        409
    );
    wait_fixed(&world, "api-nb", "the approved fix").await;
    let calls = world.sim.simulator.calls();
    assert_eq!(stop_update_start(&calls), (1, 1, 1));
    assert!(
        !daemon.log_text().contains(token),
        "the token is never logged"
    );
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exemption_holds_until_its_date_and_an_expired_one_no_longer_exempts() {
    let world = World::start(Duration::from_millis(300)).await;
    let extra = format!(
        "\n[[exemptions]]\narn = \"arn:aws:sagemaker:*:{ACCOUNT}:notebook-instance/exempt-*\"\n\
         controls = [\"SageMaker.3\"]\nreason = \"pilot (TICKET-1)\"\nexpires = \"2999-12-31\"\n\n\
         [[exemptions]]\narn = \"{}\"\nreason = \"was a pilot\"\nexpires = \"2020-01-31\"\n",
        arn("expired-nb")
    );
    let mut daemon = world.daemon("enforce", &extra, &[]);
    daemon.wait_ready().await;
    world.notebook("exempt-nb", true).await;
    world.notebook("expired-nb", true).await;
    world.sim.simulator.reset_calls();
    security_hub_events(&world, &["exempt-nb", "expired-nb"]).await;
    wait_fixed(&world, "expired-nb", "the fix of expired-nb").await;
    // Both events were taken at once; the exempt one is done by now too.
    let exempt = "smr_remediations_total{control=\"SageMaker.3\",outcome=\"exempt\"}";
    wait_metric(&mut daemon, exempt, 1.0, Duration::from_secs(10)).await;
    assert!(fixes_of(&world.journal(), "exempt-nb").is_empty());
    assert_eq!(world.describe("exempt-nb").await.1, "Enabled");
    let calls = world.sim.simulator.calls();
    assert_eq!(calls.succeeded(STOP), 1, "{calls:?}");
    assert_eq!(daemon.metric("smr_exemptions{state=\"active\"}"), 1.0);
    assert_eq!(daemon.metric("smr_exemptions{state=\"expired\"}"), 1.0);

    let listed = world.cli(&["remediations"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("Exemptions in the configuration, in force (1)"),
        "{text}"
    );
    assert!(
        text.contains("exempt-* [SageMaker.3] until 2999-12-31: pilot (TICKET-1)"),
        "{text}"
    );
    let checked = world.cli(&["validate-config"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(checked.status.success(), "{said}");
    assert!(said.contains("exemptions[1].expires"), "{said}");
    assert!(said.contains("expired on 2020-01-31"), "{said}");
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hourly_limit_pauses_the_account_and_enforcement_resume_ends_the_pause() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon(
        "enforce",
        "",
        &[
            ("SMR_LIMITS__NOTEBOOK_FIXES_PER_HOUR", "1"),
            ("SMR_LIMITS__NOTEBOOK_FIXES_AT_ONCE", "1"),
        ],
    );
    daemon.wait_ready().await;
    world.notebook("first-nb", true).await;
    world.notebook("second-nb", true).await;
    world.sim.simulator.reset_calls();
    security_hub_events(&world, &["first-nb", "second-nb"]).await;
    let paused = format!("smr_enforcement_paused{{account=\"{ACCOUNT}\"}}");
    wait_metric(&mut daemon, &paused, 1.0, Duration::from_secs(60)).await;
    let fixed = |j: &[Remediation]| {
        ["first-nb", "second-nb"]
            .iter()
            .filter(|n| {
                fixes_of(j, n)
                    .iter()
                    .any(|r| r.status == RemediationStatus::Succeeded)
            })
            .count()
    };
    world
        .wait_journal(Duration::from_secs(60), "one fix", |j| fixed(j) == 1)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fixed(&world.journal()),
        1,
        "the second waits for the next hour"
    );
    assert_eq!(world.sim.simulator.calls().succeeded(STOP), 1);
    let listed = world.cli(&["remediations"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout)
            .contains(&format!("Enforcement paused in {ACCOUNT}")),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );

    let out = world.cli(&["enforcement", "resume", ACCOUNT]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    world
        .wait_journal(Duration::from_secs(60), "both fixes", |j| fixed(j) == 2)
        .await;
    assert_eq!(world.sim.simulator.calls().succeeded(STOP), 2);
    let again = world.cli(&["enforcement", "resume", ACCOUNT]);
    assert_eq!(again.status.code(), Some(2), "not paused any more");
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notebook_opened_a_minute_ago_is_not_stopped() {
    let world = World::start(Duration::from_millis(300)).await;
    let mut daemon = world.daemon("enforce", "", &[]);
    daemon.wait_ready().await;
    world.notebook("busy-nb", true).await;
    world.notebook("idle-nb", true).await;
    world.sim.simulator.reset_calls();
    // Someone opened busy-nb in the console a minute ago (CloudTrail, through EventBridge).
    let (source, detail_type, mut opened) = family_event("cloudtrail", "busy-nb");
    opened["eventName"] = "CreatePresignedNotebookInstanceUrl".into();
    let minute_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    opened["eventTime"] = minute_ago.to_string().into();
    world.put_events(&[(source, detail_type, opened)]).await;
    let recorded = "smr_events_received_total{family=\"cloudtrail\",outcome=\"triggered\"}";
    wait_metric(&mut daemon, recorded, 1.0, Duration::from_secs(30)).await;
    security_hub_events(&world, &["busy-nb", "idle-nb"]).await;
    wait_fixed(&world, "idle-nb", "the idle notebook's fix").await;
    let held = "smr_remediations_held_total{reason=\"in-use\"}";
    wait_metric(&mut daemon, held, 1.0, Duration::from_secs(10)).await;
    assert!(fixes_of(&world.journal(), "busy-nb").is_empty());
    assert_eq!(
        world.describe("busy-nb").await,
        ("InService".to_string(), "Enabled".to_string())
    );
    assert_eq!(
        world.sim.simulator.calls().succeeded(STOP),
        1,
        "only idle-nb"
    );
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// Where the web page's screenshots go (the note describes them).
fn screenshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_page_in_a_real_browser_signs_in_with_a_token_and_approves_a_request() {
    use fantoccini::Locator;
    let world = World::start(Duration::from_millis(300)).await;
    let token = "bob-page-token";
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let extra = format!(
        "{PROD_NEEDS_APPROVAL}approvers = [{{ name = \"bob\", token_sha256 = \"{hash}\" }}]\n"
    );
    let mut daemon = world.daemon("enforce", &extra, &[]);
    daemon.wait_ready().await;
    world.notebook("page-nb", true).await;
    tag_prod(&world, "page-nb").await;
    world.sim.simulator.reset_calls();
    world
        .put_events(&[family_event("securityhub", "page-nb")])
        .await;
    let pending = wait_requests(&world, "pending", |r| r.len() == 1).await;
    let id = pending[0]["id"].as_i64().unwrap();

    let browser = common::browser::Browser::start().await;
    let page = &browser.client;
    let within = Duration::from_secs(20);
    page.goto(&format!("http://127.0.0.1:{}/approvals", daemon.port))
        .await
        .unwrap();
    let sign_in = |t: &'static str| async move {
        let field = page.find(Locator::Css("#token")).await.unwrap();
        field.send_keys(t).await.unwrap();
        page.find(Locator::Css("#login button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    };
    // A wrong token sees nothing of the store.
    sign_in("not-bobs-token").await;
    let refused = page
        .wait()
        .at_most(within)
        .for_element(Locator::Css("#requests p.error"))
        .await
        .unwrap();
    assert!(refused.text().await.unwrap().contains("not an approver"));
    assert!(page.find(Locator::Css("article.request")).await.is_err());

    sign_in(token).await;
    let request = page
        .wait()
        .at_most(within)
        .for_element(Locator::Id(&format!("request-{id}")))
        .await
        .unwrap();
    let text = request.text().await.unwrap();
    assert!(text.contains("page-nb"), "{text}");
    assert!(
        text.contains("stop the notebook, disable root access"),
        "{text}"
    );
    assert!(text.contains("SageMaker.3"), "{text}");
    let who = page.find(Locator::Id("approver")).await.unwrap();
    assert_eq!(who.text().await.unwrap(), "bob");
    std::fs::write(
        screenshot_path("approvals-page-pending.png"),
        page.screenshot().await.unwrap(),
    )
    .unwrap();
    assert_eq!(world.sim.simulator.calls().succeeded(STOP), 0);

    request
        .find(Locator::Css("input[name=reason]"))
        .await
        .unwrap()
        .send_keys("CHG-77 approved in the browser")
        .await
        .unwrap();
    request
        .find(Locator::Css("button.approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page.wait()
        .at_most(within)
        .for_element(Locator::XPath(&format!(
            "//p[@id='message' and contains(., 'Request #{id} approved by bob')]"
        )))
        .await
        .unwrap();
    // The list is rendered again: the request moved to the decided ones.
    let decided = page
        .wait()
        .at_most(within)
        .for_element(Locator::Id(&format!("decided-{id}")))
        .await
        .unwrap();
    let row = decided.text().await.unwrap();
    assert!(
        row.contains("approved") && row.contains("bob") && row.contains("CHG-77"),
        "{row}"
    );
    std::fs::write(
        screenshot_path("approvals-page-decided.png"),
        page.screenshot().await.unwrap(),
    )
    .unwrap();
    browser.close().await;

    let journal = wait_fixed(&world, "page-nb", "the fix approved in the browser").await;
    let fix = fixes_of(&journal, "page-nb")[0];
    let step = fix.steps.iter().find(|s| s.step == "Approve").unwrap();
    assert!(
        step.detail
            .contains(&format!("request #{id} approved by bob"))
            && step.detail.contains("CHG-77 approved in the browser"),
        "{step:?}"
    );
    let calls = world.sim.simulator.calls();
    assert_eq!(stop_update_start(&calls), (1, 1, 1));
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// `remediations` as text.
fn remediations_text(world: &World) -> String {
    let out = world.cli(&["remediations"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `remediations` says what `what` checks; the text then.
async fn wait_remediations(world: &World, label: &str, what: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = remediations_text(world);
        if what(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{label}: {text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_loses_neither_a_pending_request_nor_a_fix_waiting_for_its_window_and_a_stop_comes_after_notice(
) {
    let world = World::start(Duration::from_millis(300)).await;
    let notices = world.notification_queue().await;
    // A daily window (UTC) from the next whole minute at least 15 s away, for half an hour.
    let now = jiff::Timestamp::now().as_second();
    let mut start = (now / 60 + 1) * 60;
    if start - now < 15 {
        start += 60;
    }
    let hhmm = |s: i64| {
        let t = jiff::Timestamp::from_second(s)
            .unwrap()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC);
        format!("{:02}:{:02}", t.hour(), t.minute())
    };
    let extra = format!(
        "{PROD_NEEDS_APPROVAL}\n[notifications]\nevent_bus = \"{}\"\nretry_backoff_secs = 1\n\n\
         [[windows]]\nwhen = \"{}-{}\"\n",
        common::daemon::NOTIFICATION_BUS,
        hhmm(start),
        hhmm(start + 1800)
    );
    let notice = [("SMR_REMEDIATION__STOP_NOTICE_SECS", "3")];
    let mut daemon = world.daemon("enforce", &extra, &notice);
    daemon.wait_ready().await;
    world.notebook("win-nb", true).await;
    world.notebook("held-nb", true).await;
    tag_prod(&world, "held-nb").await;
    world.sim.simulator.reset_calls();
    security_hub_events(&world, &["win-nb", "held-nb"]).await;

    let pending = wait_requests(&world, "pending", |r| r.len() == 1).await;
    let id = pending[0]["id"].as_i64().unwrap();
    let opens = sagemaker_remediator::journal::time(start * 1000);
    let waiting = format!("outside a maintenance window; starts at {opens}");
    let text = wait_remediations(&world, "win-nb waits for its window", |t| {
        t.contains("Waiting to start (1)") && t.contains(&waiting)
    })
    .await;
    assert!(text.contains(&arn("win-nb")), "{text}");

    // A crash (SIGKILL) and a new daemon: the request and the wait are still there.
    daemon.kill();
    let mut daemon = world.daemon("enforce", &extra, &notice);
    daemon.wait_ready().await;
    assert_eq!(requests(&world, "pending")[0]["id"], id);
    assert!(remediations_text(&world).contains(&waiting));
    // Approved now, the prod fix waits for the window too.
    let out = decide(&world, "approve", id, "alice", "CHG-9 in the window");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_remediations(&world, "both fixes wait", |t| {
        t.contains("Waiting to start (2)") && t.contains(&arn("held-nb"))
    })
    .await;
    assert_eq!(world.sim.simulator.calls().succeeded(STOP), 0);

    // In the window: notice (the tag, a Remediation Scheduled event), then the fixes.
    let journal = world
        .wait_journal(Duration::from_secs(150), "both fixes in the window", |j| {
            ["win-nb", "held-nb"].iter().all(|n| {
                fixes_of(j, n)
                    .iter()
                    .any(|r| r.status == RemediationStatus::Succeeded)
            })
        })
        .await;
    let mut events = Vec::new();
    world
        .receive_events(
            &notices,
            &mut events,
            Duration::from_secs(30),
            "the notices",
            |e| {
                let of = |t: &str| e.iter().filter(|v| v["detail-type"] == t).count();
                of("Remediation Scheduled") == 2 && of("Remediation Succeeded") == 2
            },
        )
        .await;
    for name in ["win-nb", "held-nb"] {
        let fix = fixes_of(&journal, name)[0];
        assert!(
            fix.created_at >= start * 1000,
            "{name} started in the window"
        );
        let scheduled = events
            .iter()
            .find(|v| {
                v["detail-type"] == "Remediation Scheduled"
                    && v["detail"]["resource"]["arn"] == arn(name)
            })
            .unwrap_or_else(|| panic!("no notice for {name}: {events:#?}"));
        let at: jiff::Timestamp = scheduled["detail"]["scheduled_for"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let stop = fix
            .steps
            .iter()
            .find(|s| s.step == "StopNotebookInstance")
            .unwrap();
        assert!(
            stop.at >= at.as_millisecond(),
            "{name} stopped after its notice"
        );
    }
    let calls = world.sim.simulator.calls();
    assert_eq!(
        (
            calls.succeeded(STOP),
            calls.succeeded(UPDATE),
            calls.succeeded(START),
            calls.succeeded("DeleteTags"),
        ),
        (2, 2, 2, 2),
        "{calls:?}"
    );
    let tags = world
        .sagemaker
        .list_tags()
        .resource_arn(arn("win-nb"))
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .all(|t| t.key() != Some("sagemaker-remediator:scheduled-at")));
    assert!(!remediations_text(&world).contains("Waiting to start"));
    assert!(daemon.terminate().success(), "{}", daemon.log_text());
}

/// Two hours pass (the daemon restarted with its clock moved forward; feature `failpoints`)
/// while a request with a one-hour expiry waits: the next trigger records it as expired, asks
/// again, and nothing is changed meanwhile; the expired request can no longer be decided.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_request_leads_to_nothing_and_the_next_trigger_asks_again() {
    let world = World::start(Duration::from_millis(300)).await;
    let extra = format!("{PROD_NEEDS_APPROVAL}expiry_hours = 1\n");
    let mut daemon = world.daemon("enforce", &extra, &[]);
    daemon.wait_ready().await;
    world.notebook("expiring-nb", true).await;
    tag_prod(&world, "expiring-nb").await;
    world.sim.simulator.reset_calls();
    security_hub_events(&world, &["expiring-nb"]).await;
    let first = wait_requests(&world, "pending", |r| r.len() == 1).await;
    let first_id = first[0]["id"].as_i64().unwrap();
    assert!(daemon.terminate().success(), "{}", daemon.log_text());

    let mut later = world.daemon(
        "enforce",
        &extra,
        &[("SAGEMAKER_REMEDIATOR_CLOCK_SKEW_SECS", "7200")],
    );
    later.wait_ready().await;
    world
        .put_events(&[family_event("config", "expiring-nb")])
        .await;
    let expired = wait_requests(&world, "expired", |r| r.len() == 1).await;
    assert_eq!(expired[0]["id"], first_id);
    assert!(expired[0]["decided_by"].is_null(), "{expired:#?}");
    let again = wait_requests(&world, "pending", |r| r.len() == 1).await;
    assert_ne!(again[0]["id"].as_i64().unwrap(), first_id);
    assert_eq!(again[0]["resource_arn"], arn("expiring-nb"));
    assert!(
        later.log_text().contains("approval_expired"),
        "{}",
        later.log_text()
    );

    // An expired request is no longer decided: exit 2, nothing changes.
    let out = decide(&world, "approve", first_id, "erin", "too late");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = world.sim.simulator.calls();
    assert_eq!(stop_update_start(&calls), (0, 0, 0), "{calls:?}");
    assert!(fixes_of(&world.journal(), "expiring-nb").is_empty());
    assert!(later.terminate().success(), "{}", later.log_text());
}
