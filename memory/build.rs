//! Embeds the schema's migrations (`../migrations/{sqlite,postgres}`) in the crate.
//!
//! A migration may hold lines `-- include: shared/<name>.sql`: statements that read the
//! same on both databases are written once, in `../migrations/shared/`, and each such
//! line is replaced by that file's bytes. The expanded files go to `OUT_DIR`, listed in
//! `OUT_DIR/migrations.rs` for `sql::migrations` to hand to sqlx. sqlx checksums what
//! it applies, so the expansion must yield exactly the text a database has already
//! applied; `sql::migrations`' tests pin every shipped checksum.

use std::fs;
use std::path::{Path, PathBuf};

const INCLUDE: &str = "-- include: ";

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../migrations");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed={}", root.display());
    let mut listing = String::new();
    for (constant, dialect) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let expanded_dir = out.join("migrations").join(dialect);
        fs::create_dir_all(&expanded_dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", expanded_dir.display()));
        listing.push_str(&format!("/// The {dialect} migrations, oldest first, includes expanded.\n"));
        listing.push_str(&format!("pub(crate) const {constant}: &[ShippedMigration] = &[\n"));
        for (version, description, file) in migrations(&root.join(dialect)) {
            println!("cargo:rerun-if-changed={}", file.display());
            let sql = expand(&root, &file);
            let target = expanded_dir.join(file.file_name().expect("a migration is a file"));
            fs::write(&target, sql).unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
            let path = target.display().to_string();
            listing.push_str(&format!(
                "    ShippedMigration {{ version: {version}, description: {description:?}, sql: include_str!({path:?}) }},\n"
            ));
        }
        listing.push_str("];\n");
    }
    fs::write(out.join("migrations.rs"), listing).expect("cannot write migrations.rs");
}

/// The `<version>_<description>.sql` files of one dialect, in version order.
fn migrations(dir: &Path) -> Vec<(i64, String, PathBuf)> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut found: Vec<(i64, String, PathBuf)> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())).path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let Some((version, description)) = stem.split_once('_') else {
                panic!("{}: a migration is named <version>_<description>.sql", path.display())
            };
            let version: i64 =
                version.parse().unwrap_or_else(|_| panic!("{}: the version must be a number", path.display()));
            // As sqlx names it, so the rows it recorded keep matching.
            (version, description.replace('_', " "), path)
        })
        .collect();
    found.sort_by_key(|(version, _, _)| *version);
    if let Some(pair) = found.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        panic!("{} and {} share a version", pair[0].2.display(), pair[1].2.display());
    }
    found
}

/// The migration's text with each include line replaced by the shared file's bytes.
fn expand(root: &Path, file: &Path) -> String {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let mut sql = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.trim_end_matches(['\r', '\n']).strip_prefix(INCLUDE) {
            Some(name) => {
                let shared = root.join(name.trim());
                if !name.trim().starts_with("shared/") || name.contains("..") {
                    panic!("{}: only files under migrations/shared/ can be included, not {name}", file.display());
                }
                println!("cargo:rerun-if-changed={}", shared.display());
                let included = fs::read_to_string(&shared)
                    .unwrap_or_else(|e| panic!("{} includes {}: {e}", file.display(), shared.display()));
                sql.push_str(&included);
            }
            None => sql.push_str(line),
        }
    }
    sql
}
