//! The v1 SQLite schema (reference §2.3), with Baton's table and index names so that a Baton
//! reader's `create ... if not exists` finds everything already in place.

use rusqlite::Connection;

/// Tables holding per-sync rows, in the order rows are copied between files.
pub(crate) const SYNC_TABLES: [&str; 6] = [
    "v1_sync_runs",
    "v1_resource_types",
    "v1_resources",
    "v1_entitlements",
    "v1_grants",
    "v1_assets",
];

const DDL: &str = "
create table if not exists v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create unique index if not exists idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id);

create table if not exists v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_resources_resource_type_id_v1 on v1_resources (resource_type_id);
create index if not exists idx_resources_parent_resource_id_v1 on v1_resources (parent_resource_type_id, parent_resource_id);
create unique index if not exists idx_resources_external_sync_v1 on v1_resources (external_id, sync_id);

create table if not exists v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id);
create unique index if not exists idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id);

create table if not exists v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create index if not exists idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id);
create index if not exists idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id);
create index if not exists idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id);
create unique index if not exists idx_grants_external_sync_v1 on v1_grants (external_id, sync_id);

create table if not exists v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
);
create unique index if not exists idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id);

create table if not exists v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create unique index if not exists idx_assets_external_sync_v1 on v1_assets (external_id, sync_id);

create table if not exists v1_connector_sessions (
    id integer primary key,
    sync_id text not null,
    key text not null,
    value blob not null
);
create unique index if not exists idx_connector_sessions_sync_id_key_v1 on v1_connector_sessions (sync_id, key);
";

/// Statements of [`DDL`] that create tables (`tables = true`) or indexes.
fn statements(tables: bool) -> String {
    DDL.split(';')
        .map(str::trim)
        .filter(|st| !st.is_empty() && st.starts_with("create table") == tables)
        .map(|st| format!("{st};\n"))
        .collect()
}

/// Creates the v1 tables only. A bulk load is much faster into tables without indexes, which
/// [`create_indexes`] then builds in one sorted pass each.
pub(crate) fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&statements(true))
}

/// Creates the v1 indexes (after the bulk load).
pub(crate) fn create_indexes(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&statements(false))
}

/// Drops the indexes [`create_indexes`] makes (a bulk load then rebuilds them in one pass).
pub(crate) fn drop_indexes(conn: &Connection) -> rusqlite::Result<()> {
    let names: Vec<String> = DDL
        .split(';')
        .map(str::trim)
        .filter_map(|st| st.strip_prefix("create "))
        .filter_map(|st| {
            let st = st.strip_prefix("unique ").unwrap_or(st);
            let st = st.strip_prefix("index if not exists ")?;
            st.split_whitespace().next().map(str::to_owned)
        })
        .collect();
    let sql: String = names
        .iter()
        .map(|n| format!("drop index if exists {n};\n"))
        .collect();
    conn.execute_batch(&sql)
}

/// Whether the database behind `conn` has exactly our tables and columns (names, types,
/// constraints), so rows can be deleted and inserted in place. Files of other Baton versions
/// differ and are copied column by column instead.
pub(crate) fn matches_ours(conn: &Connection) -> rusqlite::Result<bool> {
    let ours = Connection::open_in_memory()?;
    create_tables(&ours)?;
    let shape = |c: &Connection| -> rusqlite::Result<Vec<(String, Vec<String>)>> {
        let mut stmt = c.prepare(
            "select name from sqlite_master where type = 'table' \
             and name not like 'sqlite_%' order by name",
        )?;
        let tables = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tables
            .into_iter()
            .map(|t| {
                // A bound argument: the names come from the file, which we do not trust.
                let mut stmt = c.prepare(
                    "select name, type, \"notnull\", dflt_value, pk from pragma_table_info(?1)",
                )?;
                let cols = stmt
                    .query_map([&t], |r| {
                        Ok(format!(
                            "{}|{}|{}|{:?}|{}",
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, i64>(4)?
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((t, cols))
            })
            .collect()
    };
    Ok(shape(conn)? == shape(&ours)?)
}

/// Column names of `table` in database `schema` (`main`, or an attached name); empty if absent.
pub(crate) fn columns(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> rusqlite::Result<Vec<String>> {
    // PRAGMA arguments cannot be bound; both names come from our own constants.
    let mut stmt = conn.prepare(&format!("pragma {schema}.table_info({table})"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    rows.collect()
}
