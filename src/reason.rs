//! The one vocabulary of *why*: every condition reason, Event reason and metric `reason` label.
//!
//! A reason is decided where the cause is typed (a [`crate::monday::MondayError`], a
//! [`crate::engine::SyncError`], a Secret problem, a planning decision) and travels as this enum
//! until it is written out; nothing decides by matching a reason string. Each reason has a
//! [`Class`] that says how the operator reacts to it, and whether it is about the connection to
//! Monday.com (the `Connected` condition).

use std::fmt;

/// How the operator reacts to a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// The desired state holds (or has ended as planned).
    Ok,
    /// Work is under way or has not started yet; nothing is wrong.
    Progressing,
    /// Retrying later may succeed without anyone changing anything: retried with backoff.
    Transient,
    /// Someone must change something (a Secret, the spec, the Monday account): no retry loop.
    Permanent,
}

macro_rules! reasons {
    ($( $(#[$doc:meta])* $name:ident => $class:ident $(, $conn:ident)? ; )*) => {
        /// A CamelCase reason (see the module docs). Serialized as its name; a name this version
        /// does not know (written by a newer operator) reads as [`Reason::Unrecognized`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $( $(#[$doc])* $name, )*
            /// A reason written by another version of the operator.
            Unrecognized,
        }

        impl Reason {
            /// Every reason this version knows, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)*];

            /// The CamelCase name written into conditions, Events and metric labels.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Reason::$name => stringify!($name), )*
                    Reason::Unrecognized => "Unrecognized",
                }
            }

            /// How the operator reacts to this reason.
            pub const fn class(self) -> Class {
                match self {
                    $( Reason::$name => Class::$class, )*
                    Reason::Unrecognized => Class::Permanent,
                }
            }

            /// Whether this reason is about the token, its permissions or reaching Monday.com,
            /// i.e. belongs on the `Connected` condition.
            pub const fn is_connection(self) -> bool {
                match self {
                    $( Reason::$name => reasons!(@conn $($conn)?), )*
                    Reason::Unrecognized => false,
                }
            }

            /// The reason named `s`, if this version knows it.
            pub fn known(s: &str) -> Option<Reason> {
                match Reason::parse(s) {
                    Reason::Unrecognized => None,
                    r => Some(r),
                }
            }

            fn parse(s: &str) -> Reason {
                match s {
                    $( stringify!($name) => Reason::$name, )*
                    _ => Reason::Unrecognized,
                }
            }
        }
    };
    (@conn connection) => { true };
    (@conn) => { false };
}

reasons! {
    // --- the connection to Monday.com (`Connected`) ---
    /// The token was accepted by the last sync.
    Connected => Ok, connection;
    /// The token is checked by the next sync.
    Connecting => Progressing, connection;
    /// The Secret named by the connector does not exist.
    SecretNotFound => Permanent, connection;
    /// The Secret lacks the token key.
    SecretKeyMissing => Permanent, connection;
    /// The token key is empty.
    EmptyToken => Permanent, connection;
    /// The token key is not UTF-8 text.
    MalformedToken => Permanent, connection;
    /// Monday rejected the token (HTTP 401).
    InvalidToken => Permanent, connection;
    /// The token's user lacks an account permission.
    InsufficientPermissions => Permanent, connection;
    /// An OAuth token lacks a scope.
    MissingScope => Permanent, connection;
    /// Monday denies the token's user API access.
    AccessDenied => Permanent, connection;
    /// Throttled beyond the retry budget.
    RateLimited => Transient, connection;
    /// The account's daily call limit is spent; the next attempt waits for its reset.
    DailyLimitExceeded => Transient, connection;
    /// Network failures or timeouts beyond the retry budget.
    Unreachable => Transient, connection;
    /// 5xx answers beyond the retry budget.
    ServerError => Transient, connection;
    /// The Monday client cannot be built (URL, TLS, token bytes).
    InvalidConfiguration => Permanent, connection;
    /// The connector's spec cannot be acted on.
    InvalidSpec => Permanent, connection;

    // --- the last sync (`Synced`) and its causes ---
    /// The last sync succeeded.
    SyncSucceeded => Ok;
    /// The last sync failed; the message starts with the cause's reason.
    SyncFailed => Permanent;
    /// The first sync is running.
    SyncInProgress => Progressing;
    /// No sync has run yet.
    SyncPending => Progressing;
    /// The snapshot could not be written (disk, SQLite).
    SnapshotWriteFailed => Transient;
    /// The data directory has no room for the snapshot.
    DiskFull => Transient;
    /// The sync ran longer than the operator's sync timeout.
    SyncTimeout => Transient;
    /// Monday answered with a shape the client does not expect.
    ProtocolError => Transient;
    /// Another GraphQL error code.
    ApiError => Permanent;
    /// An id that does not exist.
    NotFound => Permanent;
    /// A rejected argument.
    InvalidArgument => Permanent;
    /// Monday refused a record (e.g. a board past its member limit).
    RecordInvalid => Permanent;
    /// A per-user failure in a mutation payload.
    UserError => Permanent;

    // --- provisioning switch (`Provisioning`) ---
    /// Provisioning is on.
    Enabled => Ok;
    /// Provisioning is off.
    Disabled => Ok;
    /// `BATON_PROVISIONING` is not a boolean.
    InvalidProvisioningValue => Permanent;
    /// The Secret cannot be read, so the Secret's setting is unknown.
    SecretUnavailable => Progressing;

    // --- summaries (`Ready`) ---
    /// Scheduled syncs are suspended.
    Suspended => Ok;
    /// The operator cannot read the object (say, written for a newer schema).
    InvalidObject => Permanent;

    // --- access grants ---
    /// Current access recorded; granting.
    Granting => Progressing;
    /// The access is in place.
    Granted => Ok;
    /// The principal had the access before the request; it is never revoked by the object.
    PreExisting => Ok;
    /// The expiry moved later.
    Extended => Ok;
    /// The expiry passed and the access was revoked.
    Expired => Ok;
    /// The expiry passed; the pre-existing access was left in place.
    ExpiredPreExisting => Ok;
    /// `expiresAt` passed before the access could be granted.
    ExpiredBeforeGrant => Ok;
    /// Revoked on deletion.
    Revoked => Ok;
    /// A revocation failed; retried with backoff.
    RevokeFailed => Transient;
    /// The connector does not allow provisioning.
    ProvisioningDisabled => Permanent;
    /// The grant's connector does not exist.
    ConnectorNotFound => Permanent;
    /// The entitlement id is malformed.
    InvalidEntitlement => Permanent;
    /// The principal is malformed.
    InvalidPrincipal => Permanent;
    /// The expiry cannot be computed from the spec.
    InvalidExpiry => Permanent;
    /// No Monday account has the principal.
    UserNotFound => Permanent;
    /// The user is deactivated.
    UserDeactivated => Permanent;
    /// The user has a pending invitation Monday cannot change until it is accepted.
    PendingInvitation => Transient;
    /// The user's base role is none of admin, member, viewer, guest.
    UnsupportedUserKind => Permanent;
    /// The board, workspace or team does not exist.
    ResourceNotFound => Permanent;
    /// A team cannot hold this entitlement.
    TeamPrincipalNotAllowed => Permanent;
    /// Monday refuses to change the token's own user.
    CannotUpdateSelf => Permanent;
    /// Viewers and guests cannot hold this access.
    ViewersOrGuests => Permanent;
    /// The user is not a member of the team.
    UserNotMemberOfTeam => Permanent;
    /// Too many ids in one call.
    ExceedsBatchLimit => Permanent;
    /// Monday rejected the input.
    InvalidInput => Permanent;
    /// Guests join guest teams only, others regular teams only.
    TeamMembershipRefused => Permanent;
    /// An invitation failed.
    InviteFailed => Permanent;
    /// Monday refused with a code this version does not know.
    MondayRefused => Permanent;
    /// Monday reported `FAILED` for a user: a failure on its side, retried.
    MondayFailed => Transient;
    /// Monday reported success but a read shows otherwise; checked again.
    NotApplied => Transient;
    /// A base role cannot be revoked without another to put in its place.
    BaseRoleRequired => Permanent;

    // --- policy and approvals (`Approved`) ---
    /// Enough approvers of the governing rule approved this version.
    Approved => Ok;
    /// The requester approved their own request under a break-glass rule (Warning Event).
    BreakGlass => Ok;
    /// The governing rule needs no approval (`requiredApprovals: 0`).
    ApprovalNotRequired => Ok;
    /// The namespace has no MondayAccessPolicy; allowed as before policies (a warning).
    NoPolicy => Ok;
    /// The namespace has no MondayAccessPolicy and the operator requires one.
    PolicyRequired => Permanent;
    /// A ConductorOne grant: approved in ConductorOne, in-cluster policy does not apply.
    ConductorOneGrant => Ok;
    /// Granted before policies were enforced; kept until its expiry.
    GrantedBeforePolicy => Ok;
    /// Waiting for approvals of the governing rule.
    AwaitingApproval => Progressing;
    /// Access continues at its approved expiry while an extension waits for approval.
    ExtensionAwaitingApproval => Progressing;
    /// No rule of the namespace's policies allows the request (the message names the closest).
    NoRuleAllows => Permanent;
    /// An approver of the governing rule denied this version.
    DeniedByApprover => Permanent;
    /// Not approved within the rule's `approvalTimeout`.
    ApprovalTimedOut => Permanent;
    /// An extension was denied; the approved expiry stays.
    ExtensionDenied => Permanent;
    /// An extension was not approved within the timeout; the approved expiry stays.
    ExtensionTimedOut => Permanent;
    /// The requested expiry was shortened to the rule's (or break-glass) maximum.
    ExpiryCapped => Ok;
    /// A rule needs the board's workspace and it is not known yet; decided once it is.
    BoardWorkspaceUnknown => Progressing;
    /// A rule cannot be evaluated (an invalid `reasonPattern` or duration); fix the policy.
    InvalidPolicy => Permanent;
    /// The grant carries no requester (created before the admission policies were installed).
    RequesterUnknown => Ok;
    /// More than one rule allows the request; the first governs.
    OverlappingRules => Ok;
    /// An approval was not counted: the approver is the requester and the rule allows no break-glass.
    SelfApproval => Permanent;
    /// An approval was not counted: it names another version (generation) of the request.
    OtherVersion => Permanent;
    /// An approval was not counted: it names an earlier object of the same name (another uid).
    OtherGrant => Permanent;
    /// An approval was not counted: it names another policy than the one governing the grant.
    OtherPolicy => Permanent;
    /// An approval was not counted: its approver is not among the rule's approvers.
    NotAnApprover => Permanent;
    /// An approval was not counted: it carries no approver.
    ApproverUnknown => Permanent;
    /// An approval was not counted: the approver already approved this version.
    DuplicateApprover => Permanent;
    /// An approval was not counted: it was created after the approval deadline.
    AfterDeadline => Permanent;

    // --- ConductorOne service mode (`ConductorOne`) ---
    /// `BATON_CLIENT_ID` is not `name@host/suffix`.
    InvalidClientId => Permanent, connection;
    /// `BATON_CLIENT_SECRET` is not a `secret-token:conductorone.com:v1:` Ed25519 key.
    InvalidClientSecret => Permanent, connection;
    /// The token endpoint refused the client (wrong key, revoked client).
    InvalidCredentials => Permanent, connection;
    /// The token endpoint failed or answered something unreadable.
    TokenEndpointError => Transient, connection;
    /// ConductorOne refused the access token.
    Unauthenticated => Permanent, connection;
    /// ConductorOne refused the call for this client.
    PermissionDenied => Permanent, connection;
    /// A call to ConductorOne timed out.
    Timeout => Transient, connection;
    /// ConductorOne rejected a request as invalid.
    Rejected => Permanent;
    /// ConductorOne's precondition for the call does not hold.
    FailedPrecondition => Permanent;
    /// ConductorOne does not implement the call.
    Unimplemented => Permanent;
    /// A local file of service mode could not be read or written.
    FileError => Transient;
    /// The service-mode work folder cannot be used.
    WorkDirUnusable => Permanent;
    /// Service mode is off (spec), or the Secret holds no ConductorOne credentials.
    ServiceModeOff => Ok;
    /// A task succeeded.
    Succeeded => Ok;
    /// ConductorOne cancelled a task.
    CancelledByServer => Transient;
    /// Heartbeats of a running task kept failing; it was cancelled.
    HeartbeatFailed => Transient;
    /// A task of a type this connector does not carry out.
    UnsupportedTaskType => Transient;
    /// A task without what its type needs (entitlement, principal, …).
    MalformedTask => Permanent;
    /// A task that names something this connector does not have.
    InvalidTask => Permanent;
    /// An action's arguments are not what its schema says.
    InvalidArguments => Permanent;
    /// An action this connector does not have.
    UnknownAction => Permanent;
    /// The service cannot be configured (work folder, limits).
    ServiceConfig => Permanent;
    /// A grant with a duration was revoked by the operator: ConductorOne sent no revoke task
    /// within the grace period after it ended.
    RevokedAfterDuration => Ok;

    // --- Events only ---
    /// Grants changed between two syncs.
    AccessChanged => Ok;

    // --- reconcile errors (metric label) ---
    /// A Kubernetes API call failed.
    KubernetesError => Transient;
    /// The snapshot folder could not be changed.
    DataDirError => Transient;
}

impl Reason {
    /// Whether retrying later may succeed without anyone changing anything.
    pub const fn is_transient(self) -> bool {
        matches!(self.class(), Class::Transient)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Reason {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Reason::parse(s))
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Reason::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_camel_case() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(*r));
            let first = r.as_str().chars().next().expect("name");
            assert!(first.is_ascii_uppercase(), "{r}");
            assert!(r.as_str().chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        }
        assert_eq!("SomethingNew".parse::<Reason>(), Ok(Reason::Unrecognized));
        let json = serde_json::to_string(&Reason::DailyLimitExceeded).expect("json");
        assert_eq!(json, "\"DailyLimitExceeded\"");
        assert_eq!(
            serde_json::from_str::<Reason>(&json).expect("back"),
            Reason::DailyLimitExceeded
        );
    }

    #[test]
    fn classes_say_how_the_operator_reacts() {
        assert!(Reason::SyncTimeout.is_transient() && !Reason::SyncTimeout.is_connection());
        assert!(Reason::SnapshotWriteFailed.is_transient());
        assert!(Reason::ProtocolError.is_transient());
        assert!(Reason::DailyLimitExceeded.is_transient());
        assert!(Reason::DailyLimitExceeded.is_connection());
        assert!(!Reason::InvalidToken.is_transient() && Reason::InvalidToken.is_connection());
        assert!(Reason::SecretNotFound.is_connection());
        assert_eq!(Reason::Granted.class(), Class::Ok);
        assert_eq!(Reason::SyncInProgress.class(), Class::Progressing);
    }
}
