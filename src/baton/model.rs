//! Builders for the Baton access model and the in-memory [`Snapshot`] of one sync.
//!
//! IDs are built exactly as the Baton SDK builds them: C1 keys configuration on these strings,
//! so they must stay byte-identical (reference §1.4).

use std::collections::{BTreeMap, HashMap, HashSet};

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::{Any, Struct, Timestamp, Value};

use super::pb::{self, entitlement::Purpose, resource_type::Trait};

/// `"<resource_type>:<resource_id>:<slug>"`, e.g. `team:123:member`.
pub fn entitlement_id(resource_type: &str, resource_id: &str, slug: &str) -> String {
    format!("{resource_type}:{resource_id}:{slug}")
}

/// `"<entitlement_id>:<principal_type>:<principal_id>"`, e.g. `team:123:member:user:456`.
pub fn grant_id(entitlement_id: &str, principal_type: &str, principal_id: &str) -> String {
    format!("{entitlement_id}:{principal_type}:{principal_id}")
}

/// `"<type>:<id>"`: the `external_id` column of `v1_resources`.
pub fn resource_external_id(resource_type: &str, resource_id: &str) -> String {
    format!("{resource_type}:{resource_id}")
}

/// A `ResourceId` message for the pair (type, id).
pub fn resource_id(resource_type: impl Into<String>, id: impl Into<String>) -> pb::ResourceId {
    pb::ResourceId {
        resource_type: resource_type.into(),
        resource: id.into(),
        baton_resource: false,
    }
}

/// A `google.protobuf.Struct` from key/value pairs (profiles shown in access reviews).
pub fn profile<K: Into<String>, V: Into<Value>>(
    entries: impl IntoIterator<Item = (K, V)>,
) -> Struct {
    Struct {
        fields: entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    }
}

/// A resource type with the given traits.
pub fn resource_type(id: &str, display_name: &str, traits: &[Trait]) -> pb::ResourceType {
    pb::ResourceType {
        id: id.to_owned(),
        display_name: display_name.to_owned(),
        traits: traits.iter().map(|t| *t as i32).collect(),
        ..Default::default()
    }
}

/// Contents of a `UserTrait`; status and profile are taken from the resource at build time so the
/// deprecated trait copies always agree with `Resource` fields 9 and 11.
#[derive(Clone, Debug, Default)]
pub struct UserTraitBuilder {
    inner: pb::UserTrait,
}

impl UserTraitBuilder {
    /// A human account (the SDK default) with no e-mail yet.
    pub fn new() -> Self {
        Self {
            inner: pb::UserTrait {
                account_type: pb::user_trait::AccountType::Human as i32,
                ..Default::default()
            },
        }
    }

    /// Adds an e-mail address.
    pub fn email(mut self, address: impl Into<String>, is_primary: bool) -> Self {
        self.inner.emails.push(pb::user_trait::Email {
            address: address.into(),
            is_primary,
        });
        self
    }

    /// Sets the login shown by Baton (usually the primary e-mail).
    pub fn login(mut self, login: impl Into<String>) -> Self {
        self.inner.login = login.into();
        self
    }

    /// Sets the account type (human, service, system).
    pub fn account_type(mut self, t: pb::user_trait::AccountType) -> Self {
        self.inner.account_type = t as i32;
        self
    }

    /// Sets when the account was created.
    pub fn created_at(mut self, ts: Timestamp) -> Self {
        self.inner.created_at = Some(ts);
        self
    }

    /// Sets the last login time.
    pub fn last_login(mut self, ts: Timestamp) -> Self {
        self.inner.last_login = Some(ts);
        self
    }
}

/// Which trait annotation a [`ResourceBuilder`] adds.
#[derive(Clone, Debug)]
enum TraitSpec {
    None,
    User(Box<pb::UserTrait>),
    Group,
    Role,
}

/// Builds a `Resource` with its trait and annotations, mirroring status/profile onto the trait.
#[derive(Clone, Debug)]
pub struct ResourceBuilder {
    inner: pb::Resource,
    trait_spec: TraitSpec,
    extra: Vec<Any>,
}

impl ResourceBuilder {
    /// A resource `(resource_type, id)` shown as `display_name`.
    pub fn new(
        resource_type: impl Into<String>,
        id: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            inner: pb::Resource {
                id: Some(resource_id(resource_type, id)),
                display_name: display_name.into(),
                ..Default::default()
            },
            trait_spec: TraitSpec::None,
            extra: Vec::new(),
        }
    }

    /// Nests the resource under a parent (e.g. a board in its workspace).
    pub fn parent(mut self, resource_type: impl Into<String>, id: impl Into<String>) -> Self {
        self.inner.parent_resource_id = Some(resource_id(resource_type, id));
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.inner.description = description.into();
        self
    }

    /// Sets the lifecycle status (users default to enabled, like the SDK).
    pub fn status(mut self, status: pb::StatusValue) -> Self {
        self.inner.status = Some(pb::Status {
            status: status as i32,
            details: String::new(),
        });
        self
    }

    /// Sets the status with a detail a reviewer can read (e.g. why a user is disabled).
    pub fn status_with_details(
        mut self,
        status: pb::StatusValue,
        details: impl Into<String>,
    ) -> Self {
        self.inner.status = Some(pb::Status {
            status: status as i32,
            details: details.into(),
        });
        self
    }

    /// Sets the profile shown in access reviews.
    pub fn profile(mut self, profile: Struct) -> Self {
        self.inner.profile = Some(profile);
        self
    }

    /// Sets the creation time.
    pub fn created_at(mut self, ts: Timestamp) -> Self {
        self.inner.created_at = Some(ts);
        self
    }

    /// Marks the resource as a user.
    pub fn user_trait(mut self, user: UserTraitBuilder) -> Self {
        self.trait_spec = TraitSpec::User(Box::new(user.inner));
        self
    }

    /// Marks the resource as a group (its members can inherit grants).
    pub fn group_trait(mut self) -> Self {
        self.trait_spec = TraitSpec::Group;
        self
    }

    /// Marks the resource as a role.
    pub fn role_trait(mut self) -> Self {
        self.trait_spec = TraitSpec::Role;
        self
    }

    /// Tells the syncer that resources of `child_type` live under this one.
    pub fn child_resource_type(mut self, child_type: impl Into<String>) -> Self {
        self.extra.push(pb::to_any(&pb::ChildResourceType {
            resource_type_id: child_type.into(),
        }));
        self
    }

    /// Adds any other annotation.
    pub fn annotation(mut self, any: Any) -> Self {
        self.extra.push(any);
        self
    }

    /// The finished message: trait first, then the other annotations in the order added.
    pub fn build(self) -> pb::Resource {
        let mut r = self.inner;
        let profile = r.profile.clone();
        match self.trait_spec {
            TraitSpec::None => {}
            TraitSpec::User(mut user) => {
                let status = r.status.get_or_insert_with(|| pb::Status {
                    status: pb::StatusValue::Enabled as i32,
                    details: String::new(),
                });
                user.status = Some(status.clone());
                user.profile = profile;
                r.annotations.push(pb::to_any(user.as_ref()));
            }
            TraitSpec::Group => r.annotations.push(pb::to_any(&pb::GroupTrait {
                icon: None,
                profile,
            })),
            TraitSpec::Role => r.annotations.push(pb::to_any(&pb::RoleTrait { profile })),
        }
        r.annotations.extend(self.extra);
        r
    }
}

/// Builds an entitlement on a resource; ID, slug and display name follow the SDK builders.
#[derive(Clone, Debug)]
pub struct EntitlementBuilder {
    resource_type: String,
    resource_id: String,
    slug: String,
    display_name: String,
    description: String,
    purpose: Purpose,
    grantable_to: Vec<String>,
    annotations: Vec<Any>,
}

impl EntitlementBuilder {
    /// Entitlement `slug` on resource `(resource_type, resource_id)`; display name = slug.
    pub fn new(
        resource_type: impl Into<String>,
        resource_id: impl Into<String>,
        slug: impl Into<String>,
        purpose: Purpose,
    ) -> Self {
        let slug = slug.into();
        Self {
            resource_type: resource_type.into(),
            resource_id: resource_id.into(),
            display_name: slug.clone(),
            slug,
            description: String::new(),
            purpose,
            grantable_to: Vec::new(),
            annotations: Vec::new(),
        }
    }

    /// The entitlement ID this builder will produce.
    pub fn id(&self) -> String {
        entitlement_id(&self.resource_type, &self.resource_id, &self.slug)
    }

    /// Overrides the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }

    /// Limits which principal types may receive it (resolved against the snapshot's types).
    pub fn grantable_to(mut self, resource_type_id: impl Into<String>) -> Self {
        self.grantable_to.push(resource_type_id.into());
        self
    }

    /// Puts it in a mutually exclusive group (e.g. one base role per user).
    ///
    /// Caution: the annotation is recent; the standalone `baton` CLI (v0.4.3, SDK v0.7.x) fails
    /// on `-o json` output of any entitlement or grant carrying it ("unable to resolve
    /// ...EntitlementExclusionGroup"), so only use it when consumers run a current SDK.
    pub fn exclusion_group(
        mut self,
        group_id: impl Into<String>,
        order: u32,
        is_default: bool,
    ) -> Self {
        self.annotations
            .push(pb::to_any(&pb::EntitlementExclusionGroup {
                exclusion_group_id: group_id.into(),
                order,
                is_default,
                scope_to_resource: false,
            }));
        self
    }

    /// Adds any other annotation.
    pub fn annotation(mut self, any: Any) -> Self {
        self.annotations.push(any);
        self
    }
}

/// Errors from filling a [`Snapshot`]; each names the offending ID.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("resource type {0:?} added twice")]
    DuplicateResourceType(String),
    #[error("resource type {0:?} is not declared in the snapshot")]
    UnknownResourceType(String),
    #[error("resource {0:?} added twice")]
    DuplicateResource(String),
    #[error("resource {0:?} is not in the snapshot")]
    UnknownResource(String),
    #[error("entitlement {0:?} added twice")]
    DuplicateEntitlement(String),
    #[error("resource has no id")]
    MissingResourceId,
    #[error("handle does not belong to this snapshot")]
    InvalidHandle,
    #[error("snapshot is full (more than u32::MAX rows of one kind)")]
    TooManyRows,
}

/// Refers to a resource added to a [`Snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResourceHandle(u32);

/// Refers to an entitlement added to a [`Snapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntitlementHandle(u32);

/// Row data of a resource, kept encoded: only what the c1z columns need stays decoded.
#[derive(Debug)]
pub(crate) struct StoredResource {
    pub(crate) resource_type: Box<str>,
    pub(crate) id: Box<str>,
    pub(crate) parent: Option<(Box<str>, Box<str>)>,
    /// Deterministic protobuf of the full `Resource`.
    pub(crate) bytes: Box<[u8]>,
}

/// An entitlement minus its resource: `tail` is the protobuf of every field but field 1.
#[derive(Debug)]
pub(crate) struct StoredEntitlement {
    pub(crate) resource: u32,
    pub(crate) id: Box<str>,
    tail: Box<[u8]>,
}

/// A grant as two indexes plus an optional annotation slot: 12 bytes instead of ~1 KiB encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoredGrant {
    pub(crate) entitlement: u32,
    pub(crate) principal: u32,
    annotations: u32,
}

const NO_ANNOTATIONS: u32 = u32::MAX;

/// Everything one sync found, in insertion order, ready for [`crate::baton::write_c1z`].
///
/// Memory: a tenant can have ~1M grants, and each encoded grant embeds its entitlement's resource,
/// so keeping encoded grants would cost hundreds of MB. Instead resources
/// are stored once as encoded bytes, entitlements as an index to their resource plus the encoded
/// remainder, and grants as two `u32` indexes (plus a rarely used annotation slot). Grant and
/// entitlement bytes are assembled by concatenating those encodings when the file is written;
/// protobuf allows this because a message is the concatenation of its fields in tag order, which
/// is also what prost emits, so the bytes equal a normal encode (tested below).
#[derive(Debug)]
pub struct Snapshot {
    started_at: jiff::Timestamp,
    resource_types: Vec<pb::ResourceType>,
    resource_type_index: HashMap<String, usize>,
    resources: Vec<StoredResource>,
    /// type -> id -> index; nested so lookups by `&str` need no allocation.
    resource_index: HashMap<Box<str>, HashMap<Box<str>, u32>>,
    entitlements: Vec<StoredEntitlement>,
    entitlement_index: HashMap<Box<str>, u32>,
    grants: Vec<StoredGrant>,
    grant_seen: HashSet<u64>,
    grant_annotations: Vec<Vec<Any>>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self::new()
    }
}

fn to_u32(n: usize) -> Result<u32, ModelError> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n != u32::MAX)
        .ok_or(ModelError::TooManyRows)
}

/// Appends field `tag` holding already-encoded message `bytes`.
pub(crate) fn push_message_field(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

impl Snapshot {
    /// An empty snapshot; the sync's `started_at` is now.
    pub fn new() -> Self {
        Self::started_at(jiff::Timestamp::now())
    }

    /// An empty snapshot whose sync started at `started_at`.
    pub fn started_at(started_at: jiff::Timestamp) -> Self {
        Self {
            started_at,
            resource_types: Vec::new(),
            resource_type_index: HashMap::new(),
            resources: Vec::new(),
            resource_index: HashMap::new(),
            entitlements: Vec::new(),
            entitlement_index: HashMap::new(),
            grants: Vec::new(),
            grant_seen: HashSet::new(),
            grant_annotations: Vec::new(),
        }
    }

    /// Drops every grant (a sync asked to skip grants: resources and entitlements only).
    pub fn clear_grants(&mut self) {
        self.grants = Vec::new();
        self.grant_seen = HashSet::new();
        self.grant_annotations = Vec::new();
    }

    /// Drops every entitlement and grant (a sync asked for resources only).
    pub fn clear_entitlements(&mut self) {
        self.clear_grants();
        self.entitlements = Vec::new();
        self.entitlement_index = HashMap::new();
    }

    /// When the sync started (written as `v1_sync_runs.started_at`).
    pub fn sync_started_at(&self) -> jiff::Timestamp {
        self.started_at
    }

    /// Declares a resource type; resources may only use declared types.
    pub fn add_resource_type(&mut self, rt: pb::ResourceType) -> Result<(), ModelError> {
        if self.resource_type_index.contains_key(&rt.id) {
            return Err(ModelError::DuplicateResourceType(rt.id));
        }
        self.resource_type_index
            .insert(rt.id.clone(), self.resource_types.len());
        self.resource_types.push(rt);
        Ok(())
    }

    /// Adds a resource (encoded immediately; the message is not kept).
    pub fn add_resource(&mut self, r: pb::Resource) -> Result<ResourceHandle, ModelError> {
        let id = r.id.as_ref().ok_or(ModelError::MissingResourceId)?;
        if !self.resource_type_index.contains_key(&id.resource_type) {
            return Err(ModelError::UnknownResourceType(id.resource_type.clone()));
        }
        let key: (Box<str>, Box<str>) = (
            id.resource_type.as_str().into(),
            id.resource.as_str().into(),
        );
        if self.resource_handle(&key.0, &key.1).is_some() {
            return Err(ModelError::DuplicateResource(resource_external_id(
                &key.0, &key.1,
            )));
        }
        let idx = to_u32(self.resources.len())?;
        let parent = r
            .parent_resource_id
            .as_ref()
            .map(|p| (p.resource_type.as_str().into(), p.resource.as_str().into()));
        self.resources.push(StoredResource {
            resource_type: key.0.clone(),
            id: key.1.clone(),
            parent,
            bytes: r.encode_to_vec().into_boxed_slice(),
        });
        self.resource_index
            .entry(key.0)
            .or_default()
            .insert(key.1, idx);
        Ok(ResourceHandle(idx))
    }

    /// Adds an entitlement on a resource already in the snapshot.
    pub fn add_entitlement(
        &mut self,
        e: EntitlementBuilder,
    ) -> Result<EntitlementHandle, ModelError> {
        let resource = self
            .resource_handle(&e.resource_type, &e.resource_id)
            .ok_or_else(|| {
                ModelError::UnknownResource(resource_external_id(&e.resource_type, &e.resource_id))
            })?;
        let id = e.id();
        if self.entitlement_index.contains_key(id.as_str()) {
            return Err(ModelError::DuplicateEntitlement(id));
        }
        let grantable_to = e
            .grantable_to
            .iter()
            .map(|t| {
                self.resource_type_index
                    .get(t)
                    .map(|i| self.resource_types[*i].clone())
                    .ok_or_else(|| ModelError::UnknownResourceType(t.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tail = pb::Entitlement {
            resource: None,
            id: id.clone(),
            display_name: e.display_name,
            description: e.description,
            grantable_to,
            annotations: e.annotations,
            purpose: e.purpose as i32,
            slug: e.slug,
        }
        .encode_to_vec();
        let idx = to_u32(self.entitlements.len())?;
        let id: Box<str> = id.into();
        self.entitlements.push(StoredEntitlement {
            resource: resource.0,
            id: id.clone(),
            tail: tail.into_boxed_slice(),
        });
        self.entitlement_index.insert(id, idx);
        Ok(EntitlementHandle(idx))
    }

    /// Grants `entitlement` to `principal`. Returns `false` (and keeps the first) when the same
    /// grant was already added, since Baton grant IDs are unique per sync.
    pub fn add_grant(
        &mut self,
        entitlement: EntitlementHandle,
        principal: ResourceHandle,
    ) -> Result<bool, ModelError> {
        self.add_grant_with_annotations(entitlement, principal, Vec::new())
    }

    /// Like [`Self::add_grant`], with a `GrantExpandable` so members of `expand_from` entitlements
    /// (e.g. `team:1:member`) inherit the grant.
    pub fn add_expandable_grant(
        &mut self,
        entitlement: EntitlementHandle,
        principal: ResourceHandle,
        expand_from: Vec<String>,
    ) -> Result<bool, ModelError> {
        let ann = pb::to_any(&pb::GrantExpandable {
            entitlement_ids: expand_from,
            shallow: false,
            resource_type_ids: Vec::new(),
        });
        self.add_grant_with_annotations(entitlement, principal, vec![ann])
    }

    /// Adds a grant carrying arbitrary annotations (kept in `data`, see the c1z module).
    pub fn add_grant_with_annotations(
        &mut self,
        entitlement: EntitlementHandle,
        principal: ResourceHandle,
        annotations: Vec<Any>,
    ) -> Result<bool, ModelError> {
        if entitlement.0 as usize >= self.entitlements.len()
            || principal.0 as usize >= self.resources.len()
        {
            return Err(ModelError::InvalidHandle);
        }
        if !self
            .grant_seen
            .insert((u64::from(entitlement.0) << 32) | u64::from(principal.0))
        {
            return Ok(false);
        }
        let slot = if annotations.is_empty() {
            NO_ANNOTATIONS
        } else {
            let slot = to_u32(self.grant_annotations.len())?;
            self.grant_annotations.push(annotations);
            slot
        };
        self.grants.push(StoredGrant {
            entitlement: entitlement.0,
            principal: principal.0,
            annotations: slot,
        });
        Ok(true)
    }

    /// Looks up a resource by type and id.
    pub fn resource_handle(&self, resource_type: &str, id: &str) -> Option<ResourceHandle> {
        self.resource_index
            .get(resource_type)
            .and_then(|ids| ids.get(id))
            .map(|i| ResourceHandle(*i))
    }

    /// Looks up an entitlement by its ID.
    pub fn entitlement_handle(&self, id: &str) -> Option<EntitlementHandle> {
        self.entitlement_index
            .get(id)
            .map(|i| EntitlementHandle(*i))
    }

    /// The entitlement ID behind a handle.
    pub fn entitlement_id_of(&self, h: EntitlementHandle) -> Option<&str> {
        self.entitlements.get(h.0 as usize).map(|e| &*e.id)
    }

    /// Decodes a stored resource (for tests and debugging; not free).
    pub fn resource(&self, h: ResourceHandle) -> Option<pb::Resource> {
        self.resources
            .get(h.0 as usize)
            .map(|r| pb::Resource::decode(&*r.bytes).expect("bytes were encoded by us"))
    }

    /// Declared resource types, in insertion order.
    pub fn resource_types(&self) -> &[pb::ResourceType] {
        &self.resource_types
    }

    /// Number of resources.
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// Number of entitlements.
    pub fn entitlement_count(&self) -> usize {
        self.entitlements.len()
    }

    /// Number of (distinct) grants.
    pub fn grant_count(&self) -> usize {
        self.grants.len()
    }

    /// Resource counts per resource type (every declared type, zero included).
    pub fn resource_counts(&self) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = self
            .resource_types
            .iter()
            .map(|rt| (rt.id.clone(), 0))
            .collect();
        for r in &self.resources {
            *counts.entry(r.resource_type.to_string()).or_default() += 1;
        }
        counts
    }

    /// Grant IDs in insertion order (built on the fly).
    pub fn grant_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.grants.iter().map(|g| self.grant_id_of(g))
    }

    pub(crate) fn stored_resources(&self) -> &[StoredResource] {
        &self.resources
    }

    pub(crate) fn stored_entitlements(&self) -> &[StoredEntitlement] {
        &self.entitlements
    }

    pub(crate) fn stored_grants(&self) -> &[StoredGrant] {
        &self.grants
    }

    pub(crate) fn stored_resource(&self, idx: u32) -> &StoredResource {
        &self.resources[idx as usize]
    }

    pub(crate) fn stored_entitlement(&self, idx: u32) -> &StoredEntitlement {
        &self.entitlements[idx as usize]
    }

    pub(crate) fn grant_id_of(&self, g: &StoredGrant) -> String {
        let p = self.stored_resource(g.principal);
        grant_id(
            &self.stored_entitlement(g.entitlement).id,
            &p.resource_type,
            &p.id,
        )
    }

    /// Full `Entitlement` bytes: field 1 (its resource) followed by the stored tail.
    pub(crate) fn encode_entitlement(&self, idx: u32, buf: &mut Vec<u8>) {
        let e = self.stored_entitlement(idx);
        push_message_field(1, &self.stored_resource(e.resource).bytes, buf);
        buf.extend_from_slice(&e.tail);
    }

    /// The entitlement as a grant embeds it: its resource (1) and id (2), as the SDK's
    /// `grant.NewGrant` builds it. Display name, purpose and the rest stay in `v1_entitlements`,
    /// where readers look them up by id (the `baton` CLI does for every grant it prints).
    pub(crate) fn encode_grant_entitlement(&self, idx: u32, buf: &mut Vec<u8>) {
        let e = self.stored_entitlement(idx);
        push_message_field(1, &self.stored_resource(e.resource).bytes, buf);
        // A string field has the same wire form as a message field: key, length, bytes.
        push_message_field(2, e.id.as_bytes(), buf);
    }

    /// `Grant` bytes: entitlement (1), principal (2), then id and annotations.
    /// `entitlement_bytes` comes from [`Self::encode_grant_entitlement`] (callers cache it).
    ///
    /// The principal is its `ResourceId` only, as `grant.NewGrant` writes a principal given by
    /// id: the full user (profile, trait) is in `v1_resources` once, and copying it into each of
    /// its ~20 grants made up more than half of a large file, and made `baton diff` report every
    /// grant of a user whose profile changed as modified.
    pub(crate) fn encode_grant(
        &self,
        g: &StoredGrant,
        entitlement_bytes: &[u8],
        buf: &mut Vec<u8>,
    ) {
        push_message_field(1, entitlement_bytes, buf);
        let p = self.stored_resource(g.principal);
        let principal = pb::Resource {
            id: Some(resource_id(&*p.resource_type, &*p.id)),
            ..Default::default()
        };
        push_message_field(2, &principal.encode_to_vec(), buf);
        let annotations = if g.annotations == NO_ANNOTATIONS {
            Vec::new()
        } else {
            self.grant_annotations[g.annotations as usize].clone()
        };
        pb::Grant {
            entitlement: None,
            principal: None,
            id: self.grant_id_of(g),
            annotations,
            sources: None,
        }
        .encode(buf)
        .expect("Vec<u8> grows as needed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::StatusValue;

    #[test]
    fn ids_match_baton() {
        let e = entitlement_id("team", "123", "member");
        assert_eq!(e, "team:123:member");
        assert_eq!(grant_id(&e, "user", "456"), "team:123:member:user:456");
        assert_eq!(resource_external_id("board", "9"), "board:9");
        let b = EntitlementBuilder::new("role", "admin", "assigned", Purpose::Assignment);
        assert_eq!(b.id(), "role:admin:assigned");
    }

    #[test]
    fn user_status_written_on_trait_and_resource() {
        let r = ResourceBuilder::new("user", "1", "Ann")
            .profile(profile([("email", "ann@example.com")]))
            .user_trait(UserTraitBuilder::new().email("ann@example.com", true))
            .build();
        assert_eq!(
            r.status.as_ref().map(|s| s.status),
            Some(StatusValue::Enabled as i32)
        );
        let t: pb::UserTrait = pb::find_annotation(&r.annotations).unwrap().unwrap();
        assert_eq!(t.status, r.status);
        assert_eq!(t.profile, r.profile);
        assert_eq!(t.account_type, pb::user_trait::AccountType::Human as i32);

        let r = ResourceBuilder::new("user", "2", "Bob")
            .status(StatusValue::Disabled)
            .user_trait(UserTraitBuilder::new())
            .build();
        let t: pb::UserTrait = pb::find_annotation(&r.annotations).unwrap().unwrap();
        assert_eq!(t.status.unwrap().status, StatusValue::Disabled as i32);
    }

    fn small() -> (Snapshot, EntitlementHandle, ResourceHandle, ResourceHandle) {
        let mut s = Snapshot::new();
        s.add_resource_type(resource_type("user", "User", &[Trait::User]))
            .unwrap();
        s.add_resource_type(resource_type("team", "Team", &[Trait::Group]))
            .unwrap();
        let u = s
            .add_resource(
                ResourceBuilder::new("user", "1", "Ann")
                    .user_trait(UserTraitBuilder::new())
                    .build(),
            )
            .unwrap();
        let t = s
            .add_resource(
                ResourceBuilder::new("team", "7", "Ops")
                    .group_trait()
                    .build(),
            )
            .unwrap();
        let e = s
            .add_entitlement(
                EntitlementBuilder::new("team", "7", "member", Purpose::Assignment)
                    .grantable_to("user"),
            )
            .unwrap();
        (s, e, u, t)
    }

    #[test]
    fn concatenated_encoding_equals_prost_encoding() {
        let (mut s, e, u, t) = small();
        s.add_grant(e, u).unwrap();
        s.add_expandable_grant(e, t, vec!["team:7:member".into()])
            .unwrap();
        let mut ent = Vec::new();
        s.encode_entitlement(e.0, &mut ent);
        let decoded_ent = pb::Entitlement::decode(ent.as_slice()).unwrap();
        assert_eq!(decoded_ent.encode_to_vec(), ent);
        assert_eq!(decoded_ent.resource, s.resource(t));
        assert_eq!(decoded_ent.grantable_to[0].id, "user");
        let mut in_grant = Vec::new();
        s.encode_grant_entitlement(e.0, &mut in_grant);
        let decoded = pb::Entitlement::decode(in_grant.as_slice()).unwrap();
        assert_eq!(decoded.encode_to_vec(), in_grant);
        // What grant.NewGrant embeds: the id and the full resource, nothing else.
        let expected = pb::Entitlement {
            resource: s.resource(t),
            id: "team:7:member".into(),
            ..Default::default()
        };
        assert_eq!(decoded, expected);
        let principals = [u, t];
        for (g, p) in s.stored_grants().iter().zip(principals) {
            let mut buf = Vec::new();
            s.encode_grant(g, &in_grant, &mut buf);
            let grant = pb::Grant::decode(buf.as_slice()).unwrap();
            assert_eq!(grant.encode_to_vec(), buf);
            assert_eq!(grant.id, s.grant_id_of(g));
            assert_eq!(grant.entitlement.as_ref(), Some(&expected));
            // The principal is its id only (as NewGrant with a ResourceId).
            let full = s.resource(p).unwrap();
            assert_eq!(
                grant.principal,
                Some(pb::Resource {
                    id: full.id,
                    ..Default::default()
                })
            );
        }
        let ids: Vec<_> = s.grant_ids().collect();
        assert_eq!(ids, ["team:7:member:user:1", "team:7:member:team:7"]);
    }

    #[test]
    fn snapshot_rejects_bad_input() {
        let (mut s, e, u, _) = small();
        assert!(matches!(
            s.add_resource(ResourceBuilder::new("user", "1", "x").build()),
            Err(ModelError::DuplicateResource(id)) if id == "user:1"
        ));
        assert!(matches!(
            s.add_resource(ResourceBuilder::new("board", "1", "x").build()),
            Err(ModelError::UnknownResourceType(_))
        ));
        assert!(matches!(
            s.add_entitlement(EntitlementBuilder::new("team", "8", "member", Purpose::Assignment)),
            Err(ModelError::UnknownResource(id)) if id == "team:8"
        ));
        assert!(matches!(
            s.add_entitlement(EntitlementBuilder::new(
                "team",
                "7",
                "member",
                Purpose::Assignment
            )),
            Err(ModelError::DuplicateEntitlement(_))
        ));
        assert!(s.add_grant(e, u).unwrap());
        assert!(!s.add_grant(e, u).unwrap());
        assert_eq!(s.grant_count(), 1);
        assert!(matches!(
            s.add_grant(EntitlementHandle(99), u),
            Err(ModelError::InvalidHandle)
        ));
        assert_eq!(s.resource_counts()["team"], 1);
    }
}
