//! The targeted reads provisioning sends (`monday::lookups::DOCUMENTS`) are valid against our
//! trimmed schema (the one the emulator serves) and against monday.com's official 2026-10 schema.

use crate::support;

use std::path::PathBuf;

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use monday_operator::monday::lookups::DOCUMENTS;

fn validate(path: PathBuf, strict: bool) {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema = if strict {
        Schema::parse_and_validate(text, &path)
            .unwrap_or_else(|e| panic!("schema invalid:\n{}", e.errors))
    } else {
        // The official export is not fully valid for apollo-compiler; its types are enough.
        Valid::assume_valid(match Schema::parse(text, &path) {
            Ok(s) => s,
            Err(with_errors) => with_errors.partial,
        })
    };
    let failures: Vec<String> = DOCUMENTS
        .iter()
        .filter_map(|(name, doc)| {
            ExecutableDocument::parse_and_validate(&schema, *doc, format!("{name}.graphql"))
                .err()
                .map(|e| format!("{name} against {}:\n{}", path.display(), e.errors))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn lookups_validate_against_trimmed_and_official_schemas() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    validate(dir.join("schema/monday-2026-10.graphql"), true);
    validate(support::schema::official_schema(), false);
}
