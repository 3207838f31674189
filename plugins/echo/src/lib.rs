//! `echo`: returns its input unchanged under `input`, with the attempt it ran
//! in. Useful to wire a workflow together before the real connectors are in
//! place, and the trivial step Baton's benchmarks measure.

use baton_sdk::{Context, Step, StepError};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Output {
    /// The input, unchanged.
    input: serde_json::Value,
    /// The step that ran.
    step_id: String,
    /// The attempt number.
    attempt: u32,
}

struct Echo;

impl Step for Echo {
    type Input = serde_json::Value;
    type Output = Output;

    fn run(ctx: &Context, input: serde_json::Value) -> Result<Output, StepError> {
        Ok(Output {
            input,
            step_id: ctx.step_id().to_owned(),
            attempt: ctx.attempt(),
        })
    }
}

baton_sdk::export_step!(Echo);
