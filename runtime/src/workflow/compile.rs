//! Validation: from a [`Definition`] to a [`WorkflowPlan`], or every
//! [`Problem`] with the path of the field it is about.
//!
//! [`parse_definition`] reads the text; [`compile`] checks names, the
//! `needs` DAGs, durations and retry policies, expressions and what they
//! refer to, plugins and child workflows (through a [`Catalog`]) and the
//! input schema. It collects every problem it can instead of stopping at the
//! first. Nothing here stores or runs anything.

mod catalog;
mod graph;
mod limits;
mod names;
mod parse;
mod problems;
mod references;
mod step;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

pub use catalog::{Catalog, ResolvedPlugin, StaticCatalog};
pub(crate) use limits::duration as parse_duration;
pub use limits::{MAX_SLEEP, MAX_TIMEOUT};
pub use names::MAX_NAME_LEN;
pub(crate) use names::check_name;
pub use parse::parse_definition;
pub(crate) use problems::join_path as join_problem_path;
pub use problems::{Problem, Problems};
pub(crate) use step::check_approvers as check_approvers_at;

use self::names::{Dag, StepIds};
use self::problems::join_path;
use self::references::{Field, Reader};
use self::step::StepContext;
use super::expr::Template;
use super::{Definition, InputSchema, StepAction, StepPlan, WorkflowPlan};

/// Validates everything and builds the plan, collecting all problems rather
/// than just the first.
///
/// The returned plan's `definition` is normalised: every `uses:` is
/// rewritten to `name@<resolved version>`, so that compiling the stored
/// definition again resolves to the same digest.
pub fn compile(definition: Definition, catalog: &dyn Catalog) -> Result<WorkflowPlan, Problems> {
    let mut problems = Vec::new();
    names::check_name("name", "workflow name", &definition.name, &mut problems);
    if definition.steps.is_empty() {
        problems.push(Problem::new("steps", "a workflow needs at least one step"));
    }
    let input_schema = definition
        .input
        .as_ref()
        .and_then(|schema| input_schema(schema, &mut problems));
    let (steps, on_failure, outputs) = {
        let compiler = Compiler::new(&definition, catalog, &mut problems);
        (
            compiler.dag(Dag::Main, &mut problems),
            compiler.dag(Dag::Compensation, &mut problems),
            compiler.outputs(&mut problems),
        )
    };
    let (Some(steps), Some(on_failure), true) = (steps, on_failure, problems.is_empty()) else {
        return Err(Problems(problems));
    };
    let mut definition = definition;
    for step in definition
        .steps
        .iter_mut()
        .chain(&mut definition.on_failure)
    {
        let pinned = steps
            .iter()
            .chain(&on_failure)
            .find(|plan| plan.id == step.id);
        if let Some(StepPlan {
            action: StepAction::Plugin { name, version, .. },
            ..
        }) = pinned
        {
            step.uses = Some(format!("{name}@{version}"));
        }
    }
    Ok(WorkflowPlan {
        env: Value::Object(definition.env.clone().into_iter().collect()),
        definition,
        input_schema,
        steps,
        outputs,
        on_failure,
    })
}

/// What every step of one definition is compiled against.
struct Compiler<'d> {
    definition: &'d Definition,
    ids: StepIds<'d>,
    main_ids: BTreeSet<&'d str>,
    catalog: &'d dyn Catalog,
}

impl<'d> Compiler<'d> {
    fn new(
        definition: &'d Definition,
        catalog: &'d dyn Catalog,
        problems: &mut Vec<Problem>,
    ) -> Compiler<'d> {
        Compiler {
            definition,
            ids: StepIds::index(definition, problems),
            main_ids: definition.steps.iter().map(|s| s.id.as_str()).collect(),
            catalog,
        }
    }

    /// Compiles every step of one DAG and lists them in run order, `needs`
    /// as plan positions. `None` when the graph or any step has a problem.
    fn dag(&self, dag: Dag, problems: &mut Vec<Problem>) -> Option<Vec<StepPlan>> {
        let steps = match dag {
            Dag::Main => &self.definition.steps,
            Dag::Compensation => &self.definition.on_failure,
        };
        let graph = graph::build(dag, steps, &self.ids, problems);
        let mut compiled: Vec<Option<StepPlan>> = steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let mut visible: BTreeSet<&str> = graph.upstream[i]
                    .iter()
                    .map(|&k| steps[k].id.as_str())
                    .collect();
                if dag == Dag::Compensation {
                    visible.extend(&self.main_ids);
                }
                let context = StepContext {
                    path: format!("{}[{i}]", dag.field()),
                    reader: self.reader(Some(&step.id), dag, visible),
                    catalog: self.catalog,
                    workflow_name: &self.definition.name,
                };
                step::compile_step(step, &context, problems)
            })
            .collect();
        let order = graph.order.as_ref()?;
        let mut position = vec![0; steps.len()];
        for (at, &i) in order.iter().enumerate() {
            position[i] = at;
        }
        order
            .iter()
            .map(|&i| {
                let mut plan = compiled[i].take()?;
                plan.needs = graph.needs[i].iter().map(|&k| position[k]).collect();
                Some(plan)
            })
            .collect()
    }

    /// The run's output template, which may read every main step.
    fn outputs(&self, problems: &mut Vec<Problem>) -> Option<Template> {
        let value = self.definition.outputs.as_ref()?;
        let reader = self.reader(None, Dag::Main, self.main_ids.clone());
        match Template::parse(value) {
            Ok(template) => {
                reader.check_template(&template, "outputs", Field::Plain, problems);
                Some(template)
            }
            Err(template_problems) => {
                problems.extend(
                    template_problems.into_iter().map(|(inner, message)| {
                        Problem::new(join_path("outputs", &inner), message)
                    }),
                );
                None
            }
        }
    }

    fn reader<'r>(
        &'r self,
        step: Option<&'r str>,
        dag: Dag,
        visible: BTreeSet<&'r str>,
    ) -> Reader<'r> {
        Reader {
            step,
            dag,
            visible,
            ids: &self.ids,
            env: &self.definition.env,
        }
    }
}

fn input_schema(schema: &Value, problems: &mut Vec<Problem>) -> Option<InputSchema> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => Some(InputSchema(Arc::new(validator))),
        Err(error) => {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" (at {at})")
            };
            problems.push(Problem::new(
                "input",
                format!("not a valid JSON Schema{at}: {error}"),
            ));
            None
        }
    }
}
