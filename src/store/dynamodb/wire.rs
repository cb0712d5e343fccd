//! The DynamoDB store's plumbing: items as attribute maps, the classification of DynamoDB's
//! errors, and the bridge from the synchronous [`crate::store::Store`] to the async SDK.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::store::{DynamoReason, Millis, StoreError};

pub(super) type Item = HashMap<String, AttributeValue>;

/// Attribute names. Every item has the keys and most have a `body` (the record as JSON);
/// the others are what conditions, the index and TTL look at.
pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const BODY: &str = "body";
/// Bumped by every write of a record that is read, changed and written back (a condition on
/// it makes the write fail if anyone wrote in between).
pub(super) const REV: &str = "rev";
/// The `due` index: present on pending triggers only (a sparse index).
pub(super) const DUE_PK: &str = "due_pk";
pub(super) const DUE_SK: &str = "due_sk";
/// Epoch seconds after which DynamoDB's TTL deletes a finished item.
pub(super) const EXPIRES: &str = "expires";

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// A time (epoch milliseconds) as a sort key that orders as the number does.
pub(super) fn pad(ms: Millis) -> String {
    format!("{:020}", ms.max(0))
}

/// TTL's epoch seconds for an item finished at `at` and kept for `retention_ms`.
pub(super) fn expiry(at: Millis, retention_ms: i64) -> AttributeValue {
    n(at.saturating_add(retention_ms).max(0) / 1000)
}

pub(super) fn encode<T: Serialize>(
    what: impl FnOnce() -> String,
    v: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt {
        what: what(),
        message: e.to_string(),
    })
}

/// The record in `item`'s body; `what` names it in a corrupt-record error.
pub(super) fn body<T: DeserializeOwned>(
    item: &Item,
    what: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    let Some(text) = get_s(item, BODY) else {
        return Err(StoreError::Corrupt {
            what: what(),
            message: "the item has no body".to_string(),
        });
    };
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what(),
        message: e.to_string(),
    })
}

/// How a DynamoDB call failed, for the store's callers.
pub(super) enum Failed {
    /// The write's condition did not hold (or a transaction met another one on an item): the
    /// caller decides (read again, or report the conflict).
    Condition,
    Store(StoreError),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed::Store(e)
    }
}

impl Failed {
    /// A condition failure as a store error the caller cannot resolve.
    pub(super) fn into_store(self, table: &str, operation: &'static str) -> StoreError {
        match self {
            Failed::Store(e) => e,
            Failed::Condition => StoreError::Dynamo {
                table: table.to_string(),
                operation,
                reason: DynamoReason::Contended,
                message: "the write's condition kept failing".to_string(),
            },
        }
    }
}

/// Whether a conditional write took effect: a condition that did not hold is an answer
/// (`false`), not an error.
pub(super) fn applied(result: Result<(), Failed>) -> Result<bool, StoreError> {
    match result {
        Ok(()) => Ok(true),
        Err(Failed::Condition) => Ok(false),
        Err(Failed::Store(e)) => Err(e),
    }
}

/// Classifies an SDK error. The SDK has already retried throttling and transient errors (the
/// store's client retries more than the default); what reaches here is final for this call.
pub(super) fn classify<E, R>(table: &str, operation: &'static str, error: SdkError<E, R>) -> Failed
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().unwrap_or_default().to_string();
    let message = aws_smithy_types::error::display::DisplayErrorContext(&error).to_string();
    let reason = match code.as_str() {
        "ConditionalCheckFailedException" => return Failed::Condition,
        "TransactionCanceledException"
            if message.contains("ConditionalCheckFailed")
                || message.contains("TransactionConflict") =>
        {
            return Failed::Condition
        }
        "TransactionConflictException" => return Failed::Condition,
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "LimitExceededException" => DynamoReason::Throttled,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationTokenException" => DynamoReason::AccessDenied,
        "ResourceNotFoundException" => DynamoReason::NoTable,
        "ValidationException" | "ItemCollectionSizeLimitExceededException" => {
            DynamoReason::Rejected
        }
        "InternalServerError" | "ServiceUnavailable" => DynamoReason::Unavailable,
        _ => match &error {
            SdkError::DispatchFailure(_)
            | SdkError::TimeoutError(_)
            | SdkError::ResponseError(_) => DynamoReason::Unavailable,
            _ => DynamoReason::Other,
        },
    };
    Failed::Store(StoreError::Dynamo {
        table: table.to_string(),
        operation,
        reason,
        message,
    })
}

/// Runs the SDK future `f` on the store's own runtime and waits for it: the store's contract
/// is synchronous (the embedded backend answers in microseconds), and callers may be on a
/// tokio worker, on a current-thread runtime (tests), or on no runtime at all (commands).
pub(super) fn block<F, T>(rt: Option<&Runtime>, f: F) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>> + Send,
    T: Send,
{
    let Some(rt) = rt else {
        return Err(StoreError::Dynamo {
            table: String::new(),
            operation: "call",
            reason: DynamoReason::Other,
            message: "the store is closed".to_string(),
        });
    };
    match Handle::try_current() {
        // A worker of a multi-threaded runtime: the others carry on while this one waits.
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| rt.block_on(f))
        }
        // A current-thread runtime cannot give its only thread away: wait on another one.
        Ok(_) => std::thread::scope(|scope| match scope.spawn(|| rt.block_on(f)).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => rt.block_on(f),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service(code: &str, message: &str) -> SdkError<GetItemError, Response> {
        let error =
            GetItemError::generic(ErrorMetadata::builder().code(code).message(message).build());
        let raw = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        SdkError::service_error(error, raw)
    }

    fn reason(error: SdkError<GetItemError, Response>) -> Option<DynamoReason> {
        match classify("t", "GetItem", error) {
            Failed::Condition => None,
            Failed::Store(StoreError::Dynamo { reason, .. }) => Some(reason),
            Failed::Store(other) => panic!("not a DynamoDB error: {other}"),
        }
    }

    #[test]
    fn dynamodb_errors_are_classified_and_only_the_passing_ones_are_transient() {
        use DynamoReason::*;
        let cases = [
            ("ConditionalCheckFailedException", "", None),
            (
                "TransactionCanceledException",
                "Transaction cancelled [ConditionalCheckFailed, None]",
                None,
            ),
            (
                "TransactionCanceledException",
                "[ValidationError]",
                Some(Other),
            ),
            (
                "ProvisionedThroughputExceededException",
                "",
                Some(Throttled),
            ),
            ("ThrottlingException", "", Some(Throttled)),
            ("RequestLimitExceeded", "", Some(Throttled)),
            ("AccessDeniedException", "", Some(AccessDenied)),
            ("UnrecognizedClientException", "", Some(AccessDenied)),
            ("ResourceNotFoundException", "", Some(NoTable)),
            ("ValidationException", "", Some(Rejected)),
            ("InternalServerError", "", Some(Unavailable)),
        ];
        for (code, message, expected) in cases {
            assert_eq!(reason(service(code, message)), expected, "{code} {message}");
        }
        let timeout: SdkError<GetItemError, Response> =
            SdkError::timeout_error(Box::new(std::io::Error::other("slow")));
        assert_eq!(reason(timeout), Some(Unavailable));
        for r in [Throttled, Unavailable, Contended, NoTable] {
            assert!(r.is_transient(), "{r}");
        }
        for r in [AccessDenied, Rejected, Other] {
            assert!(!r.is_transient(), "{r}");
        }
    }

    #[test]
    fn a_store_error_names_the_table_the_call_and_the_remedy() {
        let Failed::Store(e) = classify(
            "journal",
            "GetItem",
            service("ResourceNotFoundException", "gone"),
        ) else {
            panic!("a missing table is not a condition");
        };
        let text = e.to_string();
        assert!(
            text.contains("journal") && text.contains("GetItem"),
            "{text}"
        );
        assert!(text.contains("store init"), "{text}");
        assert!(e.is_transient());
    }
}
