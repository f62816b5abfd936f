//! The provisioning gate: "may this connector change access in Monday.com?", decided in one place
//! for the connector's `Provisioning` condition and for every MondayAccessGrant.
//!
//! `spec.provisioning` wins; when unset the Secret's `BATON_PROVISIONING` decides; when that is
//! absent too, provisioning is off. A value that is not a boolean is its own reason, with one
//! message on every kind.

use crate::api::MondayConnector;
use crate::api::conditions::{Condition, ConditionStatus, ConditionType};
use crate::reason::Reason;
use crate::settings::{self, InvalidBool};

/// The verdict, with where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Set by `spec.provisioning`.
    Spec(bool),
    /// Set by `BATON_PROVISIONING` in the Secret.
    Secret(bool),
    /// Neither is set: off.
    Unset,
    /// `BATON_PROVISIONING` is not a boolean (and the spec does not decide): off.
    InvalidValue,
    /// The Secret cannot be read, so its setting is unknown: off until it can be.
    SecretUnavailable,
}

/// The gate for `connector`, given what its Secret says (`None` = unreadable).
pub fn gate(
    connector: &MondayConnector,
    secret_setting: Option<&Result<Option<bool>, InvalidBool>>,
) -> Gate {
    match (connector.spec.provisioning, secret_setting) {
        (Some(v), _) => Gate::Spec(v),
        (None, Some(Ok(Some(v)))) => Gate::Secret(*v),
        (None, Some(Ok(None))) => Gate::Unset,
        (None, Some(Err(InvalidBool))) => Gate::InvalidValue,
        (None, None) => Gate::SecretUnavailable,
    }
}

impl Gate {
    pub fn allows(self) -> bool {
        matches!(self, Gate::Spec(true) | Gate::Secret(true))
    }

    /// Why provisioning is not allowed, for a grant that must wait; `None` when it is.
    pub fn refusal(self, connector: &str) -> Option<(Reason, String)> {
        match self {
            _ if self.allows() => None,
            Gate::InvalidValue => Some((Reason::InvalidProvisioningValue, invalid_value_message())),
            Gate::SecretUnavailable => Some((
                Reason::SecretUnavailable,
                format!("the Secret of MondayConnector {connector} cannot be read"),
            )),
            _ => Some((
                Reason::ProvisioningDisabled,
                format!(
                    "MondayConnector {connector} does not allow provisioning: set spec.provisioning: true on it (or {}: \"true\" in its Secret); nothing was changed in Monday",
                    settings::PROVISIONING
                ),
            )),
        }
    }

    /// The connector's `Provisioning` condition.
    pub fn condition(self, generation: Option<i64>) -> Condition {
        let (status, reason, message) = match self {
            Gate::Spec(v) => (v.into(), on_off(v), "set by spec.provisioning".to_string()),
            Gate::Secret(v) => (
                v.into(),
                on_off(v),
                format!("set by {} in the Secret", settings::PROVISIONING),
            ),
            Gate::Unset => (
                ConditionStatus::False,
                Reason::Disabled,
                format!(
                    "neither spec.provisioning nor {} is set",
                    settings::PROVISIONING
                ),
            ),
            Gate::InvalidValue => (
                ConditionStatus::False,
                Reason::InvalidProvisioningValue,
                invalid_value_message(),
            ),
            Gate::SecretUnavailable => (
                ConditionStatus::Unknown,
                Reason::SecretUnavailable,
                "the Secret cannot be read".to_string(),
            ),
        };
        Condition::new(
            ConditionType::Provisioning,
            status,
            reason,
            message,
            generation,
        )
    }
}

fn on_off(v: bool) -> Reason {
    if v { Reason::Enabled } else { Reason::Disabled }
}

fn invalid_value_message() -> String {
    format!(
        "{} in the Secret must be one of {}; provisioning stays off until it is fixed (or set spec.provisioning)",
        settings::PROVISIONING,
        settings::GO_BOOL_SPELLINGS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(provisioning: Option<bool>) -> MondayConnector {
        let mut c: MondayConnector = serde_json::from_value(serde_json::json!({
            "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayConnector",
            "metadata": {"name": "c", "namespace": "n"},
            "spec": {"secretRef": {"name": "s"}}
        }))
        .expect("connector");
        c.spec.provisioning = provisioning;
        c
    }

    #[test]
    fn spec_wins_then_the_secret_then_off() {
        let table = [
            (Some(true), Some(Ok(Some(false))), Gate::Spec(true), true),
            (Some(false), Some(Ok(Some(true))), Gate::Spec(false), false),
            (None, Some(Ok(Some(true))), Gate::Secret(true), true),
            (None, Some(Ok(Some(false))), Gate::Secret(false), false),
            (None, Some(Ok(None)), Gate::Unset, false),
            (None, Some(Err(InvalidBool)), Gate::InvalidValue, false),
            (Some(true), Some(Err(InvalidBool)), Gate::Spec(true), true),
            (None, None, Gate::SecretUnavailable, false),
        ];
        for (spec, secret, want, allows) in table {
            let g = gate(&connector(spec), secret.as_ref());
            assert_eq!(g, want, "{spec:?} {secret:?}");
            assert_eq!(g.allows(), allows);
            assert_eq!(g.refusal("c").is_none(), allows);
        }
    }

    #[test]
    fn one_reason_and_message_for_an_invalid_value_on_every_kind() {
        let g = Gate::InvalidValue;
        let c = g.condition(Some(1));
        let (reason, message) = g.refusal("c").expect("refused");
        assert_eq!(c.reason, Reason::InvalidProvisioningValue);
        assert_eq!(reason, Reason::InvalidProvisioningValue);
        assert_eq!(c.message, message);
        assert_eq!(
            g.refusal("c").map(|r| r.0),
            Some(Reason::InvalidProvisioningValue)
        );
        assert_eq!(
            Gate::Unset.refusal("c").map(|r| r.0),
            Some(Reason::ProvisioningDisabled)
        );
    }
}
