//! sagemaker-remediator: keeps Amazon SageMaker compliant with the AWS Security Hub controls
//! SageMaker.1 to SageMaker.8. The binary (`src/main.rs`) is a thin CLI over this library.

pub mod approvals;
pub mod audit;
pub mod aws;
pub mod claims;
pub mod clock;
pub mod config;
pub mod controls;
pub mod daemon;
#[cfg(feature = "sim")]
pub mod demo;
pub mod events;
pub mod http;
pub mod intake;
pub mod journal;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod organization;
pub mod policy;
pub mod reconcile;
pub mod render;
pub mod shutdown;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod terraform;
pub mod workflow;
