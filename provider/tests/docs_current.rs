//! The committed registry docs must be what `make docs` generates now.

#[test]
fn committed_docs_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stale = Vec::new();
    for (path, expected) in giif_provider::docs::render_all(&root.join("examples")) {
        let committed = std::fs::read_to_string(root.join("docs").join(&path)).unwrap_or_default();
        if committed != expected {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "docs are stale, run `make docs` and commit: {stale:?}"
    );
}

#[test]
fn every_type_has_an_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (path, page) in giif_provider::docs::render_all(&root.join("examples")) {
        assert!(
            page.contains("## Example Usage"),
            "{} has no example",
            path.display()
        );
        if path.starts_with("resources") {
            assert!(
                page.contains("## Import"),
                "{} has no import example",
                path.display()
            );
        }
    }
}
