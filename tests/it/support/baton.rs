//! The real `baton` CLI (ConductorOne's own reader of .c1z files), when this machine has it.
//!
//! The Go module proxy here refuses github.com/conductorone modules, so the binary is usually
//! absent on CI; tests then print a loud `BATON CLI NOT AVAILABLE` line and check the file with our
//! own reader instead. `MONDAY_BATON_BIN` points at a binary built elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Prints the loud notice used when the CLI is missing.
pub fn not_available(why: &str, checks: &str) {
    eprintln!("\n==== BATON CLI NOT AVAILABLE: {why}; {checks} not run ====\n");
}

pub fn baton_bin() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MONDAY_BATON_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("MONDAY_BATON_BIN={} is not a file", p.display()))
        };
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/baton");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("MONDAY_BATON_BIN unset and {} absent", p.display()))
    }
}

pub fn run(bin: &Path, args: &[&str]) -> String {
    // baton v0.4.3 leaves its decompressed copy of the file (`$TMPDIR/c1z<digits>/db`, ~10x the
    // file) behind on every call: give it a folder that goes away with the call.
    let tmp = tempfile::tempdir().expect("temp folder for baton");
    let out = Command::new(bin)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .env("TMPDIR", tmp.path())
        .output()
        .expect("run baton");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "baton {args:?} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn json(bin: &Path, args: &[&str]) -> Value {
    let out = run(bin, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("baton {args:?}: {e}: {out}"))
}

pub fn strings<'a>(v: &'a Value, path: &[&str]) -> BTreeSet<&'a str> {
    let mut cur = vec![v];
    for key in path {
        cur = cur
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(a) => a.iter().map(|x| &x[*key]).collect::<Vec<_>>(),
                other => vec![&other[*key]],
            })
            .collect();
    }
    cur.into_iter()
        .flat_map(|v| match v {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            other => other.as_str().into_iter().collect(),
        })
        .collect()
}

/// Removes ANSI colour sequences (`ESC [ ... letter`) that the console tables use.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a `Type | Count` table loosely (any separators, colours) into name -> count.
pub fn parse_stats(out: &str) -> BTreeMap<String, u64> {
    strip_ansi(out)
        .lines()
        .filter_map(|l| {
            let toks: Vec<&str> = l
                .split(|c: char| c == '|' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .collect();
            match toks.as_slice() {
                [k, v] => v.parse().ok().map(|n| (k.to_string(), n)),
                _ => None,
            }
        })
        .collect()
}
