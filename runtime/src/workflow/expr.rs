//! Expressions: CEL programs and the `${{ }}` templates that embed them.
//!
//! An [`Expr`] is one parsed CEL program plus what it refers to (root
//! variables, `steps.<id>` accesses), so that compile-time validation can
//! reject unknown references without running anything. A [`Template`] is a
//! JSON value whose strings may hold `${{ expr }}`: a string that is exactly
//! one expression takes the expression's JSON type, any other string has
//! each expression's result spliced in as text.
//!
//! Evaluation only sees a [`Scope`]; this module knows nothing of runs or
//! storage.

use std::collections::BTreeSet;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr as Node, IdedExpr};
use cel::{Context, Program};
use serde_json::Value;

pub mod time;

/// The variables an expression may use, depending on where it is written.
pub const ROOT_VARIABLES: &[&str] = &[
    "input", "steps", "run", "env", "item", "index", "error", "event",
];

/// A parsed CEL expression.
#[derive(Clone)]
pub struct Expr {
    source: Arc<str>,
    program: Arc<Program>,
    references: Arc<References>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// What an expression refers to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    /// Free variables (not bound by a macro such as `map(x, ...)`).
    pub variables: BTreeSet<String>,
    /// `steps.<id>` accesses, with the attribute read (`output`, `status`,
    /// `error`) when the expression names one.
    pub steps: BTreeSet<(String, Option<String>)>,
    /// `env.<name>` accesses.
    pub env: BTreeSet<String>,
    /// Whether `steps` is used other than as `steps.<id>` (for example
    /// `steps["x"]`), which defeats static checking of step references.
    pub steps_dynamic: bool,
}

impl Expr {
    /// Parses a CEL program. The error names the line and column.
    pub fn parse(source: &str) -> Result<Expr, String> {
        let program = Program::compile(source).map_err(|errors| {
            let text = errors.to_string();
            text.lines()
                .next()
                .unwrap_or("syntax error")
                .replace("ERROR: <input>:", "syntax error at ")
        })?;
        let mut references = References::default();
        collect(program.expression(), &mut Vec::new(), &mut references);
        Ok(Expr {
            source: source.into(),
            program: Arc::new(program),
            references: Arc::new(references),
        })
    }

    /// Parses a condition or list expression, written bare or as `${{ }}`.
    pub fn parse_bare_or_wrapped(source: &str) -> Result<Expr, String> {
        let trimmed = source.trim();
        match trimmed
            .strip_prefix("${{")
            .and_then(|rest| rest.strip_suffix("}}"))
        {
            Some(inner) if !inner.contains("${{") => Expr::parse(inner.trim()),
            _ => Expr::parse(trimmed),
        }
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// What the expression refers to.
    pub fn references(&self) -> &References {
        &self.references
    }

    /// Runs the expression against `scope`.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        ROOT.with(|root| match root {
            Ok(root) => self.evaluate_in(root, scope),
            Err(e) => Err(self.error(e.clone())),
        })
    }

    fn evaluate_in(
        &self,
        root: &Context<'static, 'static>,
        scope: &Scope<'_>,
    ) -> Result<Value, EvalError> {
        // A child of the shared root: the standard library and Baton's
        // functions are declared once per thread, not per evaluation.
        let mut context = root.new_inner_scope();
        for name in &self.references.variables {
            if name == "now"
                && let Some(now) = scope.now
            {
                context.add_variable_from_value("now", time::timestamp(now));
                continue;
            }
            if name == "event"
                && let Some(event) = scope.converted_event
            {
                context.add_variable_from_value("event", event.0.clone());
                continue;
            }
            let Some(value) = scope.variable(name) else {
                return Err(self.error(format!("`{name}` is not available here")));
            };
            context.add_variable_from_value(name.as_str(), to_cel(value));
        }
        let result = self
            .program
            .execute(&context)
            .map_err(|e| self.error(e.to_string()))?;
        result
            .json()
            .map_err(|e| self.error(format!("the result is not JSON: {e}")))
    }

    /// Runs the expression and requires a boolean.
    pub fn evaluate_bool(&self, scope: &Scope<'_>) -> Result<bool, EvalError> {
        match self.evaluate(scope)? {
            Value::Bool(b) => Ok(b),
            other => Err(self.error(format!("expected a boolean, got {}", type_name(&other)))),
        }
    }

    fn error(&self, message: String) -> EvalError {
        EvalError {
            expression: self.source.to_string(),
            message,
        }
    }
}

thread_local! {
    /// The root context every evaluation on this thread starts from.
    static ROOT: Result<Context<'static, 'static>, String> = {
        let mut context = Context::default();
        time::register(&mut context).map(|()| context)
    };
}

/// JSON to CEL. Integers become `int` (serde would make non-negative ones
/// `uint`, and CEL does not mix the two: `input.n + 1` would fail).
fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => cel::Value::Int(i),
            (None, Some(u), _) => cel::Value::UInt(u),
            (None, None, f) => cel::Value::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => cel::Value::Map(cel::objects::Map {
            map: Arc::new(
                map.iter()
                    .map(|(key, item)| {
                        (
                            cel::objects::Key::String(Arc::new(key.clone())),
                            to_cel(item),
                        )
                    })
                    .collect(),
            ),
        }),
    }
}

/// An expression that could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{expression}`: {message}")]
pub struct EvalError {
    /// The expression's source.
    pub expression: String,
    /// What went wrong.
    pub message: String,
}

/// The name of a JSON value's type, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The values an expression can see. Absent ones are errors when used.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scope<'a> {
    /// The run's input.
    pub input: Option<&'a Value>,
    /// Map of step id to `{status, output, error}`.
    pub steps: Option<&'a Value>,
    /// `{id, workflow, version, started_at}`.
    pub run: Option<&'a Value>,
    /// The workflow's constants.
    pub env: Option<&'a Value>,
    /// The current element inside `for_each`.
    pub item: Option<&'a Value>,
    /// The current element's index inside `for_each`.
    pub index: Option<&'a Value>,
    /// In compensation steps: what failed the run.
    pub error: Option<&'a Value>,
    /// In `wait_for` conditions and rules: the event.
    pub event: Option<&'a Value>,
    /// `now`, a CEL timestamp (milliseconds since the epoch), where the
    /// expression may use it (policies).
    pub now: Option<i64>,
    /// Other named values (resources' own variables).
    pub extra: &'a [(&'a str, &'a Value)],
    /// `event` converted once, for scopes evaluated many times (rules);
    /// used instead of `event` when present.
    pub converted_event: Option<&'a Converted>,
}

/// A JSON value converted to CEL once (cheap to reuse: CEL values share
/// their strings, lists and maps).
#[derive(Debug, Clone)]
pub struct Converted(cel::Value);

impl Converted {
    /// Converts `value`.
    pub fn new(value: &Value) -> Converted {
        Converted(to_cel(value))
    }
}

impl<'a> Scope<'a> {
    fn variable(&self, name: &str) -> Option<&'a Value> {
        let fixed = match name {
            "input" => self.input,
            "steps" => self.steps,
            "run" => self.run,
            "env" => self.env,
            "item" => self.item,
            "index" => self.index,
            "error" => self.error,
            "event" => self.event,
            _ => None,
        };
        fixed.or_else(|| {
            self.extra
                .iter()
                .find(|(extra, _)| *extra == name)
                .map(|(_, value)| *value)
        })
    }
}

/// Walks the AST, recording free variables and `steps.<id>[.<attr>]`.
fn collect(node: &IdedExpr, bound: &mut Vec<String>, refs: &mut References) {
    match &node.expr {
        Node::Ident(name) => {
            if !bound.iter().any(|b| b == name) {
                refs.variables.insert(name.clone());
                if name == "steps" {
                    refs.steps_dynamic = true;
                }
            }
        }
        Node::Select(select) => {
            // steps.<id>.<attr>
            if let Node::Select(inner) = &select.operand.expr
                && is_free_ident(&inner.operand, "steps", bound)
            {
                refs.variables.insert("steps".into());
                refs.steps
                    .insert((inner.field.clone(), Some(select.field.clone())));
                return;
            }
            if is_free_ident(&select.operand, "steps", bound) {
                refs.variables.insert("steps".into());
                refs.steps.insert((select.field.clone(), None));
                return;
            }
            if is_free_ident(&select.operand, "env", bound) {
                refs.variables.insert("env".into());
                refs.env.insert(select.field.clone());
                return;
            }
            collect(&select.operand, bound, refs);
        }
        Node::Call(call) => {
            if let Some(target) = &call.target {
                collect(target, bound, refs);
            }
            for arg in &call.args {
                collect(arg, bound, refs);
            }
        }
        Node::List(list) => {
            for element in &list.elements {
                collect(element, bound, refs);
            }
        }
        Node::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(entry) = &entry.expr {
                    collect(&entry.key, bound, refs);
                    collect(&entry.value, bound, refs);
                }
            }
        }
        Node::Struct(structure) => {
            for entry in &structure.entries {
                if let EntryExpr::StructField(field) = &entry.expr {
                    collect(&field.value, bound, refs);
                }
            }
        }
        Node::Comprehension(comp) => {
            collect(&comp.iter_range, bound, refs);
            collect(&comp.accu_init, bound, refs);
            let depth = bound.len();
            bound.push(comp.iter_var.clone());
            if let Some(second) = &comp.iter_var2 {
                bound.push(second.clone());
            }
            bound.push(comp.accu_var.clone());
            collect(&comp.loop_cond, bound, refs);
            collect(&comp.loop_step, bound, refs);
            collect(&comp.result, bound, refs);
            bound.truncate(depth);
        }
        Node::Literal(_) | Node::Unspecified => {}
    }
}

fn is_free_ident(node: &IdedExpr, name: &str, bound: &[String]) -> bool {
    matches!(&node.expr, Node::Ident(n) if n == name && !bound.iter().any(|b| b == name))
}

/// A JSON value whose strings may embed `${{ }}` expressions.
#[derive(Debug, Clone)]
pub struct Template(TemplateNode);

#[derive(Debug, Clone)]
enum TemplateNode {
    Literal(Value),
    Whole(Expr),
    Text(Vec<TextPart>),
    Array(Vec<TemplateNode>),
    Object(Vec<(String, TemplateNode)>),
}

#[derive(Debug, Clone)]
enum TextPart {
    Literal(String),
    Expr(Expr),
}

/// A problem found while parsing a template: the JSON path inside the
/// template (empty for the root) and the message.
pub type TemplateProblem = (String, String);

impl Template {
    /// Parses every string of `value`, collecting all problems.
    pub fn parse(value: &Value) -> Result<Template, Vec<TemplateProblem>> {
        let mut problems = Vec::new();
        let node = parse_node(value, String::new(), &mut problems);
        if problems.is_empty() {
            Ok(Template(node))
        } else {
            Err(problems)
        }
    }

    /// Every expression in the template with the JSON path it sits at.
    pub fn expressions(&self) -> Vec<(String, &Expr)> {
        let mut out = Vec::new();
        walk_exprs(&self.0, String::new(), &mut out);
        out
    }

    /// Evaluates every expression.
    pub fn render(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        render_node(&self.0, scope)
    }
}

fn parse_node(value: &Value, path: String, problems: &mut Vec<TemplateProblem>) -> TemplateNode {
    match value {
        Value::String(text) if text.contains("${{") => match parse_text(text) {
            Ok(mut parts) => {
                if parts.len() == 1
                    && let TextPart::Expr(_) = &parts[0]
                    && let Some(TextPart::Expr(expr)) = parts.pop()
                {
                    TemplateNode::Whole(expr)
                } else {
                    TemplateNode::Text(parts)
                }
            }
            Err(message) => {
                problems.push((path, message));
                TemplateNode::Literal(Value::Null)
            }
        },
        Value::Array(items) => TemplateNode::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_node(item, format!("{path}[{i}]"), problems))
                .collect(),
        ),
        Value::Object(map) => TemplateNode::Object(
            map.iter()
                .map(|(key, item)| {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    (key.clone(), parse_node(item, child, problems))
                })
                .collect(),
        ),
        other => TemplateNode::Literal(other.clone()),
    }
}

/// Splits `text` into literal text and `${{ }}` expressions. A `}}` inside a
/// quoted CEL string does not close the expression.
fn parse_text(text: &str) -> Result<Vec<TextPart>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        if start > 0 {
            parts.push(TextPart::Literal(rest[..start].to_string()));
        }
        let body = &rest[start + 3..];
        let end = closing_braces(body).ok_or_else(|| {
            format!(
                "`${{{{` at byte {} is never closed by `}}}}`",
                text.len() - rest.len() + start
            )
        })?;
        let source = body[..end].trim();
        if source.is_empty() {
            return Err("empty expression `${{ }}`".into());
        }
        parts.push(TextPart::Expr(Expr::parse(source)?));
        rest = &body[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(TextPart::Literal(rest.to_string()));
    }
    Ok(parts)
}

fn closing_braces(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'}' && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

fn walk_exprs<'t>(node: &'t TemplateNode, path: String, out: &mut Vec<(String, &'t Expr)>) {
    match node {
        TemplateNode::Literal(_) => {}
        TemplateNode::Whole(expr) => out.push((path, expr)),
        TemplateNode::Text(parts) => {
            for part in parts {
                if let TextPart::Expr(expr) = part {
                    out.push((path.clone(), expr));
                }
            }
        }
        TemplateNode::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_exprs(item, format!("{path}[{i}]"), out);
            }
        }
        TemplateNode::Object(entries) => {
            for (key, item) in entries {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk_exprs(item, child, out);
            }
        }
    }
}

fn render_node(node: &TemplateNode, scope: &Scope<'_>) -> Result<Value, EvalError> {
    Ok(match node {
        TemplateNode::Literal(value) => value.clone(),
        TemplateNode::Whole(expr) => expr.evaluate(scope)?,
        TemplateNode::Text(parts) => {
            let mut text = String::new();
            for part in parts {
                match part {
                    TextPart::Literal(literal) => text.push_str(literal),
                    TextPart::Expr(expr) => match expr.evaluate(scope)? {
                        Value::String(s) => text.push_str(&s),
                        other => text.push_str(&other.to_string()),
                    },
                }
            }
            Value::String(text)
        }
        TemplateNode::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_node(item, scope))
                .collect::<Result<_, _>>()?,
        ),
        TemplateNode::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, item)| Ok((key.clone(), render_node(item, scope)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_expression_keeps_its_type_and_text_is_spliced() {
        let input = json!({"n": 3, "host": "db-1"});
        let scope = Scope {
            input: Some(&input),
            ..Scope::default()
        };
        let template = Template::parse(&json!({
            "count": "${{ input.n + 1 }}",
            "label": "host ${{ input.host }} has ${{ input.n }} alerts",
            "fixed": [1, "two"],
            "braces": "${{ '}}' + input.host }}"
        }))
        .unwrap();
        assert_eq!(
            template.render(&scope).unwrap(),
            json!({"count": 4, "label": "host db-1 has 3 alerts", "fixed": [1, "two"], "braces": "}}db-1"})
        );
    }

    #[test]
    fn references_skip_macro_variables_and_name_steps() {
        let expr = Expr::parse("steps.a.output.items.map(x, x * 2).size() > env.limit && steps.b.status == 'succeeded'").unwrap();
        let refs = expr.references();
        assert_eq!(
            refs.variables.iter().cloned().collect::<Vec<_>>(),
            ["env", "steps"]
        );
        assert!(refs.steps.contains(&("a".into(), Some("output".into()))));
        assert!(refs.steps.contains(&("b".into(), Some("status".into()))));
        assert!(refs.env.contains("limit"));
        assert!(!refs.steps_dynamic);
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let error = Expr::parse("input.n +").unwrap_err();
        assert!(error.starts_with("syntax error at 1:"), "{error}");
        let problems = Template::parse(&json!({"a": ["${{ input.n"]})).unwrap_err();
        assert_eq!(problems[0].0, "a[0]");
    }

    #[test]
    fn conditions_must_be_booleans() {
        let input = json!({"n": 3});
        let scope = Scope {
            input: Some(&input),
            ..Scope::default()
        };
        let error = Expr::parse_bare_or_wrapped("${{ input.n }}")
            .unwrap()
            .evaluate_bool(&scope)
            .unwrap_err();
        assert_eq!(error.message, "expected a boolean, got a number");
        let missing = Expr::parse("item + 1")
            .unwrap()
            .evaluate(&scope)
            .unwrap_err();
        assert_eq!(missing.message, "`item` is not available here");
    }
}
