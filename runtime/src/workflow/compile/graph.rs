//! The DAG of `needs`: which steps a step waits for, cycles, the order the
//! plan lists steps in, and which steps are upstream of which.
//!
//! Everything here is in document indexes; mapping them to plan positions
//! is left to the caller.

use std::collections::{BTreeSet, HashSet};

use super::names::{Dag, StepIds};
use super::problems::Problem;
use crate::workflow::StepDefinition;

/// The `needs` graph of one DAG.
#[derive(Debug)]
pub(super) struct Graph {
    /// The valid `needs` of each step, as indexes into the same DAG.
    pub(super) needs: Vec<Vec<usize>>,
    /// Document indexes in an order where needs come first: document order
    /// when that works, a stable topological order otherwise. `None` when
    /// there is a cycle.
    pub(super) order: Option<Vec<usize>>,
    /// The transitive `needs` of each step.
    pub(super) upstream: Vec<BTreeSet<usize>>,
}

/// Resolves the `needs` of `steps`, reporting unknown, foreign, self and
/// duplicate needs and every cycle.
pub(super) fn build(
    dag: Dag,
    steps: &[StepDefinition],
    ids: &StepIds<'_>,
    problems: &mut Vec<Problem>,
) -> Graph {
    let needs: Vec<Vec<usize>> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| resolve_needs(dag, i, step, ids, problems))
        .collect();
    for cycle in cycles(&needs) {
        report_cycle(dag, steps, &cycle, problems);
    }
    let order = topological_order(&needs);
    let upstream = (0..steps.len()).map(|i| upstream_of(i, &needs)).collect();
    Graph {
        needs,
        order,
        upstream,
    }
}

fn resolve_needs(
    dag: Dag,
    index: usize,
    step: &StepDefinition,
    ids: &StepIds<'_>,
    problems: &mut Vec<Problem>,
) -> Vec<usize> {
    let field = dag.field();
    let id = &step.id;
    let mut seen = HashSet::new();
    let mut resolved = Vec::new();
    for (j, need) in step.needs.iter().enumerate() {
        let path = format!("{field}[{index}].needs[{j}]");
        let message = if need == id {
            format!("step `{id}` needs itself")
        } else if !seen.insert(need.as_str()) {
            format!("step `{id}` lists `{need}` in `needs` twice")
        } else {
            match ids.get(need) {
                None => format!("step `{id}` needs `{need}`, which is not a step of this workflow"),
                Some((Dag::Compensation, _)) if dag == Dag::Main => format!(
                    "step `{id}` needs `{need}`, a compensation step: main steps may only need \
                     main steps"
                ),
                Some((Dag::Main, _)) if dag == Dag::Compensation => format!(
                    "compensation step `{id}` needs `{need}`, a main step: compensation steps \
                     may only need compensation steps (they can read every main step anyway)"
                ),
                Some((_, k)) => {
                    resolved.push(k);
                    continue;
                }
            }
        };
        problems.push(Problem::new(path, message));
    }
    resolved
}

/// Every elementary cycle met by a depth-first walk, each as the steps in
/// `needs` order starting from its lowest index, reported once.
fn cycles(needs: &[Vec<usize>]) -> BTreeSet<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Visit {
        New,
        Open,
        Done,
    }
    let mut visit = vec![Visit::New; needs.len()];
    let mut found = BTreeSet::new();
    for start in 0..needs.len() {
        if visit[start] != Visit::New {
            continue;
        }
        // Iterative, so that a long chain cannot overflow the stack.
        let mut stack = vec![(start, 0usize)];
        visit[start] = Visit::Open;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            let Some(&to) = needs[node].get(*next) else {
                visit[node] = Visit::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match visit[to] {
                Visit::New => {
                    visit[to] = Visit::Open;
                    stack.push((to, 0));
                }
                Visit::Open => {
                    let from = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                    let lowest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                    cycle.rotate_left(lowest);
                    found.insert(cycle);
                }
                Visit::Done => {}
            }
        }
    }
    found
}

fn report_cycle(dag: Dag, steps: &[StepDefinition], cycle: &[usize], problems: &mut Vec<Problem>) {
    let (Some(&first), Some(&second)) = (cycle.first(), cycle.get(1).or(cycle.first())) else {
        return;
    };
    let names: Vec<&str> = cycle
        .iter()
        .chain(std::iter::once(&first))
        .map(|&i| steps[i].id.as_str())
        .collect();
    let position = steps[first]
        .needs
        .iter()
        .position(|need| *need == steps[second].id)
        .unwrap_or(0);
    problems.push(Problem::new(
        format!("{}[{first}].needs[{position}]", dag.field()),
        format!("cycle: {} (each step needs the next)", names.join(" -> ")),
    ));
}

/// Kahn's algorithm, always taking the lowest ready document index.
fn topological_order(needs: &[Vec<usize>]) -> Option<Vec<usize>> {
    let mut waiting_on: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); needs.len()];
    for (i, step_needs) in needs.iter().enumerate() {
        for &k in step_needs {
            dependents[k].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..needs.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut order = Vec::with_capacity(needs.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &dependent in &dependents[i] {
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 {
                ready.insert(dependent);
            }
        }
    }
    (order.len() == needs.len()).then_some(order)
}

fn upstream_of(step: usize, needs: &[Vec<usize>]) -> BTreeSet<usize> {
    let mut upstream = BTreeSet::new();
    let mut queue: Vec<usize> = needs[step].clone();
    while let Some(k) = queue.pop() {
        if upstream.insert(k) {
            queue.extend(&needs[k]);
        }
    }
    upstream
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_order_is_kept_when_it_works() {
        let needs = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert_eq!(topological_order(&needs), Some(vec![0, 1, 2, 3]));
    }

    #[test]
    fn steps_written_before_their_needs_are_moved_stably() {
        // 0 needs 2; 1 is free; 3 needs 0.
        let needs = vec![vec![2], vec![], vec![], vec![0]];
        assert_eq!(topological_order(&needs), Some(vec![1, 2, 0, 3]));
    }

    #[test]
    fn cycles_are_found_once_from_their_lowest_step() {
        let needs = vec![vec![1], vec![2], vec![0], vec![3]];
        let found: Vec<Vec<usize>> = cycles(&needs).into_iter().collect();
        assert_eq!(found, [vec![0, 1, 2], vec![3]]);
        assert_eq!(topological_order(&needs), None);
    }

    #[test]
    fn upstream_is_transitive() {
        let needs = vec![vec![], vec![0], vec![1], vec![]];
        assert_eq!(upstream_of(2, &needs), BTreeSet::from([0, 1]));
        assert!(upstream_of(3, &needs).is_empty());
    }
}
