//! Running database servers as their system user. PostgreSQL refuses to
//! run as root and MariaDB needs to be told whom to run as, so as root the
//! harness runs them as `postgres` and `mysql`; otherwise as itself.

use std::path::Path;
use std::process::Command;

pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `program`, as `user` when we are root. `setpriv` execs the program
/// itself (no child in between), so the pid we hold is the server's and a
/// signal to it reaches the server.
pub(crate) fn command_as(user: &str, program: impl AsRef<Path>) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={user}"))
            .arg(format!("--regid={user}"))
            .args(["--init-groups", "--"])
            .arg(program.as_ref());
        command
    } else {
        Command::new(program.as_ref())
    }
}

/// Hands a directory we created to `user`, so a server running as `user`
/// can write in it.
pub(crate) fn give_to(user: &str, path: &Path) {
    if !is_root() {
        return;
    }
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:")) // and the user's login group
        .arg(path)
        .status()
        .expect("run chown");
    assert!(
        status.success(),
        "chown -R {user} {} failed",
        path.display()
    );
}
