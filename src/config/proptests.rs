//! Generated and mutated configurations: loading never panics, every problem has a key and a
//! message, and every misspelt key is reported, all at once, whatever else is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use super::Config;

const FILES: &[&str] = &[
    include_str!("../../config/default.toml"),
    include_str!("../../config/example-multi-account.toml"),
];

/// Values of every TOML type, valid and not for the keys they land on.
const VALUES: &[&str] = &[
    "\"x\"",
    "\"\"",
    "-1",
    "0",
    "99999999999999999",
    "1.5",
    "true",
    "[]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "\"enforce\"",
    "\"arn:aws:iam::111122223333:role/x\"",
    "\"127.0.0.1:99999\"",
    "\"Mon 25:00-26:00\"",
    "1979-05-27",
];

/// The lines `key = value` with a bare key: (line index, key).
fn keyed_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let (key, _) = line.split_once(" = ")?;
            let bare = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            bare.then(|| (i, key.to_string()))
        })
        .collect()
}

proptest! {
    // PROPTEST_CASES raises the count for a longer run (e.g. 100000); CI runs 256.
    #![proptest_config(ProptestConfig { cases: crate::events::proptest_cases(256), ..ProptestConfig::default() })]

    #[test]
    fn every_misspelt_key_is_reported_whatever_else_is_wrong(
        file in 0..FILES.len(),
        renames in prop::collection::vec(any::<usize>(), 0..4),
        values in prop::collection::vec((any::<usize>(), 0..VALUES.len()), 0..6),
        env in prop::collection::vec((0..4usize, 0..VALUES.len()), 0..3),
    ) {
        let text = FILES[file];
        let keyed = keyed_lines(text);
        prop_assume!(!keyed.is_empty());
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (pick, v) in &values {
            let (i, key) = &keyed[pick % keyed.len()];
            lines[*i] = format!("{key} = {}", VALUES[*v]);
        }
        let mut misspelt = Vec::new();
        for pick in &renames {
            let (i, key) = &keyed[pick % keyed.len()];
            if let Some((_, value)) = lines[*i].clone().split_once(" = ") {
                lines[*i] = format!("{key}_typo = {value}");
                misspelt.push(format!("{key}_typo"));
            }
        }
        let names = [
            "SMR_AUDIT__CONCURRENCY",
            "SMR_DAEMON__LISTEN",
            "SMR_MODE",
            "SMR_REMEDIATION__STOP_NOTICE_SECS",
        ];
        let env_values: Vec<(String, String)> = env
            .iter()
            .map(|(n, v)| (names[*n].to_string(), VALUES[*v].trim_matches('"').to_string()))
            .collect();
        let env: Vec<(&str, &str)> =
            env_values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let toml = lines.join("\n");
        match Config::load_from(Some(&toml), &env) {
            Ok(config) => {
                prop_assert!(misspelt.is_empty(), "{misspelt:?} accepted");
                prop_assert!(config.validate().is_ok());
            }
            Err(errors) => {
                prop_assert!(!errors.problems.is_empty());
                for p in &errors.problems {
                    prop_assert!(!p.message.is_empty(), "{p:?}");
                }
                // A key repeated in one table is invalid TOML: then the file is one problem.
                let whole_file = errors.problems.iter().any(|p| p.key.is_empty());
                if !whole_file {
                    for key in &misspelt {
                        prop_assert!(
                            errors.problems.iter().any(|p| p.key.ends_with(key.as_str())),
                            "{key} not reported: {:?}",
                            errors.keys()
                        );
                    }
                }
            }
        }
    }
}
