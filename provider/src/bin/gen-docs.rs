//! `make docs`: writes the registry docs under `docs/` from the schemas.

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let docs = root.join("docs");
    for (path, contents) in giif_provider::docs::render_all(&root.join("examples")) {
        let target = docs.join(&path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&target, contents)?;
        eprintln!("wrote docs/{}", path.display());
    }
    Ok(())
}
