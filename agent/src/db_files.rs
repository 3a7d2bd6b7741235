//! The files a database URL names for TLS (the CA that signs the server, a
//! client certificate and key), checked before connecting: a missing or
//! unreadable file is then reported by parameter and path, and not as a bare
//! "No such file or directory" that reads like a network failure and would
//! be retried until a timeout.

use std::path::PathBuf;

/// The parameters sqlx reads a file from, as PostgreSQL and MySQL URLs
/// spell them (matched exactly, as sqlx matches them).
const FILE_PARAMS: [&str; 8] = [
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
];

/// sqlx takes a value that starts like this as the certificate itself.
const INLINE_PEM: &str = "-----BEGIN";

#[derive(Debug, thiserror::Error)]
#[error("the database URL's {param} names {}, which cannot be read: {source}; fix the path or the file's permissions", path.display())]
pub struct UnreadableFile {
    pub param: String,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The first file parameter of `url` whose file cannot be read.
pub fn check_files(url: &str) -> Result<(), UnreadableFile> {
    let Some((_, query)) = url.split_once('?') else {
        return Ok(());
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !FILE_PARAMS.contains(&key.as_ref()) || value.starts_with(INLINE_PEM) {
            continue;
        }
        let path = PathBuf::from(value.as_ref());
        if let Err(source) = std::fs::File::open(&path) {
            return Err(UnreadableFile {
                param: key.into_owned(),
                path,
                source,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_file_must_be_readable() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("db ca.pem");
        std::fs::write(&ca, "pem").unwrap();
        let encoded = ca.display().to_string().replace(' ', "%20");
        let base = "postgres://giif:pw@db/store";
        assert!(check_files(base).is_ok());
        assert!(check_files(&format!("{base}?sslmode=verify-full&sslrootcert={encoded}")).is_ok());

        let missing = dir.path().join("gone.pem").display().to_string();
        let err = check_files(&format!(
            "mysql://g:pw@db/guac?ssl-mode=VERIFY_IDENTITY&ssl-ca={missing}"
        ))
        .expect_err("missing file");
        assert_eq!(err.param, "ssl-ca");
        let text = err.to_string();
        assert!(
            text.contains(&missing) && text.contains("cannot be read"),
            "{text}"
        );
        assert!(!text.contains("g:pw@"), "the URL stays out: {text}");
        // sqlx's spellings, exactly; `+` is a space, as sqlx decodes it.
        let plus = dir.path().join("a b.pem");
        std::fs::write(&plus, "pem").unwrap();
        let plus = plus.display().to_string().replace(' ', "+");
        assert!(check_files(&format!("{base}?ssl-root-cert={plus}")).is_ok());
        assert_eq!(
            check_files(&format!("{base}?sslca={missing}"))
                .unwrap_err()
                .param,
            "sslca"
        );
        assert!(
            check_files(&format!("{base}?SSLROOTCERT={missing}")).is_ok(),
            "sqlx ignores it"
        );
        assert!(check_files(&format!("{base}?sslrootcert=-----BEGIN%20CERTIFICATE-----")).is_ok());
    }
}
