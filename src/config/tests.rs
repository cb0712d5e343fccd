//! The configuration's tests: loading, every problem at once, the rules, the warnings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::net::SocketAddr;

use super::load::has_env_prefix;
use super::problems::{suggest, KeyPath};
use super::rules::{is_region, parse_role_arn};
use super::*;

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const EXAMPLE_TOML: &str = include_str!("../../config/example-multi-account.toml");

fn load(toml: &str) -> Result<Config, ConfigErrors> {
    Config::load_from(Some(toml), &[])
}

fn errors(toml: &str, env: &[(&str, &str)]) -> ConfigErrors {
    match Config::load_from(Some(toml), env) {
        Ok(config) => panic!("expected problems, got {config:?}"),
        Err(errors) => errors,
    }
}

/// The problems of a validated, hand-built config, as `key: message` lines.
fn problems_of(config: &Config) -> Vec<String> {
    match config.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect(),
    }
}

fn keys_of(config: &Config) -> Vec<String> {
    match config.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.problems.into_iter().map(|p| p.key).collect(),
    }
}

fn with_accounts(accounts: Vec<AccountConfig>) -> Config {
    Config {
        accounts,
        ..Config::default()
    }
}

fn account(id: &str) -> AccountConfig {
    AccountConfig {
        id: id.to_string(),
        ..AccountConfig::default()
    }
}

fn with_role(id: &str) -> AccountConfig {
    AccountConfig {
        role_arn: Some(format!("arn:aws:iam::{id}:role/Audit")),
        ..account(id)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn defaults_when_nothing_is_given() {
    let config = Config::load_from(None, &[]).expect("defaults load");
    assert_eq!(config, Config::default());
    assert_eq!(config.controls.required_tag_keys, Vec::<String>::new());
    assert_eq!(
        config.controls.supported_platforms,
        strings(&["notebook-al2023-v1"])
    );
    assert_eq!(config.controls.platform_target, "notebook-al2023-v1");
    assert!(config.audit.regions.is_empty());
    assert_eq!(config.audit.concurrency, 16);
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.log.level, "info");
    assert!(config.accounts.is_empty());
    assert!(config.validate().is_ok());
}

#[test]
fn empty_file_gives_defaults() {
    assert_eq!(load("").expect("empty file"), Config::default());
}

#[test]
fn default_toml_is_exactly_the_defaults() {
    assert_eq!(load(DEFAULT_TOML).expect("default.toml"), Config::default());
}

#[test]
fn default_toml_accounts_block_is_valid_when_uncommented() {
    let uncommented = DEFAULT_TOML
        .replace("# [[accounts]]", "[[accounts]]")
        .replace("\n# id = ", "\nid = ");
    let uncommented = [
        "role_arn",
        "external_id",
        "regions",
        "session_name",
        "enforce",
    ]
    .iter()
    .fold(uncommented, |text, key| {
        text.replace(&format!("\n# {key} = "), &format!("\n{key} = "))
    });
    let config = load(&uncommented).expect("uncommented accounts block");
    assert_eq!(config.accounts.len(), 1);
    assert_eq!(config.accounts[0].id, "111122223333");
    assert_eq!(
        config.accounts[0].session_name.as_deref(),
        Some("sagemaker-remediator")
    );
}

#[test]
fn example_multi_account_loads_and_validates() {
    let config = load(EXAMPLE_TOML).expect("example loads");
    assert!(config.validate().is_ok());
    assert_eq!(config.accounts.len(), 2);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.audit.concurrency, 8);
    let prod = &config.accounts[0];
    assert_eq!(prod.id, "111122223333");
    assert!(prod.role_arn.is_some() && prod.external_id.is_some());
    assert_eq!(
        config.regions_for(prod),
        strings(&["us-east-1", "eu-west-1"]).as_slice()
    );
    let research = &config.accounts[1];
    assert_eq!(research.id, "444455556666");
    assert_eq!(
        config.regions_for(research),
        strings(&["eu-west-1", "eu-central-1"]).as_slice()
    );
    let params = config.control_params();
    assert_eq!(params.required_tag_keys.len(), 3);
    assert_eq!(params.supported_platforms, strings(&["notebook-al2023-v1"]));

    assert_eq!(config.mode, Mode::Enforce);
    assert!(!config.enforces("111122223333"));
    assert!(config.enforces("444455556666"));
    assert_eq!(config.action(ControlId::SageMaker8), Action::Fix);
    assert_eq!(config.action(ControlId::SageMaker4), Action::Ignore);
    assert_eq!(config.action(ControlId::SageMaker1), Action::Flag);
    assert_eq!(config.action(ControlId::SageMaker3), Action::Fix);
    assert_eq!(config.actions.len(), 8);
    assert_eq!(config.remediation.tag_values.len(), 3);
    assert_eq!(config.remediation.step_timeout(), Duration::from_secs(2700));
    assert_eq!(
        config.daemon.intake_queue_url(),
        Some("https://sqs.us-east-1.amazonaws.com/999988887777/sagemaker-remediator-events")
    );
    assert_eq!(config.daemon.listen_addr().map(|a| a.port()), Ok(9464));
    assert!((config.aws.requests_per_second - 5.0).abs() < f64::EPSILON);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn file_overrides_defaults_and_keeps_the_rest() {
    let config = load(
        r#"
        [audit]
        concurrency = 4
        regions = ["us-east-1"]
        [log]
        format = "json"
        "#,
    )
    .expect("loads");
    assert_eq!(config.audit.concurrency, 4);
    assert_eq!(config.audit.regions, strings(&["us-east-1"]));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "info");
    assert_eq!(config.controls, ControlsConfig::default());
}

#[test]
fn env_overrides_file() {
    let config = Config::load_from(
        Some(
            r#"
            [audit]
            concurrency = 4
            regions = ["us-east-1"]
            [controls]
            required_tag_keys = ["owner"]
            "#,
        ),
        &[
            ("SMR_AUDIT__CONCURRENCY", "8"),
            ("SMR_CONTROLS__REQUIRED_TAG_KEYS", r#"["owner","team"]"#),
            ("SMR_LOG__FORMAT", "json"),
            ("SMR_LOG__LEVEL", "sagemaker_remediator=debug"),
            ("PATH", "/usr/bin"),
            ("SMR_CONFIG", "/etc/smr.toml"),
        ],
    )
    .expect("loads");
    assert_eq!(config.audit.concurrency, 8);
    assert_eq!(config.audit.regions, strings(&["us-east-1"]));
    assert_eq!(
        config.controls.required_tag_keys,
        strings(&["owner", "team"])
    );
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "sagemaker_remediator=debug");
}

#[test]
fn env_can_set_the_accounts_list() {
    let config = Config::load_from(
        Some("[[accounts]]\nid = \"999999999999\"\n"),
        &[(
            "SMR_ACCOUNTS",
            r#"[{id="111122223333", role_arn="arn:aws:iam::111122223333:role/A", external_id="ext-1", regions=["eu-west-1"]}]"#,
        )],
    )
    .expect("loads");
    assert_eq!(config.accounts.len(), 1);
    assert_eq!(config.accounts[0].id, "111122223333");
    assert_eq!(config.accounts[0].external_id.as_deref(), Some("ext-1"));
    assert_eq!(config.accounts[0].regions, strings(&["eu-west-1"]));
}

#[test]
fn unknown_key_in_file_is_reported_with_a_suggestion() {
    let errors = errors("[audit]\nconcurrancy = 4\n", &[]);
    assert_eq!(errors.keys(), ["audit.concurrancy"]);
    let problem = &errors.problems[0];
    assert!(problem.message.starts_with("unknown key"), "{problem}");
    assert!(problem.message.contains("`concurrency`"), "{problem}");
    assert_eq!(problem.source.as_deref(), Some("config file"));
    assert!(errors
        .to_string()
        .starts_with("audit.concurrancy: unknown key"));
}

#[test]
fn unknown_top_level_key_lists_the_known_ones() {
    let errors = errors("[metrics]\nport = 9090\n", &[]);
    assert_eq!(errors.keys(), ["metrics"]);
    assert!(errors.problems[0].message.contains("`controls`"));
}

#[test]
fn unknown_key_in_an_account_is_reported() {
    let errors = errors(
        "[[accounts]]\nid = \"111122223333\"\nrole = \"arn:aws:iam::111122223333:role/A\"\n",
        &[],
    );
    assert_eq!(errors.keys(), ["accounts[0].role"]);
    assert!(errors.problems[0].message.contains("`role_arn`"));
}

#[test]
fn unknown_env_variable_is_reported_with_its_name() {
    let errors = errors("", &[("SMR_AUDT__CONCURRENCY", "8")]);
    assert_eq!(errors.keys(), ["audt"]);
    let problem = &errors.problems[0];
    assert!(problem.message.starts_with("unknown key"));
    assert!(problem.message.contains("`audit`"));
    assert_eq!(
        problem.source.as_deref(),
        Some("environment variable SMR_AUDT__CONCURRENCY")
    );
}

#[test]
fn unknown_nested_env_key_is_reported() {
    let errors = errors("", &[("SMR_LOG__FROMAT", "json")]);
    assert_eq!(errors.keys(), ["log.fromat"]);
    assert!(errors.problems[0].message.contains("`format`"));
}

#[test]
fn malformed_env_name_is_reported() {
    let errors = errors("", &[("SMR_AUDIT__", "8")]);
    assert_eq!(errors.problems.len(), 1);
    assert_eq!(
        errors.problems[0].source.as_deref(),
        Some("environment variable SMR_AUDIT__")
    );
}

#[test]
fn env_type_error_names_the_variable() {
    let errors = errors(
        "[audit]\nconcurrency = 4\n",
        &[("SMR_AUDIT__CONCURRENCY", "many")],
    );
    assert_eq!(errors.keys(), ["audit.concurrency"]);
    assert!(errors.problems[0].message.contains("expected an integer"));
    assert_eq!(
        errors.problems[0].source.as_deref(),
        Some("environment variable SMR_AUDIT__CONCURRENCY")
    );
}

#[test]
fn env_accounts_as_a_table_is_a_clear_problem() {
    let errors = errors("", &[("SMR_ACCOUNTS__0__ID", "111122223333")]);
    assert_eq!(errors.keys(), ["accounts"]);
    assert!(errors.problems[0].message.contains("SMR_ACCOUNTS='["));
}

#[test]
fn several_problems_in_one_file_are_reported_together() {
    let errors = errors(
        r#"
        [controls]
        required_tag_keys = ["owner", 7, "aws:createdBy"]
        platform_target = "notebook-al2-v2"

        [audit]
        concurrency = "many"
        concurrancy = 4
        regions = ["us-east-1", "US-EAST-1"]

        [log]
        format = "xml"

        [[accounts]]
        id = 111122223333
        colour = "blue"

        [[accounts]]
        id = "444455556666"
        external_id = "x"
        "#,
        &[],
    );
    let keys = errors.keys();
    assert_eq!(
        keys,
        [
            // schema and type problems, in key order
            "accounts[0].colour",
            "accounts[0].id",
            "audit.concurrancy",
            "audit.concurrency",
            "controls.required_tag_keys[1]",
            "log.format",
            // semantic problems
            "controls.platform_target",
            "audit.regions[1]",
            "accounts[1].external_id",
            "accounts[1].external_id",
        ],
        "{errors}"
    );
    assert_eq!(errors.problems.len(), 10);
    assert!(errors
        .find("accounts[0].id")
        .is_some_and(|p| p.message.contains("quote")));
    assert!(errors
        .find("audit.concurrency")
        .is_some_and(|p| p.message.contains("string \"many\"")));
    assert!(errors
        .find("log.format")
        .is_some_and(|p| p.message.contains("\"xml\"")));
    assert!(errors
        .problems
        .iter()
        .all(|p| p.source.as_deref() == Some("config file")));
    assert_eq!(errors.to_string().lines().count(), 10);
}

#[test]
fn semantic_problems_from_unreadable_values_are_not_reported_twice() {
    // supported_platforms has a type error: platform_target is not checked against the
    // default list; the account's id has a type error: no spurious id or role problems.
    let errors = errors(
        r#"
        [controls]
        supported_platforms = "notebook-al2-v2"
        platform_target = "notebook-al2-v2"
        [[accounts]]
        id = 1
        role_arn = "arn:aws:iam::111122223333:role/A"
        "#,
        &[],
    );
    assert_eq!(
        errors.keys(),
        ["accounts[0].id", "controls.supported_platforms"],
        "{errors}"
    );
}

#[test]
fn missing_account_id_is_reported() {
    let errors = errors("[[accounts]]\nregions = [\"us-east-1\"]\n", &[]);
    assert_eq!(errors.keys(), ["accounts[0].id"]);
    assert!(errors.problems[0].message.starts_with("missing"));
}

#[test]
fn section_of_the_wrong_type_is_reported() {
    let errors = errors("audit = 5\naccounts = \"all\"\n", &[]);
    assert_eq!(errors.keys(), ["accounts", "audit"]);
}

#[test]
fn invalid_toml_is_reported_with_its_position() {
    let errors = errors("[audit]\nconcurrency = \n", &[]);
    assert_eq!(errors.problems.len(), 1);
    let problem = &errors.problems[0];
    assert_eq!(problem.key, "");
    assert!(problem.message.contains("line 2"), "{problem}");
    assert_eq!(problem.source.as_deref(), Some("config file"));
}

#[test]
fn load_reads_the_file_and_names_it_as_source() {
    // `load` also reads the process environment, which may hold SMR_* variables of whoever
    // runs the tests: only look at the key written here.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("smr.toml");
    std::fs::write(&path, "[audit]\nconcurrency = 0\n").expect("write");
    let errors = Config::load(Some(&path)).expect_err("concurrency 0");
    let problem = errors
        .find("audit.concurrency")
        .expect("concurrency problem");
    let shown = path.display().to_string();
    assert_eq!(problem.source.as_deref(), Some(shown.as_str()));

    std::fs::write(&path, "[audit]\nconcurrency = 3\n").expect("write");
    let clean_env = std::env::vars_os().all(|(k, _)| !has_env_prefix(&k.to_string_lossy()));
    if clean_env {
        let config = Config::load(Some(&path)).expect("loads");
        assert_eq!(config.audit.concurrency, 3);
    }
}

#[test]
fn load_with_a_missing_file_is_a_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.toml");
    let errors = Config::load(Some(&path)).expect_err("missing file");
    let expected = format!("config file not found: {}", path.display());
    assert!(
        errors.problems.iter().any(|p| p.message == expected),
        "{errors}"
    );
}

#[test]
fn concurrency_bounds() {
    for (concurrency, ok) in [(0, false), (1, true), (256, true), (257, false)] {
        let mut config = Config::default();
        config.audit.concurrency = concurrency;
        assert_eq!(config.validate().is_ok(), ok, "concurrency {concurrency}");
    }
    let errors = errors("[audit]\nconcurrency = -1\n", &[]);
    assert_eq!(errors.keys(), ["audit.concurrency"]);
    let errors = super::tests::errors("[audit]\nconcurrency = 1.5\n", &[]);
    assert!(errors.problems[0].message.contains("expected an integer"));
}

#[test]
fn required_tag_key_count_bounds() {
    let mut config = Config::default();
    config.controls.required_tag_keys = (1..=6).map(|i| format!("k{i}")).collect();
    assert!(config.validate().is_ok());
    config.controls.required_tag_keys.push("k7".to_string());
    assert_eq!(keys_of(&config), ["controls.required_tag_keys"]);
}

#[test]
fn required_tag_key_rules() {
    let mut config = Config::default();
    config.controls.required_tag_keys = vec![
        "owner".to_string(),
        String::new(),
        "aws:cloudformation:stack-name".to_string(),
        "AWS:thing".to_string(),
        "owner".to_string(),
        "x".repeat(129),
    ];
    assert_eq!(
        keys_of(&config),
        [
            "controls.required_tag_keys[1]",
            "controls.required_tag_keys[2]",
            "controls.required_tag_keys[3]",
            "controls.required_tag_keys[4]",
            "controls.required_tag_keys[5]",
        ]
    );
    config.controls.required_tag_keys = vec!["x".repeat(128), "cost center/é:=+-@_.".into()];
    assert!(config.validate().is_ok(), "{:?}", problems_of(&config));
    config.controls.required_tag_keys = vec!["team#1".to_string()];
    assert_eq!(keys_of(&config), ["controls.required_tag_keys[0]"]);
}

#[test]
fn platform_rules() {
    let mut config = Config::default();
    config.controls.supported_platforms = Vec::new();
    assert_eq!(keys_of(&config), ["controls.supported_platforms"]);

    config.controls.supported_platforms = strings(&["notebook-al2023-v1", ""]);
    assert_eq!(keys_of(&config), ["controls.supported_platforms[1]"]);

    config.controls.supported_platforms = strings(&["notebook-al2023-v1"]);
    config.controls.platform_target = "notebook-al2-v2".to_string();
    assert_eq!(keys_of(&config), ["controls.platform_target"]);

    config.controls.platform_target = String::new();
    assert_eq!(keys_of(&config), ["controls.platform_target"]);

    config.controls.supported_platforms = strings(&["notebook-al2-v2", "notebook-al2-v3"]);
    config.controls.platform_target = "notebook-al2-v2".to_string();
    assert!(config.validate().is_ok());
}

#[test]
fn log_level_rules() {
    let mut config = Config::default();
    config.log.level = " ".to_string();
    assert_eq!(keys_of(&config), ["log.level"]);
    config.log.level = "sagemaker_remediator=debug,info".to_string();
    assert!(config.validate().is_ok());
}

#[test]
fn region_rules() {
    for good in [
        "us-east-1",
        "us-gov-west-1",
        "cn-north-1",
        "ap-southeast-7",
        "us-isob-east-1",
    ] {
        assert!(is_region(good), "{good}");
    }
    for bad in [
        "",
        "us-east",
        "US-EAST-1",
        "useast1",
        "us-east-1a",
        "us--east-1",
        "u-east-1",
        "us-east-",
    ] {
        assert!(!is_region(bad), "{bad}");
    }
    let mut config = Config::default();
    config.audit.regions = strings(&["us-east-1", "eu-west-1", "us-east-1", "mars-1"]);
    assert_eq!(keys_of(&config), ["audit.regions[2]", "audit.regions[3]"]);

    let config = with_accounts(vec![AccountConfig {
        regions: strings(&["eu-west-1", "EU-WEST-1", "eu-west-1"]),
        ..account("111122223333")
    }]);
    assert_eq!(
        keys_of(&config),
        ["accounts[0].regions[1]", "accounts[0].regions[2]"]
    );
}

#[test]
fn account_id_rules() {
    let config = with_accounts(vec![
        account("111122223333"),
        account("11112222333"),
        account("1111222233334"),
        account("11112222333a"),
        account("111122223333"),
    ]);
    assert_eq!(
        keys_of(&config),
        [
            "accounts[1].id",
            "accounts[2].id",
            "accounts[3].id",
            "accounts[4].id",
        ]
    );
    assert!(problems_of(&config)[3].contains("duplicate"));
}

#[test]
fn role_arn_rules() {
    for good in [
        "arn:aws:iam::111122223333:role/Audit",
        "arn:aws:iam::111122223333:role/security/team/Audit-Role_1+=,.@",
        "arn:aws-us-gov:iam::111122223333:role/Audit",
        "arn:aws-cn:iam::111122223333:role/Audit",
    ] {
        assert_eq!(parse_role_arn(good), Ok("111122223333"), "{good}");
    }
    for bad in [
        "",
        "arn:aws:iam::111122223333:user/Audit",
        "arn:aws:sts::111122223333:role/Audit",
        "arn:aws:iam:us-east-1:111122223333:role/Audit",
        "arn:aws:iam::11112222333:role/Audit",
        "arn:azure:iam::111122223333:role/Audit",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:iam::111122223333:role//Audit",
        "arn:aws:iam::111122223333:role/Audit#1",
        "arn:aws:iam::111122223333",
    ] {
        assert!(parse_role_arn(bad).is_err(), "{bad}");
    }
    let config = with_accounts(vec![
        AccountConfig {
            role_arn: Some("arn:aws:iam::444455556666:role/Audit".to_string()),
            ..account("111122223333")
        },
        AccountConfig {
            role_arn: Some("not-an-arn".to_string()),
            ..account("444455556666")
        },
    ]);
    assert_eq!(
        keys_of(&config),
        ["accounts[0].role_arn", "accounts[1].role_arn"]
    );
    assert!(problems_of(&config)[0].contains("444455556666"));
}

#[test]
fn external_id_bounds_and_rules() {
    for (len, ok) in [(1, false), (2, true), (1224, true), (1225, false)] {
        let config = with_accounts(vec![AccountConfig {
            external_id: Some("e".repeat(len)),
            ..with_role("111122223333")
        }]);
        assert_eq!(config.validate().is_ok(), ok, "external_id of {len} chars");
    }
    let config = with_accounts(vec![
        AccountConfig {
            external_id: Some("Ab9_+=,.@:/-".to_string()),
            ..with_role("111122223333")
        },
        AccountConfig {
            external_id: Some("has space".to_string()),
            ..with_role("444455556666")
        },
        AccountConfig {
            external_id: Some("no-role".to_string()),
            ..account("777788889999")
        },
    ]);
    assert_eq!(
        keys_of(&config),
        ["accounts[1].external_id", "accounts[2].external_id"]
    );
    assert!(problems_of(&config)[1].contains("role_arn"));
}

#[test]
fn session_name_bounds_and_rules() {
    for (len, ok) in [(1, false), (2, true), (64, true), (65, false)] {
        let config = with_accounts(vec![AccountConfig {
            session_name: Some("s".repeat(len)),
            ..with_role("111122223333")
        }]);
        assert_eq!(config.validate().is_ok(), ok, "session_name of {len} chars");
    }
    let config = with_accounts(vec![
        AccountConfig {
            session_name: Some("smr_+=,.@-1".to_string()),
            ..with_role("111122223333")
        },
        AccountConfig {
            session_name: Some("smr:colon".to_string()),
            ..with_role("444455556666")
        },
        AccountConfig {
            session_name: Some("no-role".to_string()),
            ..account("777788889999")
        },
    ]);
    assert_eq!(
        keys_of(&config),
        ["accounts[1].session_name", "accounts[2].session_name"]
    );
}

#[test]
fn semantic_problems_carry_their_source() {
    let errors = errors(
        "[[accounts]]\nid = \"111122223333\"\n",
        &[("SMR_AUDIT__CONCURRENCY", "0")],
    );
    assert_eq!(errors.keys(), ["audit.concurrency"]);
    assert_eq!(
        errors.problems[0].source.as_deref(),
        Some("environment variable SMR_AUDIT__CONCURRENCY")
    );
}

#[test]
fn regions_for_falls_back_to_audit_regions() {
    let mut config = Config::default();
    config.audit.regions = strings(&["us-east-1"]);
    let plain = account("111122223333");
    let own = AccountConfig {
        regions: strings(&["eu-west-1"]),
        ..account("444455556666")
    };
    assert_eq!(
        config.regions_for(&plain),
        strings(&["us-east-1"]).as_slice()
    );
    assert_eq!(config.regions_for(&own), strings(&["eu-west-1"]).as_slice());
}

#[test]
fn control_params_mirror_the_controls_section() {
    assert_eq!(Config::default().control_params(), Params::default());
}

#[test]
fn suggestions() {
    assert_eq!(
        suggest("concurrancy", fields::<AuditConfig>()),
        Some("concurrency")
    );
    assert_eq!(suggest("region", fields::<AuditConfig>()), Some("regions"));
    assert_eq!(
        suggest("requiredTagKeys", fields::<ControlsConfig>()),
        Some("required_tag_keys")
    );
    assert_eq!(suggest("account", fields::<Config>()), Some("accounts"));
    assert_eq!(suggest("metrics", fields::<Config>()), None);
    assert_eq!(suggest("xy", fields::<AccountConfig>()), None);
    assert_eq!(suggest("ids", fields::<AccountConfig>()), Some("id"));
}

#[test]
fn display_is_one_problem_per_line() {
    let errors = ConfigErrors {
        problems: vec![
            ConfigProblem {
                key: "audit.concurrency".to_string(),
                message: "must be from 1 to 256, found 0".to_string(),
                source: None,
            },
            ConfigProblem {
                key: "log.level".to_string(),
                message: "must not be empty".to_string(),
                source: Some("environment variable SMR_LOG__LEVEL".to_string()),
            },
        ],
    };
    assert_eq!(
        errors.to_string(),
        "audit.concurrency: must be from 1 to 256, found 0\n\
         log.level: must not be empty (from environment variable SMR_LOG__LEVEL)"
    );
}

// -----------------------------------------------------------------------------------------
// mode, actions, remediation, daemon, aws, accounts[].enforce

#[test]
fn new_defaults_are_safe() {
    let config = Config::default();
    assert_eq!(config.mode, Mode::Audit);
    assert_eq!(config.actions, Action::defaults());
    let fix: Vec<ControlId> = ControlId::ALL
        .into_iter()
        .filter(|&c| config.action(c) == Action::Fix)
        .collect();
    assert_eq!(
        fix,
        [
            ControlId::SageMaker3,
            ControlId::SageMaker6,
            ControlId::SageMaker7
        ]
    );
    assert_eq!(config.action(ControlId::SageMaker8), Action::Flag);
    assert!(!config.enforces("111122223333"));
    assert_eq!(
        config.remediation.exemption_tag_key,
        "sagemaker-remediator:exempt"
    );
    assert_eq!(
        config.remediation.flag_tag_key,
        "sagemaker-remediator:recreate-required"
    );
    assert_eq!(config.remediation.recreate_subnet(), None);
    assert_eq!(config.remediation.step_timeout(), Duration::from_secs(1800));
    assert_eq!(config.remediation.poll_interval(), Duration::from_secs(15));
    assert_eq!(
        config.remediation.max_poll_interval(),
        Duration::from_secs(60)
    );
    assert_eq!(config.remediation.max_update_attempts, 3);
    assert_eq!(config.daemon.intake_queue_url(), None);
    assert_eq!(config.daemon.receive_concurrency, 1);
    assert_eq!(config.daemon.reconcile_concurrency, 8);
    assert_eq!(
        config.daemon.sweep_interval(),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        config.daemon.listen_addr(),
        Ok(SocketAddr::from(([127, 0, 0, 1], 9464)))
    );
    assert_eq!(config.daemon.shutdown_grace(), Duration::from_secs(25));
    assert_eq!(config.daemon.error_backoff(), Duration::from_secs(5));
    assert_eq!(config.daemon.max_error_backoff(), Duration::from_secs(900));
    assert_eq!(config.daemon.claim_ttl(), Duration::from_secs(60));
    assert_eq!(
        config.daemon.store_path,
        PathBuf::from("sagemaker-remediator.db")
    );
    assert_eq!(config.aws.call_timeout(), Duration::from_secs(60));
    assert!(config.validate().is_ok());
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn default_toml_documents_every_key() {
    let sections: [(&str, &[&str]); 14] = [
        ("", &["mode"]),
        ("controls", fields::<ControlsConfig>()),
        ("remediation", fields::<RemediationConfig>()),
        ("audit", fields::<AuditConfig>()),
        ("daemon", fields::<DaemonConfig>()),
        ("notifications", fields::<NotificationsConfig>()),
        ("findings", fields::<FindingsConfig>()),
        ("approvals", fields::<ApprovalsConfig>()),
        ("aws", fields::<AwsConfig>()),
        ("log", fields::<LogConfig>()),
        ("accounts", fields::<AccountConfig>()),
        ("exemptions", fields::<Exemption>()),
        ("windows", fields::<MaintenanceWindow>()),
        ("limits", fields::<LimitsConfig>()),
    ];
    for (section, keys) in sections {
        if !section.is_empty() && !["accounts", "exemptions", "windows"].contains(&section) {
            assert!(
                DEFAULT_TOML.contains(&format!("\n[{section}]\n")),
                "[{section}]"
            );
        }
        for key in keys {
            let set = format!("\n{key} = ");
            let commented = format!("\n# {key} = ");
            assert!(
                DEFAULT_TOML.contains(&set) || DEFAULT_TOML.contains(&commented),
                "{section}.{key} is not in default.toml"
            );
        }
    }
    for control in ControlId::ALL {
        assert!(
            DEFAULT_TOML.contains(&format!("\n\"{control}\" = ")),
            "{control}"
        );
    }
}

#[test]
fn config_round_trips_through_serde() {
    let mut config = Config {
        mode: Mode::Enforce,
        accounts: vec![AccountConfig {
            enforce: true,
            ..account("111122223333")
        }],
        ..Config::default()
    };
    config.actions.insert(ControlId::SageMaker8, Action::Fix);
    config
        .remediation
        .tag_values
        .insert("owner".to_string(), "me".to_string());
    let text = toml::to_string(&config).expect("serializes");
    assert!(text.contains("\"SageMaker.8\" = \"fix\""), "{text}");
    assert_eq!(load(&text).expect("loads back"), config);
    let parsed: Config = toml::from_str(&text).expect("serde deserializes");
    assert_eq!(parsed, config);
}

#[test]
fn a_partial_actions_table_keeps_the_other_defaults() {
    let config = load("[actions]\n\"SageMaker.8\" = \"fix\"\n\"SageMaker.3\" = \"ignore\"\n")
        .expect("loads");
    assert_eq!(config.actions.len(), 8);
    assert_eq!(config.action(ControlId::SageMaker8), Action::Fix);
    assert_eq!(config.action(ControlId::SageMaker3), Action::Ignore);
    assert_eq!(config.action(ControlId::SageMaker6), Action::Fix);
    assert_eq!(config.action(ControlId::SageMaker1), Action::Flag);
}

#[test]
fn action_falls_back_to_the_default_on_a_hand_built_config() {
    let config = Config {
        actions: BTreeMap::new(),
        ..Config::default()
    };
    for control in ControlId::ALL {
        assert_eq!(config.action(control), Action::default_for(control));
    }
}

#[test]
fn env_overrides_the_new_sections() {
    let config = Config::load_from(
        Some("[daemon]\nreceive_concurrency = 4\n[actions]\n\"SageMaker.3\" = \"flag\"\n"),
        &[
            ("SMR_MODE", "enforce"),
            (
                "SMR_DAEMON__QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/111122223333/smr-events",
            ),
            ("SMR_DAEMON__LISTEN", "0.0.0.0:9464"),
            ("SMR_DAEMON__SWEEP_JITTER", "0"),
            ("SMR_DAEMON__STORE_PATH", "/data/smr.db"),
            ("SMR_ACTIONS", r#"{"SageMaker.8"="fix"}"#),
            (
                "SMR_REMEDIATION__TAG_VALUES",
                r#"{owner="platform-team", "cost center"="4711"}"#,
            ),
            (
                "SMR_REMEDIATION__RECREATE_SUBNET_ID",
                "subnet-0123456789abcdef0",
            ),
            ("SMR_AWS__REQUESTS_PER_SECOND", "2.5"),
            ("SMR_AWS__CALL_TIMEOUT_SECS", "30"),
            (
                "SMR_ACCOUNTS",
                r#"[{id="111122223333", enforce=true}, {id="444455556666"}]"#,
            ),
        ],
    )
    .expect("loads");
    assert_eq!(config.mode, Mode::Enforce);
    assert_eq!(
        config.daemon.queue_url,
        "https://sqs.eu-west-1.amazonaws.com/111122223333/smr-events"
    );
    assert_eq!(config.daemon.receive_concurrency, 4);
    assert_eq!(config.daemon.listen, "0.0.0.0:9464");
    assert_eq!(config.daemon.sweep_jitter, 0.0);
    assert_eq!(config.daemon.store_path, PathBuf::from("/data/smr.db"));
    // tables merge key by key: the file's SageMaker.3 and the env's SageMaker.8 both count
    assert_eq!(config.action(ControlId::SageMaker8), Action::Fix);
    assert_eq!(config.action(ControlId::SageMaker3), Action::Flag);
    assert_eq!(config.action(ControlId::SageMaker6), Action::Fix);
    assert_eq!(
        config
            .remediation
            .tag_values
            .get("cost center")
            .map(String::as_str),
        Some("4711")
    );
    assert_eq!(
        config.remediation.recreate_subnet(),
        Some("subnet-0123456789abcdef0")
    );
    assert!((config.aws.requests_per_second - 2.5).abs() < f64::EPSILON);
    assert_eq!(config.aws.call_timeout(), Duration::from_secs(30));
    assert!(config.enforces("111122223333"));
    assert!(!config.enforces("444455556666"));
}

#[test]
fn env_values_that_look_like_other_types_stay_strings() {
    let config = Config::load_from(
        None,
        &[
            ("SMR_DAEMON__LISTEN", "[::]:9464"),
            (
                "SMR_DAEMON__QUEUE_URL",
                "http://localhost:4566/000000000000/q",
            ),
            ("SMR_REMEDIATION__FLAG_TAG_KEY", "compliance:recreate"),
        ],
    )
    .expect("loads");
    assert_eq!(config.daemon.listen, "[::]:9464");
    assert_eq!(
        config.daemon.queue_url,
        "http://localhost:4566/000000000000/q"
    );
    assert_eq!(config.remediation.flag_tag_key, "compliance:recreate");
}

#[test]
fn env_problems_in_the_new_sections_name_the_variable() {
    let errors = errors(
        "",
        &[
            ("SMR_ACTIONS", r#"{"SageMaker.1"="fix"}"#),
            ("SMR_DAEMON__LISTEN", "localhost"),
            ("SMR_MODE", "on"),
        ],
    );
    assert_eq!(
        errors.keys(),
        ["mode", "actions.\"SageMaker.1\"", "daemon.listen"],
        "{errors}"
    );
    for (problem, var) in
        errors
            .problems
            .iter()
            .zip(["SMR_MODE", "SMR_ACTIONS", "SMR_DAEMON__LISTEN"])
    {
        assert_eq!(
            problem.source.as_deref(),
            Some(format!("environment variable {var}").as_str())
        );
    }
}

#[test]
fn unknown_keys_in_the_new_sections_are_reported() {
    let errors = errors(
        r#"
        modes = "audit"
        [actions]
        "SageMaker.9" = "flag"
        "sagemaker.3" = "fix"
        [remediation]
        exemption_tag = "x"
        [daemon]
        queue = "https://example.com/q"
        [aws]
        rps = 5
        [[accounts]]
        id = "111122223333"
        enforced = true
        "#,
        &[],
    );
    assert_eq!(
        errors.keys(),
        [
            "accounts[0].enforced",
            "actions.\"SageMaker.9\"",
            "actions.\"sagemaker.3\"",
            "aws.rps",
            "daemon.queue",
            "modes",
            "remediation.exemption_tag",
        ],
        "{errors}"
    );
    let message = |key: &str| {
        errors
            .find(key)
            .map(|p| p.message.clone())
            .unwrap_or_default()
    };
    assert!(message("accounts[0].enforced").contains("`enforce`"));
    assert!(message("actions.\"SageMaker.9\"").contains("SageMaker.1 to SageMaker.8"));
    assert!(message("actions.\"sagemaker.3\"").contains("`SageMaker.3`"));
    assert!(message("daemon.queue").contains("`queue_url`"));
    assert!(message("modes").contains("`mode`"));
    assert!(message("remediation.exemption_tag").contains("`exemption_tag_key`"));
    assert!(message("aws.rps").contains("`requests_per_second`"));
}

#[test]
fn type_errors_in_the_new_sections_are_reported() {
    let errors = errors(
        r#"
        mode = "fix"
        [actions]
        "SageMaker.3" = "repair"
        "SageMaker.6" = true
        [remediation]
        tag_values = { owner = 1, team = "ml" }
        step_timeout_secs = -1
        poll_interval_secs = 1.5
        recreate_security_group_ids = "sg-01234567"
        [daemon]
        sweep_jitter = "some"
        store_path = 5
        receive_concurrency = -2
        [aws]
        requests_per_second = "fast"
        [[accounts]]
        id = "111122223333"
        enforce = "yes"
        "#,
        &[],
    );
    assert_eq!(
        errors.keys(),
        [
            "accounts[0].enforce",
            "actions.\"SageMaker.3\"",
            "actions.\"SageMaker.6\"",
            "aws.requests_per_second",
            "daemon.receive_concurrency",
            "daemon.store_path",
            "daemon.sweep_jitter",
            "mode",
            "remediation.poll_interval_secs",
            "remediation.recreate_security_group_ids",
            "remediation.step_timeout_secs",
            "remediation.tag_values.owner",
        ],
        "{errors}"
    );
    let message = |key: &str| {
        errors
            .find(key)
            .map(|p| p.message.clone())
            .unwrap_or_default()
    };
    assert!(message("mode").contains("\"audit\" or \"enforce\""));
    assert!(
        message("actions.\"SageMaker.3\"").contains("\"fix\", \"approve\", \"flag\" or \"ignore\"")
    );
    assert!(message("accounts[0].enforce").contains("true or false"));
    assert!(message("daemon.receive_concurrency").contains("from 1 to 10"));
    assert!(message("remediation.step_timeout_secs").contains("integer -1"));
    assert!(message("remediation.poll_interval_secs").contains("expected an integer"));
}

#[test]
fn fix_is_only_valid_for_in_place_controls() {
    for control in ControlId::ALL {
        let mut config = Config::default();
        config.actions.insert(control, Action::Fix);
        let fixable = matches!(
            control,
            ControlId::SageMaker3
                | ControlId::SageMaker4
                | ControlId::SageMaker6
                | ControlId::SageMaker7
                | ControlId::SageMaker8
        );
        assert_eq!(config.validate().is_ok(), fixable, "{control}");
        if !fixable {
            let problems = problems_of(&config);
            assert_eq!(problems.len(), 1);
            assert!(
                problems[0].starts_with(&format!("actions.\"{control}\": {control} cannot")),
                "{problems:?}"
            );
        }
        for action in [Action::Flag, Action::Ignore] {
            config.actions.insert(control, action);
            assert!(config.validate().is_ok(), "{control} {action}");
        }
    }
    // all at once, with the file as source
    let errors = errors(
        "[actions]\n\"SageMaker.1\" = \"fix\"\n\"SageMaker.5\" = \"approve\"\n",
        &[],
    );
    assert_eq!(
        errors.keys(),
        ["actions.\"SageMaker.1\"", "actions.\"SageMaker.5\""]
    );
    assert_eq!(errors.problems[0].source.as_deref(), Some("config file"));
}

/// `validate()` accepts `set(config, value)` exactly for the `ok` values; problems are
/// reported at `key` only.
fn check_bounds<T: Copy + fmt::Debug>(
    key: &str,
    set: impl Fn(&mut Config, T),
    cases: &[(T, bool)],
) {
    for &(value, ok) in cases {
        let mut config = Config::default();
        set(&mut config, value);
        let keys = keys_of(&config);
        if ok {
            assert!(
                keys.is_empty(),
                "{key} = {value:?}: {:?}",
                problems_of(&config)
            );
        } else {
            assert_eq!(keys, [key], "{key} = {value:?}");
        }
    }
}

#[test]
fn daemon_bounds() {
    check_bounds(
        "daemon.receive_concurrency",
        |c, v| c.daemon.receive_concurrency = v,
        &[(0, false), (1, true), (10, true), (11, false)],
    );
    check_bounds(
        "daemon.reconcile_concurrency",
        |c, v| c.daemon.reconcile_concurrency = v,
        &[(0, false), (1, true), (256, true), (257, false)],
    );
    check_bounds(
        "daemon.sweep_jitter",
        |c, v| c.daemon.sweep_jitter = v,
        &[
            (-0.01, false),
            (0.0, true),
            (0.5, true),
            (0.51, false),
            (f64::NAN, false),
        ],
    );
    check_bounds(
        "daemon.sweep_interval_secs",
        |c, v| c.daemon.sweep_interval_secs = v,
        &[(0, true), (1, true), (u64::MAX, true)],
    );
    check_bounds(
        "daemon.shutdown_grace_secs",
        |c, v| c.daemon.shutdown_grace_secs = v,
        &[(0, false), (1, true), (3600, true), (3601, false)],
    );
    check_bounds(
        "daemon.error_backoff_secs",
        |c, v| {
            c.daemon.error_backoff_secs = v;
            c.daemon.max_error_backoff_secs = 86_400;
        },
        &[(0, false), (1, true), (86_400, true), (86_401, false)],
    );
    check_bounds(
        "daemon.max_error_backoff_secs",
        |c, v| c.daemon.max_error_backoff_secs = v,
        &[
            (0, false),
            (4, false),
            (5, true),
            (86_400, true),
            (86_401, false),
        ],
    );
    check_bounds(
        "daemon.claim_ttl_secs",
        |c, v| c.daemon.claim_ttl_secs = v,
        &[(4, false), (5, true), (3600, true), (3601, false)],
    );
    check_bounds(
        "daemon.store_path",
        |c, v: &str| c.daemon.store_path = PathBuf::from(v),
        &[
            ("", false),
            ("smr.db", true),
            ("/var/lib/smr/journal.db", true),
        ],
    );
    assert_eq!(
        Config {
            daemon: DaemonConfig {
                sweep_interval_secs: 0,
                ..DaemonConfig::default()
            },
            ..Config::default()
        }
        .daemon
        .sweep_interval(),
        None
    );
}

#[test]
fn queue_url_rules() {
    check_bounds(
        "daemon.queue_url",
        |c, v: &str| c.daemon.queue_url = v.to_string(),
        &[
            ("", true),
            (
                "https://sqs.us-east-1.amazonaws.com/111122223333/smr-events",
                true,
            ),
            ("http://localhost:4566/000000000000/smr-events", true),
            ("sqs.us-east-1.amazonaws.com/111122223333/q", false),
            ("https://", false),
            ("https:///q", false),
            ("ftp://example.com/q", false),
            ("https://sqs.us-east-1.amazonaws.com/1111 22223333/q", false),
            (" ", false),
        ],
    );
}

#[test]
fn listen_rules() {
    check_bounds(
        "daemon.listen",
        |c, v: &str| c.daemon.listen = v.to_string(),
        &[
            ("127.0.0.1:9464", true),
            ("0.0.0.0:9464", true),
            ("[::]:9464", true),
            ("127.0.0.1:0", true),
            ("localhost:9464", false),
            ("9464", false),
            ("127.0.0.1", false),
            ("", false),
        ],
    );
}

#[test]
fn aws_bounds() {
    check_bounds(
        "aws.requests_per_second",
        |c, v| c.aws.requests_per_second = v,
        &[
            (0.0, false),
            (0.09, false),
            (0.1, true),
            (1000.0, true),
            (1000.5, false),
            (f64::INFINITY, false),
        ],
    );
    check_bounds(
        "aws.call_timeout_secs",
        |c, v| c.aws.call_timeout_secs = v,
        &[(0, false), (1, true), (900, true), (901, false)],
    );
    // integers are fine for a float key
    let config = load("[aws]\nrequests_per_second = 1000\n").expect("loads");
    assert!((config.aws.requests_per_second - 1000.0).abs() < f64::EPSILON);
}

#[test]
fn remediation_bounds() {
    check_bounds(
        "remediation.step_timeout_secs",
        |c, v| c.remediation.step_timeout_secs = v,
        &[(0, false), (1, true), (86_400, true), (86_401, false)],
    );
    check_bounds(
        "remediation.poll_interval_secs",
        |c, v| {
            c.remediation.poll_interval_secs = v;
            c.remediation.max_poll_interval_secs = 3600;
        },
        &[(0, false), (1, true), (3600, true), (3601, false)],
    );
    check_bounds(
        "remediation.max_poll_interval_secs",
        |c, v| c.remediation.max_poll_interval_secs = v,
        &[
            (0, false),
            (14, false),
            (15, true),
            (3600, true),
            (3601, false),
        ],
    );
    check_bounds(
        "remediation.max_update_attempts",
        |c, v| c.remediation.max_update_attempts = v,
        &[(0, false), (1, true), (100, true), (101, false)],
    );
}

#[test]
fn exemption_and_flag_tag_key_rules() {
    for key in ["remediation.exemption_tag_key", "remediation.flag_tag_key"] {
        let set = |c: &mut Config, v: &str| {
            if key.ends_with("exemption_tag_key") {
                c.remediation.exemption_tag_key = v.to_string();
            } else {
                c.remediation.flag_tag_key = v.to_string();
            }
        };
        let long = "k".repeat(128);
        let too_long = "k".repeat(129);
        check_bounds(
            key,
            set,
            &[
                ("", false),
                ("aws:exempt", false),
                ("AWS:exempt", false),
                (long.as_str(), true),
                (too_long.as_str(), false),
                ("team#exempt", false),
                ("compliance/exempt", true),
            ],
        );
    }
    let mut config = Config::default();
    config.remediation.flag_tag_key = config.remediation.exemption_tag_key.clone();
    assert_eq!(keys_of(&config), ["remediation.flag_tag_key"]);
    assert!(problems_of(&config)[0].contains("exempt themselves"));
}

#[test]
fn tag_values_rules() {
    let mut config = Config::default();
    config.remediation.tag_values = [
        ("owner", "platform-team".to_string()),
        ("aws:owner", "x".to_string()),
        ("cost#center", "x".to_string()),
        ("long", "v".repeat(256)),
        ("too-long", "v".repeat(257)),
        ("bad-value", "a;b".to_string()),
        ("empty", String::new()),
        ("sagemaker-remediator:exempt", "yes".to_string()),
        ("sagemaker-remediator:recreate-required", "x".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(
        keys_of(&config),
        [
            "remediation.tag_values.\"aws:owner\"",
            "remediation.tag_values.bad-value",
            "remediation.tag_values.\"cost#center\"",
            "remediation.tag_values.\"sagemaker-remediator:exempt\"",
            "remediation.tag_values.\"sagemaker-remediator:recreate-required\"",
            "remediation.tag_values.too-long",
        ],
        "{:?}",
        problems_of(&config)
    );
    config.remediation.tag_values = [("x".repeat(129), "v".to_string())].into();
    assert_eq!(keys_of(&config).len(), 1);
}

#[test]
fn recreate_network_rules() {
    check_bounds(
        "remediation.recreate_subnet_id",
        |c, v: &str| c.remediation.recreate_subnet_id = v.to_string(),
        &[
            ("", true),
            ("subnet-0123abcd", true),
            ("subnet-0123456789abcdef0", true),
            ("subnet-0123ABCD", false),
            ("subnet-0123abc", false),
            ("sg-0123abcd", false),
        ],
    );
    let mut config = Config::default();
    config.remediation.recreate_security_group_ids = strings(&["sg-0123abcd"]);
    assert_eq!(
        keys_of(&config),
        ["remediation.recreate_security_group_ids"]
    );
    config.remediation.recreate_subnet_id = "subnet-0123abcd".to_string();
    assert!(config.validate().is_ok());
    config.remediation.recreate_security_group_ids =
        strings(&["sg-0123abcd", "subnet-0123abcd", "sg-0123abcd"]);
    assert_eq!(
        keys_of(&config),
        [
            "remediation.recreate_security_group_ids[1]",
            "remediation.recreate_security_group_ids[2]",
        ]
    );
    config.remediation.recreate_security_group_ids =
        (0..6).map(|i| format!("sg-0123abc{i}")).collect();
    assert_eq!(
        keys_of(&config),
        ["remediation.recreate_security_group_ids"]
    );
}

#[test]
fn enforces_needs_both_opt_ins() {
    let mut config = with_accounts(vec![
        AccountConfig {
            enforce: true,
            ..account("111122223333")
        },
        account("444455556666"),
    ]);
    assert!(!config.enforces("111122223333"), "audit mode");
    config.mode = Mode::Enforce;
    assert!(config.enforces("111122223333"));
    assert!(!config.enforces("444455556666"), "not opted in");
    assert!(!config.enforces("777788889999"), "not listed");
    assert!(!config.enforces(""));
}

#[test]
fn warnings_for_enforce_mode_without_opted_in_accounts() {
    let mut config = Config {
        mode: Mode::Enforce,
        ..Config::default()
    };
    assert!(config.validate().is_ok(), "legal");
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "mode");
    assert!(warnings[0].message.contains("enforce = true"));

    config.accounts = vec![account("111122223333")];
    assert_eq!(config.warnings().len(), 1);

    config.accounts[0].enforce = true;
    config
        .remediation
        .tag_values
        .insert("owner".to_string(), "me".to_string());
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());

    config.mode = Mode::Audit;
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "accounts[0].enforce");
}

#[test]
fn warnings_for_required_tag_keys_without_values() {
    let mut config = Config::default();
    config.controls.required_tag_keys = strings(&["owner", "team", "cost center"]);
    config
        .remediation
        .tag_values
        .insert("owner".to_string(), "me".to_string());
    assert!(config.validate().is_ok(), "legal");
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "remediation.tag_values");
    assert!(warnings[0].message.contains("`team`, `cost center`"));
    assert!(!warnings[0].message.contains("`owner`"));
    assert!(warnings[0].message.contains("SageMaker.6/SageMaker.7"));

    config.actions.insert(ControlId::SageMaker6, Action::Flag);
    assert!(config.warnings()[0].message.contains("SageMaker.7 is set"));
    config.actions.insert(ControlId::SageMaker7, Action::Ignore);
    assert!(config.warnings().is_empty());
}

#[test]
fn warning_for_no_tag_values_only_when_enforcing() {
    let mut config = with_accounts(vec![AccountConfig {
        enforce: true,
        ..account("111122223333")
    }]);
    config.mode = Mode::Enforce;
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "remediation.tag_values");
    assert!(warnings[0].message.contains("flagged instead"));
}

#[test]
fn key_paths_quote_keys_toml_would_quote() {
    let path = KeyPath::root().key("actions").key("SageMaker.3");
    assert_eq!(path.to_string(), "actions.\"SageMaker.3\"");
    let path = KeyPath::root()
        .key("remediation")
        .key("tag_values")
        .key("cost center");
    assert_eq!(path.to_string(), "remediation.tag_values.\"cost center\"");
    let path = KeyPath::root().key("accounts").index(2).key("session_name");
    assert_eq!(path.to_string(), "accounts[2].session_name");
}

#[test]
fn mode_and_action_names() {
    assert_eq!(Mode::Enforce.to_string(), "enforce");
    assert_eq!(Mode::default(), Mode::Audit);
    assert_eq!(Action::Ignore.to_string(), "ignore");
    assert!(fix_unsupported(ControlId::SageMaker3).is_none());
    assert!(fix_unsupported(ControlId::SageMaker2).is_some_and(|w| w.contains("SubnetId")));
}

#[test]
fn approve_is_an_action_for_fixable_controls_only_and_rules_are_checked() {
    let config = load(
        "[actions]\n\"SageMaker.3\" = \"approve\"\n\n[approvals]\nrules = [{ tags = { env = \"prod\" } }]\n",
    )
    .unwrap();
    assert_eq!(config.action(ControlId::SageMaker3), Action::Approve);
    assert_eq!(config.approvals.rules[0].tags["env"], "prod");
    let err = errors(
        "[actions]\n\"SageMaker.1\" = \"approve\"\n\n[approvals]\nexpiry_hours = 0\nrules = [{ accounts = [\"12\"] }]\n",
        &[],
    );
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"actions.\"SageMaker.1\""), "{err}");
    assert!(keys.contains(&"approvals.expiry_hours"), "{err}");
    assert!(keys.contains(&"approvals.rules[0].accounts[0]"), "{err}");
    let err = errors(
        "[approvals]\nrules = [{ controls = [\"SageMaker.9\"] }]\n",
        &[],
    );
    assert_eq!(
        err.problems[0].key, "approvals.rules[0].controls[0]",
        "{err}"
    );
}

#[test]
fn exemptions_are_checked_and_expired_ones_are_warned_about() {
    let config = load(
        "[[exemptions]]\narn = \"arn:aws:sagemaker:*:111122223333:notebook-instance/research-*\"\n\
         controls = [\"SageMaker.3\"]\nreason = \"pilot\"\nexpires = \"2999-12-31\"\n\n\
         [[exemptions]]\narn = \"arn:aws:sagemaker:us-east-1:111122223333:model/old\"\n\
         reason = \"retired soon\"\nexpires = \"2020-01-31\"\n",
    )
    .unwrap();
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "exemptions[1].expires");
    assert!(warnings[0].message.contains("expired on 2020-01-31"));
    let err = errors(
        "[[exemptions]]\narn = \"notebook/*\"\nreason = \" \"\nexpires = \"31.03.2027\"\n",
        &[],
    );
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "exemptions[0].arn",
            "exemptions[0].expires",
            "exemptions[0].reason"
        ],
        "{err}"
    );
}

#[test]
fn maintenance_windows_are_checked() {
    let config = load(
        "[[windows]]\nwhen = \"Sat 22:00-Sun 04:00\"\ntime_zone = \"Europe/Berlin\"\ntags = { env = \"prod\" }\n",
    )
    .unwrap();
    let prod = [crate::model::Tag::new("env", "prod")];
    assert_eq!(config.windows_for("111122223333", &prod).len(), 1);
    assert!(config.windows_for("111122223333", &[]).is_empty());
    let err = errors(
        "[[windows]]\nwhen = \"Sat 22:00-04:00\"\ntime_zone = \"Mars/Olympus\"\n",
        &[],
    );
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["windows[0].time_zone", "windows[0].when"], "{err}");
}

#[test]
fn iac_actions_and_tags_are_checked_like_the_others() {
    let errors = errors(
        "[iac]\ntags = { \"aws:managed\" = \"x\", \"managed-by\" = \"terraform\" }\n[iac.actions]\n\"SageMaker.1\" = \"fix\"\n\"SageMaker.3\" = \"fix\"\n",
        &[],
    );
    assert_eq!(
        errors.keys(),
        ["iac.actions.\"SageMaker.1\"", "iac.tags.\"aws:managed\""]
    );
}

#[test]
fn an_organisation_with_typos_reports_every_problem_at_once() {
    let toml = r#"
mode = "audit"
[organization]
enabled = true
role_arn = "arn:aws:iam::111122223333:role/Fixed"
include_ous = ["ou-ab12-prod0001", "prod"]
exclude_accounts = ["1234"]
include_accounts = ["111122223333"]
enforce_accounts = ["111122223333"]
exclude_ous = ["ou-ab12-prod0001"]
refresh_secs = 5
regoins = ["eu-west-1"]
"#;
    let errors = errors(toml, &[]);
    let keys: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
    for key in [
        "organization.role_arn",
        "organization.include_ous[1]",
        "organization.exclude_accounts[0]",
        "organization.include_ous[0]",
        "organization.refresh_secs",
        "organization.regoins",
    ] {
        assert!(keys.contains(&key), "{key} missing from {errors}");
    }
    let text = errors.to_string();
    assert!(text.contains("{account}"), "{text}");
    assert!(
        text.contains("is also in organization.exclude_ous"),
        "{text}"
    );
    assert!(
        text.contains("regions"),
        "a suggestion for the typo: {text}"
    );
}

#[test]
fn an_organisation_loads_with_its_defaults_and_warns_where_it_is_unused() {
    let config = load("[organization]\nenabled = true\ninclude_ous = [\"r-ab12\"]\n").unwrap();
    assert_eq!(
        config.organization.role_arn,
        "arn:aws:iam::{account}:role/SageMakerRemediator"
    );
    assert_eq!(config.organization.refresh_secs, 3600);
    assert!(config.warnings().is_empty());
    assert!(!config.own_account_only());
    let unused = load("[organization]\nenforce_ous = [\"ou-ab12-prod0001\"]\n").unwrap();
    let warnings: Vec<String> = unused.warnings().iter().map(|w| w.key.clone()).collect();
    assert_eq!(warnings, ["organization.enabled"]);
    let audit_only =
        load("[organization]\nenabled = true\nenforce_ous = [\"ou-ab12-prod0001\"]\n").unwrap();
    let warnings: Vec<String> = audit_only
        .warnings()
        .iter()
        .map(|w| w.key.clone())
        .collect();
    assert_eq!(warnings, ["organization.enforce_ous"]);
    let enforced = load(
        "mode = \"enforce\"\n[remediation]\ntag_values = { owner = \"platform\" }\n\
         [organization]\nenabled = true\nenforce_accounts = [\"111122223333\"]\n",
    )
    .unwrap();
    assert!(enforced.warnings().is_empty(), "{:?}", enforced.warnings());
}

#[test]
fn terraform_states_are_s3_objects_or_files() {
    let errors = errors(
        "[iac]\nterraform_states = [\"s3://tf-state/ml/terraform.tfstate\", \"s3://Bad_Bucket/x\", \"s3://bucket-only\", \"\", \"states/ml.tfstate\"]\nterraform_state_region = \"moon\"\n",
        &[],
    );
    assert_eq!(
        errors.keys(),
        [
            "iac.terraform_state_region",
            "iac.terraform_states[1]",
            "iac.terraform_states[2]",
            "iac.terraform_states[3]"
        ],
        "{errors}"
    );
    assert!(
        errors.to_string().contains("must be s3://BUCKET/KEY"),
        "{errors}"
    );
}
