//! Control parameters as Security Hub applies them in one account and region
//! (`BatchGetSecurityControls`), so a verdict can match Security Hub's there.
//!
//! Of the eight controls only SageMaker.6 and .7 take a parameter, `requiredKeyTags` (a string
//! list, 1-6 keys). Its default is no value, "any tag whose key does not start with `aws:`".
//! SageMaker.8's supported platforms are not a parameter in Security Hub's control reference,
//! so the configured `controls.supported_platforms` always applies.

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::ParameterValue;

use super::AwsError;
use crate::model::ControlId;

/// The controls asked for.
const ASKED: [ControlId; 2] = [ControlId::SageMaker6, ControlId::SageMaker7];
/// The parameter of SageMaker.6/.7.
const REQUIRED_KEY_TAGS: &str = "requiredKeyTags";

/// `requiredKeyTags` of one control in Security Hub: `Some(keys)` (empty: the default, any
/// tag), `None` when Security Hub did not report the control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubParameters {
    pub app_image_config_tag_keys: Option<Vec<String>>,
    pub image_tag_keys: Option<Vec<String>>,
}

impl HubParameters {
    /// The keys Security Hub requires for `control` (.6 or .7), if it reported them.
    pub fn tag_keys(&self, control: ControlId) -> Option<&[String]> {
        match control {
            ControlId::SageMaker6 => self.app_image_config_tag_keys.as_deref(),
            ControlId::SageMaker7 => self.image_tag_keys.as_deref(),
            _ => None,
        }
    }
}

/// Reads SageMaker.6/.7's parameters in the account and region of `sdk`.
///
/// # Errors
///
/// When the call fails (Security Hub not enabled, access denied, throttled after retries).
pub async fn read(sdk: &SdkConfig) -> Result<HubParameters, AwsError> {
    const OP: &str = "BatchGetSecurityControls";
    let client = aws_sdk_securityhub::Client::new(sdk);
    let out = client
        .batch_get_security_controls()
        .set_security_control_ids(Some(ASKED.iter().map(|c| c.as_str().to_string()).collect()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, None, e))?;
    let mut found = HubParameters::default();
    for control in out.security_controls() {
        let keys = control
            .parameters()
            .and_then(|p| p.get(REQUIRED_KEY_TAGS))
            .and_then(|c| c.value())
            .map(|v| match v {
                ParameterValue::StringList(keys) => keys.clone(),
                ParameterValue::String(key) => vec![key.clone()],
                _ => Vec::new(),
            })
            .unwrap_or_default();
        match control.security_control_id() {
            Some("SageMaker.6") => found.app_image_config_tag_keys = Some(keys),
            Some("SageMaker.7") => found.image_tag_keys = Some(keys),
            _ => {}
        }
    }
    Ok(found)
}
