//! A provisioning session: the one way the controllers and the one-shot commands reach Monday.com
//! to change access. It opens a client for a [`Connection`] and runs the
//! [`provision`](super::provision) operations on it, so callers never build a Monday client
//! themselves.

use super::Connection;
use super::provision::{
    self, BaseRole, Current, Entitlement, GrantOptions, GrantOutcome, InviteOutcome,
    LifecycleOutcome, Principal, ProvisionError, RevokeMode, RevokeOutcome,
};
use crate::monday::Client;

/// An open connection for provisioning.
pub struct Session {
    client: Client,
}

impl Session {
    /// Opens a session; fails only when the client cannot be built (URL, TLS, token bytes).
    pub fn open(conn: &Connection) -> Result<Self, ProvisionError> {
        Ok(Session {
            client: conn.client(None)?,
        })
    }

    /// What `principal` holds now (see [`provision::check`]).
    pub async fn check(
        &self,
        entitlement: &Entitlement,
        principal: &Principal,
        opts: GrantOptions,
    ) -> Result<Current, ProvisionError> {
        provision::check(&self.client, entitlement, principal, opts).await
    }

    /// Makes Monday hold the access [`Self::check`] found (see [`provision::apply`]).
    pub async fn apply(
        &self,
        entitlement: &Entitlement,
        current: &Current,
    ) -> Result<GrantOutcome, ProvisionError> {
        provision::apply(&self.client, entitlement, current).await
    }

    /// Check, then apply.
    pub async fn grant(
        &self,
        entitlement: &Entitlement,
        principal: &Principal,
        opts: GrantOptions,
    ) -> Result<GrantOutcome, ProvisionError> {
        provision::grant(&self.client, entitlement, principal, opts).await
    }

    /// Takes the access away: exactly the named grant, or back to a recorded state (see
    /// [`RevokeMode`]).
    pub async fn revoke(
        &self,
        entitlement: &Entitlement,
        principal: &Principal,
        mode: RevokeMode<'_>,
    ) -> Result<RevokeOutcome, ProvisionError> {
        provision::revoke(&self.client, entitlement, principal, mode).await
    }

    /// Invites `email` with `role` unless an account has it.
    pub async fn invite(
        &self,
        email: &str,
        role: BaseRole,
    ) -> Result<InviteOutcome, ProvisionError> {
        provision::invite(&self.client, email, role).await
    }

    /// Deactivates the account.
    pub async fn deactivate(
        &self,
        principal: &Principal,
    ) -> Result<LifecycleOutcome, ProvisionError> {
        provision::deactivate(&self.client, principal).await
    }

    /// Reactivates the account.
    pub async fn reactivate(
        &self,
        principal: &Principal,
    ) -> Result<LifecycleOutcome, ProvisionError> {
        provision::reactivate(&self.client, principal).await
    }
}
