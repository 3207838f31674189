//! `greet`: the smallest useful Baton plugin, from the README quick start.

use baton_sdk::{Context, Step, StepError, log};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct Input {
    /// Who to greet.
    name: String,
}

#[derive(Serialize, JsonSchema)]
struct Output {
    /// The greeting.
    greeting: String,
}

struct Greet;

impl Step for Greet {
    type Input = Input;
    type Output = Output;

    fn run(ctx: &Context, input: Input) -> Result<Output, StepError> {
        if input.name.trim().is_empty() {
            return Err(StepError::invalid_input("name must not be empty"));
        }
        log::info(&format!("greeting on attempt {}", ctx.attempt()));
        Ok(Output {
            greeting: format!("Hello, {}!", input.name),
        })
    }
}

baton_sdk::export_step!(Greet);
