//! Status conditions that follow the Kubernetes API conventions.
//!
//! `lastTransitionTime` moves only when a condition's `status` flips, and callers can tell whether
//! anything changed so they skip status writes at steady state (each write is a watch event).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// Condition type summarising whether the object is usable.
pub const READY: &str = "Ready";

/// Builds a condition without a transition time; [`merge`] fills it in.
pub fn new(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
    }
}

/// Same as [`new`] with status `Unknown` (first visit, or a sync still running).
pub fn unknown(
    type_: &str,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    let mut c = new(type_, false, reason, message, generation);
    c.status = "Unknown".to_string();
    c
}

/// Merges `desired` into `current`, keyed by type.
///
/// A condition whose status is unchanged keeps its old `lastTransitionTime`; a new or flipped one
/// gets `now`. Returns true when the resulting list differs from `current` in anything but order.
pub fn merge(current: &mut Vec<Condition>, desired: Vec<Condition>, now: jiff::Timestamp) -> bool {
    let mut changed = false;
    for mut want in desired {
        match current.iter_mut().find(|c| c.type_ == want.type_) {
            Some(have) => {
                want.last_transition_time = if have.status == want.status {
                    have.last_transition_time.clone()
                } else {
                    Time(now)
                };
                if *have != want {
                    *have = want;
                    changed = true;
                }
            }
            None => {
                want.last_transition_time = Time(now);
                current.push(want);
                changed = true;
            }
        }
    }
    changed
}

/// Finds a condition by type.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Schema for a `conditions` list: a map keyed by `type`, so server-side apply merges per condition.
pub fn schema(generator: &mut SchemaGenerator) -> Schema {
    let item = Condition::json_schema(generator);
    json_schema!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": item,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut list = Vec::new();
        assert!(merge(
            &mut list,
            vec![new(READY, false, "Pending", "waiting", Some(1))],
            at(10)
        ));
        assert_eq!(list[0].last_transition_time.0, at(10));

        // Same status, new message: changed, but the transition time stays.
        assert!(merge(
            &mut list,
            vec![new(READY, false, "Pending", "still waiting", Some(1))],
            at(20)
        ));
        assert_eq!(list[0].last_transition_time.0, at(10));

        // Identical: nothing to write.
        assert!(!merge(
            &mut list,
            vec![new(READY, false, "Pending", "still waiting", Some(1))],
            at(30)
        ));

        // Flip: the time moves.
        assert!(merge(
            &mut list,
            vec![new(READY, true, "Ready", "ok", Some(1))],
            at(40)
        ));
        assert_eq!(list[0].last_transition_time.0, at(40));
        assert_eq!(list.len(), 1);
    }
}
