//! The go-plugin handshake: the magic cookie check and the one line printed
//! on stdout that tells Terraform where and how to connect.

use base64::Engine;

pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The only plugin protocol version this provider speaks.
pub const PROTOCOL_VERSION: u32 = 6;
/// go-plugin's own handshake version.
const CORE_PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly. \
         Please execute the program that consumes these plugins, which will \
         load any plugins automatically (terraform or tofu)."
    )]
    NotLaunchedByTerraform,
    #[error(
        "Terraform offered plugin protocol versions {offered:?}, but this provider speaks only \
         version 6: use Terraform 1.0 or later, or OpenTofu"
    )]
    UnsupportedProtocol { offered: String },
}

/// Checks that we were started by Terraform (or OpenTofu), which sets the
/// magic cookie, and that it can speak protocol 6.
pub fn check_magic_cookie(
    cookie: Option<&str>,
    offered_versions: Option<&str>,
) -> Result<(), HandshakeError> {
    if cookie != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotLaunchedByTerraform);
    }
    // An absent list means the host predates version negotiation; it will
    // fail on its own if it cannot speak 6.
    if let Some(offered) = offered_versions {
        let speaks_six = offered
            .split(',')
            .any(|v| v.trim().parse::<u32>() == Ok(PROTOCOL_VERSION));
        if !speaks_six {
            return Err(HandshakeError::UnsupportedProtocol {
                offered: offered.to_string(),
            });
        }
    }
    Ok(())
}

/// `1|6|tcp|127.0.0.1:PORT|grpc|<server cert DER, base64 std, no padding>`.
pub fn handshake_line(addr: std::net::SocketAddr, server_cert_der: Option<&[u8]>) -> String {
    let mut line = format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|{addr}|grpc");
    if let Some(der) = server_cert_der {
        line.push('|');
        line.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(der));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_required() {
        assert!(matches!(
            check_magic_cookie(None, Some("6")),
            Err(HandshakeError::NotLaunchedByTerraform)
        ));
        assert!(check_magic_cookie(Some("wrong"), Some("6")).is_err());
        assert!(check_magic_cookie(Some(MAGIC_COOKIE_VALUE), Some("5,6")).is_ok());
    }

    #[test]
    fn protocol_six_must_be_offered() {
        let err = check_magic_cookie(Some(MAGIC_COOKIE_VALUE), Some("4,5")).unwrap_err();
        assert!(err.to_string().contains("version 6"));
    }

    #[test]
    fn line_has_unpadded_certificate() {
        let addr: std::net::SocketAddr = "127.0.0.1:4321".parse().expect("literal");
        let line = handshake_line(addr, Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|tcp|127.0.0.1:4321|grpc|AQIDBA");
        assert_eq!(handshake_line(addr, None), "1|6|tcp|127.0.0.1:4321|grpc");
    }
}
