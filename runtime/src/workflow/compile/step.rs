//! One step: what it does (plugin, sleep, child workflow), its expressions,
//! limits and defaults. `needs` are resolved by [`graph`](super::graph).

use serde_json::Value;

use super::catalog::Catalog;
use super::limits::{self, MAX_SLEEP, MAX_TIMEOUT};
use super::problems::{Problem, join_path};
use super::references::{Field, Reader};
use crate::workflow::expr::{Expr, Scope, Template, type_name};
use crate::workflow::{
    DEFAULT_FOR_EACH_CONCURRENCY, ForEach, RetryPolicy, StepAction, StepDefinition, StepPlan,
};

/// What a step is compiled against.
pub(super) struct StepContext<'a> {
    /// The step's path, such as `steps[2]`.
    pub(super) path: String,
    /// What its expressions may read.
    pub(super) reader: Reader<'a>,
    /// Resolves `uses` and `workflow`.
    pub(super) catalog: &'a dyn Catalog,
    /// The workflow being compiled, which may not call itself.
    pub(super) workflow_name: &'a str,
}

impl StepContext<'_> {
    fn at(&self, field: &str) -> String {
        join_path(&self.path, field)
    }
}

/// Compiles `step` (with `needs` left empty), or reports why it cannot be.
pub(super) fn compile_step(
    step: &StepDefinition,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<StepPlan> {
    let before = problems.len();
    let action = action(step, context, problems);
    let condition = step.condition.as_deref().and_then(|source| {
        let path = context.at("if");
        let expr = expression(&path, source, context, Field::Plain, problems)?;
        if expr.references().variables.is_empty()
            && let Err(error) = expr.evaluate_bool(&Scope::default())
        {
            problems.push(Problem::new(path, error.to_string()));
        }
        Some(expr)
    });
    let for_each = for_each(step, context, problems);
    let timeout = step.timeout.as_deref().and_then(|text| {
        let limit = (MAX_TIMEOUT, "a timeout can be at most 24h");
        limits::duration(&context.at("timeout"), text, Some(limit), problems)
    });
    let retry = match &step.retry {
        Some(retry) => limits::retry_policy(&context.at("retry"), retry, problems),
        None => Some(RetryPolicy::default()),
    };
    if problems.len() > before {
        return None;
    }
    Some(StepPlan {
        id: step.id.clone(),
        action: action?,
        needs: Vec::new(),
        condition,
        if_needs_skipped: step.if_needs_skipped.unwrap_or_default(),
        for_each,
        timeout,
        retry: retry?,
        on_error: step.on_error.unwrap_or_default(),
    })
}

/// The one thing a step does.
fn action(
    step: &StepDefinition,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<StepAction> {
    let kinds: Vec<&str> = [
        ("uses", step.uses.is_some()),
        ("sleep", step.sleep.is_some()),
        ("workflow", step.workflow.is_some()),
        ("wait_for", step.wait_for.is_some()),
        ("approval", step.approval.is_some()),
    ]
    .into_iter()
    .filter_map(|(kind, present)| present.then_some(kind))
    .collect();
    match kinds.as_slice() {
        [] => {
            problems.push(Problem::new(
                &context.path,
                "a step needs one of `uses`, `sleep`, `workflow`, `wait_for` or `approval`",
            ));
            return None;
        }
        [_] => {}
        [first, rest @ ..] => problems.push(Problem::new(
            &context.path,
            format!(
                "a step does exactly one thing, but this one has `{first}` and `{}`",
                rest.join("` and `")
            ),
        )),
    }
    for waiting in ["wait_for", "approval"] {
        if !kinds.contains(&waiting) {
            continue;
        }
        for (field, present, instead) in [
            (
                "for_each",
                step.for_each.is_some(),
                "run it in a child workflow",
            ),
            ("timeout", step.timeout.is_some(), "use its own `timeout`"),
            ("retry", step.retry.is_some(), "it has no attempts to retry"),
        ] {
            if present {
                problems.push(Problem::new(
                    context.at(field),
                    format!("`{field}` is not available on `{waiting}` steps: {instead}"),
                ));
            }
        }
    }
    if step.with.is_some() && step.uses.is_none() && step.workflow.is_none() {
        problems.push(Problem::new(
            context.at("with"),
            "`with` is only for `uses` and `workflow` steps",
        ));
    }
    if step.for_each.is_some() && step.sleep.is_some() {
        problems.push(Problem::new(
            context.at("for_each"),
            "`for_each` is not available on `sleep` steps",
        ));
    }
    if kinds.len() != 1 {
        return None;
    }
    if let Some(uses) = &step.uses {
        let with = with(step, context, problems);
        let (name, version, digest) = plugin(uses, context, problems)?;
        Some(StepAction::Plugin {
            name,
            version,
            digest,
            with: with?,
        })
    } else if let Some(workflow) = &step.workflow {
        let with = with(step, context, problems);
        let (name, version) = child_workflow(workflow, context, problems)?;
        Some(StepAction::Workflow {
            name,
            version,
            with: with?,
        })
    } else if let Some(wait) = &step.wait_for {
        wait_for(wait, context, problems)
    } else if let Some(approval) = &step.approval {
        self::approval(approval, context, problems)
    } else if let Some(sleep) = &step.sleep {
        let limit = (MAX_SLEEP, "a sleep can last at most 366 days");
        limits::duration(&context.at("sleep"), sleep, Some(limit), problems).map(StepAction::Sleep)
    } else {
        None
    }
}

/// A `wait_for` step.
fn wait_for(
    wait: &crate::workflow::WaitForDefinition,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<StepAction> {
    let base = context.at("wait_for");
    let pattern = crate::events::EventPattern::parse(&wait.event)
        .map_err(|message| problems.push(Problem::new(join_path(&base, "event"), message)))
        .ok();
    let condition = match &wait.condition {
        Some(source) => {
            let path = join_path(&base, "if");
            Some(expression(
                &path,
                source,
                context,
                Field::WaitFor,
                problems,
            )?)
        }
        None => None,
    };
    let limit = (MAX_SLEEP, "a wait can last at most 366 days");
    let timeout = limits::duration(
        &join_path(&base, "timeout"),
        &wait.timeout,
        Some(limit),
        problems,
    );
    Some(StepAction::WaitFor {
        pattern: pattern?,
        condition,
        timeout: timeout?,
    })
}

/// An `approval` step.
fn approval(
    approval: &crate::workflow::ApprovalDefinition,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<StepAction> {
    let base = context.at("approval");
    check_approvers(
        &join_path(&base, "approvers"),
        &approval.approvers,
        problems,
    );
    let message = match &approval.message {
        Some(text) => {
            let path = join_path(&base, "message");
            match Template::parse(&Value::String(text.clone())) {
                Ok(template) => {
                    context
                        .reader
                        .check_template(&template, &path, Field::Plain, problems);
                    Some(template)
                }
                Err(template_problems) => {
                    problems.extend(
                        template_problems
                            .into_iter()
                            .map(|(_, message)| Problem::new(&path, message)),
                    );
                    return None;
                }
            }
        }
        None => None,
    };
    let limit = (MAX_SLEEP, "an approval can wait at most 366 days");
    let timeout = limits::duration(
        &join_path(&base, "timeout"),
        &approval.timeout,
        Some(limit),
        problems,
    )?;
    Some(StepAction::Approval {
        approvers: approval.approvers.clone(),
        message,
        timeout,
        on_timeout: approval
            .on_timeout
            .unwrap_or(crate::workflow::Verdict::Reject),
    })
}

/// Approver roles are `operator` or `admin`; token names are token names.
pub(crate) fn check_approvers(
    path: &str,
    approvers: &crate::workflow::Approvers,
    problems: &mut Vec<Problem>,
) {
    for (i, role) in approvers.roles.iter().enumerate() {
        if !matches!(role.as_str(), "operator" | "admin") {
            problems.push(Problem::new(
                format!("{path}.roles[{i}]"),
                format!("`{role}` cannot approve: approver roles are `operator` and `admin`"),
            ));
        }
    }
    for (i, token) in approvers.tokens.iter().enumerate() {
        if token.is_empty() || token.len() > 64 {
            problems.push(Problem::new(
                format!("{path}.tokens[{i}]"),
                "a token name has 1 to 64 characters",
            ));
        }
    }
}

/// The input template; an absent `with` is the empty object.
fn with(
    step: &StepDefinition,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Template> {
    let empty = Value::Object(Default::default());
    let value = step.with.as_ref().unwrap_or(&empty);
    let path = context.at("with");
    match Template::parse(value) {
        Ok(template) => {
            let field = Field::With {
                for_each: step.for_each.is_some(),
            };
            context
                .reader
                .check_template(&template, &path, field, problems);
            Some(template)
        }
        Err(template_problems) => {
            problems.extend(
                template_problems
                    .into_iter()
                    .map(|(inner, message)| Problem::new(join_path(&path, &inner), message)),
            );
            None
        }
    }
}

/// `name` or `name@version`, resolved to `(name, version, digest)`.
fn plugin(
    uses: &str,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<(String, String, String)> {
    let (name, version) = match uses.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (uses, None),
    };
    let message = if name.is_empty() || version == Some("") {
        format!("`{uses}` is not a plugin reference (examples: `echo`, `echo@1.2.0`)")
    } else if let Some(found) = context.catalog.plugin(name, version) {
        return Some((name.to_string(), found.version, found.digest));
    } else if let Some(version) = version {
        format!("no plugin `{name}` (version {version})")
    } else {
        format!("no plugin `{name}`")
    };
    problems.push(Problem::new(context.at("uses"), message));
    None
}

/// `name` or `name@<version number>`, checked to exist.
fn child_workflow(
    reference: &str,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<(String, Option<i64>)> {
    let (name, version) = match reference.split_once('@') {
        Some((name, version)) => match version.parse::<i64>() {
            Ok(number) if number >= 1 => (name, Some(number)),
            _ => {
                problems.push(Problem::new(
                    context.at("workflow"),
                    format!(
                        "`{reference}`: a workflow version is a number from 1, such as \
                         `{name}@3`"
                    ),
                ));
                return None;
            }
        },
        None => (reference, None),
    };
    let message = if name == context.workflow_name {
        format!("workflow `{name}` cannot run itself as a child workflow")
    } else if context.catalog.workflow(name, version) {
        return Some((name.to_string(), version));
    } else if let Some(version) = version {
        format!("no workflow `{name}` (version {version})")
    } else {
        format!("no workflow `{name}`")
    };
    problems.push(Problem::new(context.at("workflow"), message));
    None
}

/// `for_each` and `concurrency`.
fn for_each(
    step: &StepDefinition,
    context: &StepContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<ForEach> {
    let Some(source) = &step.for_each else {
        if step.concurrency.is_some() {
            problems.push(Problem::new(
                context.at("concurrency"),
                "`concurrency` only applies to `for_each` steps",
            ));
        }
        return None;
    };
    let concurrency = step.concurrency.unwrap_or(DEFAULT_FOR_EACH_CONCURRENCY);
    if concurrency == 0 {
        problems.push(Problem::new(
            context.at("concurrency"),
            "`concurrency` must be at least 1",
        ));
    }
    let path = context.at("for_each");
    let items = expression(&path, source, context, Field::Plain, problems)?;
    if items.references().variables.is_empty() {
        match items.evaluate(&Scope::default()) {
            Ok(Value::Array(_)) => {}
            Ok(other) => problems.push(Problem::new(
                path,
                format!(
                    "`{}`: expected a list, got {}",
                    items.source(),
                    type_name(&other)
                ),
            )),
            Err(error) => problems.push(Problem::new(path, error.to_string())),
        }
    }
    Some(ForEach { items, concurrency })
}

/// Parses a bare or `${{ }}` expression at `path` and checks its references.
fn expression(
    path: &str,
    source: &str,
    context: &StepContext<'_>,
    field: Field,
    problems: &mut Vec<Problem>,
) -> Option<Expr> {
    match Expr::parse_bare_or_wrapped(source) {
        Ok(expr) => {
            context.reader.check(&expr, path, field, problems);
            Some(expr)
        }
        Err(message) => {
            problems.push(Problem::new(path, message));
            None
        }
    }
}
