//! Governance inside a turn: policies evaluated before each plugin step and
//! when a run starts, approval gates they put in front of steps and runs,
//! approval steps, human decisions (approvers, separation of duties,
//! approval policies) and decisions nobody made in time.
//!
//! A gate or approval step is a `waiting` row whose timer is the deadline,
//! plus an `approvals` record; a decision (or the timer) resolves both in
//! one turn.

use crate::resources::policy::{Decision, Effect, Point, decide};
use crate::store::{ApprovalRecord, AuditEntry, OrchestrationTx, action, actor as audit_actor};
use crate::workflow::{Approvers, Verdict};

use super::*;
use crate::engine::Decide;

/// The step id of the gate a policy puts before a whole run.
pub(crate) const RUN_GATE: &str = "$run";

/// What a policy check lets a step or run do.
pub(super) enum Gate {
    /// Go ahead; with the decision when an `allow` policy made it.
    Open(Option<Decision>),
    /// Refused.
    Denied(Decision),
    /// Wait for a human first.
    Approval(Decision),
}

impl<'s, S: Store> Turn<'s, S> {
    /// Evaluates the policies of `point` with `variables`; records the
    /// decision (when a policy matched) in the audit trail.
    pub(super) fn check_policies(
        &mut self,
        point: Point,
        target: &str,
        variables: &[(&str, &Value)],
    ) -> Gate {
        let resources = self.shared.resources();
        let policies = resources.policies(point);
        if policies.is_empty() {
            return Gate::Open(None);
        }
        let scope = Scope {
            now: Some(self.now),
            extra: variables,
            ..Scope::default()
        };
        let Some(decision) = decide(policies.iter(), &scope) else {
            return Gate::Open(None);
        };
        let matched: Vec<Value> = decision
            .matched
            .iter()
            .map(|(name, effect)| json!({"policy": name, "effect": effect.as_str()}))
            .collect();
        self.db.audit(
            AuditEntry::new(
                audit_actor::policy(&decision.policy),
                action::POLICY_DECISION,
                target,
                json!({"point": point.as_str(), "effect": decision.effect.as_str(),
                       "message": decision.message, "matched": matched}),
            )
            .at(self.now),
        );
        match decision.effect {
            Effect::Allow => Gate::Open(Some(decision)),
            Effect::Deny => Gate::Denied(decision),
            Effect::RequireApproval => Gate::Approval(decision),
        }
    }

    /// The policies of a plugin step about to become ready.
    pub(super) fn step_gate(
        &mut self,
        run: &RunRecord,
        step: &StepPlan,
        row: &StepRecord,
        input: &str,
    ) -> Gate {
        if self.shared.resources().policies(Point::Step).is_empty() {
            return Gate::Open(None);
        }
        let StepAction::Plugin {
            name,
            version,
            digest,
            ..
        } = &step.action
        else {
            return Gate::Open(None);
        };
        let workflow = json!({"name": run.workflow, "version": run.version});
        let step_view = json!({"id": step.id, "kind": step.action.kind(), "item": (row.item >= 0).then_some(row.item)});
        let plugin = json!({"name": name, "version": version, "digest": digest});
        let input = parse(Some(input));
        let run_view = run_policy_view(run);
        let actor = Value::String(run.started_by.clone());
        let target = row_target(row);
        self.check_policies(
            Point::Step,
            &target,
            &[
                ("workflow", &workflow),
                ("step", &step_view),
                ("plugin", &plugin),
                ("input", &input),
                ("run", &run_view),
                ("actor", &actor),
            ],
        )
    }

    /// The policies of a run about to start.
    pub(super) fn run_gate(&mut self, run: &RunRecord) -> Gate {
        if self.shared.resources().policies(Point::Run).is_empty() {
            return Gate::Open(None);
        }
        let workflow = json!({"name": run.workflow, "version": run.version});
        let input = parse(Some(&run.input));
        let run_view = run_policy_view(run);
        let actor = Value::String(run.started_by.clone());
        self.check_policies(
            Point::Run,
            &format!("run/{}", run.id),
            &[
                ("workflow", &workflow),
                ("input", &input),
                ("run", &run_view),
                ("actor", &actor),
            ],
        )
    }

    /// Puts an approval in front of a row: it waits until the deadline.
    pub(super) async fn open_approval(
        &mut self,
        run: &RunRecord,
        row: &mut StepRecord,
        request: ApprovalRequest<'_>,
    ) -> Result<()> {
        let deadline = self.now.saturating_add(millis(request.timeout));
        row.status = StepStatus::Waiting;
        row.due_at = Some(deadline);
        let record = ApprovalRecord {
            id: uuid::Uuid::now_v7().to_string(),
            run_id: run.id.clone(),
            step_id: row.step_id.clone(),
            item: row.item,
            gate: request.gate.into(),
            policy: request.policy.map(str::to_string),
            status: "pending".into(),
            approvers: serde_json::to_string(request.approvers).unwrap_or_else(|_| "{}".into()),
            message: request.message,
            requested_by: run.started_by.clone(),
            on_timeout: request.on_timeout.as_str().into(),
            deadline,
            decided_by: None,
            comment: None,
            created_at: self.now,
            decided_at: None,
        };
        Ok(self.db.tx.put_approval(&record).await?)
    }

    /// Opens the gate a `require_approval` decision asks for.
    pub(super) async fn policy_gate(
        &mut self,
        run: &RunRecord,
        row: &mut StepRecord,
        gate: &str,
        decision: &Decision,
    ) -> Result<()> {
        let request = ApprovalRequest {
            gate,
            policy: Some(&decision.policy),
            approvers: &decision.approvers,
            message: decision.message.clone(),
            timeout: decision.timeout,
            on_timeout: Verdict::Reject,
        };
        self.open_approval(run, row, request).await
    }

    /// A human decision on a pending approval.
    pub(crate) async fn decide(&mut self, request: &Decide) -> Result<ApprovalRecord> {
        let mut approval = self
            .db
            .tx
            .approval(&request.approval)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no approval `{}`", request.approval)))?;
        if approval.status != "pending" {
            let by = approval
                .decided_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            return Err(EngineError::Conflict(format!(
                "approval {} is already {}{by}",
                approval.id, approval.status
            )));
        }
        let approvers: Approvers = serde_json::from_str(&approval.approvers).unwrap_or_default();
        if !may_decide(&approvers, &request.by, &request.role) {
            return Err(EngineError::Forbidden(format!(
                "`{}` is not an approver of approval {} (approvers: {})",
                request.by,
                approval.id,
                describe(&approvers)
            )));
        }
        let actor = audit_actor::token(&request.by);
        let run = self
            .db
            .run(&approval.run_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no run `{}`", approval.run_id)))?;
        let workflow = json!({"name": run.workflow, "version": run.version});
        let step_view =
            json!({"id": approval.step_id, "item": (approval.item >= 0).then_some(approval.item)});
        let run_view = run_policy_view(&run);
        let approval_view = json!({"id": approval.id, "gate": approval.gate,
            "policy": approval.policy, "requested_by": approval.requested_by});
        let actor_value = Value::String(actor.clone());
        let target = format!("approval/{}", approval.id);
        let gate = self.check_policies(
            Point::Approval,
            &target,
            &[
                ("workflow", &workflow),
                ("step", &step_view),
                ("run", &run_view),
                ("approval", &approval_view),
                ("actor", &actor_value),
            ],
        );
        let excepted = match gate {
            Gate::Denied(decision) => {
                return Err(EngineError::PolicyDenied {
                    policy: decision.policy,
                    message: decision.message,
                });
            }
            Gate::Open(allowed) => allowed.is_some(),
            Gate::Approval(_) => false,
        };
        if approval.requested_by == actor && !excepted {
            return Err(EngineError::Forbidden(format!(
                "separation of duties: {actor} started run {} and cannot decide its approvals \
                 (a policy `on: approval` with effect `allow` can permit it)",
                run.id
            )));
        }
        approval.status = match request.verdict {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
        .into();
        approval.decided_by = Some(actor.clone());
        approval.comment = request.comment.clone();
        approval.decided_at = Some(self.now);
        self.db.tx.put_approval(&approval).await?;
        self.db.audit(
            AuditEntry::new(
                actor,
                action::APPROVAL_DECIDE,
                target,
                json!({"run": approval.run_id, "step": approval.step_id,
                       "decision": request.verdict.as_str(), "comment": approval.comment}),
            )
            .at(self.now),
        );
        self.resolve(&approval, request.verdict, false).await?;
        Ok(approval)
    }

    /// An approval's deadline passed: its `on_timeout` decision applies.
    pub(super) async fn approval_expired(&mut self, row: &StepRecord) -> Result<()> {
        let Some(mut approval) = self
            .db
            .tx
            .pending_approval_of(&row.run_id, &row.step_id, row.item)
            .await?
        else {
            return Ok(());
        };
        approval.status = "expired".into();
        approval.decided_at = Some(self.now);
        self.db.tx.put_approval(&approval).await?;
        let verdict = if approval.on_timeout == "approve" {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        self.resolve(&approval, verdict, true).await
    }

    /// Cancels the pending approval holding a row (its run ended).
    pub(super) async fn withdraw_approval(&mut self, row: &StepRecord) -> Result<()> {
        if let Some(mut approval) = self
            .db
            .tx
            .pending_approval_of(&row.run_id, &row.step_id, row.item)
            .await?
        {
            approval.status = "cancelled".into();
            approval.decided_at = Some(self.now);
            self.db.tx.put_approval(&approval).await?;
        }
        Ok(())
    }

    /// Applies a decision to the row the approval holds.
    async fn resolve(
        &mut self,
        approval: &ApprovalRecord,
        verdict: Verdict,
        timed_out: bool,
    ) -> Result<()> {
        let Some(mut row) = self
            .db
            .step_row(&approval.run_id, &approval.step_id, approval.item)
            .await?
        else {
            return Ok(());
        };
        if row.status != StepStatus::Waiting {
            return Ok(());
        }
        let approved = verdict == Verdict::Approve;
        let by = approval.decided_by.clone();
        let why = match (&by, timed_out) {
            (_, true) => "nobody decided in time".to_string(),
            (Some(by), false) => match &approval.comment {
                Some(comment) => format!("rejected by {by}: {comment}"),
                None => format!("rejected by {by}"),
            },
            (None, false) => "rejected".to_string(),
        };
        match approval.gate.as_str() {
            "step" => {
                let output = json!({
                    "approved": approved,
                    "decision": verdict.as_str(),
                    "by": by,
                    "comment": approval.comment,
                    "decided_at": rfc3339(self.now),
                    "timed_out": timed_out,
                });
                self.finish_row(row, Ok(output), false).await
            }
            "policy" if approved => {
                row.status = StepStatus::Ready;
                row.due_at = Some(self.now);
                self.put(&row).await
            }
            "policy" => {
                let policy = approval.policy.as_deref().unwrap_or("?");
                let message = format!("policy `{policy}` requires approval: {why}");
                self.end_row(&mut row, StepStatus::Failed, "policy-rejected", &message);
                self.put(&row).await?;
                self.after_row(&row).await
            }
            _ if approved => {
                self.end_row(&mut row, StepStatus::Succeeded, "", "");
                self.put(&row).await?;
                self.work.push_back(Work::Advance(row.run_id.clone()));
                Ok(())
            }
            _ => {
                let policy = approval.policy.as_deref().unwrap_or("?");
                let message = format!("policy `{policy}` requires approval to start: {why}");
                self.end_row(&mut row, StepStatus::Failed, "policy-rejected", &message);
                self.put(&row).await?;
                let Some(mut run) = self.db.run(&row.run_id).await? else {
                    return Ok(());
                };
                run.error = Some(error_value("", "policy-rejected", &message));
                self.finish_run(&mut run, RunStatus::Failed, None).await
            }
        }
    }
}

/// An approval to open.
pub(super) struct ApprovalRequest<'a> {
    /// `step`, `policy` or `run`.
    pub gate: &'a str,
    /// The policy asking, for gates.
    pub policy: Option<&'a str>,
    /// Who may decide.
    pub approvers: &'a Approvers,
    /// What they are asked.
    pub message: String,
    /// How long it waits.
    pub timeout: std::time::Duration,
    /// The decision on timeout.
    pub on_timeout: Verdict,
}

/// `run` as policies see it.
pub(super) fn run_policy_view(run: &RunRecord) -> Value {
    json!({
        "id": run.id,
        "workflow": run.workflow,
        "version": run.version,
        "input": parse(Some(&run.input)),
        "started_by": run.started_by,
    })
}

/// `run/<id>/<step>[/<item>]`.
pub(super) fn row_target(row: &StepRecord) -> String {
    if row.item >= 0 {
        format!("run/{}/{}/{}", row.run_id, row.step_id, row.item)
    } else {
        format!("run/{}/{}", row.run_id, row.step_id)
    }
}

/// Whether a token (by name and role) may decide.
fn may_decide(approvers: &Approvers, name: &str, role: &str) -> bool {
    approvers.is_empty()
        || approvers.tokens.iter().any(|t| t == name)
        || approvers
            .roles
            .iter()
            .any(|r| r == role || (r == "operator" && role == "admin"))
}

fn describe(approvers: &Approvers) -> String {
    let mut parts: Vec<String> = approvers
        .roles
        .iter()
        .map(|r| format!("role {r}"))
        .collect();
    parts.extend(approvers.tokens.iter().map(|t| format!("token {t}")));
    if parts.is_empty() {
        "any operator or admin".into()
    } else {
        parts.join(", ")
    }
}
