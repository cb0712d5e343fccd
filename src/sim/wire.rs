//! The awsJson1_1 wire format of the simulator: the error type, body parsing, member
//! validation, epoch timestamps and token pagination shared by every operation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// An error answered to a SageMaker call: `{"__type": code, "message": ...}` with `status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SimError {
    /// The error code (`__type` and `X-Amzn-Errortype`), e.g. `ValidationException`.
    pub code: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The HTTP status code.
    pub status: u16,
}

impl SimError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> SimError {
        SimError {
            code,
            message: message.into(),
            status,
        }
    }

    /// `ValidationException` (400): bad input, wrong state, or (notebooks, models) not found.
    pub fn validation(message: impl Into<String>) -> SimError {
        SimError::new("ValidationException", 400, message)
    }

    /// `ResourceNotFound` (400): images and app image configs that do not exist.
    pub fn not_found(message: impl Into<String>) -> SimError {
        SimError::new("ResourceNotFound", 400, message)
    }

    /// `ResourceInUse` (400): duplicate images and app image configs.
    pub fn in_use(message: impl Into<String>) -> SimError {
        SimError::new("ResourceInUse", 400, message)
    }

    /// `ThrottlingException` (400), retried by the SDK.
    pub fn throttling() -> SimError {
        SimError::new("ThrottlingException", 400, "Rate exceeded")
    }

    /// `InternalFailure` (500), retried by the SDK.
    pub fn internal() -> SimError {
        SimError::new(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// `AccessDeniedException` (400) for an operation the faults deny.
    pub fn access_denied(operation: &str) -> SimError {
        SimError::new(
            "AccessDeniedException",
            400,
            format!(
                "User: arn:aws:sts::000000000000:assumed-role/sim/sim is not authorized to perform: sagemaker:{operation}"
            ),
        )
    }

    /// `UnknownOperationException` (400) for an operation the simulator does not serve.
    pub fn unknown_operation(operation: &str) -> SimError {
        SimError::new(
            "UnknownOperationException",
            400,
            format!("Unknown or unsupported operation: SageMaker.{operation}"),
        )
    }

    /// `SerializationException` (400) for a body that is not the expected JSON.
    pub fn serialization(message: impl Into<String>) -> SimError {
        SimError::new("SerializationException", 400, message)
    }

    /// The JSON body of the error.
    pub fn body(&self) -> Value {
        serde_json::json!({ "__type": self.code, "message": self.message })
    }
}

/// Result of one operation: the JSON output, or the error to answer.
pub type OpResult = Result<Value, SimError>;

/// Parses a request body into the operation's input; an empty body is `{}`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, SimError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| SimError::serialization(e.to_string()))
}

/// Removes a member from a JSON object body and converts it (absent or null is `None`).
pub fn take<T: DeserializeOwned>(
    body: &mut serde_json::Map<String, Value>,
    member: &str,
) -> Result<Option<T>, SimError> {
    match body.remove(member) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| SimError::serialization(format!("{member}: {e}"))),
    }
}

/// Requires a member; the message is AWS's "Member must not be null" constraint text.
pub fn required<T>(value: Option<T>, member: &str) -> Result<T, SimError> {
    value.ok_or_else(|| {
        SimError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_camel(member)
        ))
    })
}

/// Requires a value to be one of `allowed` (AWS's enum constraint text).
pub fn one_of(value: &str, member: &str, allowed: &[&str]) -> Result<(), SimError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(enum_error(value, member, allowed))
    }
}

/// The error for a value outside an enum.
pub fn enum_error(value: &str, member: &str, allowed: &[&str]) -> SimError {
    SimError::validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        lower_camel(member),
        allowed.join(", ")
    ))
}

/// Requires `min <= value <= max` (AWS's range constraint text).
pub fn in_range(value: i64, member: &str, min: i64, max: i64) -> Result<(), SimError> {
    let member = lower_camel(member);
    if value < min {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if value > max {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(())
}

/// Requires a resource name of 1-63 alphanumerics and inner hyphens (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`).
pub fn valid_name(name: &str, member: &str) -> Result<(), SimError> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().filter(|b| b.is_ascii_alphanumeric()).count() <= 63;
    if ok {
        return Ok(());
    }
    Err(SimError::validation(format!(
        "1 validation error detected: Value '{name}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}",
        lower_camel(member)
    )))
}

fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Seconds since the Unix epoch, the awsJson timestamp format.
pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// Removes `null` members recursively, so optional members that are unset are absent.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// How one list call pages: sort direction, page size and where the previous page stopped.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub descending: bool,
    pub max: usize,
    pub token: Option<String>,
}

impl PageRequest {
    /// Validates `MaxResults` (`min..=max`, `default` when absent) and `SortOrder`
    /// (`Ascending`/`Descending` in any case; ascending when absent).
    pub fn new(
        max_results: Option<i64>,
        (min, max, default): (i64, i64, i64),
        sort_order: Option<&str>,
        token: Option<String>,
    ) -> Result<PageRequest, SimError> {
        let max_results = max_results.unwrap_or(default);
        in_range(max_results, "MaxResults", min, max)?;
        let descending = match sort_order {
            None => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => return Err(enum_error(o, "SortOrder", &["Ascending", "Descending"])),
        };
        Ok(PageRequest {
            descending,
            max: usize::try_from(max_results).unwrap_or(usize::MAX),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// Sorts `items` by their unique key, skips past the token and returns one page plus the
    /// next token (the last returned key) when more items follow. O(n log n) in the items.
    pub fn page<T>(&self, mut items: Vec<(String, T)>) -> (Vec<T>, Option<String>) {
        items.sort_by(|a, b| a.0.cmp(&b.0));
        if self.descending {
            items.reverse();
        }
        let start = match &self.token {
            None => 0,
            Some(token) if self.descending => items.partition_point(|(k, _)| k >= token),
            Some(token) => items.partition_point(|(k, _)| k <= token),
        };
        let rest = items.len().saturating_sub(start);
        let mut page: Vec<(String, T)> = items.into_iter().skip(start).take(self.max).collect();
        let next = if rest > page.len() {
            page.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        (page.drain(..).map(|(_, v)| v).collect(), next)
    }
}

/// A sort key that orders by creation sequence (the default, `CreationTime`).
pub fn seq_key(seq: u64) -> String {
    format!("{seq:020}")
}

/// A sort key that orders by a text field first, then by creation sequence.
pub fn text_key(text: &str, seq: u64) -> String {
    format!("{text}\u{1}{seq:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_aws_pattern() {
        assert!(valid_name("a", "N").is_ok());
        assert!(valid_name("DS-Team--Notebook1", "N").is_ok());
        assert!(valid_name("-a", "N").is_err());
        assert!(valid_name("a-", "N").is_err());
        assert!(valid_name("a_b", "N").is_err());
        assert!(valid_name(&"a".repeat(63), "N").is_ok());
        assert!(valid_name(&"a".repeat(64), "N").is_err());
    }

    #[test]
    fn pages_cover_every_item_once_in_both_orders() {
        for descending in [false, true] {
            let items = |n: u64| (0..n).map(|i| (seq_key(i), i)).collect::<Vec<_>>();
            let mut request = PageRequest {
                descending,
                max: 7,
                token: None,
            };
            let mut seen = Vec::new();
            loop {
                let (page, next) = request.page(items(30));
                seen.extend(page);
                match next {
                    Some(token) => request.token = Some(token),
                    None => break,
                }
            }
            let mut expected: Vec<u64> = (0..30).collect();
            if descending {
                expected.reverse();
            }
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn max_results_and_sort_order_are_validated() {
        assert!(PageRequest::new(Some(0), (1, 100, 10), None, None).is_err());
        assert!(PageRequest::new(Some(101), (1, 100, 10), None, None).is_err());
        assert!(PageRequest::new(None, (1, 100, 10), Some("Sideways"), None).is_err());
        let ok = PageRequest::new(None, (50, 100, 50), Some("DESCENDING"), None);
        assert!(ok.is_ok_and(|r| r.descending && r.max == 50));
    }

    #[test]
    fn nulls_are_dropped() {
        let mut v = serde_json::json!({"A": null, "B": {"C": null, "D": 1}, "E": [{"F": null}]});
        drop_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"B": {"D": 1}, "E": [{}]}));
    }
}
