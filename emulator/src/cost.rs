//! The emulator's complexity cost model (see README "Cost model"). Deterministic and computed from the
//! query text and variables before execution, like Monday's estimate.
//!
//! * every selected field costs 1 plus the cost of its sub-selection;
//! * a list field costs `1 + n × (OBJECT_COST + cost of one element's sub-selection)`, where `n` is
//!   the page size:
//!   its `limit` argument (or schema default), capped by the number of `ids` when given; lists
//!   without a limit use `n = ids.len()` or [`UNPAGED_ESTIMATE`]; every listed object costs
//!   [`OBJECT_COST`] on top of its fields, so that a full sync of a large account is bound by the
//!   per-minute budget, as on Monday, and not by round trips;
//! * a mutation field costs [`MUTATION_BASE`] `+ k × (cost of its sub-selection)`, `k` = number of IDs
//!   (or emails) it acts on;
//! * `complexity { … }` costs 0.

/// Assumed size of a list that has no `limit` (board owners/subscribers, team members, …).
pub const UNPAGED_ESTIMATE: usize = 50;
/// Cost of each object of a list, on top of its selected fields.
pub const OBJECT_COST: usize = 10;
/// Fixed cost of any mutation field.
pub const MUTATION_BASE: usize = 10;

/// Length of an optional ID list.
pub fn count<T>(ids: &Option<Vec<T>>) -> Option<usize> {
    ids.as_ref().map(Vec::len)
}

/// Cost of a list field.
pub fn list(limit: Option<i32>, ids: Option<usize>, child: usize) -> usize {
    let n = match (limit.map(|l| l.max(0) as usize), ids) {
        (Some(l), Some(k)) => l.min(k),
        (Some(l), None) => l,
        (None, Some(k)) => k,
        (None, None) => UNPAGED_ESTIMATE,
    };
    1usize.saturating_add(n.saturating_mul(child.saturating_add(OBJECT_COST)))
}

/// Cost of a mutation field acting on `k` items.
pub fn mutation(k: usize, child: usize) -> usize {
    MUTATION_BASE.saturating_add(k.saturating_mul(child))
}
