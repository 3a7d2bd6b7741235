//! The go-plugin side of the provider: handshake, AutoMTLS and the gRPC
//! services Terraform expects besides the provider protocol itself.

mod automtls;
mod controller;
mod handshake;
mod serve;

pub use automtls::{ServerIdentity, TerraformClientVerifier};
pub use handshake::{
    check_magic_cookie, handshake_line, HandshakeError, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE,
};
pub use serve::{serve, ServeMode};
