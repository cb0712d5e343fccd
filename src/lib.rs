//! sagemaker-remediator: keeps Amazon SageMaker compliant with the AWS Security Hub controls
//! SageMaker.1 to SageMaker.8. The binary (`src/main.rs`) is a thin CLI over this library.

pub mod audit;
pub mod aws;
pub mod config;
pub mod controls;
pub mod demo;
pub mod model;
pub mod sim;
