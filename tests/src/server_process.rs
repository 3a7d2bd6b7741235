//! A database server running as a child of the test: stopped when dropped
//! (also while a panic unwinds), and killed by a watchdog when the test
//! process dies without dropping it (Ctrl-C, a signal, panic=abort), so no
//! server outlives its test on a shared machine.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Waits on its stdin, a pipe only this process holds: end of file means
/// the test process is gone. It ignores the signals a terminal or a test
/// runner sends the whole process group, so it outlives them to do its job.
const WATCHDOG: &str =
    r#"trap '' INT HUP TERM; read _; kill -KILL "$1" 2>/dev/null; sleep 1; rm -rf "$2""#;

pub(crate) struct ServerProcess {
    name: &'static str,
    server: Child,
    watchdog: Child,
    log: PathBuf,
    /// Sent on drop: the server's immediate shutdown, its files are
    /// thrown away.
    drop_signal: Signal,
}

impl ServerProcess {
    /// Starts `command` with its output in `log`. Should the test process
    /// die, the watchdog kills the server and removes `scratch`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log: &Path,
        scratch: &Path,
        drop_signal: Signal,
    ) -> Self {
        let out = File::create(log).expect("server log file");
        let err = out.try_clone().expect("server log file");
        let server = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "giif-watchdog"])
            .arg(server.id().to_string())
            .arg(scratch)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server watchdog");
        Self {
            name,
            server,
            watchdog,
            log: log.to_path_buf(),
            drop_signal,
        }
    }

    /// Polls `ready` until it holds. Err (with the server's log) when the
    /// server exits first, e.g. because its port was taken meanwhile.
    pub(crate) fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.server.try_wait() {
                return Err(format!(
                    "{} exited ({status}) while starting:\n{}",
                    self.name,
                    self.log_tail()
                ));
            }
            if ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} not ready after {timeout:?}:\n{}",
                    self.name,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A clean shutdown (for a template that is kept): `signal`, then waits
    /// for the server to exit.
    pub(crate) fn shut_down(mut self, signal: Signal) {
        let status = self.stop(signal, Duration::from_secs(60));
        assert!(
            status.is_some_and(|s| s.success()),
            "{} did not shut down cleanly ({status:?}):\n{}",
            self.name,
            self.log_tail()
        );
    }

    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Signals the server and reaps it; SIGKILL after `patience`. The exit
    /// status when the server exited on its own terms.
    fn stop(&mut self, signal: Signal, patience: Duration) -> Option<std::process::ExitStatus> {
        // The watchdog first: it must not act on a server we stop ourselves.
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        if let Ok(Some(status)) = self.server.try_wait() {
            return Some(status);
        }
        let pid = Pid::from_raw(self.server.id() as i32);
        let _ = kill(pid, signal);
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.server.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop(self.drop_signal, Duration::from_secs(10));
    }
}
