//! Status conditions that follow the Kubernetes API conventions, typed.
//!
//! The JSON is exactly `metav1.Condition`; in Rust the type, status and reason are enums, so the
//! controllers decide on values, never on strings. `lastTransitionTime` moves only when a
//! condition's `status` flips, and [`merge`] tells whether anything changed so callers skip status
//! writes at steady state (each write is a watch event).

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::reason::Reason;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A value written by another version of the operator.
            Unrecognized,
        }
        impl $name {
            /// The name as written in the object.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => stringify!($v),)* $name::Unrecognized => "Unrecognized" }
            }
            fn parse(s: &str) -> Self {
                match s { $(stringify!($v) => $name::$v,)* _ => $name::Unrecognized }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool { self.as_str() == *other }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self { Self::parse(s) }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

string_enum! {
    /// Which condition it is.
    ConditionType {
        /// Summary: the object is usable (connector) or its access is as desired (grant).
        Ready,
        /// The token reaches Monday.com and is accepted.
        Connected,
        /// The last sync succeeded.
        Synced,
        /// Whether provisioning is enabled, and whether its setting is valid.
        Provisioning,
        /// Whether the access-grant version in force is allowed by policy (and approvals).
        Approved,
        /// ConductorOne service mode: connected, off, or why not.
        ConductorOne,
    }
}

string_enum! {
    /// `True`, `False` or `Unknown`.
    ConditionStatus {
        True,
        False,
        Unknown,
    }
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b { Self::True } else { Self::False }
    }
}

/// One condition (`metav1.Condition` on the wire).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: ConditionType,
    pub status: ConditionStatus,
    pub reason: Reason,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    pub last_transition_time: Time,
}

impl Condition {
    /// Builds a condition without a transition time; [`merge`] fills it in.
    pub fn new(
        type_: ConditionType,
        status: impl Into<ConditionStatus>,
        reason: Reason,
        message: impl Into<String>,
        generation: Option<i64>,
    ) -> Condition {
        Condition {
            type_,
            status: status.into(),
            reason,
            message: message.into(),
            observed_generation: generation,
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }

    pub fn is_false(&self) -> bool {
        self.status == ConditionStatus::False
    }
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

/// Finds a condition by type (a [`ConditionType`], or its name).
pub fn get(conditions: &[Condition], type_: impl Into<ConditionType>) -> Option<&Condition> {
    let type_ = type_.into();
    conditions.iter().find(|c| c.type_ == type_)
}

/// Schema for a `conditions` list: `metav1.Condition` items in a map keyed by `type`, so
/// server-side apply merges per condition.
pub fn schema(generator: &mut SchemaGenerator) -> Schema {
    let item = k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition::json_schema(generator);
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
    use ConditionType::Ready;

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let c = |ok: bool, reason, msg: &str| Condition::new(Ready, ok, reason, msg, Some(1));
        let mut list = Vec::new();
        assert!(merge(
            &mut list,
            vec![c(false, Reason::SyncPending, "waiting")],
            at(10)
        ));
        assert_eq!(list[0].last_transition_time.0, at(10));

        // Same status, new message: changed, but the transition time stays.
        assert!(merge(
            &mut list,
            vec![c(false, Reason::SyncPending, "still waiting")],
            at(20)
        ));
        assert_eq!(list[0].last_transition_time.0, at(10));

        // Identical: nothing to write.
        assert!(!merge(
            &mut list,
            vec![c(false, Reason::SyncPending, "still waiting")],
            at(30)
        ));

        // Flip: the time moves.
        assert!(merge(
            &mut list,
            vec![c(true, Reason::SyncSucceeded, "ok")],
            at(40)
        ));
        assert_eq!(list[0].last_transition_time.0, at(40));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn the_wire_format_is_metav1_condition() {
        let c = Condition::new(
            ConditionType::Connected,
            ConditionStatus::Unknown,
            Reason::Connecting,
            "checking",
            Some(3),
        );
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"type": "Connected", "status": "Unknown", "reason": "Connecting",
                "message": "checking", "observedGeneration": 3,
                "lastTransitionTime": "1970-01-01T00:00:00Z"})
        );
        let k8s: k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition =
            serde_json::from_value(v.clone()).expect("metav1");
        assert_eq!(k8s.reason, "Connecting");
        let back: Condition = serde_json::from_value(v).expect("back");
        assert_eq!(back, c);
        let newer: Condition = serde_json::from_value(serde_json::json!({"type": "Quantum",
            "status": "True", "reason": "Entangled", "lastTransitionTime": "1970-01-01T00:00:00Z"}))
        .expect("newer");
        assert_eq!(
            (newer.type_, newer.reason),
            (ConditionType::Unrecognized, Reason::Unrecognized)
        );
    }
}
