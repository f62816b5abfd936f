//! Generates the double's protobuf messages and its `BatonService` server straight from the
//! protocol specification (`../shared/reference/baton-proto`, verbatim `.proto` files), with the
//! pure-Rust compiler `protox` (no `protoc` binary).
//!
//! The operator's client uses hand-derived messages; generating the double's from the spec means
//! a wrong field number on either side fails the end-to-end tests instead of agreeing with itself.
//!
//! Two things the spec files need that are not shipped beside them:
//! * `validate/validate.proto` (protoc-gen-validate) is imported for its annotations only. The
//!   annotations are stripped here (the import, `option (validate.required) = true;` and every
//!   `(validate.rules)` field option); the double enforces the rules itself (`src/validate.rs`).
//! * `google/rpc/status.proto` (googleapis) is written below from its three documented fields.

use std::fs;
use std::path::{Path, PathBuf};

const FILES: &[&str] = &[
    "c1/connectorapi/baton/v1/baton.proto",
    "c1/connector/v2/action.proto",
    "c1/connector/v2/annotation_grant.proto",
    "c1/connector/v2/annotation_trait.proto",
];

const STATUS_PROTO: &str = r#"syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
// The status of a failed RPC: a google.rpc.Code, a developer-facing message, and details.
message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}
"#;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // BATON_PROTO_DIR, else the shared reference beside the clone, else the copy of baton-sdk's
    // proto/ that `make tools` (hack/build-tools.sh protos) keeps in the tools cache.
    let cache = std::env::var_os("MONDAY_TOOLS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("monday-operator/tools"))
        })
        .map(|c| c.join("baton-proto-v0.25.0"));
    let tried: Vec<PathBuf> = std::env::var_os("BATON_PROTO_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([manifest.join("../../shared/reference/baton-proto")])
        .chain(cache)
        .collect();
    println!("cargo:rerun-if-env-changed=BATON_PROTO_DIR");
    println!("cargo:rerun-if-env-changed=MONDAY_TOOLS_CACHE");
    let Some(spec) = tried.iter().find(|d| d.join(FILES[0]).exists()).cloned() else {
        panic!(
            "the BatonService protocol specification is missing: looked in {} (set BATON_PROTO_DIR, \
             put the shared reference beside the clone, or run `make tools` to fetch baton-sdk's \
             proto/ into the tools cache)",
            tried
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    println!("cargo:rerun-if-changed={}", spec.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let stripped = out.join("proto");
    copy_stripped(&spec, &spec.join("c1"), &stripped);
    let rpc = stripped.join("google/rpc");
    fs::create_dir_all(&rpc).expect("create google/rpc");
    fs::write(rpc.join("status.proto"), STATUS_PROTO).expect("write status.proto");

    let fds = protox::compile(FILES, [&stripped]).unwrap_or_else(|e| panic!("protox: {e:?}"));
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .compile_fds(fds)
        .expect("generate Rust code");
}

/// Copies every `.proto` under `dir` to the same relative path under `to`, validate-free.
fn copy_stripped(root: &Path, dir: &Path, to: &Path) {
    for entry in fs::read_dir(dir).expect("read spec dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            copy_stripped(root, &path, to);
        } else if path.extension().is_some_and(|e| e == "proto") {
            let rel = path.strip_prefix(root).expect("under root");
            let dest = to.join(rel);
            fs::create_dir_all(dest.parent().expect("has parent")).expect("mkdir");
            let text = fs::read_to_string(&path).expect("read proto");
            fs::write(dest, strip_validate(&text)).expect("write proto");
        }
    }
}

/// Removes protoc-gen-validate annotations from one file's text.
fn strip_validate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim();
        if t == "import \"validate/validate.proto\";" || t.starts_with("option (validate.") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    strip_field_options(&out)
}

/// Drops `(validate.…)` entries from field-option brackets `[...]`, and the brackets when nothing
/// else is left. String literals (validate patterns contain brackets) are skipped over.
fn strip_field_options(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' => {
                let end = skip_string(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            '[' => {
                let end = matching_bracket(&chars, i);
                let inner: String = chars[i + 1..end].iter().collect();
                let kept: Vec<String> = split_top_level(&inner)
                    .into_iter()
                    .filter(|e| !e.trim_start().starts_with("(validate."))
                    .collect();
                if !kept.is_empty() {
                    out.push('[');
                    out.push_str(&kept.join(","));
                    out.push(']');
                } else {
                    while out.ends_with(' ') {
                        out.pop();
                    }
                }
                i = end + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

fn matching_bracket(chars: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' => {
                i = skip_string(chars, i);
                continue;
            }
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("unbalanced field options");
}

fn split_top_level(inner: &str) -> Vec<String> {
    let chars: Vec<char> = inner.chars().collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' => {
                let end = skip_string(&chars, i);
                cur.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                i += 1;
                continue;
            }
            _ => {}
        }
        cur.push(chars[i]);
        i += 1;
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts
}
