//! The files a database URL names for TLS (the CA that signs the server, a
//! client certificate and key), checked before connecting: a missing or
//! unreadable file is then reported by parameter and path, and not as a bare
//! "No such file or directory" that reads like a network failure and would
//! be retried until a timeout.

use std::path::PathBuf;

/// PostgreSQL's and MySQL's names for the file parameters sqlx reads.
const FILE_PARAMS: [&str; 6] = [
    "sslrootcert",
    "sslcert",
    "sslkey",
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
];

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
    for pair in query.split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        if !FILE_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key)) {
            continue;
        }
        let path = PathBuf::from(percent_decode(value));
        if let Err(source) = std::fs::File::open(&path) {
            return Err(UnreadableFile {
                param: key.to_string(),
                path,
                source,
            });
        }
    }
    Ok(())
}

/// `%2F` and the like, as a URL query carries a path.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
        assert!(!text.contains("pw"), "the URL's password stays out: {text}");
    }
}
