//! Generated and mutated message bodies: `parse` never panics, every body ends as triggers,
//! activity, irrelevant (with a reason) or a classified error, and every trigger carries a
//! canonical ARN.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{arn, parse, parse_arn, ParseError, Parsed};

const FIXTURES: &[&str] = &[
    include_str!("../../tests/fixtures/events/cloudtrail-addtags.json"),
    include_str!("../../tests/fixtures/events/cloudtrail-create-notebook.json"),
    include_str!("../../tests/fixtures/events/cloudtrail-error.json"),
    include_str!("../../tests/fixtures/events/config-compliant.json"),
    include_str!("../../tests/fixtures/events/config-noncompliant-arn.json"),
    include_str!("../../tests/fixtures/events/config-noncompliant-name.json"),
    include_str!("../../tests/fixtures/events/moto-routed-no-account.json"),
    include_str!("../../tests/fixtures/events/sagemaker-image-state-change.json"),
    include_str!("../../tests/fixtures/events/sagemaker-image-version-state-change.json"),
    include_str!("../../tests/fixtures/events/sagemaker-notebook-state-change.json"),
    include_str!("../../tests/fixtures/events/securityhub-archived.json"),
    include_str!("../../tests/fixtures/events/securityhub-delegated-admin.json"),
    include_str!("../../tests/fixtures/events/securityhub-imported-sagemaker3.json"),
    include_str!("../../tests/fixtures/events/securityhub-legacy-controlid.json"),
    include_str!("../../tests/fixtures/events/securityhub-three-findings-one-archived.json"),
    include_str!("../../tests/fixtures/events/securityhub-two-resources.json"),
    include_str!("../../tests/fixtures/events/securityhub-v2-ocsf.json"),
];

/// A JSON value of any shape, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        // Values that look right in the wrong place.
        Just(json!(
            "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/x"
        )),
        Just(json!("arn:aws:sagemaker:::notebook-instance/")),
        Just(json!("SageMaker.3")),
        Just(json!("")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every place in `value`, as a path of object keys and array indexes.
fn places(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(path.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(json!(k));
                places(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(json!(i));
                places(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(value: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Value::String(k) => v.get_mut(k.as_str()),
        Value::Number(i) => v.get_mut(usize::try_from(i.as_u64()?).ok()?),
        _ => None,
    })
}

/// One mutation: replace the value at the chosen place, or remove it from its parent.
fn mutate(value: &mut Value, pick: usize, remove: bool, new: Value) {
    let mut all = Vec::new();
    places(value, &mut Vec::new(), &mut all);
    let path = &all[pick % all.len()];
    match (remove, path.split_last()) {
        (true, Some((last, parent))) => match (at(value, parent), last) {
            (Some(Value::Object(map)), Value::String(k)) => {
                map.remove(k);
            }
            (Some(Value::Array(items)), Value::Number(i)) => {
                if let Some(i) = i.as_u64().and_then(|i| usize::try_from(i).ok()) {
                    if i < items.len() {
                        items.remove(i);
                    }
                }
            }
            _ => {}
        },
        _ => {
            if let Some(slot) = at(value, path) {
                *slot = new;
            }
        }
    }
}

/// What every outcome must satisfy.
fn well_formed(body: &str) -> Result<(), TestCaseError> {
    match parse(body) {
        Ok(Parsed::Triggers(triggers)) => {
            prop_assert!(!triggers.is_empty());
            for t in &triggers {
                let Some((kind, region, account, canonical)) = parse_arn(&t.arn) else {
                    return Err(TestCaseError::fail(format!("not an ARN: {}", t.arn)));
                };
                prop_assert_eq!(kind, t.resource_type);
                prop_assert_eq!(&region, &t.region);
                prop_assert_eq!(&account, &t.account);
                prop_assert_eq!(&canonical, &t.arn, "canonical");
                if let Some(name) = &t.name {
                    prop_assert!(!name.is_empty());
                    prop_assert_eq!(&arn(kind, &region, &account, name), &t.arn, "named");
                }
            }
        }
        Ok(Parsed::Activity(activity)) => {
            prop_assert!(!activity.is_empty());
            for a in &activity {
                prop_assert!(parse_arn(&a.arn).is_some(), "not an ARN: {}", a.arn);
            }
        }
        Ok(Parsed::Irrelevant { reason, .. }) => prop_assert!(!reason.is_empty()),
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    // PROPTEST_CASES raises the count for a longer run (e.g. 100000); CI runs 512.
    #![proptest_config(ProptestConfig { cases: crate::events::proptest_cases(512), ..ProptestConfig::default() })]

    #[test]
    fn mutated_events_never_panic_and_end_classified(
        fixture in 0..FIXTURES.len(),
        mutations in prop::collection::vec((any::<usize>(), any::<bool>(), any_json()), 1..5),
    ) {
        let mut value: Value = serde_json::from_str(FIXTURES[fixture]).unwrap_or(Value::Null);
        for (pick, remove, new) in mutations {
            mutate(&mut value, pick, remove, new);
        }
        well_formed(&value.to_string())?;
    }

    #[test]
    fn a_cut_off_event_is_a_json_error(fixture in 0..FIXTURES.len(), cut in any::<usize>()) {
        let value: Value = serde_json::from_str(FIXTURES[fixture]).unwrap_or(Value::Null);
        let body = value.to_string();
        let mut cut = cut % body.len();
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        prop_assert!(matches!(parse(&body[..cut]), Err(ParseError::Json(_))));
    }

    #[test]
    fn any_text_or_json_never_panics(text in ".{0,200}", value in any_json()) {
        well_formed(&text)?;
        well_formed(&value.to_string())?;
    }
}
