//! The store's migrations, one list for both databases: a migration is
//! written once in `migrations/shared/` when its SQL suits SQLite and
//! PostgreSQL alike, and twice (`migrations/sqlite/`, `migrations/postgres/`)
//! only where they differ. The files' bytes are what sqlx checksums, so a
//! store migrated by an older agent validates unchanged.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::Backend;

/// One migration: its version, its name, and its SQL for each database.
struct Step {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! shared {
    ($version:literal, $name:literal) => {
        Step {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/shared/", $name)),
            postgres: include_str!(concat!("../../migrations/shared/", $name)),
        }
    };
}

macro_rules! apart {
    ($version:literal, $name:literal) => {
        Step {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $name)),
            postgres: include_str!(concat!("../../migrations/postgres/", $name)),
        }
    };
}

static STEPS: &[Step] = &[
    apart!(1, "0001_projects.sql"),
    shared!(2, "0002_ssh_host_keys.sql"),
    shared!(3, "0003_inventory_items.sql"),
    shared!(4, "0004_gateways.sql"),
    shared!(5, "0005_vms.sql"),
    shared!(6, "0006_bms_assignments.sql"),
    shared!(7, "0007_floating_ips.sql"),
    shared!(9, "0009_bms_plugged_gateway.sql"),
    shared!(10, "0010_inventory_revision.sql"),
    apart!(11, "0011_tenancy.sql"),
    shared!(12, "0012_expiry_notices.sql"),
    shared!(13, "0013_ownership_marks.sql"),
    shared!(14, "0014_floating_ip_release.sql"),
    shared!(15, "0015_operations_journal.sql"),
    shared!(16, "0016_task_leases.sql"),
];

/// The migrations of one database, as a source for sqlx's migrator.
#[derive(Debug, Clone, Copy)]
struct Source(Backend);

impl Source {
    fn migrations(self) -> Vec<Migration> {
        STEPS
            .iter()
            .map(|step| {
                let sql = match self.0 {
                    Backend::Sqlite => step.sqlite,
                    Backend::Postgres => step.postgres,
                };
                // As sqlx names a migration from its file name.
                let description = step
                    .name
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .trim_start_matches('_')
                    .trim_end_matches(".sql")
                    .replace('_', " ");
                Migration::new(
                    step.version,
                    Cow::Owned(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect()
    }
}

impl MigrationSource<'static> for Source {
    fn resolve(
        self,
    ) -> futures_util::future::BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

pub async fn migrator(backend: Backend) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Source(backend)).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn files(dir: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
            .collect()
    }

    #[test]
    fn every_migration_file_is_listed_once_and_in_order() {
        let shared = files("shared");
        let sqlite = files("sqlite");
        let postgres = files("postgres");
        assert_eq!(
            sqlite, postgres,
            "a migration written apart needs both files"
        );
        assert!(
            shared.is_disjoint(&sqlite),
            "a migration is shared or apart, not both"
        );
        let listed: BTreeSet<String> = STEPS.iter().map(|s| s.name.to_string()).collect();
        let on_disk: BTreeSet<String> = shared.union(&sqlite).cloned().collect();
        assert_eq!(listed, on_disk, "STEPS must list every migration file");
        for pair in STEPS.windows(2) {
            assert!(
                pair[0].version < pair[1].version,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for step in STEPS {
            let number: i64 = step.name[..4].parse().unwrap();
            assert_eq!(number, step.version, "{}", step.name);
            if shared.contains(step.name) {
                continue;
            }
            assert_ne!(
                step.sqlite, step.postgres,
                "{} is the same for both databases: move it to migrations/shared/",
                step.name
            );
        }
    }
}
