//! Who holds a resource: this replica's name in the store's claims, whether the holder of a
//! claim is a dead process of this host (whose claim may be taken at once), and a guard that
//! releases a claim when the reconcile holding it ends, also when it is cancelled.

use std::path::Path;

use crate::store::Store;

/// A unique name for this process in resource claims: `host:pid:start-nonce`. The nonce tells
/// two incarnations with the same pid apart (a container's daemon is always pid 1).
pub fn owner_name() -> String {
    let nonce: u32 = rand::random();
    format!("{}:{}:{nonce:08x}", host_name(), std::process::id())
}

pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "host".to_string())
}

/// Whether `holder` names a process of this host (as seen by `me`) that no longer runs: an
/// earlier incarnation of this daemon that crashed or was cancelled.
///
/// # Assumptions
///
/// Replicas that share a store have distinct host names (ECS tasks, containers and machines
/// do). A pid that was reused by another process counts as alive: the claim then lapses at
/// its expiry, as it would without this check.
pub fn holder_is_dead(holder: &str, me: &str) -> bool {
    let (Some((host, pid, _)), Some((my_host, my_pid, _))) = (parse(holder), parse(me)) else {
        return false;
    };
    if host != my_host || holder == me {
        return false;
    }
    // Same host, same pid, another nonce: an earlier incarnation, since this one has that pid.
    pid == my_pid || !Path::new("/proc").join(pid.to_string()).exists()
}

fn parse(owner: &str) -> Option<(&str, u32, &str)> {
    let mut parts = owner.rsplitn(3, ':');
    let nonce = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    Some((host, pid, nonce))
}

/// Releases the claim on `arn` when dropped: at the end of a reconcile, and when the
/// reconcile's future is dropped because shutdown cancelled it.
pub struct ClaimGuard<'a, S: Store> {
    pub store: &'a S,
    pub arn: &'a str,
    pub owner: &'a str,
}

impl<S: Store> Drop for ClaimGuard<'_, S> {
    fn drop(&mut self) {
        if let Err(e) = self.store.release(self.arn, self.owner) {
            tracing::error!(event = "store_error", resource_arn = %self.arn, error = %e);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_parse_back() {
        let me = owner_name();
        let (host, pid, _) = parse(&me).unwrap();
        assert_eq!(pid, std::process::id());
        assert_eq!(host, host_name());
        assert_ne!(owner_name(), me, "every call makes a new nonce");
    }

    #[test]
    fn a_gone_pid_on_this_host_is_dead() {
        let me = format!("h:{}:aaaa", std::process::id());
        // pid 4194304 is above Linux's largest pid.
        assert!(holder_is_dead("h:4194304:bbbb", &me));
        assert!(
            holder_is_dead(&format!("h:{}:bbbb", std::process::id()), &me),
            "same pid, other nonce: an earlier incarnation"
        );
        assert!(!holder_is_dead(&me, &me), "not ourselves");
        assert!(!holder_is_dead("other:4194304:bbbb", &me), "another host");
        assert!(
            !holder_is_dead("h:1:bbbb", &me),
            "pid 1 runs on every Linux machine"
        );
        assert!(!holder_is_dead("garbage", &me));
        assert!(holder_is_dead(
            "ip-10-0-0-1.ec2:4194304:c",
            "ip-10-0-0-1.ec2:7:d"
        ));
    }
}
