//! AWS access: SDK configuration and credentials per account, narrow traits over the calls we
//! make, and the one place where AWS errors are classified.

pub mod clients;
pub mod hub_params;
pub mod permissions;
pub mod sagemaker;
pub mod stack;

use std::fmt;

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::AccountConfig;

pub use clients::{stack_settings, AccountNotConfigured, ClientFactory, Clients};
pub use sagemaker::{SageMakerApi, SdkSageMaker};
pub use stack::{CallStack, StackSettings};

/// What kind of failure an AWS call ended in; callers decide from this, never from strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Network trouble, timeouts, 5xx: worth trying again later.
    Transient,
    /// The SDK's own retries were exhausted on throttling.
    Throttled,
    /// The resource does not exist (any more).
    NotFound,
    /// The resource is in a status that does not allow the call.
    WrongState,
    /// IAM, SCP or a missing role denied the call: permanent until someone changes policy.
    AccessDenied,
    /// The endpoint does not offer the operation.
    Unsupported,
    /// The request was rejected as invalid.
    Invalid,
}

impl ErrorClass {
    /// Errors that retrying cannot cure: access denied, invalid request, unsupported call.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            ErrorClass::AccessDenied | ErrorClass::Invalid | ErrorClass::Unsupported
        )
    }

    /// Errors that the same call may not meet again soon: throttling and transient failures.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::Transient)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Throttled => "throttled",
            ErrorClass::NotFound => "not-found",
            ErrorClass::WrongState => "wrong-state",
            ErrorClass::AccessDenied => "access-denied",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::Invalid => "invalid",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed AWS call, with what identifies it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}{}: {class}: {message}", resource.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
pub struct AwsError {
    pub operation: &'static str,
    /// The resource name or ARN the call was about, when it was about one.
    pub resource: Option<String>,
    pub class: ErrorClass,
    /// The AWS error code, e.g. `ValidationException`, when the service sent one.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error once, here.
    pub fn from_sdk<E>(
        operation: &'static str,
        resource: Option<&str>,
        err: SdkError<E, HttpResponse>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (class, code, message) = match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().map(str::to_string);
                let message = e.message().unwrap_or_default().to_string();
                let status = service.raw().status().as_u16();
                let class = classify(code.as_deref(), &message, status);
                (class, code, message)
            }
            SdkError::TimeoutError(_) => (ErrorClass::Transient, None, "timed out".to_string()),
            SdkError::DispatchFailure(_) => (
                ErrorClass::Transient,
                None,
                format!("could not reach the endpoint: {}", error_chain(&err)),
            ),
            SdkError::ResponseError(r) => {
                // An endpoint without the operation may answer with a non-JSON 404/501 page.
                let class = match r.raw().status().as_u16() {
                    404 | 501 => ErrorClass::Unsupported,
                    403 => ErrorClass::AccessDenied,
                    _ => ErrorClass::Transient,
                };
                let status = r.raw().status().as_u16();
                (
                    class,
                    None,
                    format!("unreadable response (HTTP {status}): {}", error_chain(&err)),
                )
            }
            _ => (ErrorClass::Invalid, None, error_chain(&err)),
        };
        AwsError {
            operation,
            resource: resource.map(str::to_string),
            class,
            code,
            message,
        }
    }
}

/// The error and its sources, joined: the SDK's top-level message alone is often just "dispatch failure".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// Maps an AWS error code, message and HTTP status to a class.
pub fn classify(code: Option<&str>, message: &str, status: u16) -> ErrorClass {
    match code.unwrap_or("") {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ProvisionedThroughputExceededException" => ErrorClass::Throttled,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch" => ErrorClass::AccessDenied,
        "ResourceNotFound" | "ResourceNotFoundException" | "NoSuchEntity" => ErrorClass::NotFound,
        "UnknownOperationException" | "InvalidAction" | "NotImplemented" => ErrorClass::Unsupported,
        "InternalFailure" | "InternalServerError" | "ServiceUnavailable" => ErrorClass::Transient,
        "ValidationException" => {
            if message.contains("RecordNotFound")
                || message.contains("does not exist")
                || message.contains("Could not find")
            {
                ErrorClass::NotFound
            } else if message.contains("Unable to transition") || message.contains(" not in ([") {
                ErrorClass::WrongState
            } else {
                ErrorClass::Invalid
            }
        }
        _ if status >= 500 => {
            if status == 501 {
                ErrorClass::Unsupported
            } else {
                ErrorClass::Transient
            }
        }
        _ if status == 404 => ErrorClass::Unsupported,
        _ if status == 403 => ErrorClass::AccessDenied,
        _ => ErrorClass::Invalid,
    }
}

/// The base SDK configuration from the default chain (environment, profile, IMDS/ECS), which
/// also honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.
pub async fn base_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The SDK configuration to act in `account` within `region`: the base credentials, or the
/// account's role assumed with its external id. Credentials are cached and refreshed by the SDK
/// shortly before they expire.
pub async fn account_config(base: &SdkConfig, account: &AccountConfig, region: &str) -> SdkConfig {
    let region = Region::new(region.to_string());
    let mut builder = base.to_builder().region(region.clone());
    if let Some(role_arn) = &account.role_arn {
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
            .session_name(
                account
                    .session_name
                    .clone()
                    .unwrap_or_else(|| "sagemaker-remediator".to_string()),
            )
            .region(region);
        if let Some(external_id) = &account.external_id {
            provider = provider.external_id(external_id.clone());
        }
        let provider = provider.configure(base).build().await;
        builder = builder.credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        );
    }
    builder.build()
}

/// The account the base credentials belong to, from `sts:GetCallerIdentity`.
pub async fn caller_account(base: &SdkConfig) -> Result<String, AwsError> {
    let sts = aws_sdk_sts::Client::new(base);
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", None, e))?;
    out.account().map(str::to_string).ok_or_else(|| AwsError {
        operation: "GetCallerIdentity",
        resource: None,
        class: ErrorClass::Invalid,
        code: None,
        message: "the response names no account".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_codes_the_reference_names() {
        assert_eq!(
            classify(Some("ThrottlingException"), "", 400),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify(Some("AccessDeniedException"), "", 400),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            classify(Some("ValidationException"), "RecordNotFound", 400),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(
                Some("ValidationException"),
                "Notebook Instance arn:aws:sagemaker:us-east-1:1:notebook-instance/x does not exist",
                400
            ),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(
                Some("ValidationException"),
                "Status (Pending) not in ([InService]). Unable to transition to (Stopping) for Notebook Instance (arn)",
                400
            ),
            ErrorClass::WrongState
        );
        assert_eq!(
            classify(Some("ValidationException"), "1 validation error", 400),
            ErrorClass::Invalid
        );
        assert_eq!(
            classify(Some("ResourceNotFound"), "", 400),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(Some("UnknownOperationException"), "", 400),
            ErrorClass::Unsupported
        );
        assert_eq!(classify(None, "", 503), ErrorClass::Transient);
        assert_eq!(classify(None, "", 501), ErrorClass::Unsupported);
        assert_eq!(classify(None, "", 404), ErrorClass::Unsupported);
        assert_eq!(
            classify(Some("SomethingElse"), "", 400),
            ErrorClass::Invalid
        );
    }
}
