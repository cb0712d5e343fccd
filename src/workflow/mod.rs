//! Remediation plans as explicit step machines: each plan is a journaled state plus a pure
//! transition function from (state, fresh observation) to (new state, command). The executor
//! that performs the commands, journals the states and talks to AWS lives elsewhere.
//!
//! - [`notebook`]: the in-place notebook fix (SageMaker.3 and .8): stop, update, start.
//! - [`tags`]: which tags the tag fix (SageMaker.6 and .7) adds.

pub mod notebook;
pub mod tags;

pub use notebook::{
    compliant, next, on_error, performed, Command, Limits, Millis, NotebookState, Observation,
    Outcome, Phase,
};
pub use tags::tags_to_add;
