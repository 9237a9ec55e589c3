//! The order a target's stages are built in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use crate::check::{Checked, reachable_stages};

/// Stages needed to build `target`, each after the stages it depends on; among stages
/// that are ready at the same time, spec order decides (Kahn's algorithm with a min-heap:
/// linear in stages and edges, times a log).
pub fn build_order(checked: &Checked, target: usize) -> Vec<usize> {
    let needed: BTreeSet<usize> = reachable_stages(&checked.graph, target)
        .into_iter()
        .collect();
    let mut waiting_on: BTreeMap<usize, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &s in &needed {
        let deps: BTreeSet<usize> = checked
            .graph
            .stage_dependencies(s)
            .into_iter()
            .filter(|d| needed.contains(d))
            .collect();
        waiting_on.insert(s, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(s);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = waiting_on
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(s, _)| Reverse(*s))
        .collect();
    let mut done = Vec::with_capacity(needed.len());
    // A cycle (which `check` has already refused) simply leaves its stages out.
    while let Some(Reverse(s)) = ready.pop() {
        done.push(s);
        for &next in dependents.get(&s).map(Vec::as_slice).unwrap_or_default() {
            if let Some(n) = waiting_on.get_mut(&next) {
                *n -= 1;
                if *n == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
    }
    done
}
