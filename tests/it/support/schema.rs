//! Where Monday's official schema (API-Version 2026-10) is: `$MONDAY_OFFICIAL_SCHEMA`, then
//! `../shared/reference/` beside the clone, then the copy `make tools` fetches into the tools cache
//! from Monday's public schema endpoint. None of them: the test fails naming all three.

use std::path::{Path, PathBuf};

const FILE: &str = "monday-schema-2026-10.graphql";

/// The tools cache, as `hack/build-tools.sh` computes it.
fn tools_cache() -> PathBuf {
    if let Some(c) = std::env::var_os("MONDAY_TOOLS_CACHE") {
        return PathBuf::from(c);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("monday-operator/tools")
}

/// The places looked at, in order.
pub fn official_schema_candidates() -> Vec<(String, PathBuf)> {
    let mut places = Vec::new();
    if let Some(p) = std::env::var_os("MONDAY_OFFICIAL_SCHEMA") {
        places.push(("$MONDAY_OFFICIAL_SCHEMA".to_string(), PathBuf::from(p)));
    }
    places.push((
        "the shared reference beside the clone".to_string(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference")
            .join(FILE),
    ));
    places.push((
        "the copy `make tools` fetches from https://api.monday.com/v2/get_schema?format=sdl&version=2026-10".to_string(),
        tools_cache().join("monday-schema-2026-10/schema.graphql"),
    ));
    places
}

/// The official schema's path; panics naming every place tried.
pub fn official_schema() -> PathBuf {
    let places = official_schema_candidates();
    if let Some((_, p)) = places.iter().find(|(_, p)| p.is_file()) {
        return p.clone();
    }
    let tried: Vec<String> = places
        .iter()
        .map(|(what, p)| format!("  - {} ({what})", p.display()))
        .collect();
    panic!(
        "Monday's official 2026-10 schema was not found; tried:\n{}\nset MONDAY_OFFICIAL_SCHEMA, or run `make tools` with network access to fetch it",
        tried.join("\n")
    );
}
