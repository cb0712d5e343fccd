//! What no crate knows: the syntax of AWS account ids, role ARNs, regions, tag keys and values,
//! VPC ids, STS names; as garde custom rules (`#[garde(custom(...))]`) for one value each.

use std::fmt;

use garde::Error;

pub(super) type Rule = garde::Result;

/// `low..=high`, worded as every range problem is.
pub(super) fn within<T: PartialOrd + fmt::Display>(
    low: T,
    high: T,
) -> impl FnOnce(&T, &()) -> Rule {
    move |value, _| {
        if low <= *value && *value <= high {
            Ok(())
        } else {
            Err(Error::new(format!(
                "must be from {low} to {high}, found {value}"
            )))
        }
    }
}

/// At most `max` items.
pub(super) fn at_most<T>(max: usize, what: &'static str) -> impl FnOnce(&Vec<T>, &()) -> Rule {
    move |items, _| match items.len() {
        n if n > max => Err(Error::new(format!(
            "at most {max} {what} are allowed, found {n}"
        ))),
        _ => Ok(()),
    }
}

/// Not empty or blank.
pub(super) fn not_blank(value: &str, _: &()) -> Rule {
    match value.trim().is_empty() {
        true => Err(Error::new("must not be empty")),
        false => Ok(()),
    }
}

/// A 12-digit account id ("missing" when empty: every account needs one).
pub(super) fn account_id(id: &str, _: &()) -> Rule {
    if id.is_empty() {
        Err(Error::new(
            "missing: every account needs its 12-digit account id",
        ))
    } else if is_account_id(id) {
        Ok(())
    } else {
        Err(Error::new(format!(
            "must be a 12-digit AWS account id, found `{id}`"
        )))
    }
}

/// Exactly 12 ASCII digits.
pub(super) fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM role ARN.
pub(super) fn role_arn(arn: &Option<String>, _: &()) -> Rule {
    let Some(arn) = arn else { return Ok(()) };
    parse_role_arn(arn).map(|_| ()).map_err(|why| {
        Error::new(format!(
            "must be an IAM role ARN like `arn:aws:iam::111122223333:role/SageMakerRemediatorAudit` \
             ({why}), found `{arn}`"
        ))
    })
}

/// A role ARN with `{account}` where the account id goes.
pub(super) fn role_template(template: &str, _: &()) -> Rule {
    if template.matches("{account}").count() != 1 {
        return Err(Error::new(format!(
            "must name the account as `{{account}}` once, e.g. \
             `arn:aws:iam::{{account}}:role/SageMakerRemediator`, found `{template}`"
        )));
    }
    let example = template.replace("{account}", "111122223333");
    parse_role_arn(&example).map(|_| ()).map_err(|why| {
        Error::new(format!(
            "must be an IAM role ARN with `{{account}}` for the account id, like \
             `arn:aws:iam::{{account}}:role/SageMakerRemediator` ({why}), found `{template}`"
        ))
    })
}

/// An organizational unit id (`ou-` then 4-32 and 8-32 lowercase letters or digits, joined by
/// `-`) or a root id (`r-` then 4-32).
pub(super) fn ou_id(id: &str, _: &()) -> Rule {
    let alnum = |s: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let ok = match id.split('-').collect::<Vec<_>>().as_slice() {
        ["ou", root, ou] => alnum(root, 4..=32) && alnum(ou, 8..=32),
        ["r", root] => alnum(root, 4..=32),
        _ => false,
    };
    match ok {
        true => Ok(()),
        false => Err(Error::new(format!(
            "must be an organizational unit id like `ou-ab12-cd34ef56` or a root id like \
             `r-ab12`, found `{id}`"
        ))),
    }
}

/// `ExternalId` (`external = true`, 2-1224 characters) or `RoleSessionName` (2-64).
pub(super) fn sts_name(external: bool) -> impl FnOnce(&Option<String>, &()) -> Rule {
    move |value, _| {
        let Some(value) = value else { return Ok(()) };
        let max = if external { 1224 } else { 64 };
        let len = value.chars().count();
        if !(2..=max).contains(&len) {
            return Err(Error::new(format!(
                "must be 2 to {max} characters long, found {len}"
            )));
        }
        match value.chars().find(|&c| !is_sts_char(c, external)) {
            Some(c) if external => Err(Error::new(format!(
                "contains {c:?}; only letters, digits and _+=,.@:/- are allowed"
            ))),
            Some(c) => Err(Error::new(format!(
                "contains {c:?}; only letters, digits and _+=,.@- are allowed"
            ))),
            None => Ok(()),
        }
    }
}

/// `[\w+=,.@-]` (and `:` and `/` for external ids), as STS documents for `RoleSessionName` and
/// `ExternalId`.
fn is_sts_char(c: char, external_id: bool) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
        || (external_id && matches!(c, ':' | '/'))
}

/// An AWS region name.
pub(super) fn region(region: &str, _: &()) -> Rule {
    match is_region(region) {
        true => Ok(()),
        false => Err(Error::new(format!(
            "`{region}` does not look like an AWS region (e.g. `us-east-1`)"
        ))),
    }
}

/// `xx-xxxx-N`: two lowercase letters, one or more lowercase words, a number
/// (`us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`).
pub(super) fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    !middle.is_empty()
        && first.len() == 2
        && lower(first)
        && middle.iter().all(lower)
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `arn:aws[a-z-]*:iam::<12 digits>:role/<path/name>` and returns the account id.
pub(super) fn parse_role_arn(arn: &str) -> Result<&str, &'static str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, service, region, account, resource] = parts.as_slice() else {
        return Err("expected arn:PARTITION:iam::ACCOUNT:role/NAME");
    };
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    if !partition_ok {
        return Err("the partition must be aws, aws-cn, aws-us-gov, ...");
    }
    if *service != "iam" {
        return Err("the service must be iam");
    }
    if !region.is_empty() {
        return Err("IAM ARNs have no region");
    }
    if !is_account_id(account) {
        return Err("the account must be 12 digits");
    }
    let Some(role) = resource.strip_prefix("role/") else {
        return Err("the resource must be role/NAME");
    };
    let mut segments: Vec<&str> = role.split('/').collect();
    let name = segments.pop().unwrap_or_default();
    if !(1..=64).contains(&name.len()) || !name.chars().all(|c| is_sts_char(c, false)) {
        return Err("the role name must be 1-64 characters of letters, digits and _+=,.@-");
    }
    let printable = |s: &&str| !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !segments.iter().all(printable) {
        return Err("the role path must be /-separated printable ASCII segments");
    }
    Ok(account)
}

/// A tag key we may write or require.
pub(super) fn tag_key(key: &str, _: &()) -> Rule {
    tag_key_problem(key).map_or(Ok(()), |m| Err(Error::new(m)))
}

/// Why `key` is not an acceptable tag key, if it is not.
pub(super) fn tag_key_problem(key: &str) -> Option<String> {
    let len = key.chars().count();
    if !(1..=super::MAX_TAG_KEY_CHARS).contains(&len) {
        let max = super::MAX_TAG_KEY_CHARS;
        return Some(format!(
            "tag keys must be 1 to {max} characters long, found {len}"
        ));
    }
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        return Some(format!(
            "`{key}`: tag keys starting with `aws:` are reserved by AWS"
        ));
    }
    let bad = key.chars().find(|&c| !is_tag_char(c));
    bad.map(|c| format!("contains {c:?}; tag keys allow letters, digits, spaces and _.:/=+-@"))
}

/// Why `value` is not an acceptable tag value, if it is not.
pub(super) fn tag_value_problem(value: &str) -> Option<String> {
    let len = value.chars().count();
    let max = super::MAX_TAG_VALUE_CHARS;
    if len > max {
        return Some(format!(
            "tag values must be at most {max} characters long, found {len}"
        ));
    }
    let bad = value.chars().find(|&c| !is_tag_char(c));
    bad.map(|c| {
        format!("value contains {c:?}; tag values allow letters, digits, spaces and _.:/=+-@")
    })
}

/// AWS tag keys and values: Unicode letters, digits, spaces and _.:/=+-@
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == ' '
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// `subnet-`/`sg-` followed by 8 or 17 lowercase hex digits; a subnet may be empty.
pub(super) fn vpc_id(prefix: &'static str) -> impl FnOnce(&str, &()) -> Rule {
    move |id, _| {
        let ok = id.strip_prefix(prefix).is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        match (ok, prefix) {
            (true, _) => Ok(()),
            (false, "subnet-") if id.is_empty() => Ok(()),
            (false, "subnet-") => Err(Error::new(format!(
                "must be empty or a subnet id like `subnet-0123456789abcdef0`, found `{id}`"
            ))),
            (false, _) => Err(Error::new(format!(
                "must be a security group id like `sg-0123456789abcdef0`, found `{id}`"
            ))),
        }
    }
}

/// Empty, or an http(s) URL with a host.
pub(super) fn queue_url(url: &str, _: &()) -> Rule {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|rest| {
        !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
    });
    match url.is_empty() || ok {
        true => Ok(()),
        false => Err(Error::new(format!(
            "must be empty (no event intake) or an SQS queue URL like \
             `https://sqs.us-east-1.amazonaws.com/111122223333/smr-events`, found `{url}`"
        ))),
    }
}

/// Empty (no notifications), an event bus name (1-256 characters of `[/.\-_A-Za-z0-9]`), or an
/// event bus ARN `arn:<partition>:events:<region>:<account>:event-bus/<name>`.
pub(super) fn event_bus(bus: &str, _: &()) -> Rule {
    let name_ok = |n: &str| {
        (1..=256).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/.-_".contains(&b))
    };
    let ok = match bus.strip_prefix("arn:") {
        None => name_ok(bus),
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(),
                [partition, "events", region, account, resource]
                    if partition.starts_with("aws")
                        && is_region(region)
                        && is_account_id(account)
                        && resource.strip_prefix("event-bus/").is_some_and(name_ok))
        }
    };
    match bus.is_empty() || ok {
        true => Ok(()),
        false => Err(Error::new(format!(
            "must be empty (no notifications), an event bus name like `smr-notifications` or its \
             ARN `arn:aws:events:us-east-1:111122223333:event-bus/smr-notifications`, found `{bus}`"
        ))),
    }
}

/// A SageMaker ARN or a glob of them.
pub(super) fn arn_glob(value: &str, _: &()) -> Rule {
    if !value.starts_with("arn:") {
        return Err(Error::new(format!(
            "must be an ARN or a glob of ARNs starting with `arn:`, found `{value}`"
        )));
    }
    glob::Pattern::new(value)
        .map(|_| ())
        .map_err(|e| Error::new(format!("is not a valid glob: {e}")))
}

/// A maintenance window's `when`.
pub(super) fn window(value: &str, _: &()) -> Rule {
    crate::policy::windows::parse(value)
        .map(|_| ())
        .map_err(Error::new)
}

/// An IANA time zone name.
pub(super) fn time_zone(value: &str, _: &()) -> Rule {
    jiff::tz::TimeZone::get(value).map(|_| ()).map_err(|_| {
        Error::new(format!(
            "`{value}` is not a known time zone (IANA names like `Europe/Berlin` or `UTC`)"
        ))
    })
}

/// A calendar date `YYYY-MM-DD`.
pub(super) fn date(value: &str, _: &()) -> Rule {
    let ok = value.len() == 10 && value.parse::<jiff::civil::Date>().is_ok();
    match ok {
        true => Ok(()),
        false => Err(Error::new(format!(
            "must be a date like `2027-03-31`, found `{value}`"
        ))),
    }
}

/// 64 hexadecimal digits (a SHA-256).
pub(super) fn sha256_hex(value: &str, _: &()) -> Rule {
    match value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(()),
        false => Err(Error::new(
            "must be the SHA-256 of the token as 64 hex digits (printf %s \"$TOKEN\" | sha256sum), \
             never the token itself",
        )),
    }
}

/// A Terraform state: `s3://BUCKET/KEY` or a file path.
pub(super) fn state_location(location: &str, _: &()) -> Rule {
    let problem = match location.strip_prefix("s3://") {
        _ if location.trim().is_empty() => Some("must not be empty"),
        Some(path) => match path.split_once('/') {
            Some((bucket, key))
                if (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                    })
                    && !key.is_empty() =>
            {
                None
            }
            _ => Some("must be s3://BUCKET/KEY (a bucket name of 3-63 lowercase letters, digits, dots and hyphens, then the object key) or a file path"),
        },
        None => None,
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(Error::new(format!("{why}, found `{location}`"))),
    }
}

/// Empty or a 12-digit account id.
pub(super) fn optional_account_id(id: &str, ctx: &()) -> Rule {
    match id.is_empty() {
        true => Ok(()),
        false => account_id(id, ctx),
    }
}

/// Empty (the default of the credential chain) or a region.
pub(super) fn optional_region(value: &str, ctx: &()) -> Rule {
    match value.is_empty() {
        true => Ok(()),
        false => region(value, ctx),
    }
}

/// A socket address.
pub(super) fn socket_addr(listen: &str, _: &()) -> Rule {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(_) => Ok(()),
        Err(err) => Err(Error::new(format!(
            "must be a socket address like `127.0.0.1:9464` or `[::]:9464`, found `{listen}` \
             ({err})"
        ))),
    }
}

/// A `tracing` filter directive.
pub(super) fn log_filter(level: &str, _: &()) -> Rule {
    if level.trim().is_empty() {
        return Err(Error::new(
            "must not be empty (e.g. \"info\" or \"sagemaker_remediator=debug\")",
        ));
    }
    match tracing_subscriber::EnvFilter::builder().parse(level) {
        Ok(_) => Ok(()),
        Err(err) => Err(Error::new(format!(
            "not a valid tracing filter directive: {err}"
        ))),
    }
}

/// A non-empty path.
/// A DynamoDB table name: 3-255 of `A-Za-z0-9_.-`.
pub(super) fn table_name(name: &String, _: &()) -> Rule {
    let ok = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(Error::new(format!(
            "must be a DynamoDB table name (3-255 letters, digits, `_`, `.` or `-`), found `{name}`"
        ))),
    }
}

pub(super) fn file_path(path: &std::path::Path, _: &()) -> Rule {
    match path.as_os_str().is_empty() {
        true => Err(Error::new(
            "must not be empty (e.g. \"sagemaker-remediator.db\")",
        )),
        false => Ok(()),
    }
}
