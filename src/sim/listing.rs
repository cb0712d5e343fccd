//! The List* operations shared by every resource kind: filters (NameContains, time ranges,
//! StatusEquals), SortBy/SortOrder, MaxResults and NextToken paging over summaries.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{key, settle_all, Ctx, Settle};
use super::wire::{enum_error, parse, seq_key, text_key, OpResult, PageRequest};

/// The [`Listed`] accessors of a resource struct with the fields `name`, `seq`, `created` and
/// `last_modified` (and `status`, given `status`).
macro_rules! listed_fields {
    () => {
        fn name(&self) -> &str {
            &self.name
        }

        fn seq(&self) -> u64 {
            self.seq
        }

        fn created(&self) -> f64 {
            self.created
        }

        fn last_modified(&self) -> f64 {
            self.last_modified
        }
    };
    (status) => {
        listed_fields!();

        fn status(&self) -> &str {
            &self.status
        }
    };
}
pub(crate) use listed_fields;

/// A resource a List* operation shows.
pub trait Listed: Settle {
    fn name(&self) -> &str;
    /// Creation sequence (orders by CreationTime, ties broken by creation order).
    fn seq(&self) -> u64;
    fn created(&self) -> f64;
    fn last_modified(&self) -> f64 {
        self.created()
    }
    fn status(&self) -> &str {
        ""
    }
    /// The list entry (a summary, not the full Describe).
    fn summary(&self) -> Value;
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    next_token: Option<String>,
    max_results: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    name_contains: Option<String>,
    creation_time_before: Option<f64>,
    creation_time_after: Option<f64>,
    #[serde(alias = "ModifiedTimeBefore")]
    last_modified_time_before: Option<f64>,
    #[serde(alias = "ModifiedTimeAfter")]
    last_modified_time_after: Option<f64>,
    status_equals: Option<String>,
}

/// Sort orders a resource kind accepts, by their wire names.
pub struct Sorts(pub &'static [&'static str]);

/// Answers a List* call over `resources` as `{member: [...], "NextToken": ...}`.
/// Default order: CreationTime ascending; MaxResults 1..=100, default 10.
pub fn list<T: Listed>(
    resources: &mut HashMap<String, T>,
    ctx: &Ctx,
    body: &[u8],
    member: &str,
    sorts: &Sorts,
) -> OpResult {
    let input: ListInput = parse(body)?;
    let request = PageRequest::new(
        input.max_results,
        (1, 100, 10),
        input.sort_order.as_deref(),
        input.next_token,
    )?;
    let sort_key: fn(&T) -> String = match input.sort_by.as_deref() {
        None => |r| seq_key(r.seq()),
        Some(given) if sorts.0.contains(&given) => {
            match given.to_ascii_lowercase().replace('_', "").as_str() {
                "name" | "imagename" => |r| text_key(&key(r.name()), r.seq()),
                "status" => |r| text_key(r.status(), r.seq()),
                "lastmodifiedtime" => {
                    |r| format!("{:020.6}\u{1}{}", r.last_modified(), seq_key(r.seq()))
                }
                _ => |r| seq_key(r.seq()),
            }
        }
        Some(other) => return Err(enum_error(other, "SortBy", sorts.0)),
    };
    let name_contains = input.name_contains.as_deref().map(key);
    settle_all(resources, ctx.now);
    let matching = resources
        .values()
        .filter(|r| {
            name_contains
                .as_ref()
                .is_none_or(|s| key(r.name()).contains(s))
        })
        .filter(|r| input.status_equals.as_ref().is_none_or(|s| r.status() == s))
        .filter(|r| input.creation_time_before.is_none_or(|t| r.created() < t))
        .filter(|r| input.creation_time_after.is_none_or(|t| r.created() > t))
        .filter(|r| {
            input
                .last_modified_time_before
                .is_none_or(|t| r.last_modified() < t)
        })
        .filter(|r| {
            input
                .last_modified_time_after
                .is_none_or(|t| r.last_modified() > t)
        })
        .map(|r| (sort_key(r), r))
        .collect();
    let (page, next) = request.page(matching);
    let summaries: Vec<Value> = page.into_iter().map(Listed::summary).collect();
    Ok(json!({ member: summaries, "NextToken": next }))
}
