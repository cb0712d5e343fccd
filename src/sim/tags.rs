//! Resource tags: AddTags (add or overwrite by key), ListTags (paged), DeleteTags, and the
//! tags given at Create* time. Tags live on the resource they belong to, found by its ARN.

use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{lookup, Ctx, RegionState, Tags};
use super::wire::{parse, required, seq_key, OpResult, PageRequest, SimError};

/// Most tags one request may carry (the model's TagList constraint). A resource may carry
/// more in the simulator, so ListTags paging can be exercised.
const MAX_TAGS: usize = 50;

/// A tag as sent on the wire.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    key: Option<String>,
    #[serde(default)]
    value: String,
}

/// Validates tags from a request (key 1-128 chars, value <= 256) and returns them in order.
pub fn validate(tags: Vec<TagIn>) -> Result<Tags, SimError> {
    if tags.len() > MAX_TAGS {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    let mut out = Tags::new();
    for tag in tags {
        let key = required(tag.key, "Key")?;
        if key.is_empty() || key.chars().count() > 128 {
            return Err(length_error(&key, "key", 1, 128));
        }
        if tag.value.chars().count() > 256 {
            return Err(length_error(&tag.value, "value", 0, 256));
        }
        out.retain(|(k, _)| *k != key);
        out.push((key, tag.value));
    }
    Ok(out)
}

fn length_error(value: &str, member: &str, min: usize, max: usize) -> SimError {
    SimError::validation(format!(
        "1 validation error detected: Value '{value}' at 'tags.member.{member}' failed to satisfy constraint: Member must have length between {min} and {max}"
    ))
}

/// Adds `new` to `existing`, overwriting values of keys already present (never duplicating).
pub fn merge(existing: &mut Tags, new: Tags) {
    for (key, value) in new {
        match existing.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => existing.push((key, value)),
        }
    }
}

/// The wire form of tags.
pub fn to_json(tags: &[(String, String)]) -> Value {
    tags.iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect()
}

/// The tags of the resource an ARN names, if it exists in this account and region.
fn tags_of<'r>(state: &'r mut RegionState, ctx: &Ctx, arn: &str) -> Result<&'r mut Tags, SimError> {
    use super::state::Settle;
    let not_found = || SimError::validation(format!("Resource {arn} does not exist."));
    let prefix = format!("arn:aws:sagemaker:{}:{}:", ctx.region, ctx.account);
    let rest = arn.strip_prefix(&prefix).ok_or_else(not_found)?;
    let (kind, name) = rest.split_once('/').ok_or_else(not_found)?;
    let now = ctx.now;
    let tags = match kind {
        "notebook-instance" => lookup(&mut state.notebooks, name, now).map(Settle::tags_mut),
        "model" => lookup(&mut state.models, name, now).map(Settle::tags_mut),
        "endpoint-config" => lookup(&mut state.endpoint_configs, name, now).map(Settle::tags_mut),
        "endpoint" => lookup(&mut state.endpoints, name, now).map(Settle::tags_mut),
        "image" => lookup(&mut state.images, name, now).map(Settle::tags_mut),
        "app-image-config" => lookup(&mut state.app_image_configs, name, now).map(Settle::tags_mut),
        _ => None,
    };
    tags.ok_or_else(not_found)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddTagsInput {
    resource_arn: Option<String>,
    tags: Option<Vec<TagIn>>,
}

/// AddTags: adds or overwrites by key; answers the tags given.
pub fn add_tags(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: AddTagsInput = parse(body)?;
    let arn = required(input.resource_arn, "ResourceArn")?;
    let new = validate(required(input.tags, "Tags")?)?;
    let tags = tags_of(state, ctx, &arn)?;
    let answer = to_json(&new);
    merge(tags, new);
    Ok(json!({ "Tags": answer }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsInput {
    resource_arn: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// ListTags: the resource's tags in insertion order, 50..=100 a page (default 50).
pub fn list_tags(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: ListTagsInput = parse(body)?;
    let arn = required(input.resource_arn, "ResourceArn")?;
    let request = PageRequest::new(input.max_results, (50, 100, 50), None, input.next_token)?;
    let tags = tags_of(state, ctx, &arn)?;
    let keyed = tags
        .iter()
        .enumerate()
        .map(|(i, (k, v))| (seq_key(i as u64), json!({ "Key": k, "Value": v })))
        .collect();
    let (page, next) = request.page(keyed);
    Ok(json!({ "Tags": page, "NextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteTagsInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// DeleteTags: removes the keys given (absent keys are ignored).
pub fn delete_tags(state: &mut RegionState, ctx: &Ctx, body: &[u8]) -> OpResult {
    let input: DeleteTagsInput = parse(body)?;
    let arn = required(input.resource_arn, "ResourceArn")?;
    let keys = required(input.tag_keys, "TagKeys")?;
    let tags = tags_of(state, ctx, &arn)?;
    tags.retain(|(k, _)| !keys.contains(k));
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn merge_overwrites_by_key() {
        let mut existing = tags(&[("a", "1"), ("b", "2")]);
        merge(&mut existing, tags(&[("b", "3"), ("c", "4")]));
        assert_eq!(existing, tags(&[("a", "1"), ("b", "3"), ("c", "4")]));
    }

    #[test]
    fn validate_keeps_the_last_value_of_a_repeated_key_and_caps_the_count() {
        let input = |n: usize| -> Vec<TagIn> {
            (0..n)
                .map(|i| TagIn {
                    key: Some(format!("k{}", i % 3)),
                    value: i.to_string(),
                })
                .collect()
        };
        assert_eq!(
            validate(input(4)).ok(),
            Some(tags(&[("k1", "1"), ("k2", "2"), ("k0", "3")]))
        );
        assert!(validate(input(51)).is_err());
        let empty_key = vec![TagIn {
            key: Some(String::new()),
            value: String::new(),
        }];
        assert!(validate(empty_key).is_err());
    }
}
