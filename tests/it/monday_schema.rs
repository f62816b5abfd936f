//! The API contract: every document the Monday client sends is valid against our trimmed schema and
//! against monday.com's official `2026-10` schema, and the trimmed schema is a faithful subset of the
//! official one (same field types, argument types and defaults), so the emulator that serves the
//! trimmed schema cannot drift from the real API.

use crate::support;

use std::path::PathBuf;

use apollo_compiler::schema::{ExtendedType, InputValueDefinition};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use monday_operator::monday::queries::ALL;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn trimmed() -> Valid<Schema> {
    let path = manifest_dir().join("schema/monday-2026-10.graphql");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Schema::parse_and_validate(text, &path)
        .unwrap_or_else(|e| panic!("trimmed schema is invalid:\n{}", e.errors))
}

/// The official file is large and not fully valid for apollo-compiler (it is an export, not a
/// hand-written schema), so its partial parse is accepted as-is: the checks below only need the
/// type definitions, which survive those diagnostics.
fn official() -> Valid<Schema> {
    let path = support::schema::official_schema();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the official schema {}: {e}", path.display()));
    let schema = match Schema::parse(text, &path) {
        Ok(schema) => schema,
        Err(with_errors) => with_errors.partial,
    };
    assert!(
        schema.types.contains_key("Query") && schema.types.contains_key("Mutation"),
        "official schema parsed without Query/Mutation: the file is probably truncated"
    );
    Valid::assume_valid(schema)
}

fn validate_all(schema: &Valid<Schema>, label: &str) {
    let mut failures = Vec::new();
    for (name, doc) in ALL {
        if let Err(e) =
            ExecutableDocument::parse_and_validate(schema, *doc, format!("{name}.graphql"))
        {
            failures.push(format!("{name} against {label}:\n{}", e.errors));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn documents_validate_against_trimmed_schema() {
    validate_all(&trimmed(), "trimmed schema");
}

#[test]
fn documents_validate_against_official_schema() {
    validate_all(&official(), "official schema");
}

fn default_text(v: &InputValueDefinition) -> Option<String> {
    v.default_value.as_ref().map(|d| d.to_string())
}

fn compare_inputs(
    owner: &str,
    ours: &[&Node<InputValueDefinition>],
    theirs: &[&Node<InputValueDefinition>],
    problems: &mut Vec<String>,
) {
    for arg in ours {
        match theirs.iter().find(|t| t.name == arg.name) {
            None => problems.push(format!("{owner}({}) does not exist officially", arg.name)),
            Some(t) => {
                if t.ty != arg.ty {
                    problems.push(format!(
                        "{owner}({}): type {} here, {} officially",
                        arg.name, arg.ty, t.ty
                    ));
                }
                if default_text(t) != default_text(arg) {
                    problems.push(format!(
                        "{owner}({}): default {:?} here, {:?} officially",
                        arg.name,
                        default_text(arg),
                        default_text(t)
                    ));
                }
            }
        }
    }
}

#[test]
fn trimmed_schema_is_a_subset_of_official() {
    let ours = trimmed();
    let theirs = official();
    let mut problems = Vec::new();
    for (name, ty) in &ours.types {
        if ty.is_built_in() {
            continue;
        }
        let Some(official_ty) = theirs.types.get(name) else {
            problems.push(format!("type {name} does not exist officially"));
            continue;
        };
        match (ty, official_ty) {
            (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
            (ExtendedType::Object(o), ExtendedType::Object(t)) => {
                for (fname, field) in &o.fields {
                    let Some(tf) = t.fields.get(fname) else {
                        problems.push(format!("{name}.{fname} does not exist officially"));
                        continue;
                    };
                    if tf.ty != field.ty {
                        problems.push(format!(
                            "{name}.{fname}: type {} here, {} officially",
                            field.ty, tf.ty
                        ));
                    }
                    let ours_args: Vec<_> = field.arguments.iter().collect();
                    let their_args: Vec<_> = tf.arguments.iter().collect();
                    compare_inputs(
                        &format!("{name}.{fname}"),
                        &ours_args,
                        &their_args,
                        &mut problems,
                    );
                }
            }
            (ExtendedType::Enum(e), ExtendedType::Enum(t)) => {
                for value in e.values.keys() {
                    if !t.values.contains_key(value) {
                        problems.push(format!(
                            "enum {name} value {value} does not exist officially"
                        ));
                    }
                }
            }
            (ExtendedType::InputObject(i), ExtendedType::InputObject(t)) => {
                let ours_f: Vec<_> = i.fields.values().map(|c| &c.node).collect();
                let their_f: Vec<_> = t.fields.values().map(|c| &c.node).collect();
                compare_inputs(name, &ours_f, &their_f, &mut problems);
            }
            (ExtendedType::Interface(i), ExtendedType::Interface(t)) => {
                for fname in i.fields.keys() {
                    if !t.fields.contains_key(fname) {
                        problems.push(format!("{name}.{fname} does not exist officially"));
                    }
                }
            }
            (ExtendedType::Union(u), ExtendedType::Union(t)) => {
                for member in &u.members {
                    if !t.members.contains(member) {
                        problems.push(format!(
                            "union {name} member {member} does not exist officially"
                        ));
                    }
                }
            }
            _ => problems.push(format!("{name} is a different kind of type officially")),
        }
    }
    assert!(
        problems.is_empty(),
        "trimmed schema drifts from the official one:\n  {}",
        problems.join("\n  ")
    );
}

/// Guards the lenient parse: a field removed in 2026-10 must still be rejected.
#[test]
fn official_schema_still_rejects_removed_fields() {
    let schema = official();
    let doc = "query { users(limit: 1) { id is_admin enabled } }";
    assert!(
        ExecutableDocument::parse_and_validate(&schema, doc, "removed.graphql").is_err(),
        "is_admin/enabled were removed in 2026-10 and must not validate"
    );
}
