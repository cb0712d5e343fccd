//! The [`Store`] for several replicas: one DynamoDB table (`daemon.store = "dynamodb"`), on-demand
//! capacity, every decision a conditional write on one item or one transaction.
//!
//! # Key schema
//!
//! Partition key `pk` and sort key `sk`, both strings; one sparse global secondary index `due`
//! (`due_pk`, `due_sk`, keys only) over the triggers that are pending; TTL on `expires`
//! (epoch seconds) removes finished items after `daemon.dynamodb_retention_days`.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | trigger of an ARN (pending or finished, keeps its generation) | `TRIGGER#<arn>` | `T` |
//! | claim on a resource | `CLAIM#<arn>` | `C` |
//! | id counters | `COUNTER` | `remediation`, `approval` |
//! | remediation with its steps | `REMEDIATION` | id, 20 digits |
//! | the running remediation of a resource (at most one) | `RUNNING` | arn |
//! | remediations of a resource | `HISTORY#<arn>` | id |
//! | non-dry-run notebook fixes of an account | `FIXES#<account>` | start time `#` id |
//! | flag | `FLAG` | arn |
//! | remembered failure | `FAILURE` | arn `#` kind |
//! | outbox notice | `OUTBOX` | event id |
//! | approval request | `APPROVAL` | id |
//! | enforcement pause | `PAUSE` | account |
//! | resource a sweep found compliant | `SEEN#<account>#<region>` | arn |
//! | last use of a notebook | `ACTIVITY` | arn |
//! | waiting fix | `WAIT` | arn `#` kind |
//!
//! Records are kept as JSON in `body`, with the attributes conditions look at beside it (`rev`,
//! bumped by every read-modify-write, `gen`, `owner`, `expires_at`, ...). Reads that decide are
//! strongly consistent; the `due` index is eventually consistent, so what it returns is read
//! again from the table before it is handed out.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, Select,
    TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::approvals;
use super::coalesce::{encode_controls, Existing, Merged};
use super::{check_final, check_unclaimed};
use super::{
    Approval, ApprovalState, Channel, DynamoReason, Failure, Flag, Millis, NewApproval,
    NewRemediation, Notice, OutboxEntry, Pause, Pending, Remediation, RemediationKind,
    RemediationStatus, StepRecord, Store, StoreError, Verdict, Wait,
};
use crate::events::Trigger;

mod table;
mod wire;

pub use table::Init;
use wire::*;

/// How often a read-modify-write is tried again when another writer got in between.
const CONTENDED_ATTEMPTS: usize = 25;

/// The [`Store`] on one DynamoDB table, shared by every replica.
pub struct DynamoStore {
    client: Client,
    table: String,
    retention_ms: i64,
    /// The SDK's futures run here (see [`wire::block`]); `None` once dropped.
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl Drop for DynamoStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async caller may not do.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, StoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("store")
        .enable_all()
        .build()
        .map_err(|e| StoreError::Dynamo {
            table: String::new(),
            operation: "start",
            reason: DynamoReason::Other,
            message: e.to_string(),
        })
}

/// The store's client: the credential chain's configuration, with more retries than the SDK's
/// default (a throttled table slows the daemon down; it does not fail its work).
pub fn client(base: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(base)
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::adaptive()
                .with_max_attempts(8)
                .with_max_backoff(Duration::from_secs(5)),
        )
        .build();
    Client::from_conf(conf)
}

impl DynamoStore {
    /// The store on `table`, after checking that the table exists with this store's schema.
    ///
    /// # Errors
    ///
    /// [`StoreError::Dynamo`]: no such table (`reason` says to run `store init`), access
    /// denied, or a table with other keys.
    pub fn open(
        client: Client,
        table: &str,
        retention_days: u64,
    ) -> Result<DynamoStore, StoreError> {
        let store = DynamoStore {
            client,
            table: table.to_string(),
            retention_ms: i64::try_from(retention_days)
                .unwrap_or(i64::MAX / 86_400_000)
                .saturating_mul(86_400_000),
            rt: Some(runtime()?),
        };
        store.block(table::check(&store.client, &store.table))?;
        Ok(store)
    }

    /// Creates the table (`store init`), or checks the one that is there.
    pub async fn init(client: &Client, table: &str) -> Result<Init, StoreError> {
        table::create(client, table).await
    }

    /// The table this store writes.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn block<T: Send>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        wire::block(self.rt.as_ref(), f)
    }

    fn fail(&self, operation: &'static str) -> impl Fn(Failed) -> StoreError + '_ {
        move |f| f.into_store(&self.table, operation)
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&self.table, "GetItem", e).into_store(&self.table, "GetItem"))?;
        Ok(out.item)
    }

    /// Consistent reads of many items (any order; missing ones are left out).
    async fn get_many(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| self.invalid("BatchGetItem", e))?,
            );
            let mut round = 0u32;
            while let Some(keys) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| {
                        classify(&self.table, "BatchGetItem", e)
                            .into_store(&self.table, "BatchGetItem")
                    })?;
                if let Some(mut items) = out.responses {
                    found.extend(items.remove(&self.table).unwrap_or_default());
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    round += 1;
                    backoff(round).await;
                }
            }
        }
        Ok(found)
    }

    /// Every item of partition `pk` (following the pages), newest sort key first when
    /// `!forward`, stopping once `keep` accepted `limit` of them.
    /// Runs `query` page after page, handing each page to `page` until it returns `false`
    /// or the pages end.
    async fn pages(
        &self,
        query: QueryFluentBuilder,
        mut page: impl FnMut(QueryOutput) -> bool,
    ) -> Result<(), StoreError> {
        let mut start: Option<Item> = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify(&self.table, "Query", e).into_store(&self.table, "Query"))?;
            let next = out.last_evaluated_key.clone().filter(|k| !k.is_empty());
            if !page(out) {
                return Ok(());
            }
            match next {
                Some(k) => start = Some(k),
                None => return Ok(()),
            }
        }
    }

    /// Every item of partition `pk` (following the pages), newest sort key first when
    /// `!forward`, stopping once `keep` accepted `limit` of them.
    async fn query(
        &self,
        pk: &str,
        forward: bool,
        limit: Option<usize>,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .scan_index_forward(forward);
        let mut found = Vec::new();
        self.pages(query, |out| {
            for item in out.items.unwrap_or_default() {
                if keep(&item) {
                    found.push(item);
                    if limit.is_some_and(|l| found.len() >= l) {
                        return false;
                    }
                }
            }
            true
        })
        .await?;
        Ok(found)
    }

    /// How many items `query` matches (every page counted).
    async fn count(&self, query: QueryFluentBuilder) -> Result<u64, StoreError> {
        let mut total = 0u64;
        self.pages(query.select(Select::Count), |out| {
            total += u64::try_from(out.count).unwrap_or(0);
            true
        })
        .await?;
        Ok(total)
    }

    /// Writes all of `items` or none (one transaction); `Failed::Condition` when a condition
    /// did not hold.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Failed> {
        if items.is_empty() {
            return Ok(());
        }
        if let [one] = items.as_slice() {
            return self.write_one(one).await;
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&self.table, "TransactWriteItems", e))
    }

    /// One conditional put or delete on its own (half the cost of a transaction).
    async fn write_one(&self, write: &TransactWriteItem) -> Result<(), Failed> {
        if let Some(put) = write.put() {
            return self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_string))
                .set_expression_attribute_names(put.expression_attribute_names().cloned())
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&self.table, "PutItem", e));
        }
        if let Some(delete) = write.delete() {
            return self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(delete.key().clone()))
                .set_condition_expression(delete.condition_expression().map(str::to_string))
                .set_expression_attribute_names(delete.expression_attribute_names().cloned())
                .set_expression_attribute_values(delete.expression_attribute_values().cloned())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&self.table, "DeleteItem", e));
        }
        Ok(())
    }

    /// Unconditional puts and deletes, 25 per call, unprocessed ones sent again.
    async fn write_many(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut round = 0u32;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| {
                        classify(&self.table, "BatchWriteItem", e)
                            .into_store(&self.table, "BatchWriteItem")
                    })?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    round += 1;
                    backoff(round).await;
                }
            }
        }
        Ok(())
    }

    fn invalid(&self, operation: &'static str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Dynamo {
            table: self.table.clone(),
            operation,
            reason: DynamoReason::Rejected,
            message: e.to_string(),
        }
    }

    /// A put of `item` for a transaction, under `condition` (with its values).
    fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string));
        for (name, value) in values {
            put = put.expression_attribute_values(name, value);
        }
        if condition.is_some_and(|c| c.contains("#o")) {
            put = put.expression_attribute_names("#o", "owner");
        }
        let put = put.build().map_err(|e| self.invalid("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(condition.map(str::to_string));
        for (name, value) in values {
            delete = delete.expression_attribute_values(name, value);
        }
        let delete = delete.build().map_err(|e| self.invalid("Delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A new record: the item of `pk`/`sk` with `body`, revision 1.
    fn record(&self, pk: &str, sk: &str, body: String) -> Item {
        let mut item = key(pk, sk);
        item.insert(BODY.to_string(), s(body));
        item.insert(REV.to_string(), n(1));
        item
    }

    /// The puts of `notices` into the outbox, linked to `remediation_id`.
    fn notice_puts(
        &self,
        notices: &[Notice],
        remediation_id: Option<i64>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        notices
            .iter()
            .map(|notice| {
                let entry = OutboxEntry {
                    notice: notice.clone(),
                    remediation_id,
                    attempts: 0,
                    next_attempt_at: notice.at,
                    last_error: None,
                };
                self.put(self.outbox_item(&entry)?, None, Vec::new())
            })
            .collect()
    }

    fn outbox_item(&self, entry: &OutboxEntry) -> Result<Item, StoreError> {
        let id = &entry.notice.event_id;
        let mut item = self.record("OUTBOX", id, encode(|| format!("notice {id}"), entry)?);
        let channel: &str = entry.notice.channel.into();
        item.insert("channel".to_string(), s(channel));
        item.insert("next_at".to_string(), n(entry.next_attempt_at));
        Ok(item)
    }

    /// Reads the record at `pk`/`sk`, lets `change` edit it, and writes it back if nobody
    /// wrote it meanwhile (trying again when someone did). `change` returns the other writes
    /// of the same transaction and what the call returns; `None` from it writes nothing.
    async fn update<T, R>(
        &self,
        pk: &str,
        sk: &str,
        operation: &'static str,
        what: &(dyn Fn() -> String + Sync),
        mut change: impl FnMut(Option<T>) -> Result<Option<(T, Vec<TransactWriteItem>, R)>, StoreError>
            + Send,
        mut extra: impl FnMut(&T, &mut Item) + Send,
    ) -> Result<Option<R>, StoreError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send,
        R: Send,
    {
        for _ in 0..CONTENDED_ATTEMPTS {
            let current = self.get(pk, sk).await?;
            let rev = current.as_ref().and_then(|i| get_n(i, REV));
            let record: Option<T> = current.as_ref().map(|i| body(i, what)).transpose()?;
            let Some((record, mut writes, result)) = change(record)? else {
                return Ok(None);
            };
            let mut item = key(pk, sk);
            item.insert(BODY.to_string(), s(encode(what, &record)?));
            item.insert(REV.to_string(), n(rev.unwrap_or(0) + 1));
            extra(&record, &mut item);
            let put = match rev {
                Some(rev) => self.put(item, Some("rev = :rev"), vec![(":rev", n(rev))])?,
                None => self.put(item, Some("attribute_not_exists(pk)"), Vec::new())?,
            };
            writes.insert(0, put);
            match self.transact(writes).await {
                Ok(()) => return Ok(Some(result)),
                Err(Failed::Condition) => continue,
                Err(Failed::Store(e)) => return Err(e),
            }
        }
        Err(Failed::Condition.into_store(&self.table, operation))
    }

    /// Who holds the claim on `arn`, and until when.
    async fn holder(&self, arn: &str) -> Result<Option<(String, Millis)>, StoreError> {
        let item = self.get(&format!("CLAIM#{arn}"), "C").await?;
        Ok(item.and_then(|i| Some((get_s(&i, "owner")?.to_string(), get_n(&i, "expires_at")?))))
    }

    /// Writes the claim on `arn` for `owner` until `expires_at` under `condition` (`#o` is the
    /// holder, `:o` the new owner; `values` the rest); whether it was taken.
    async fn put_claim(
        &self,
        arn: &str,
        owner: &str,
        expires_at: Millis,
        condition: &str,
        mut values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut item = key(&format!("CLAIM#{arn}"), "C");
        item.insert("owner".to_string(), s(owner));
        item.insert("expires_at".to_string(), n(expires_at));
        item.insert(EXPIRES.to_string(), expiry(expires_at, 86_400_000));
        values.push((":o", s(owner)));
        let put = self.put(item, Some(condition), values)?;
        applied(self.write_one(&put).await)
    }

    async fn remediation_items(&self, ids: &[i64]) -> Result<Vec<Remediation>, StoreError> {
        let keys = ids.iter().map(|id| key("REMEDIATION", &pad(*id))).collect();
        self.get_many(keys)
            .await?
            .iter()
            .map(|i| body(i, || format!("remediation {}", get_s(i, SK).unwrap_or("?"))))
            .collect()
    }

    async fn enqueue_chunk(&self, triggers: &[&Trigger], now: Millis) -> Result<(), StoreError> {
        // One merged write per ARN (later triggers of the batch merge into earlier ones).
        let mut order: Vec<&str> = Vec::new();
        let mut by_arn: HashMap<&str, Vec<&Trigger>> = HashMap::new();
        for t in triggers {
            by_arn
                .entry(t.arn.as_str())
                .or_insert_with(|| {
                    order.push(t.arn.as_str());
                    Vec::new()
                })
                .push(t);
        }
        // Each ARN's write is conditional on what was read; the writes go out together, and
        // only the ARNs another writer got to first are read and written again. (No
        // transaction: each trigger only has to be durable before its message is deleted.)
        for _ in 0..CONTENDED_ATTEMPTS {
            if order.is_empty() {
                return Ok(());
            }
            let keys = order.iter().map(|arn| key(&trigger_pk(arn), "T")).collect();
            let stored: HashMap<String, Item> = self
                .get_many(keys)
                .await?
                .into_iter()
                .filter_map(|i| Some((get_s(&i, PK)?.to_string(), i)))
                .collect();
            let mut writes = Vec::with_capacity(order.len());
            for arn in &order {
                let pk = trigger_pk(arn);
                let item = stored.get(&pk);
                let mut existing = item.map(existing_of).transpose()?;
                let old_gen = existing.as_ref().map(|e| e.generation);
                let mut written = None;
                for t in &by_arn[arn] {
                    let merged = Merged::of(t, existing.as_ref(), now);
                    existing = Some(Existing {
                        name: merged.name.clone(),
                        controls: encode_controls(&merged.controls),
                        generation: merged.generation,
                        attempts: merged.attempts,
                        not_before: merged.not_before,
                        first_seen: merged.first_seen,
                        pending: true,
                    });
                    written = Some((*t, merged));
                }
                let Some((t, merged)) = written else { continue };
                let trigger = Trigger {
                    name: merged.name.clone(),
                    controls: merged.controls.clone(),
                    ..t.clone()
                };
                let mut row = key(&pk, "T");
                row.insert(
                    BODY.to_string(),
                    s(encode(|| format!("trigger of {arn}"), &trigger)?),
                );
                row.insert("gen".to_string(), n(merged.generation));
                row.insert("attempts".to_string(), n(merged.attempts));
                row.insert("not_before".to_string(), n(merged.not_before));
                row.insert("first_seen".to_string(), n(merged.first_seen));
                row.insert("live".to_string(), AttributeValue::Bool(true));
                row.insert(DUE_PK.to_string(), s("due"));
                row.insert(DUE_SK.to_string(), s(due_sk(merged.not_before, arn)));
                row.insert(EXPIRES.to_string(), expiry(now, self.retention_ms));
                let write = match old_gen {
                    Some(g) => self.put(row, Some("gen = :g"), vec![(":g", n(g))])?,
                    None => self.put(row, Some("attribute_not_exists(pk)"), Vec::new())?,
                };
                writes.push((*arn, write));
            }
            let results =
                futures::future::join_all(writes.iter().map(|(_, w)| self.write_one(w))).await;
            let mut again = Vec::new();
            for ((arn, _), result) in writes.iter().zip(results) {
                match result {
                    Ok(()) => {}
                    Err(Failed::Condition) => again.push(*arn),
                    Err(Failed::Store(e)) => return Err(e),
                }
            }
            order = again;
        }
        Err(Failed::Condition.into_store(&self.table, "PutItem"))
    }

    fn pending_of(&self, item: &Item) -> Result<Pending, StoreError> {
        let arn = get_s(item, PK)
            .unwrap_or("?")
            .trim_start_matches("TRIGGER#")
            .to_string();
        let trigger: Trigger = body(item, || format!("trigger of {arn}"))?;
        let num = |name: &str| {
            get_n(item, name).ok_or_else(|| StoreError::Corrupt {
                what: format!("trigger of {arn}"),
                message: format!("no `{name}`"),
            })
        };
        Ok(Pending {
            trigger,
            generation: u64::try_from(num("gen")?).unwrap_or(0),
            attempts: u32::try_from(num("attempts")?).unwrap_or(0),
            not_before: num("not_before")?,
            first_seen: num("first_seen")?,
        })
    }

    /// The `due` index's query of pending triggers, due by `until` when given.
    fn due_query(&self, until: Option<Millis>) -> QueryFluentBuilder {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(table::DUE_INDEX)
            .expression_attribute_values(":d", s("due"));
        match until {
            Some(until) => query
                .key_condition_expression("due_pk = :d AND due_sk <= :u")
                .expression_attribute_values(":u", s(format!("{}~", pad(until)))),
            None => query.key_condition_expression("due_pk = :d"),
        }
    }

    /// The keys of pending triggers due by `until` (the index, eventually consistent).
    async fn due_keys(&self, until: Option<Millis>, limit: usize) -> Result<Vec<Item>, StoreError> {
        let query = self
            .due_query(until)
            .limit(i32::try_from(limit.min(1000)).unwrap_or(1000).max(1));
        let mut found = Vec::new();
        self.pages(query, |out| {
            found.extend(out.items.unwrap_or_default());
            found.len() < limit
        })
        .await?;
        found.truncate(limit);
        Ok(found)
    }

    async fn due_async(&self, now: Millis, limit: usize) -> Result<Vec<Pending>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys: Vec<Item> = self
            .due_keys(Some(now), limit)
            .await?
            .into_iter()
            .filter_map(|i| {
                let pk = get_s(&i, PK)?;
                Some(key(pk, "T"))
            })
            .collect();
        let mut due = Vec::new();
        for item in self.get_many(keys).await? {
            let live = matches!(item.get("live"), Some(AttributeValue::Bool(true)));
            let pending = self.pending_of(&item)?;
            if live && pending.not_before <= now {
                due.push(pending);
            }
        }
        due.sort_by(|a, b| (a.not_before, &a.trigger.arn).cmp(&(b.not_before, &b.trigger.arn)));
        due.truncate(limit);
        Ok(due)
    }

    async fn begin_async(&self, r: &NewRemediation) -> Result<i64, StoreError> {
        let arn = r.resource.arn.as_str();
        let id = self.next_id("remediation").await?;
        let remediation = Remediation {
            id,
            resource: r.resource.clone(),
            controls: r.controls.clone(),
            kind: r.kind,
            dry_run: r.dry_run,
            state: r.state.clone(),
            status: RemediationStatus::Running,
            outcome: None,
            created_at: r.at,
            updated_at: r.at,
            steps: Vec::new(),
        };
        let mut running = key("RUNNING", arn);
        running.insert("id".to_string(), n(id));
        running.insert("account".to_string(), s(&r.resource.account));
        running.insert("kind".to_string(), s(r.kind.as_str()));
        running.insert("dry_run".to_string(), AttributeValue::Bool(r.dry_run));
        let mut writes = vec![
            self.put(running, Some("attribute_not_exists(pk)"), Vec::new())?,
            self.put(self.remediation_item(&remediation, 1)?, None, Vec::new())?,
            self.put(key(&format!("HISTORY#{arn}"), &pad(id)), None, Vec::new())?,
        ];
        if r.kind == RemediationKind::NotebookFix && !r.dry_run {
            let mut fix = key(
                &format!("FIXES#{}", r.resource.account),
                &format!("{}#{}", pad(r.at), pad(id)),
            );
            fix.insert(EXPIRES.to_string(), expiry(r.at, self.retention_ms));
            writes.push(self.put(fix, None, Vec::new())?);
        }
        writes.extend(self.notice_puts(&r.notices, Some(id))?);
        match self.transact(writes).await {
            Ok(()) => Ok(id),
            Err(Failed::Condition) => {
                let holder = self.get("RUNNING", arn).await?;
                let other = holder.as_ref().and_then(|i| get_n(i, "id"));
                Err(StoreError::Conflict {
                    what: format!("remediation of {arn}"),
                    message: match other {
                        Some(other) => format!("remediation {other} is still running"),
                        None => "another remediation started at the same time".to_string(),
                    },
                })
            }
            Err(Failed::Store(e)) => Err(e),
        }
    }

    fn remediation_item(&self, r: &Remediation, rev: i64) -> Result<Item, StoreError> {
        let mut item = key("REMEDIATION", &pad(r.id));
        item.insert(
            BODY.to_string(),
            s(encode(|| format!("remediation {}", r.id), r)?),
        );
        item.insert(REV.to_string(), n(rev));
        item.insert("status".to_string(), s(r.status.as_str()));
        if r.status.is_terminal() {
            item.insert(EXPIRES.to_string(), expiry(r.updated_at, self.retention_ms));
        }
        Ok(item)
    }

    async fn next_id(&self, counter: &str) -> Result<i64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("COUNTER", counter)))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| {
                classify(&self.table, "UpdateItem", e).into_store(&self.table, "UpdateItem")
            })?;
        out.attributes
            .as_ref()
            .and_then(|a| get_n(a, "n"))
            .ok_or_else(|| self.invalid("UpdateItem", "the counter returned no value"))
    }

    /// Reads remediation `id`, applies `change`, and writes it back with `also` (retrying when
    /// another writer got in between).
    async fn change_remediation(
        &self,
        id: i64,
        operation: &'static str,
        change: impl Fn(&mut Remediation) -> Result<Vec<TransactWriteItem>, StoreError> + Send + Sync,
    ) -> Result<(), StoreError> {
        for _ in 0..CONTENDED_ATTEMPTS {
            match self.change_remediation_once(id, &change).await {
                Ok(()) => return Ok(()),
                Err(Failed::Condition) => continue,
                Err(Failed::Store(e)) => return Err(e),
            }
        }
        Err(Failed::Condition.into_store(&self.table, operation))
    }

    /// One attempt of [`DynamoStore::change_remediation`]: `Failed::Condition` when the
    /// record or another item of the transaction did not meet its condition.
    async fn change_remediation_once(
        &self,
        id: i64,
        change: impl FnOnce(&mut Remediation) -> Result<Vec<TransactWriteItem>, StoreError>,
    ) -> Result<(), Failed> {
        let Some(item) = self.get("REMEDIATION", &pad(id)).await? else {
            return Err(Failed::Store(StoreError::NotFound {
                what: format!("remediation {id}"),
            }));
        };
        let rev = get_n(&item, REV).unwrap_or(0);
        let mut r: Remediation = body(&item, || format!("remediation {id}"))?;
        let mut writes = change(&mut r)?;
        writes.insert(
            0,
            self.put(
                self.remediation_item(&r, rev + 1)?,
                Some("rev = :rev"),
                vec![(":rev", n(rev))],
            )?,
        );
        self.transact(writes).await
    }

    async fn approvals_where(
        &self,
        limit: Option<usize>,
        keep: impl Fn(&Item) -> bool,
    ) -> Result<Vec<(i64, Approval)>, StoreError> {
        let items = self.query("APPROVAL", false, limit, keep).await?;
        items
            .iter()
            .map(|i| {
                let id: i64 = get_s(i, SK).and_then(|k| k.parse().ok()).unwrap_or(0);
                let mut a: Approval = body(i, || format!("approval {id}"))?;
                a.id = id;
                Ok((get_n(i, REV).unwrap_or(0), a))
            })
            .collect()
    }

    fn approval_item(&self, a: &Approval, rev: i64) -> Result<Item, StoreError> {
        let mut item = key("APPROVAL", &pad(a.id));
        item.insert(
            BODY.to_string(),
            s(encode(|| format!("approval {}", a.id), a)?),
        );
        item.insert(REV.to_string(), n(rev));
        item.insert("arn".to_string(), s(a.resource.arn.as_str()));
        item.insert("kind".to_string(), s(a.kind.as_str()));
        let state: &str = a.state.into();
        item.insert("state".to_string(), s(state));
        Ok(item)
    }

    /// Reads approval `id`, lets `change` decide, writes what it returns (retrying when
    /// another writer got in between).
    async fn change_approval<R: Send>(
        &self,
        id: i64,
        operation: &'static str,
        change: impl Fn(Approval) -> (Option<Approval>, Result<R, StoreError>) + Send + Sync,
    ) -> Result<R, StoreError> {
        for _ in 0..CONTENDED_ATTEMPTS {
            let Some(item) = self.get("APPROVAL", &pad(id)).await? else {
                return Err(StoreError::NotFound {
                    what: format!("approval request {id}"),
                });
            };
            let rev = get_n(&item, REV).unwrap_or(0);
            let mut current: Approval = body(&item, || format!("approval {id}"))?;
            current.id = id;
            let (write, result) = change(current);
            let Some(a) = write else { return result };
            let put = self.put(
                self.approval_item(&a, rev + 1)?,
                Some("rev = :rev"),
                vec![(":rev", n(rev))],
            )?;
            match self.transact(vec![put]).await {
                Ok(()) => return result,
                Err(Failed::Condition) => continue,
                Err(Failed::Store(e)) => return Err(e),
            }
        }
        Err(Failed::Condition.into_store(&self.table, operation))
    }

    async fn bodies<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        kind: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.query(pk, true, None, |_| true)
            .await?
            .iter()
            .map(|i| body(i, || format!("{kind} of {}", get_s(i, SK).unwrap_or("?"))))
            .collect()
    }

    async fn one<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<Option<T>, StoreError> {
        self.get(pk, sk).await?.map(|i| body(&i, what)).transpose()
    }

    async fn with_notices(&self, item: Item, notices: &[Notice]) -> Result<(), StoreError> {
        let mut writes = vec![self.put(item, None, Vec::new())?];
        writes.extend(self.notice_puts(notices, None)?);
        self.transact(writes)
            .await
            .map_err(self.fail("TransactWriteItems"))
    }
}

fn trigger_pk(arn: &str) -> String {
    format!("TRIGGER#{arn}")
}

fn due_sk(not_before: Millis, arn: &str) -> String {
    format!("{}#{arn}", pad(not_before))
}

fn existing_of(item: &Item) -> Result<Existing, StoreError> {
    let what = || format!("trigger {}", get_s(item, PK).unwrap_or("?"));
    let trigger: Trigger = body(item, what)?;
    let num = |name: &str| {
        get_n(item, name).ok_or_else(|| StoreError::Corrupt {
            what: what(),
            message: format!("no `{name}`"),
        })
    };
    Ok(Existing {
        name: trigger.name.clone(),
        controls: encode_controls(&trigger.controls),
        generation: num("gen")?,
        attempts: num("attempts")?,
        not_before: num("not_before")?,
        first_seen: num("first_seen")?,
        pending: matches!(item.get("live"), Some(AttributeValue::Bool(true))),
    })
}

async fn backoff(round: u32) {
    let ms = 25u64.saturating_mul(1 << round.min(6));
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn failure_sk(arn: &str, kind: RemediationKind) -> String {
    format!("{arn}#{}", kind.as_str())
}

impl Store for DynamoStore {
    fn enqueue(&self, triggers: &[Trigger], now: Millis) -> Result<(), StoreError> {
        if triggers.is_empty() {
            return Ok(());
        }
        self.block(async {
            // BatchGetItem reads at most 100 items: chunks of whole ARNs, 100 at a time.
            let mut arns: Vec<&str> = triggers.iter().map(|t| t.arn.as_str()).collect();
            arns.sort_unstable();
            arns.dedup();
            for chunk in arns.chunks(100) {
                let part: Vec<&Trigger> = triggers
                    .iter()
                    .filter(|t| chunk.binary_search(&t.arn.as_str()).is_ok())
                    .collect();
                self.enqueue_chunk(&part, now).await?;
            }
            Ok(())
        })
    }

    fn due(&self, now: Millis, limit: usize) -> Result<Vec<Pending>, StoreError> {
        self.block(self.due_async(now, limit))
    }

    fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        self.block(async {
            let first = self.due_keys(None, 1).await?;
            Ok(first
                .first()
                .and_then(|i| get_s(i, DUE_SK))
                .and_then(|k| k.split('#').next())
                .and_then(|t| t.parse().ok()))
        })
    }

    fn finish(&self, arn: &str, generation: u64) -> Result<bool, StoreError> {
        let Ok(generation) = i64::try_from(generation) else {
            return Ok(false);
        };
        self.block(async {
            let done = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(&trigger_pk(arn), "T")))
                .update_expression("SET live = :f REMOVE due_pk, due_sk")
                .condition_expression("gen = :g AND live = :t")
                .expression_attribute_values(":g", n(generation))
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .expression_attribute_values(":f", AttributeValue::Bool(false))
                .send()
                .await;
            applied(
                done.map(drop)
                    .map_err(|e| classify(&self.table, "UpdateItem", e)),
            )
        })
    }

    fn defer(&self, arn: &str, not_before: Millis, attempts: u32) -> Result<(), StoreError> {
        self.block(async {
            let done = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(&trigger_pk(arn), "T")))
                .update_expression(
                    "SET not_before = :nb, attempts = :a, due_sk = :dsk, expires = :x",
                )
                .condition_expression("live = :t")
                .expression_attribute_values(":nb", n(not_before))
                .expression_attribute_values(":a", n(i64::from(attempts)))
                .expression_attribute_values(":dsk", s(due_sk(not_before, arn)))
                .expression_attribute_values(":x", expiry(not_before, self.retention_ms))
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .send()
                .await;
            applied(
                done.map(drop)
                    .map_err(|e| classify(&self.table, "UpdateItem", e)),
            )
            .map(drop)
        })
    }

    fn pending_count(&self) -> Result<u64, StoreError> {
        self.block(self.count(self.due_query(None)))
    }

    fn claim(&self, arn: &str, owner: &str, now: Millis, ttl_ms: i64) -> Result<bool, StoreError> {
        self.block(self.put_claim(
            arn,
            owner,
            now.saturating_add(ttl_ms),
            "attribute_not_exists(pk) OR #o = :o OR expires_at <= :now",
            vec![(":now", n(now))],
        ))
    }

    fn release(&self, arn: &str, owner: &str) -> Result<(), StoreError> {
        self.block(async {
            let done = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(&format!("CLAIM#{arn}"), "C")))
                .condition_expression("#o = :o")
                .expression_attribute_names("#o", "owner")
                .expression_attribute_values(":o", s(owner))
                .send()
                .await;
            applied(
                done.map(drop)
                    .map_err(|e| classify(&self.table, "DeleteItem", e)),
            )
            .map(drop)
        })
    }

    fn begin(&self, r: &NewRemediation) -> Result<i64, StoreError> {
        self.block(self.begin_async(r))
    }

    fn append_step(&self, id: i64, step: &StepRecord) -> Result<(), StoreError> {
        self.block(self.change_remediation(id, "append_step", |r| {
            r.updated_at = r.updated_at.max(step.at);
            r.steps.push(step.clone());
            Ok(Vec::new())
        }))
    }

    fn append_intent(
        &self,
        id: i64,
        step: &StepRecord,
        arn: &str,
        owner: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.block(async {
            for _ in 0..CONTENDED_ATTEMPTS {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(&format!("CLAIM#{arn}"), "C")))
                    .condition_expression(
                        "attribute_not_exists(pk) OR #o = :o OR expires_at <= :now",
                    )
                    .expression_attribute_names("#o", "owner")
                    .expression_attribute_values(":o", s(owner))
                    .expression_attribute_values(":now", n(now))
                    .build()
                    .map_err(|e| self.invalid("ConditionCheck", e))?;
                let check = TransactWriteItem::builder().condition_check(check).build();
                let appended = self
                    .change_remediation_once(id, |r| {
                        r.updated_at = r.updated_at.max(step.at);
                        r.steps.push(step.clone());
                        Ok(vec![check.clone()])
                    })
                    .await;
                match appended {
                    Ok(()) => return Ok(()),
                    Err(Failed::Condition) => {
                        // Our revision or the claim: the claim says which.
                        check_unclaimed(arn, self.holder(arn).await?, owner, now)?;
                    }
                    Err(Failed::Store(e)) => return Err(e),
                }
            }
            Err(Failed::Condition.into_store(&self.table, "append_intent"))
        })
    }

    fn save_state(
        &self,
        id: i64,
        state: &serde_json::Value,
        status: RemediationStatus,
        outcome: Option<&str>,
        at: Millis,
        notices: &[Notice],
    ) -> Result<(), StoreError> {
        self.block(self.change_remediation(id, "save_state", |r| {
            let current = r.status;
            check_final(id, current, status)?;
            r.state = state.clone();
            r.status = status;
            r.outcome = outcome.map(str::to_string);
            r.updated_at = r.updated_at.max(at);
            let mut writes = Vec::new();
            if !current.is_terminal() {
                if status.is_terminal() {
                    writes.push(self.delete(
                        "RUNNING",
                        r.resource.arn.as_str(),
                        Some("attribute_not_exists(pk) OR id = :id"),
                        vec![(":id", n(id))],
                    )?);
                }
                writes.extend(self.notice_puts(notices, Some(id))?);
            }
            Ok(writes)
        }))
    }

    fn unfinished(&self) -> Result<Vec<Remediation>, StoreError> {
        self.block(async {
            let ids: Vec<i64> = self
                .query("RUNNING", true, None, |_| true)
                .await?
                .iter()
                .filter_map(|i| get_n(i, "id"))
                .collect();
            let mut found = self.remediation_items(&ids).await?;
            found.retain(|r| r.status == RemediationStatus::Running);
            found.sort_by_key(|r| (r.created_at, r.id));
            Ok(found)
        })
    }

    fn unfinished_for(&self, arn: &str) -> Result<Option<Remediation>, StoreError> {
        self.block(async {
            let Some(id) = self
                .get("RUNNING", arn)
                .await?
                .and_then(|i| get_n(&i, "id"))
            else {
                return Ok(None);
            };
            let found = self.remediation_items(&[id]).await?;
            Ok(found
                .into_iter()
                .find(|r| r.status == RemediationStatus::Running))
        })
    }

    fn remediations(
        &self,
        arn: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Remediation>, StoreError> {
        self.block(async {
            let mut found = match arn {
                Some(arn) => {
                    let ids: Vec<i64> = self
                        .query(&format!("HISTORY#{arn}"), false, Some(limit), |_| true)
                        .await?
                        .iter()
                        .filter_map(|i| get_s(i, SK)?.parse().ok())
                        .collect();
                    self.remediation_items(&ids).await?
                }
                None => self
                    .query("REMEDIATION", false, Some(limit), |_| true)
                    .await?
                    .iter()
                    .map(|i| body(i, || format!("remediation {}", get_s(i, SK).unwrap_or("?"))))
                    .collect::<Result<_, _>>()?,
            };
            found.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
            found.truncate(limit);
            Ok(found)
        })
    }

    fn save_flag(&self, flag: &Flag, notices: &[Notice]) -> Result<bool, StoreError> {
        let arn = flag.resource.arn.as_str();
        self.block(async {
            let written = self
                .update::<Flag, bool>(
                    "FLAG",
                    arn,
                    "save_flag",
                    &|| format!("flag of {arn}"),
                    |before| {
                        let changed = before.as_ref().is_none_or(|b| {
                            (&b.controls, &b.plan, b.dry_run)
                                != (&flag.controls, &flag.plan, flag.dry_run)
                        });
                        let writes = if changed {
                            self.notice_puts(notices, None)?
                        } else {
                            Vec::new()
                        };
                        Ok(Some((flag.clone(), writes, changed && !notices.is_empty())))
                    },
                    |_, _| {},
                )
                .await?;
            Ok(written.unwrap_or(false))
        })
    }

    fn flags(&self, arn: Option<&str>) -> Result<Vec<Flag>, StoreError> {
        self.block(async {
            match arn {
                Some(arn) => Ok(self
                    .one("FLAG", arn, &|| format!("flag of {arn}"))
                    .await?
                    .into_iter()
                    .collect()),
                None => self.bodies("FLAG", "flag").await,
            }
        })
    }

    fn claim_holder(&self, arn: &str) -> Result<Option<(String, Millis)>, StoreError> {
        self.block(self.holder(arn))
    }

    fn take_over(
        &self,
        arn: &str,
        previous: &str,
        owner: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        self.block(self.put_claim(
            arn,
            owner,
            now.saturating_add(ttl_ms),
            "attribute_not_exists(pk) OR #o = :p OR #o = :o",
            vec![(":p", s(previous))],
        ))
    }

    fn save_failure(&self, failure: &Failure) -> Result<(), StoreError> {
        let arn = failure.resource.arn.as_str();
        let item = self.record(
            "FAILURE",
            &failure_sk(arn, failure.kind),
            encode(|| format!("failure of {arn}"), failure)?,
        );
        self.block(async {
            let put = self.put(item, None, Vec::new())?;
            self.transact(vec![put]).await.map_err(self.fail("PutItem"))
        })
    }

    fn failure(&self, arn: &str, kind: RemediationKind) -> Result<Option<Failure>, StoreError> {
        self.block(self.one("FAILURE", &failure_sk(arn, kind), &|| {
            format!("failure of {arn}")
        }))
    }

    fn failures(&self) -> Result<Vec<Failure>, StoreError> {
        self.block(self.bodies("FAILURE", "failure"))
    }

    fn clear_failure(&self, arn: &str, kind: RemediationKind) -> Result<(), StoreError> {
        self.block(async {
            let delete = self.delete("FAILURE", &failure_sk(arn, kind), None, Vec::new())?;
            self.transact(vec![delete])
                .await
                .map_err(self.fail("DeleteItem"))
        })
    }

    fn outbox_due(
        &self,
        channel: Channel,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let wanted: &str = channel.into();
        self.block(async {
            let items = self
                .query("OUTBOX", true, None, |i| {
                    get_s(i, "channel") == Some(wanted)
                        && get_n(i, "next_at").is_some_and(|t| t <= now)
                })
                .await?;
            let mut due: Vec<OutboxEntry> = items
                .iter()
                .map(|i| body(i, || format!("notice {}", get_s(i, SK).unwrap_or("?"))))
                .collect::<Result<_, _>>()?;
            due.sort_by(|a, b| {
                (a.next_attempt_at, a.notice.at, &a.notice.event_id).cmp(&(
                    b.next_attempt_at,
                    b.notice.at,
                    &b.notice.event_id,
                ))
            });
            due.truncate(limit);
            Ok(due)
        })
    }

    fn outbox_next_due(&self, channel: Channel) -> Result<Option<Millis>, StoreError> {
        let wanted: &str = channel.into();
        self.block(async {
            let items = self
                .query("OUTBOX", true, None, |i| {
                    get_s(i, "channel") == Some(wanted)
                })
                .await?;
            Ok(items.iter().filter_map(|i| get_n(i, "next_at")).min())
        })
    }

    fn outbox_delivered(&self, event_ids: &[String]) -> Result<(), StoreError> {
        let requests = event_ids
            .iter()
            .map(|id| {
                aws_sdk_dynamodb::types::DeleteRequest::builder()
                    .set_key(Some(key("OUTBOX", id)))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| self.invalid("BatchWriteItem", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.block(self.write_many(requests))
    }

    fn outbox_retry(
        &self,
        event_id: &str,
        attempts: u32,
        next_attempt_at: Millis,
        error: &str,
    ) -> Result<(), StoreError> {
        self.block(async {
            self.update::<OutboxEntry, ()>(
                "OUTBOX",
                event_id,
                "outbox_retry",
                &|| format!("notice {event_id}"),
                |entry| {
                    // Delivered meanwhile: nothing to retry.
                    let Some(mut entry) = entry else {
                        return Ok(None);
                    };
                    entry.attempts = attempts;
                    entry.next_attempt_at = next_attempt_at;
                    entry.last_error = Some(error.to_string());
                    Ok(Some((entry, Vec::new(), ())))
                },
                |entry, item| {
                    let channel: &str = entry.notice.channel.into();
                    item.insert("channel".to_string(), s(channel));
                    item.insert("next_at".to_string(), n(entry.next_attempt_at));
                },
            )
            .await
            .map(drop)
        })
    }

    fn outbox_len(&self, channel: Channel) -> Result<u64, StoreError> {
        let wanted: &str = channel.into();
        self.block(async {
            let items = self
                .query("OUTBOX", true, None, |i| {
                    get_s(i, "channel") == Some(wanted)
                })
                .await?;
            Ok(items.len() as u64)
        })
    }

    fn request_approval(
        &self,
        request: &NewApproval,
        notices: &[Notice],
    ) -> Result<Approval, StoreError> {
        let arn = request.resource.arn.as_str();
        let kind = request.kind.as_str();
        self.block(async {
            let id = self.next_id("approval").await?;
            for _ in 0..CONTENDED_ATTEMPTS {
                let open = self
                    .approvals_where(None, |i| {
                        get_s(i, "arn") == Some(arn)
                            && get_s(i, "kind") == Some(kind)
                            && matches!(get_s(i, "state"), Some("pending" | "approved"))
                    })
                    .await?;
                let mut writes = Vec::new();
                for (rev, mut old) in open {
                    if old.state == ApprovalState::Pending || old.remediation_id.is_none() {
                        old.state = ApprovalState::Superseded;
                        writes.push(self.put(
                            self.approval_item(&old, rev + 1)?,
                            Some("rev = :rev"),
                            vec![(":rev", n(rev))],
                        )?);
                    }
                }
                let approval = Approval {
                    id,
                    resource: request.resource.clone(),
                    controls: request.controls.clone(),
                    kind: request.kind,
                    plan: request.plan.clone(),
                    fingerprint: request.fingerprint.clone(),
                    state: ApprovalState::Pending,
                    requested_at: request.requested_at,
                    expires_at: request.expires_at,
                    decided_by: None,
                    decided_at: None,
                    reason: None,
                    remediation_id: None,
                };
                writes.push(self.put(
                    self.approval_item(&approval, 1)?,
                    Some("attribute_not_exists(pk)"),
                    Vec::new(),
                )?);
                writes.extend(self.notice_puts(notices, None)?);
                match self.transact(writes).await {
                    Ok(()) => return Ok(approval),
                    Err(Failed::Condition) => continue,
                    Err(Failed::Store(e)) => return Err(e),
                }
            }
            Err(Failed::Condition.into_store(&self.table, "request_approval"))
        })
    }

    fn latest_approval(
        &self,
        arn: &str,
        kind: RemediationKind,
    ) -> Result<Option<Approval>, StoreError> {
        let kind = kind.as_str();
        self.block(async {
            let found = self
                .approvals_where(Some(1), |i| {
                    get_s(i, "arn") == Some(arn) && get_s(i, "kind") == Some(kind)
                })
                .await?;
            Ok(found.into_iter().next().map(|(_, a)| a))
        })
    }

    fn approval(&self, id: i64) -> Result<Option<Approval>, StoreError> {
        self.block(async {
            let found: Option<Approval> = self
                .one("APPROVAL", &pad(id), &|| format!("approval {id}"))
                .await?;
            Ok(found.map(|a| Approval { id, ..a }))
        })
    }

    fn approvals(
        &self,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        let wanted: Option<&str> = state.map(Into::into);
        self.block(async {
            let found = self
                .approvals_where(Some(limit), |i| {
                    wanted.is_none_or(|w| get_s(i, "state") == Some(w))
                })
                .await?;
            Ok(found.into_iter().map(|(_, a)| a).collect())
        })
    }

    fn decide_approval(
        &self,
        id: i64,
        verdict: Verdict,
        by: &str,
        reason: &str,
        at: Millis,
    ) -> Result<Approval, StoreError> {
        self.block(self.change_approval(id, "decide_approval", |a| {
            approvals::decide(a, verdict, by, reason, at)
        }))
    }

    fn expire_approval(&self, id: i64) -> Result<(), StoreError> {
        let done = self.block(self.change_approval(id, "expire_approval", approvals::expire));
        match done {
            Err(StoreError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    fn use_approval(&self, id: i64, remediation_id: i64) -> Result<(), StoreError> {
        self.block(self.change_approval(id, "use_approval", |a| approvals::bind(a, remediation_id)))
    }

    fn notebook_fixes(&self, account: &str, since: Millis) -> Result<(u64, u64), StoreError> {
        self.block(async {
            let since = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk >= :sk")
                .expression_attribute_values(":pk", s(format!("FIXES#{account}")))
                .expression_attribute_values(":sk", s(pad(since)))
                .consistent_read(true);
            let started = self.count(since).await?;
            let running = self
                .query("RUNNING", true, None, |i| {
                    get_s(i, "account") == Some(account)
                        && get_s(i, "kind") == Some(RemediationKind::NotebookFix.as_str())
                        && matches!(i.get("dry_run"), Some(AttributeValue::Bool(false)))
                })
                .await?
                .len() as u64;
            Ok((started, running))
        })
    }

    fn pause(&self, account: &str) -> Result<Option<Pause>, StoreError> {
        self.block(self.one("PAUSE", account, &|| format!("pause of {account}")))
    }

    fn pauses(&self) -> Result<Vec<Pause>, StoreError> {
        self.block(self.bodies("PAUSE", "pause"))
    }

    fn seen(&self, account: &str, region: &str) -> Result<HashMap<String, String>, StoreError> {
        self.block(async {
            let items = self
                .query(&format!("SEEN#{account}#{region}"), true, None, |_| true)
                .await?;
            Ok(items
                .iter()
                .filter_map(|i| Some((get_s(i, SK)?.to_string(), get_s(i, "version")?.to_string())))
                .collect())
        })
    }

    fn save_seen(
        &self,
        account: &str,
        region: &str,
        compliant: &[(String, String)],
        not_compliant: &[String],
        at: Millis,
    ) -> Result<(), StoreError> {
        let pk = format!("SEEN#{account}#{region}");
        let mut requests = Vec::with_capacity(compliant.len() + not_compliant.len());
        // One request per ARN in a batch: a later verdict replaces an earlier one.
        let mut verdicts: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for (arn, version) in compliant {
            verdicts.insert(arn, Some(version));
        }
        for arn in not_compliant {
            verdicts.insert(arn, None);
        }
        for (arn, version) in verdicts {
            let request = match version {
                Some(version) => {
                    let mut item = key(&pk, arn);
                    item.insert("version".to_string(), s(version));
                    item.insert("at".to_string(), n(at));
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                }
                None => aws_sdk_dynamodb::types::DeleteRequest::builder()
                    .set_key(Some(key(&pk, arn)))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build()),
            };
            requests.push(request.map_err(|e| self.invalid("BatchWriteItem", e))?);
        }
        self.block(self.write_many(requests))
    }

    fn save_notices(&self, notices: &[Notice]) -> Result<(), StoreError> {
        if notices.is_empty() {
            return Ok(());
        }
        self.block(async {
            for chunk in notices.chunks(50) {
                let writes = self.notice_puts(chunk, None)?;
                self.transact(writes)
                    .await
                    .map_err(self.fail("TransactWriteItems"))?;
            }
            Ok(())
        })
    }

    fn save_pause(&self, pause: &Pause, notices: &[Notice]) -> Result<(), StoreError> {
        let account = &pause.account;
        let item = self.record(
            "PAUSE",
            account,
            encode(|| format!("pause of {account}"), pause)?,
        );
        self.block(self.with_notices(item, notices))
    }

    fn record_activity(&self, arn: &str, at: Millis) -> Result<(), StoreError> {
        self.block(async {
            let done = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key("ACTIVITY", arn)))
                .update_expression("SET #at = :at")
                .condition_expression("attribute_not_exists(pk) OR #at < :at")
                .expression_attribute_names("#at", "at")
                .expression_attribute_values(":at", n(at))
                .send()
                .await;
            applied(
                done.map(drop)
                    .map_err(|e| classify(&self.table, "UpdateItem", e)),
            )
            .map(drop)
        })
    }

    fn last_activity(&self, arn: &str) -> Result<Option<Millis>, StoreError> {
        self.block(async {
            Ok(self
                .get("ACTIVITY", arn)
                .await?
                .and_then(|i| get_n(&i, "at")))
        })
    }

    fn save_wait(&self, wait: &Wait, notices: &[Notice]) -> Result<(), StoreError> {
        let arn = wait.resource.arn.as_str();
        let mut item = self.record(
            "WAIT",
            &failure_sk(arn, wait.kind),
            encode(|| format!("wait of {arn}"), wait)?,
        );
        item.insert("until".to_string(), n(wait.until));
        self.block(self.with_notices(item, notices))
    }

    fn clear_wait(&self, arn: &str, kind: RemediationKind) -> Result<(), StoreError> {
        self.block(async {
            let delete = self.delete("WAIT", &failure_sk(arn, kind), None, Vec::new())?;
            self.transact(vec![delete])
                .await
                .map_err(self.fail("DeleteItem"))
        })
    }

    fn waits(&self) -> Result<Vec<Wait>, StoreError> {
        self.block(async {
            let mut waits: Vec<Wait> = self.bodies("WAIT", "wait").await?;
            waits.sort_by(|a, b| (a.until, &a.resource.arn).cmp(&(b.until, &b.resource.arn)));
            Ok(waits)
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.block(async { self.get("PING", "PING").await.map(drop) })
    }
}
