//! SageMaker clients per (account, region), each behind its own call stack, and the
//! [`ClientFactory`] seam through which the reconciler gets them (a fake in unit tests).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;

use super::{CallStack, SageMakerApi, SdkSageMaker, StackSettings};
use crate::config::Config;
use crate::metrics::Metrics;

/// An account that is not in `[[accounts]]` while others are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account {account} is not configured (add it to [[accounts]], or to the accounts [organization] selects)")]
pub struct AccountNotConfigured {
    pub account: String,
}

/// Hands out the SageMaker client for an account and region.
pub trait ClientFactory: Send + Sync + 'static {
    type Api: SageMakerApi + Send + Sync + 'static;

    /// The client for `account` in `region`.
    fn sagemaker(
        &self,
        account: &str,
        region: &str,
    ) -> impl Future<Output = Result<Self::Api, AccountNotConfigured>> + Send;
}

/// SageMaker clients per (account, region), each behind its own call stack.
pub struct Clients {
    base: SdkConfig,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    cache: tokio::sync::Mutex<HashMap<(String, String), SdkSageMaker>>,
}

impl Clients {
    pub fn new(base: SdkConfig, config: Arc<Config>, metrics: Arc<Metrics>) -> Clients {
        Clients {
            base,
            config,
            metrics,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The client for `account` in `region`: the account's role when configured (or
    /// discovered from the organisation, which is read again here when due), the base
    /// credentials when no accounts are configured at all (the caller's own account).
    pub async fn sagemaker(
        &self,
        account: &str,
        region: &str,
    ) -> Result<SdkSageMaker, AccountNotConfigured> {
        // a failure is logged there, and the last list stays in use
        let _ = crate::organization::refresh_if_due(&self.config, &self.base).await;
        let account_config = match self.config.account(account) {
            Some(a) => a,
            None if self.config.own_account_only() => crate::config::AccountConfig {
                id: account.to_string(),
                ..Default::default()
            },
            None => {
                return Err(AccountNotConfigured {
                    account: account.to_string(),
                })
            }
        };
        let key = (account.to_string(), region.to_string());
        let mut cache = self.cache.lock().await;
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let sdk = super::account_config(&self.base, &account_config, region).await;
        let stack = CallStack::new(stack_settings(&self.config)).with_metrics(self.metrics.clone());
        let client = SdkSageMaker::new(&sdk, stack);
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// The daemon's call stack settings from `[aws]`.
#[allow(clippy::needless_update)] // `faults` exists only with the `failpoints` feature
pub fn stack_settings(config: &Config) -> StackSettings {
    StackSettings {
        requests_per_second: Some(config.aws.requests_per_second),
        call_timeout: config.aws.call_timeout(),
        ..StackSettings::default()
    }
}

impl ClientFactory for Clients {
    type Api = SdkSageMaker;

    async fn sagemaker(
        &self,
        account: &str,
        region: &str,
    ) -> Result<SdkSageMaker, AccountNotConfigured> {
        Clients::sagemaker(self, account, region).await
    }
}
