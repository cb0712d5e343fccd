//! The simulated account's resources, one `RegionState` per region, and the lazy
//! transitions that move them along when they are next read.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::images::{AppImageConfig, Image};
use super::inference::{Endpoint, EndpointConfig, Model};
use super::notebooks::Notebook;

/// What an operation knows about the call it serves.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// Monotonic now (tokio's clock, so tests may pause it).
    pub now: Instant,
    /// Wall-clock now in epoch seconds, for CreationTime/LastModifiedTime.
    pub epoch: f64,
    /// How long every asynchronous transition takes.
    pub delay: Duration,
    /// Endpoints whose updates fail and roll back ([`super::Faults::failed_endpoint_updates`]).
    pub failed_endpoint_updates: &'a std::collections::BTreeSet<String>,
}

impl Ctx<'_> {
    /// `arn:aws:sagemaker:{region}:{account}:{kind}/{name}`.
    pub fn arn(&self, kind: &str, name: &str) -> String {
        format!(
            "arn:aws:sagemaker:{}:{}:{kind}/{name}",
            self.region, self.account
        )
    }

    /// A transition started now to `then`, due after the configured delay.
    pub fn pending<T>(&self, then: T) -> Option<Pending<T>> {
        Some(Pending {
            at: self.now + self.delay,
            epoch: self.epoch + self.delay.as_secs_f64(),
            then,
        })
    }
}

/// A transition that completes at `at` (`epoch` in wall-clock seconds).
#[derive(Debug, Clone)]
pub struct Pending<T> {
    pub at: Instant,
    pub epoch: f64,
    pub then: T,
}

impl<T> Pending<T> {
    /// Takes the transition out of `slot` when it is due at `now`.
    pub fn take_due(slot: &mut Option<Pending<T>>, now: Instant) -> Option<Pending<T>> {
        match slot {
            Some(pending) if pending.at <= now => slot.take(),
            _ => None,
        }
    }
}

/// Where a transition ends: a status, or the resource is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Status(&'static str),
    Gone,
}

/// Applies a due status transition to `status` and `last_modified`; false when the resource
/// is gone.
pub fn settle_status(
    slot: &mut Option<Pending<Next>>,
    now: Instant,
    status: &mut String,
    last_modified: &mut f64,
) -> bool {
    match Pending::take_due(slot, now) {
        None => true,
        Some(Pending {
            then: Next::Gone, ..
        }) => false,
        Some(Pending {
            then: Next::Status(next),
            epoch,
            ..
        }) => {
            *status = next.to_string();
            *last_modified = epoch;
            true
        }
    }
}

/// Resource tags in insertion order, keys unique.
pub type Tags = Vec<(String, String)>;

/// A resource whose due transitions are applied when it is read.
pub trait Settle {
    /// Applies a transition due at `now`; false when the resource is gone.
    fn settle(&mut self, now: Instant) -> bool;
    /// The resource's tags.
    fn tags_mut(&mut self) -> &mut Tags;
}

/// Everything in one region of the account, maps keyed by lowercased name.
#[derive(Debug, Default)]
pub struct RegionState {
    next_seq: u64,
    pub notebooks: HashMap<String, Notebook>,
    pub models: HashMap<String, Model>,
    pub endpoint_configs: HashMap<String, EndpointConfig>,
    pub endpoints: HashMap<String, Endpoint>,
    pub images: HashMap<String, Image>,
    pub app_image_configs: HashMap<String, AppImageConfig>,
}

impl RegionState {
    /// The next creation sequence number (orders resources by creation).
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

/// The map key of a resource name.
pub fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Looks a resource up by name (case-insensitive), applying its due transition first.
pub fn lookup<'m, T: Settle>(
    map: &'m mut HashMap<String, T>,
    name: &str,
    now: Instant,
) -> Option<&'m mut T> {
    let key = key(name);
    if !map.get_mut(&key)?.settle(now) {
        map.remove(&key);
        return None;
    }
    map.get_mut(&key)
}

/// Applies every due transition in the map, dropping what is gone (before a list).
pub fn settle_all<T: Settle>(map: &mut HashMap<String, T>, now: Instant) {
    map.retain(|_, resource| resource.settle(now));
}
