//! Hand-written protobuf messages of package `c1.connector.v2`.
//!
//! Only the messages and fields the operator writes or reads are declared; the field numbers are
//! Baton's (see the reference, §1), so Go readers decode our bytes and ignore nothing they need.
//! Writing them by hand keeps the build free of `protoc` and `build.rs`.
//!
//! Determinism: prost encodes fields in tag order and every map here is a `BTreeMap`, so the same
//! message always yields the same bytes (the c1z `data` column is compared byte-wise by `baton diff`).

use std::collections::BTreeMap;

use prost_types::{Any, Struct, Timestamp};

/// Protobuf package of every message in this module.
pub const PACKAGE: &str = "c1.connector.v2";

/// `type_url` prefix Go's `anypb` uses; Baton matches annotations on the full URL.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// `type_url` of [`UserTrait`] inside an `Any`.
pub const USER_TRAIT_TYPE_URL: &str = "type.googleapis.com/c1.connector.v2.UserTrait";
/// `type_url` of [`GroupTrait`] inside an `Any`.
pub const GROUP_TRAIT_TYPE_URL: &str = "type.googleapis.com/c1.connector.v2.GroupTrait";
/// `type_url` of [`RoleTrait`] inside an `Any`.
pub const ROLE_TRAIT_TYPE_URL: &str = "type.googleapis.com/c1.connector.v2.RoleTrait";
/// `type_url` of [`ChildResourceType`] inside an `Any`.
pub const CHILD_RESOURCE_TYPE_TYPE_URL: &str =
    "type.googleapis.com/c1.connector.v2.ChildResourceType";
/// `type_url` of [`GrantExpandable`] inside an `Any`.
pub const GRANT_EXPANDABLE_TYPE_URL: &str = "type.googleapis.com/c1.connector.v2.GrantExpandable";
/// `type_url` of [`EntitlementExclusionGroup`] inside an `Any`.
pub const ENTITLEMENT_EXCLUSION_GROUP_TYPE_URL: &str =
    "type.googleapis.com/c1.connector.v2.EntitlementExclusionGroup";

/// A kind of resource (`user`, `team`, ...), with the traits that tell Baton how to treat it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceType {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(enumeration = "resource_type::Trait", repeated, tag = "3")]
    pub traits: Vec<i32>,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "5")]
    pub description: String,
    #[prost(bool, tag = "6")]
    pub sourced_externally: bool,
}

/// Nested types of [`ResourceType`].
pub mod resource_type {
    /// `ResourceType.Trait`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Trait {
        Unspecified = 0,
        User = 1,
        Group = 2,
        Role = 3,
        App = 4,
        Secret = 5,
        SecurityInsight = 6,
        ScopeBinding = 7,
        Vendor = 8,
        VendorAgreement = 9,
        LicenseProfile = 10,
        Agent = 11,
        ManagedDevice = 12,
    }
}

/// Identity of a resource: the pair (type, id).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct ResourceId {
    #[prost(string, tag = "1")]
    pub resource_type: String,
    #[prost(string, tag = "2")]
    pub resource: String,
    #[prost(bool, tag = "3")]
    pub baton_resource: bool,
}

/// Reference to an asset stored in `v1_assets` (icons).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AssetRef {
    #[prost(string, tag = "1")]
    pub id: String,
}

/// Lifecycle status, used both as `Resource.status` (field 11) and the deprecated
/// `UserTrait.status` (field 2): both messages share this wire shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(enumeration = "StatusValue", tag = "1")]
    pub status: i32,
    #[prost(string, tag = "2")]
    pub details: String,
}

/// Values of [`Status::status`] (same numbers for the resource and the user-trait enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum StatusValue {
    Unspecified = 0,
    Enabled = 1,
    Disabled = 2,
    Deleted = 3,
}

/// A user, group, role, board, ... Traits and other annotations ride in `annotations`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Resource {
    #[prost(message, optional, tag = "1")]
    pub id: Option<ResourceId>,
    #[prost(message, optional, tag = "2")]
    pub parent_resource_id: Option<ResourceId>,
    #[prost(string, tag = "3")]
    pub display_name: String,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "5")]
    pub description: String,
    #[prost(bool, tag = "6")]
    pub baton_resource: bool,
    #[prost(message, optional, tag = "9")]
    pub profile: Option<Struct>,
    #[prost(message, optional, tag = "10")]
    pub icon: Option<AssetRef>,
    #[prost(message, optional, tag = "11")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "12")]
    pub created_at: Option<Timestamp>,
}

/// Something a principal can be granted on a resource (`team:123:member`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entitlement {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(string, tag = "3")]
    pub display_name: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(message, repeated, tag = "5")]
    pub grantable_to: Vec<ResourceType>,
    #[prost(message, repeated, tag = "6")]
    pub annotations: Vec<Any>,
    #[prost(enumeration = "entitlement::Purpose", tag = "7")]
    pub purpose: i32,
    #[prost(string, tag = "8")]
    pub slug: String,
}

/// Nested types of [`Entitlement`].
pub mod entitlement {
    /// `Entitlement.PurposeValue`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Purpose {
        Unspecified = 0,
        Assignment = 1,
        Permission = 2,
        Ownership = 3,
    }
}

/// A principal holding an entitlement.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Grant {
    #[prost(message, optional, tag = "1")]
    pub entitlement: Option<Entitlement>,
    #[prost(message, optional, tag = "2")]
    pub principal: Option<Resource>,
    #[prost(string, tag = "3")]
    pub id: String,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "5")]
    pub sources: Option<GrantSources>,
}

/// Where an expanded grant came from (filled by grant expansion, not by us).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantSources {
    #[prost(btree_map = "string, message", tag = "1")]
    pub sources: BTreeMap<String, GrantSource>,
}

/// One source of a [`GrantSources`] map.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantSource {
    #[prost(bool, tag = "1")]
    pub is_direct: bool,
}

/// Marks a resource as a user account.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserTrait {
    #[prost(message, repeated, tag = "1")]
    pub emails: Vec<user_trait::Email>,
    /// Deprecated upstream in favour of `Resource.status`; still written for older readers.
    #[prost(message, optional, tag = "2")]
    pub status: Option<Status>,
    /// Deprecated upstream in favour of `Resource.profile`; still written for older readers.
    #[prost(message, optional, tag = "3")]
    pub profile: Option<Struct>,
    #[prost(message, optional, tag = "4")]
    pub icon: Option<AssetRef>,
    #[prost(enumeration = "user_trait::AccountType", tag = "5")]
    pub account_type: i32,
    #[prost(string, tag = "6")]
    pub login: String,
    #[prost(string, repeated, tag = "7")]
    pub login_aliases: Vec<String>,
    #[prost(message, optional, tag = "8")]
    pub created_at: Option<Timestamp>,
    #[prost(message, optional, tag = "9")]
    pub last_login: Option<Timestamp>,
    #[prost(string, repeated, tag = "13")]
    pub employee_ids: Vec<String>,
}

/// Nested types of [`UserTrait`].
pub mod user_trait {
    /// One e-mail address of a user.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Email {
        #[prost(string, tag = "1")]
        pub address: String,
        #[prost(bool, tag = "2")]
        pub is_primary: bool,
    }

    /// `UserTrait.AccountType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum AccountType {
        Unspecified = 0,
        Human = 1,
        Service = 2,
        System = 3,
    }
}

/// Marks a resource as a group whose members can be expanded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupTrait {
    #[prost(message, optional, tag = "1")]
    pub icon: Option<AssetRef>,
    #[prost(message, optional, tag = "2")]
    pub profile: Option<Struct>,
}

/// Marks a resource as a role.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RoleTrait {
    #[prost(message, optional, tag = "1")]
    pub profile: Option<Struct>,
}

/// On a parent resource: the syncer should list this child type under it (workspace -> board).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChildResourceType {
    #[prost(string, tag = "1")]
    pub resource_type_id: String,
}

/// On a grant to a group-like principal: holders of `entitlement_ids` inherit the grant.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantExpandable {
    #[prost(string, repeated, tag = "1")]
    pub entitlement_ids: Vec<String>,
    #[prost(bool, tag = "2")]
    pub shallow: bool,
    #[prost(string, repeated, tag = "3")]
    pub resource_type_ids: Vec<String>,
}

/// On an entitlement: members of one group are mutually exclusive (one base role per user).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntitlementExclusionGroup {
    #[prost(string, tag = "1")]
    pub exclusion_group_id: String,
    #[prost(uint32, tag = "2")]
    pub order: u32,
    #[prost(bool, tag = "3")]
    pub is_default: bool,
    #[prost(bool, tag = "4")]
    pub scope_to_resource: bool,
}

macro_rules! named {
    ($($ty:ident),* $(,)?) => {
        $(impl prost::Name for $ty {
            const NAME: &'static str = stringify!($ty);
            const PACKAGE: &'static str = PACKAGE;
            fn type_url() -> String {
                format!("{TYPE_URL_PREFIX}{PACKAGE}.{}", stringify!($ty))
            }
        })*
    };
}

named!(
    ResourceType,
    ResourceId,
    Resource,
    Entitlement,
    Grant,
    UserTrait,
    GroupTrait,
    RoleTrait,
    ChildResourceType,
    GrantExpandable,
    EntitlementExclusionGroup,
);

/// Packs an annotation into an `Any` with Baton's `type_url`.
pub fn to_any<M: prost::Name>(msg: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: msg.encode_to_vec(),
    }
}

/// Finds and decodes the first annotation of type `M`; `Ok(None)` when absent.
pub fn find_annotation<M: prost::Name + Default>(
    annotations: &[Any],
) -> Result<Option<M>, prost::DecodeError> {
    let url = M::type_url();
    annotations
        .iter()
        .find(|a| a.type_url == url)
        .map(|a| M::decode(a.value.as_slice()))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::{Message, Name};

    #[test]
    fn type_urls_match_constants() {
        assert_eq!(UserTrait::type_url(), USER_TRAIT_TYPE_URL);
        assert_eq!(GroupTrait::type_url(), GROUP_TRAIT_TYPE_URL);
        assert_eq!(RoleTrait::type_url(), ROLE_TRAIT_TYPE_URL);
        assert_eq!(ChildResourceType::type_url(), CHILD_RESOURCE_TYPE_TYPE_URL);
        assert_eq!(GrantExpandable::type_url(), GRANT_EXPANDABLE_TYPE_URL);
        assert_eq!(
            EntitlementExclusionGroup::type_url(),
            ENTITLEMENT_EXCLUSION_GROUP_TYPE_URL
        );
        assert_eq!(UserTrait::full_name(), "c1.connector.v2.UserTrait");
    }

    #[test]
    fn field_numbers_on_the_wire() {
        // ResourceId{resource_type="user", resource="1"}: tag 1 (0x0a) and tag 2 (0x12).
        let id = ResourceId {
            resource_type: "user".into(),
            resource: "1".into(),
            baton_resource: false,
        };
        assert_eq!(id.encode_to_vec(), b"\x0a\x04user\x12\x011");
        // Resource.status is field 11 (key 0x5a), Status.status is field 1 varint.
        let r = Resource {
            status: Some(Status {
                status: StatusValue::Disabled as i32,
                details: String::new(),
            }),
            ..Default::default()
        };
        assert_eq!(r.encode_to_vec(), b"\x5a\x02\x08\x02");
        // Traits are a packed repeated enum at field 3.
        let rt = ResourceType {
            traits: vec![resource_type::Trait::User as i32],
            ..Default::default()
        };
        assert_eq!(rt.encode_to_vec(), b"\x1a\x01\x01");
        // Entitlement.purpose = 7, slug = 8.
        let e = Entitlement {
            purpose: entitlement::Purpose::Ownership as i32,
            slug: "x".into(),
            ..Default::default()
        };
        assert_eq!(e.encode_to_vec(), b"\x38\x03\x42\x01x");
    }

    #[test]
    fn annotations_round_trip() {
        let ge = GrantExpandable {
            entitlement_ids: vec!["team:1:member".into()],
            shallow: true,
            resource_type_ids: vec![],
        };
        let anns = vec![to_any(&ChildResourceType::default()), to_any(&ge)];
        assert_eq!(find_annotation::<GrantExpandable>(&anns).unwrap(), Some(ge));
        assert_eq!(find_annotation::<UserTrait>(&anns).unwrap(), None);
    }
}
