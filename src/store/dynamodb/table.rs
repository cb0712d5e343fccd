//! The table's schema: `store init` creates it, and the daemon checks it before it starts.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::wire::{classify, Failed, DUE_PK, DUE_SK, EXPIRES, PK, SK};
use crate::store::{DynamoReason, StoreError};

/// The index of pending triggers by when they are due.
pub(super) const DUE_INDEX: &str = "due";

/// What `store init` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Created,
    /// The table was there with the expected keys and index.
    Existed,
}

fn invalid(table: &str, operation: &'static str, message: String) -> StoreError {
    StoreError::Dynamo {
        table: table.to_string(),
        operation,
        reason: DynamoReason::Rejected,
        message,
    }
}

fn element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| invalid("", "CreateTable", e.to_string()))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| invalid("", "CreateTable", e.to_string()))
}

/// Creates the table (on-demand capacity, the `due` index, TTL on `expires`) and waits until it
/// is active; a table that exists already is checked instead.
pub async fn create(client: &Client, table: &str) -> Result<Init, StoreError> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(DUE_INDEX)
        .key_schema(element(DUE_PK, KeyType::Hash)?)
        .key_schema(element(DUE_SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .map_err(|e| invalid(table, "CreateTable", e.to_string()))?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(element(PK, KeyType::Hash)?)
        .key_schema(element(SK, KeyType::Range)?)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?)
        .attribute_definitions(string_attribute(DUE_PK)?)
        .attribute_definitions(string_attribute(DUE_SK)?)
        .global_secondary_indexes(index)
        .send()
        .await;
    let outcome = match created {
        Ok(_) => Init::Created,
        Err(e) if e.code() == Some("ResourceInUseException") => Init::Existed,
        Err(e) => {
            return Err(match classify(table, "CreateTable", e) {
                Failed::Store(e) => e,
                Failed::Condition => invalid(table, "CreateTable", "conflict".to_string()),
            })
        }
    };
    for _ in 0..300 {
        let status = status(client, table).await?;
        if status == TableStatus::Active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    check(client, table).await?;
    if outcome == Init::Created {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(EXPIRES)
                    .build()
                    .map_err(|e| invalid(table, "UpdateTimeToLive", e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| {
                classify(table, "UpdateTimeToLive", e).into_store(table, "UpdateTimeToLive")
            })?;
    }
    Ok(outcome)
}

/// DescribeTable's description of `table`.
async fn describe(client: &Client, table: &str) -> Result<TableDescription, StoreError> {
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| classify(table, "DescribeTable", e).into_store(table, "DescribeTable"))?;
    out.table
        .ok_or_else(|| invalid(table, "DescribeTable", "no table description".to_string()))
}

async fn status(client: &Client, table: &str) -> Result<TableStatus, StoreError> {
    Ok(describe(client, table)
        .await?
        .table_status
        .unwrap_or(TableStatus::Creating))
}

/// Checks that `table` exists with this store's keys and index: a clear error instead of
/// failing writes later.
pub async fn check(client: &Client, table: &str) -> Result<(), StoreError> {
    let description = describe(client, table).await?;
    let keys: Vec<(&str, &KeyType)> = description
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    let expected = [(PK, &KeyType::Hash), (SK, &KeyType::Range)];
    if keys.len() != 2 || !expected.iter().all(|e| keys.contains(e)) {
        return Err(invalid(
            table,
            "DescribeTable",
            format!(
                "the table's key is not (pk HASH, sk RANGE): it was not made by `sagemaker-remediator \
                 store init` (found {keys:?})"
            ),
        ));
    }
    let has_index = description
        .global_secondary_indexes()
        .iter()
        .any(|i| i.index_name() == Some(DUE_INDEX));
    if !has_index {
        return Err(invalid(
            table,
            "DescribeTable",
            format!("the table has no index `{DUE_INDEX}`: make it with `sagemaker-remediator store init`"),
        ));
    }
    Ok(())
}
