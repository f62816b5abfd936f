//! `crds/` must be exactly what `monday-operator crd` prints, so the shipped YAML never drifts
//! from the Rust types.

#[test]
fn crds_folder_matches_generated_yaml() {
    let generated = monday_operator::api::crds_yaml().expect("render CRDs");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/crds.yaml");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is stale: run `make crds` (cargo run -- crd > crds/crds.yaml) and commit it",
        path.display()
    );
}
