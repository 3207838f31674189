//! Workflows: the document format, its validation, and expressions.
//!
//! [`Definition`] is what authors write; [`compile`] checks it against the
//! plugins and workflows that exist and produces a [`WorkflowPlan`], the
//! only form the engine runs. Nothing here touches storage or wasm.

mod compile;
mod definition;
pub mod expr;
mod plan;
mod schema;

pub use compile::*;
pub use definition::*;
pub use plan::*;
pub use schema::*;
