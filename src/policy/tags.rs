//! The tags the SageMaker.6/.7 fix adds, from `controls.required_tag_keys` and
//! `remediation.tag_values`. Never a key the resource already carries.

use crate::config::Config;
use crate::model::Tag;

/// The prefix of system tags, which the tagging controls ignore.
const SYSTEM_PREFIX: &str = "aws:";

/// The tags to add so that a resource with `current` tags passes SageMaker.6/.7, leaving out
/// keys in `current` or in `planned` (tags an earlier control already decided to add).
///
/// - With required keys: every missing required key with its configured value. A missing key
///   without a configured value makes the fix impossible (`Err` with the reason); nothing is
///   added then, since a partial set would not pass either.
/// - Without: when the resource has no tag outside `aws:`, every configured tag value; none
///   configured makes the fix impossible.
///
/// `Ok` with no tags means the current tags already satisfy the control.
pub(super) fn to_add(
    current: &[Tag],
    planned: &[Tag],
    config: &Config,
) -> Result<Vec<Tag>, String> {
    let has =
        |key: &str| current.iter().any(|t| t.key == key) || planned.iter().any(|t| t.key == key);
    let values = &config.remediation.tag_values;
    let required = &config.controls.required_tag_keys;

    if required.is_empty() {
        let tagged = current
            .iter()
            .chain(planned)
            .any(|t| !t.key.starts_with(SYSTEM_PREFIX));
        if tagged {
            return Ok(Vec::new());
        }
        if values.is_empty() {
            return Err("remediation.tag_values is empty: there is no tag to add".to_string());
        }
        return Ok(values
            .iter()
            .filter(|(key, _)| !has(key))
            .map(|(key, value)| Tag::new(key.clone(), value.clone()))
            .collect());
    }

    let mut add: Vec<Tag> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for key in required {
        if has(key) || add.iter().any(|t| t.key == *key) || unknown.contains(&key.as_str()) {
            continue;
        }
        match values.get(key) {
            Some(value) => add.push(Tag::new(key.clone(), value.clone())),
            None => unknown.push(key),
        }
    }
    if unknown.is_empty() {
        Ok(add)
    } else {
        Err(format!(
            "no value configured in remediation.tag_values for the missing required tag key(s) {}",
            unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}
