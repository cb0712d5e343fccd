//! Test-only builders for snapshots, shared by the control families' tests.

use crate::model::{
    Detail, Notebook, NotebookStatus, ResourceRef, ResourceType, Snapshot, Variant,
};

/// The resource type a detail belongs to.
pub(crate) fn detail_type(detail: &Detail) -> ResourceType {
    match detail {
        Detail::Notebook(_) => ResourceType::NotebookInstance,
        Detail::EndpointConfig(_) => ResourceType::EndpointConfig,
        Detail::Model(_) => ResourceType::Model,
        Detail::Image(_) => ResourceType::Image,
        Detail::AppImageConfig(_) => ResourceType::AppImageConfig,
    }
}

pub(crate) fn resource(resource_type: ResourceType) -> ResourceRef {
    let kind = match resource_type {
        ResourceType::NotebookInstance => "notebook-instance",
        ResourceType::EndpointConfig => "endpoint-config",
        ResourceType::Model => "model",
        ResourceType::Image => "image",
        ResourceType::AppImageConfig => "app-image-config",
    };
    ResourceRef {
        account: "111122223333".to_string(),
        region: "eu-west-1".to_string(),
        resource_type,
        name: "Thing".to_string(),
        arn: format!("arn:aws:sagemaker:eu-west-1:111122223333:{kind}/thing").into(),
    }
}

pub(crate) fn snap(detail: Detail) -> Snapshot {
    Snapshot {
        resource: resource(detail_type(&detail)),
        detail,
    }
}

/// A notebook that passes all four notebook controls under the default params.
pub(crate) fn notebook() -> Notebook {
    Notebook {
        status: NotebookStatus::InService,
        direct_internet_access: Some("Disabled".to_string()),
        subnet_id: Some("subnet-0abc".to_string()),
        security_group_ids: vec!["sg-0abc".to_string()],
        root_access: Some("Disabled".to_string()),
        platform_identifier: Some("notebook-al2023-v1".to_string()),
        instance_type: Some("ml.t3.medium".to_string()),
        role_arn: Some("arn:aws:iam::111122223333:role/nb".to_string()),
        kms_key_id: None,
        volume_size_gb: Some(5),
    }
}

/// An instance-based production variant.
pub(crate) fn variant(name: &str, count: Option<i32>) -> Variant {
    Variant {
        name: name.to_string(),
        model_name: Some("model".to_string()),
        instance_type: Some("ml.m5.large".to_string()),
        initial_instance_count: count,
        serverless: false,
    }
}

/// A serverless production variant (no instance type, no count).
pub(crate) fn serverless(name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        model_name: Some("model".to_string()),
        instance_type: None,
        initial_instance_count: None,
        serverless: true,
    }
}

/// Every notebook status the API documents, and unknown ones (another word, another case,
/// none).
pub(crate) fn all_statuses() -> Vec<NotebookStatus> {
    vec![
        NotebookStatus::Pending,
        NotebookStatus::InService,
        NotebookStatus::Stopping,
        NotebookStatus::Stopped,
        NotebookStatus::Failed,
        NotebookStatus::Deleting,
        NotebookStatus::Updating,
        NotebookStatus::PendingMaintenance,
        NotebookStatus::InMaintenance,
        NotebookStatus::Unknown("Rebooting".to_string()),
        NotebookStatus::Unknown("deleting".to_string()),
        NotebookStatus::Unknown(String::new()),
    ]
}
