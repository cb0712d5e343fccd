//! The control parameters the daemon judges with: the configured ones, or, with
//! `controls.from_security_hub`, Security Hub's in the resource's account and region
//! (SageMaker.6/.7 `requiredKeyTags`), read at most once an hour per account and region (after
//! a failed read, again after five minutes; meanwhile the configured ones apply).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::aws::hub_params::HubParameters;

use super::*;

/// How long Security Hub's parameters are used before they are read again.
const FRESH_MS: Millis = 3_600_000;
/// After a failed read, how long until the next attempt.
const RETRY_MS: Millis = 300_000;

/// What was read per (account, region), and when it is read again.
#[derive(Debug, Default)]
pub struct HubCache(Mutex<HashMap<(String, String), (Millis, HubParameters)>>);

/// Security Hub's parameters for `account` and `region` (the default, "none reported", when the
/// option is off or the read failed).
pub(super) async fn parameters<S: Store, C: ClientFactory, A: SageMakerApi>(
    ctx: &Context<S, C>,
    api: &A,
    account: &str,
    region: &str,
) -> HubParameters {
    if !ctx.config.controls.from_security_hub {
        return HubParameters::default();
    }
    let key = (account.to_string(), region.to_string());
    let now = ctx.now();
    if let Some((until, found)) = lock(&ctx.hub).get(&key) {
        if *until > now {
            return found.clone();
        }
    }
    let (until, found) = match api.hub_parameters().await {
        Ok(found) => (now + FRESH_MS, found),
        Err(e) => {
            tracing::warn!(event = "hub_parameters_unreadable", account, region, error = %e, "judging with the configured control parameters");
            (now + RETRY_MS, HubParameters::default())
        }
    };
    lock(&ctx.hub).insert(key, (until, found.clone()));
    found
}

fn lock(
    cache: &HubCache,
) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Millis, HubParameters)>> {
    cache
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The configuration a decision about `resource_type` is made with: `config`, with Security
/// Hub's required tag keys for that kind where they were reported, so a tag fix adds what
/// Security Hub checks.
pub(super) fn config_for(
    config: &Arc<Config>,
    resource_type: ResourceType,
    hub: &HubParameters,
) -> Arc<Config> {
    let params = crate::audit::params_for(resource_type, &config.control_params(), hub);
    if params.required_tag_keys == config.controls.required_tag_keys {
        return config.clone();
    }
    let mut changed = (**config).clone();
    changed.controls.required_tag_keys = params.required_tag_keys;
    Arc::new(changed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_uses_security_hubs_keys_only_for_the_kind_they_were_reported_for() {
        let config = Arc::new(Config::default());
        let hub = HubParameters {
            app_image_config_tag_keys: None,
            image_tag_keys: Some(vec!["owner".into(), "cost-center".into()]),
        };
        let image = config_for(&config, ResourceType::Image, &hub);
        assert_eq!(image.controls.required_tag_keys, ["owner", "cost-center"]);
        for other in [ResourceType::AppImageConfig, ResourceType::NotebookInstance] {
            let same = config_for(&config, other, &hub);
            assert!(
                Arc::ptr_eq(&same, &config),
                "{other:?}: the configuration as is"
            );
        }
        let none = config_for(&config, ResourceType::Image, &HubParameters::default());
        assert!(Arc::ptr_eq(&none, &config));
    }
}
