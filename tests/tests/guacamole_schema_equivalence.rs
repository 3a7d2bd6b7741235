//! The project's Guacamole schema against the one GIIF_GUACAMOLE_SCHEMA_DIR
//! names (say, Guacamole's own for the version an operator runs): both
//! loaded, their catalogs dumped (tables, columns, types, enums, keys,
//! indexes, foreign keys and their ON DELETE rules) and compared. Without
//! the variable there is nothing to compare with, and the tests pass.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeSet;

use giif_tests::guacamole_db::{project_schema_dir, GuacFlavor, GuacamoleDb};

const MARIADB_CATALOG: &str = "
SELECT 'table', table_name, engine, table_collation
  FROM information_schema.tables WHERE table_schema = DATABASE();
SELECT 'column', table_name, ordinal_position, column_name, column_type, is_nullable,
       column_default, extra, collation_name
  FROM information_schema.columns WHERE table_schema = DATABASE();
SELECT 'index', table_name, index_name, non_unique, seq_in_index, column_name, nullable
  FROM information_schema.statistics WHERE table_schema = DATABASE();
SELECT 'constraint', table_name, constraint_name, constraint_type
  FROM information_schema.table_constraints WHERE table_schema = DATABASE();
SELECT 'foreign key', k.table_name, k.constraint_name, k.ordinal_position, k.column_name,
       k.referenced_table_name, k.referenced_column_name, r.update_rule, r.delete_rule
  FROM information_schema.key_column_usage k
  JOIN information_schema.referential_constraints r
    ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name
   AND r.table_name = k.table_name
 WHERE k.table_schema = DATABASE();
";

const POSTGRES_CATALOG: &str = "
SELECT 'table', tablename FROM pg_tables WHERE schemaname = 'public';
SELECT 'column', table_name, ordinal_position, column_name, data_type, udt_name,
       character_maximum_length, is_nullable, column_default
  FROM information_schema.columns WHERE table_schema = 'public';
SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public';
SELECT 'constraint', conrelid::regclass, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace;
SELECT 'enum', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
  FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid GROUP BY t.typname;
SELECT 'sequence', c.relname, d.refobjid::regclass, d.refobjsubid
  FROM pg_class c LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'a'
 WHERE c.relkind = 'S';
";

fn catalog(db: &GuacamoleDb) -> BTreeSet<String> {
    let query = match db.flavor {
        GuacFlavor::MariaDb => MARIADB_CATALOG,
        GuacFlavor::Postgres => POSTGRES_CATALOG,
    };
    db.sql(query).lines().map(str::to_string).collect()
}

fn equivalent(flavor: GuacFlavor) {
    if std::env::var_os("GIIF_GUACAMOLE_SCHEMA_DIR").is_none() {
        eprintln!(
            "GIIF_GUACAMOLE_SCHEMA_DIR is not set: nothing to compare the project's schema with"
        );
        return;
    }
    let theirs = catalog(&GuacamoleDb::start(flavor));
    let mut ours = catalog(&GuacamoleDb::start_with_schema(
        flavor,
        &project_schema_dir(),
    ));
    // Guacamole 1.5 added the AUDIT system permission; ours has it.
    if !theirs.iter().any(|l| l.contains("AUDIT")) {
        ours = ours
            .into_iter()
            .map(|l| l.replace("'AUDIT',", "").replace("AUDIT,", ""))
            .collect();
    }
    let missing: Vec<&String> = theirs.difference(&ours).collect();
    let extra: Vec<&String> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the project's {} schema differs\nonly in theirs:\n{}\nonly in ours:\n{}",
        flavor.name(),
        join(&missing),
        join(&extra)
    );
    assert!(theirs.len() > 200, "a catalog of {} lines", theirs.len());
}

fn join(lines: &[&String]) -> String {
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn mariadb_schema_equivalent_to_the_given_one() {
    equivalent(GuacFlavor::MariaDb);
}

#[test]
fn postgres_schema_equivalent_to_the_given_one() {
    equivalent(GuacFlavor::Postgres);
}
