//! Terraform state, read-only (`iac.terraform_states`): which Terraform resource address
//! (`module.ml.aws_sagemaker_notebook_instance.main`) manages an ARN, so that a plan in
//! Terraform names the exact resource to edit.
//!
//! A state is an S3 object (`s3://bucket/key`, GetObject only) or a local file. Only the ARN
//! and the address of each managed resource instance are kept; the rest of the state (which
//! may hold secrets) is dropped as soon as it is parsed. State is never written. A state that
//! cannot be read or parsed is a warning: the plans are then rendered without an address.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aws_config::SdkConfig;
use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;

/// How often the daemon reads the states again.
pub const REFRESH: Duration = Duration::from_secs(900);

/// ARN to Terraform address, shared between the reader and the plans.
#[derive(Debug, Clone, Default)]
pub struct Addresses(Arc<RwLock<HashMap<String, String>>>);

impl Addresses {
    /// The address managing `arn`, if a state names it.
    pub fn get(&self, arn: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(arn)
            .cloned()
    }

    /// Replaces what is known.
    pub fn set(&self, addresses: HashMap<String, String>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = addresses;
    }

    /// How many ARNs are known.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no ARN is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rewrites the Terraform form in `code` (`{ "terraform": ... }`, as `render` makes it) to
    /// name the address managing `arn`, when one is known.
    pub fn apply(&self, arn: &str, code: &mut Value) {
        let Some(address) = self.get(arn) else { return };
        if let Some(text) = code.get("terraform").and_then(Value::as_str) {
            code["terraform"] = Value::String(at_address(text, &address));
        }
    }
}

/// Why a state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{location}: {message}")]
    Read { location: String, message: String },
    #[error("{location}: not a Terraform state: {source}")]
    Parse {
        location: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct State {
    version: u32,
    #[serde(default)]
    resources: Vec<StateResource>,
}

#[derive(Deserialize)]
struct StateResource {
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    #[serde(default)]
    instances: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    index_key: Option<Value>,
    #[serde(default)]
    attributes: HashMap<String, Value>,
}

/// The (ARN, address) of every managed resource instance with an `arn` attribute in a state
/// (format version 4, Terraform 0.12 and later).
pub fn addresses(location: &str, state: &[u8]) -> Result<Vec<(String, String)>, StateError> {
    let state: State = serde_json::from_slice(state).map_err(|source| StateError::Parse {
        location: location.to_string(),
        source,
    })?;
    if state.version != 4 {
        return Err(StateError::Read {
            location: location.to_string(),
            message: format!(
                "state format version {} (only version 4, Terraform 0.12 and later, is read)",
                state.version
            ),
        });
    }
    let mut out = Vec::new();
    for r in state.resources.iter().filter(|r| r.mode == "managed") {
        let base = match &r.module {
            Some(module) => format!("{module}.{}.{}", r.resource_type, r.name),
            None => format!("{}.{}", r.resource_type, r.name),
        };
        for instance in &r.instances {
            let Some(arn) = instance.attributes.get("arn").and_then(Value::as_str) else {
                continue;
            };
            let address = match &instance.index_key {
                Some(Value::Number(n)) => format!("{base}[{n}]"),
                Some(Value::String(s)) => format!("{base}[{}]", Value::String(s.clone())),
                _ => base.clone(),
            };
            out.push((arn.to_string(), address));
        }
    }
    Ok(out)
}

/// Reads every state of `iac.terraform_states`: what they map, and a warning per state that
/// could not be used.
pub async fn read(config: &Config, base: &SdkConfig) -> (HashMap<String, String>, Vec<StateError>) {
    let mut map = HashMap::new();
    let mut warnings = Vec::new();
    let mut s3: Option<aws_sdk_s3::Client> = None;
    for location in &config.iac.terraform_states {
        let bytes = match location.strip_prefix("s3://") {
            Some(path) => {
                let client = s3.get_or_insert_with(|| {
                    let mut sdk = base.to_builder();
                    if !config.iac.terraform_state_region.is_empty() {
                        sdk = sdk.region(aws_config::Region::new(
                            config.iac.terraform_state_region.clone(),
                        ));
                    }
                    // An emulator (an endpoint URL) has no bucket host names.
                    let emulator = base.endpoint_url().is_some()
                        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
                    let s3_config = aws_sdk_s3::config::Builder::from(&sdk.build())
                        .force_path_style(emulator)
                        .build();
                    aws_sdk_s3::Client::from_conf(s3_config)
                });
                get_object(client, location, path).await
            }
            None => tokio::fs::read(location)
                .await
                .map_err(|e| StateError::Read {
                    location: location.clone(),
                    message: e.to_string(),
                }),
        };
        match bytes.and_then(|b| addresses(location, &b)) {
            Ok(found) => map.extend(found),
            Err(e) => warnings.push(e),
        }
    }
    (map, warnings)
}

async fn get_object(
    client: &aws_sdk_s3::Client,
    location: &str,
    path: &str,
) -> Result<Vec<u8>, StateError> {
    let read_error = |message: String| StateError::Read {
        location: location.to_string(),
        message,
    };
    let (bucket, key) = path
        .split_once('/')
        .ok_or_else(|| read_error("expected s3://BUCKET/KEY".to_string()))?;
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            read_error(crate::aws::AwsError::from_sdk("GetObject", None, e).to_string())
        })?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| read_error(format!("reading the object: {e}")))?;
    Ok(body.into_bytes().to_vec())
}

/// Reads the states into `addresses`, logging what could not be read.
pub async fn refresh(config: &Config, base: &SdkConfig, addresses: &Addresses) {
    let (map, warnings) = read(config, base).await;
    for w in &warnings {
        tracing::warn!(event = "terraform_state_unreadable", error = %w, "plans name no Terraform address from it");
    }
    tracing::info!(
        event = "terraform_state_read",
        states = config.iac.terraform_states.len(),
        unreadable = warnings.len(),
        resources = map.len()
    );
    // A state that failed this time keeps nothing from the last read: an ARN is only named
    // while a readable state says so.
    addresses.set(map);
}

/// Reads the states again every [`REFRESH`] until the daemon stops.
pub async fn keep_fresh(
    config: Arc<Config>,
    base: SdkConfig,
    addresses: Addresses,
    shutdown: crate::shutdown::Shutdown,
) {
    while shutdown.sleep(REFRESH).await {
        refresh(&config, &base, &addresses).await;
    }
}

/// A Terraform form (comment lines, then one `resource` block) with the block's labels set to
/// `address`'s type and name, and a comment naming the address. Unchanged when it does not
/// parse.
pub fn at_address(terraform: &str, address: &str) -> String {
    let (comments, code): (Vec<&str>, Vec<&str>) =
        terraform.lines().partition(|l| l.starts_with('#'));
    let Ok(mut body) = hcl::from_str::<hcl::Body>(&code.join("\n")) else {
        return terraform.to_string();
    };
    // `module.a.module.b.TYPE.NAME[KEY]`: the module path, the type, the name.
    let plain = address.split('[').next().unwrap_or(address);
    let parts: Vec<&str> = plain.split('.').collect();
    let [module @ .., resource_type, name] = parts.as_slice() else {
        return terraform.to_string();
    };
    let Some(block) = body
        .iter_mut()
        .find_map(|s| s.as_block_mut().filter(|b| b.identifier() == "resource"))
    else {
        return terraform.to_string();
    };
    block.labels = vec![
        hcl::BlockLabel::from(*resource_type),
        hcl::BlockLabel::from(*name),
    ];
    let Ok(code) = hcl::to_string(&body) else {
        return terraform.to_string();
    };
    let mut text = String::new();
    for line in comments {
        text.push_str(line);
        text.push('\n');
    }
    let place = match module {
        [] => "the root module".to_string(),
        path => format!("the code of {}", path.join(".")),
    };
    text.push_str(&format!(
        "# Terraform state: this is {address}; edit it in {place}.\n"
    ));
    text + &code
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/churn-dev";

    fn state() -> String {
        serde_json::json!({
            "version": 4,
            "terraform_version": "1.9.5",
            "serial": 7,
            "lineage": "0f1e",
            "outputs": { "secret": { "value": "hunter2", "sensitive": true } },
            "resources": [
                { "module": "module.ml", "mode": "managed", "type": "aws_sagemaker_notebook_instance",
                  "name": "main", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                  "instances": [{ "schema_version": 0, "attributes": { "arn": ARN, "id": "churn-dev" } }] },
                { "mode": "managed", "type": "aws_sagemaker_model", "name": "models",
                  "instances": [
                    { "index_key": 0, "attributes": { "arn": "arn:aws:sagemaker:us-east-1:123456789012:model/a" } },
                    { "index_key": "b", "attributes": { "arn": "arn:aws:sagemaker:us-east-1:123456789012:model/b" } }
                  ] },
                { "mode": "data", "type": "aws_iam_role", "name": "exec",
                  "instances": [{ "attributes": { "arn": "arn:aws:iam::123456789012:role/x" } }] },
                { "mode": "managed", "type": "random_id", "name": "suffix",
                  "instances": [{ "attributes": { "id": "abc" } }] }
            ]
        })
        .to_string()
    }

    #[test]
    fn a_state_maps_arns_to_addresses_with_modules_and_index_keys() {
        let mut found = addresses("test", state().as_bytes()).unwrap();
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "arn:aws:sagemaker:us-east-1:123456789012:model/a".to_string(),
                    "aws_sagemaker_model.models[0]".to_string()
                ),
                (
                    "arn:aws:sagemaker:us-east-1:123456789012:model/b".to_string(),
                    "aws_sagemaker_model.models[\"b\"]".to_string()
                ),
                (
                    ARN.to_string(),
                    "module.ml.aws_sagemaker_notebook_instance.main".to_string()
                ),
            ]
        );
    }

    #[test]
    fn what_is_not_a_version_4_state_is_an_error_that_names_the_state() {
        let e = addresses("s3://b/k", b"<html>").unwrap_err();
        assert!(
            e.to_string().starts_with("s3://b/k: not a Terraform state"),
            "{e}"
        );
        let e = addresses("old.tfstate", br#"{"version": 3, "modules": []}"#).unwrap_err();
        assert!(e.to_string().contains("version 3"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_local_state_is_a_warning_and_a_readable_one_still_counts() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ml.tfstate");
        std::fs::write(&good, state()).unwrap();
        let mut config = Config::default();
        config.iac.terraform_states = vec![
            dir.path().join("missing.tfstate").display().to_string(),
            good.display().to_string(),
        ];
        let base = SdkConfig::builder().build();
        let (map, warnings) = read(&config, &base).await;
        assert_eq!(map.len(), 3);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].to_string().contains("missing.tfstate"));
    }

    #[test]
    fn a_terraform_form_is_renamed_to_its_address_and_still_parses() {
        let form = "# sagemaker-remediator plan for X\n# Change these arguments.\n\
                    resource \"aws_sagemaker_notebook_instance\" \"churn_dev\" {\n  name = \"churn-dev\"\n  root_access = \"Disabled\"\n}\n";
        let text = at_address(form, "module.ml.aws_sagemaker_notebook_instance.main");
        assert!(
            text.starts_with("# sagemaker-remediator plan for X\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# Terraform state: this is module.ml.aws_sagemaker_notebook_instance.main; edit it in the code of module.ml.\n"
            ),
            "{text}"
        );
        let body: hcl::Body = hcl::from_str(&text).unwrap();
        let block = body.blocks().next().unwrap();
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        assert_eq!(labels, ["aws_sagemaker_notebook_instance", "main"]);
        assert!(text.contains("root_access = \"Disabled\""));

        let addresses = Addresses::default();
        addresses.set(HashMap::from([(
            ARN.to_string(),
            "aws_sagemaker_notebook_instance.nb[\"dev\"]".to_string(),
        )]));
        let mut code = serde_json::json!({ "terraform": form, "cli": "aws ..." });
        addresses.apply(ARN, &mut code);
        let text = code["terraform"].as_str().unwrap();
        assert!(text.contains("edit it in the root module"), "{text}");
        assert!(
            text.contains("resource \"aws_sagemaker_notebook_instance\" \"nb\""),
            "{text}"
        );
        assert_eq!(code["cli"], "aws ...");
        let mut other = serde_json::json!({ "terraform": form });
        addresses.apply("arn:other", &mut other);
        assert_eq!(other["terraform"], form);
    }
}
