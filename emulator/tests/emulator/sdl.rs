//! The emulator serves exactly the trimmed schema: same types, fields, field types, arguments,
//! argument types and defaults, enum values — in both directions.

use std::collections::BTreeMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

/// type name → (kind, member → signature)
type Shape = BTreeMap<String, (String, BTreeMap<String, String>)>;

fn shape(sdl: &str) -> Shape {
    let doc = parse_schema(sdl).expect("SDL parses");
    let mut out = Shape::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let t = t.node;
        let name = t.name.node.to_string();
        let mut members = BTreeMap::new();
        let kind = match t.kind {
            TypeKind::Scalar => "scalar",
            TypeKind::Object(o) => {
                for f in o.fields {
                    let f = f.node;
                    let mut args: Vec<String> = f
                        .arguments
                        .iter()
                        .map(|a| {
                            let a = &a.node;
                            match &a.default_value {
                                Some(d) => format!("{}: {} = {}", a.name.node, a.ty.node, d.node),
                                None => format!("{}: {}", a.name.node, a.ty.node),
                            }
                        })
                        .collect();
                    args.sort();
                    members.insert(
                        f.name.node.to_string(),
                        format!("({}): {}", args.join(", "), f.ty.node),
                    );
                }
                "type"
            }
            TypeKind::Enum(e) => {
                for v in e.values {
                    members.insert(v.node.value.node.to_string(), String::new());
                }
                "enum"
            }
            TypeKind::Interface(_) => "interface",
            TypeKind::Union(_) => "union",
            TypeKind::InputObject(i) => {
                for f in i.fields {
                    let f = f.node;
                    members.insert(f.name.node.to_string(), f.ty.node.to_string());
                }
                "input"
            }
        };
        out.insert(name, (kind.to_string(), members));
    }
    out
}

#[test]
fn serves_exactly_the_trimmed_schema() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/monday-2026-10.graphql"
    );
    let trimmed = shape(&std::fs::read_to_string(path).expect("trimmed schema present"));
    let served = shape(&monday_emulator::sdl());
    let mut problems = Vec::new();
    for (name, (kind, members)) in &trimmed {
        let Some((skind, smembers)) = served.get(name) else {
            problems.push(format!("missing type {name}"));
            continue;
        };
        if kind != skind {
            problems.push(format!("{name}: kind {skind}, want {kind}"));
        }
        for (m, sig) in members {
            match smembers.get(m) {
                None => problems.push(format!("{name}.{m}: missing")),
                Some(s) if s != sig => problems.push(format!("{name}.{m}: serves {s}, want {sig}")),
                _ => {}
            }
        }
        for m in smembers.keys().filter(|m| !members.contains_key(*m)) {
            problems.push(format!("{name}.{m}: served but not in the trimmed schema"));
        }
    }
    for name in served.keys().filter(|n| !trimmed.contains_key(*n)) {
        problems.push(format!("type {name} served but not in the trimmed schema"));
    }
    assert!(
        problems.is_empty(),
        "schema drift:\n{}",
        problems.join("\n")
    );
}
