//! The tag fix for SageMaker.6 (app image configs) and SageMaker.7 (images): which tags to add
//! so the resource passes, as a pure function. The executor sends them with AddTags.
//!
//! # Guarantees
//!
//! - Never overwrites: a key the resource already has is never in the result (AddTags would
//!   overwrite its value).
//! - Idempotent: on a resource that already passes the result is empty; once the returned tags
//!   were added, a second call returns nothing.
//! - Never proposes a system (`aws:`) key: AWS rejects them and the controls ignore them.
//! - Deterministic order: required keys in the configured order; otherwise the configured tags
//!   in key order.
//!
//! # Assumptions
//!
//! - Keys are case-sensitive, as in the controls (`Team` does not satisfy `team`).
//! - `current` is the complete tag list (ListTags paged to the end).

use std::collections::BTreeMap;

use crate::model::Tag;

/// The prefix of system tags, which the tagging controls ignore and AWS does not let us set.
const SYSTEM_PREFIX: &str = "aws:";

/// Tags to add so that the required keys are present, never overwriting an existing tag's
/// value. With no required keys, the configured tags are added only if the resource has no
/// non-`aws:` tag at all. Err when a required key has no configured value (cannot fix, flag it
/// instead).
pub fn tags_to_add(
    current: &[Tag],
    required_keys: &[String],
    values: &BTreeMap<String, String>,
) -> Result<Vec<Tag>, String> {
    let has = |key: &str| current.iter().any(|t| t.key == key);

    if required_keys.is_empty() {
        if current.iter().any(|t| !t.key.starts_with(SYSTEM_PREFIX)) {
            return Ok(Vec::new());
        }
        let add: Vec<Tag> = values
            .iter()
            .filter(|(key, _)| !key.starts_with(SYSTEM_PREFIX) && !has(key))
            .map(|(key, value)| Tag::new(key.as_str(), value.as_str()))
            .collect();
        if add.is_empty() {
            return Err(
                "the resource has no user tag and no tag values are configured to add".to_string(),
            );
        }
        return Ok(add);
    }

    let mut add: Vec<Tag> = Vec::new();
    let mut system: Vec<&str> = Vec::new();
    let mut unvalued: Vec<&str> = Vec::new();
    for key in required_keys {
        let key = key.as_str();
        // Checked first: a present `aws:` key does not count for the controls either.
        if key.starts_with(SYSTEM_PREFIX) {
            if !system.contains(&key) {
                system.push(key);
            }
            continue;
        }
        if has(key) || add.iter().any(|t| t.key == key) {
            continue;
        }
        match values.get(key) {
            Some(value) => add.push(Tag::new(key, value.as_str())),
            None if !unvalued.contains(&key) => unvalued.push(key),
            None => {}
        }
    }

    let mut problems: Vec<String> = Vec::new();
    if !unvalued.is_empty() {
        problems.push(format!(
            "no configured value for required tag key(s): {}",
            unvalued.join(", ")
        ));
    }
    if !system.is_empty() {
        problems.push(format!(
            "required key(s) with the reserved {SYSTEM_PREFIX} prefix cannot be added: {}",
            system.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(add)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
        pairs.iter().map(|(k, v)| Tag::new(*k, *v)).collect()
    }

    fn keys(ks: &[&str]) -> Vec<String> {
        ks.iter().map(|k| k.to_string()).collect()
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn adds_only_the_missing_required_keys() {
        let current = tags(&[("team", "ml")]);
        let got = tags_to_add(
            &current,
            &keys(&["team", "owner", "cost-center"]),
            &values(&[("team", "other"), ("owner", "alice"), ("cost-center", "42")]),
        );
        assert_eq!(
            got,
            Ok(tags(&[("owner", "alice"), ("cost-center", "42")])),
            "team exists and must not be overwritten"
        );
    }

    #[test]
    fn nothing_to_add_when_all_required_keys_are_present() {
        let current = tags(&[("team", ""), ("owner", "bob")]);
        let got = tags_to_add(&current, &keys(&["team", "owner"]), &values(&[]));
        assert_eq!(got, Ok(Vec::new()), "present keys need no value configured");
    }

    #[test]
    fn a_required_key_without_a_value_cannot_be_fixed() {
        let got = tags_to_add(
            &[],
            &keys(&["team", "owner", "owner"]),
            &values(&[("team", "ml")]),
        );
        assert_eq!(
            got,
            Err("no configured value for required tag key(s): owner".to_string())
        );
    }

    #[test]
    fn keys_are_case_sensitive() {
        let current = tags(&[("Team", "ml")]);
        let got = tags_to_add(&current, &keys(&["team"]), &values(&[("team", "ml")]));
        assert_eq!(got, Ok(tags(&[("team", "ml")])));
    }

    #[test]
    fn duplicate_required_keys_are_added_once() {
        let got = tags_to_add(&[], &keys(&["team", "team"]), &values(&[("team", "ml")]));
        assert_eq!(got, Ok(tags(&[("team", "ml")])));
    }

    #[test]
    fn a_required_system_key_cannot_be_added() {
        let got = tags_to_add(&[], &keys(&["aws:team"]), &values(&[("aws:team", "ml")]));
        assert!(matches!(got, Err(e) if e.contains("aws:team")));
        let present = tags(&[("aws:team", "ml")]);
        let got = tags_to_add(&present, &keys(&["aws:team"]), &values(&[]));
        assert!(got.is_err(), "a present system key never counts");
    }

    #[test]
    fn without_required_keys_a_user_tag_is_enough() {
        let current = tags(&[("aws:cloudformation:stack-name", "s"), ("x", "y")]);
        let got = tags_to_add(&current, &[], &values(&[("team", "ml")]));
        assert_eq!(got, Ok(Vec::new()));
    }

    #[test]
    fn without_required_keys_configured_tags_are_added_to_an_untagged_resource() {
        let current = tags(&[("aws:cloudformation:stack-name", "s")]);
        let got = tags_to_add(
            &current,
            &[],
            &values(&[("team", "ml"), ("aws:nope", "x"), ("owner", "alice")]),
        );
        assert_eq!(got, Ok(tags(&[("owner", "alice"), ("team", "ml")])));
    }

    #[test]
    fn without_required_keys_and_without_values_it_cannot_be_fixed() {
        assert!(tags_to_add(&[], &[], &values(&[])).is_err());
        assert!(tags_to_add(&[], &[], &values(&[("aws:x", "y")])).is_err());
    }

    #[test]
    fn adding_the_result_makes_a_second_call_empty() {
        let required = keys(&["team", "owner"]);
        let vals = values(&[("team", "ml"), ("owner", "alice")]);
        let mut current = tags(&[("owner", "bob")]);
        let first = tags_to_add(&current, &required, &vals).unwrap_or_default();
        assert_eq!(first, tags(&[("team", "ml")]));
        current.extend(first);
        assert_eq!(tags_to_add(&current, &required, &vals), Ok(Vec::new()));
        assert!(
            current.contains(&Tag::new("owner", "bob")),
            "not overwritten"
        );
    }
}
