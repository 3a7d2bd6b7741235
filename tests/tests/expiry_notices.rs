//! Project expiry notices end to end: a real agent sends them to a real
//! SMTP server on loopback (aiosmtpd, from the test virtualenv `.ci/run`
//! makes) and to a webhook receiver in this process, once per project and
//! event, across a restart and an SMTP outage.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use giif_proto::agent as api;
use giif_tests::agent::TestAgent;
use giif_tests::{binary, free_port, workspace_root};
use serde_json::{json, Value};

const SMTP_USER: &str = "giif-notices";
/// A canary: it must reach the SMTP server and never the agent's log.
const SMTP_PASSWORD: &str = "canary-smtp-password-5f3a9c";
const WEBHOOK_TOKEN: &str = "canary-webhook-token-81d2e4";
const DEADLINE: Duration = Duration::from_secs(5);

/// The Python with aiosmtpd: `GIIF_TEST_PYTHON`, or the virtualenv that
/// `.ci/run` makes in target/test-venv. Missing is a failure, not a skip.
fn python() -> PathBuf {
    let python = std::env::var_os("GIIF_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/test-venv/bin/python"));
    let has_aiosmtpd = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        has_aiosmtpd,
        "{} with aiosmtpd is needed: run `.ci/run`, or `python3 -m venv target/test-venv && \
         target/test-venv/bin/pip install aiosmtpd` in the workspace, or set GIIF_TEST_PYTHON \
         to a Python that has aiosmtpd",
        python.display()
    );
    python
}

/// aiosmtpd on 127.0.0.1:`port`, writing each message into `mail_dir`.
struct SmtpServer {
    process: Child,
}

impl SmtpServer {
    fn start(python: &Path, port: u16, mail_dir: &Path) -> Self {
        let mut process = Command::new(python)
            .arg(workspace_root().join("tests/fixtures/smtp_sink.py"))
            .arg(port.to_string())
            .arg(mail_dir)
            .env("SINK_USER", SMTP_USER)
            .env("SINK_PASSWORD", SMTP_PASSWORD)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Self { process }
    }

    fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
struct Mail {
    rcpt_tos: Vec<String>,
    authenticated: bool,
    subject: String,
}

fn mails(mail_dir: &Path) -> Vec<Mail> {
    let mut mails = Vec::new();
    for entry in std::fs::read_dir(mail_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let record: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let content = record["content"].as_str().unwrap();
        let subject = content
            .lines()
            .find_map(|line| line.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_string();
        mails.push(Mail {
            rcpt_tos: serde_json::from_value(record["rcpt_tos"].clone()).unwrap(),
            authenticated: record["authenticated"].as_bool().unwrap(),
            subject,
        });
    }
    mails
}

fn mails_about(mail_dir: &Path, project: &str) -> Vec<Mail> {
    mails(mail_dir)
        .into_iter()
        .filter(|mail| mail.subject.contains(&format!("project {project} ")))
        .collect()
}

/// A webhook receiver on 127.0.0.1: every POST's Authorization header and
/// JSON body, answered 200.
#[derive(Clone, Default)]
struct Webhook {
    posts: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Webhook {
    fn start() -> (Self, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let webhook = Webhook::default();
        let posts = webhook.posts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let (mut length, mut authorization) = (0, String::new());
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "authorization" => authorization = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                assert!(
                    request_line.starts_with("POST /giif/expiry "),
                    "{request_line}"
                );
                posts
                    .lock()
                    .unwrap()
                    .push((authorization, serde_json::from_slice(&body).unwrap()));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (webhook, port)
    }

    fn about(&self, project: &str) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(authorization, _)| {
                assert_eq!(authorization, &format!("Bearer {WEBHOOK_TOKEN}"));
                true
            })
            .map(|(_, body)| body.clone())
            .filter(|body| body["project"]["name"] == project)
            .collect()
    }

    fn total(&self) -> usize {
        self.posts.lock().unwrap().len()
    }
}

fn wait_for(what: &str, agent: &TestAgent, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; agent log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spec(name: &str, expires_on: time::Date) -> api::ProjectSpec {
    api::ProjectSpec {
        name: name.into(),
        owner: Some("prof.curie".into()),
        expires_on: Some(expires_on.to_string()),
        ..Default::default()
    }
}

fn expiring_listing(agent: &TestAgent) -> String {
    let out = Command::new(binary("giif-agent"))
        .args(["projects", "--expiring", "--config"])
        .arg(&agent.made.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_notices_arrive_once_across_a_restart_and_an_smtp_outage() {
    let python = python();
    let scratch = tempfile::tempdir().unwrap();
    let mail_dir = scratch.path().join("mail");
    std::fs::create_dir(&mail_dir).unwrap();
    let smtp_port = free_port();
    let mut smtp = SmtpServer::start(&python, smtp_port, &mail_dir);
    let (webhook, webhook_port) = Webhook::start();

    let notices = format!(
        r#"
[notices]
days_before = [30, 7]
check_interval_seconds = 1

[notices.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "Giif agent <giif@site.test>"
to = ["ops@site.test", "oncall@site.test"]
username = "{SMTP_USER}"
password_file = "smtp-password"

[notices.webhook]
url = "http://127.0.0.1:{webhook_port}/giif/expiry"
bearer_token_file = "webhook-token"
"#
    );
    let mut agent = TestAgent::start_with_pool(100, 109, None, |state| {
        let config = state.join("agent.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&notices);
        std::fs::write(&config, text).unwrap();
        std::fs::write(state.join("smtp-password"), format!("{SMTP_PASSWORD}\n")).unwrap();
        std::fs::write(state.join("webhook-token"), WEBHOOK_TOKEN).unwrap();
    });

    let today = time::OffsetDateTime::now_utc().date();
    let days = |n: i64| today + time::Duration::days(n);
    let client = agent.client().await;
    let create = |request_id: &str, spec: api::ProjectSpec| {
        let client = client.clone();
        let request_id = request_id.to_string();
        async move {
            client
                .create_project(
                    api::CreateProjectRequest {
                        request_id,
                        spec: Some(spec),
                    },
                    DEADLINE,
                )
                .await
                .unwrap()
        }
    };
    // Already expired when first seen: one "expired" notice, no late
    // warnings. Within 7 days: the 7-day warning only. Far off: nothing.
    let expired = create("c1", spec("lab-expired", days(-3))).await;
    let soon = create("c2", spec("lab-soon", days(5))).await;
    create("c3", spec("lab-far", days(200))).await;

    wait_for("the first notices", &agent, || {
        mails(&mail_dir).len() >= 2 && webhook.total() >= 2
    });
    let expired_mails = mails_about(&mail_dir, "lab-expired");
    assert_eq!(expired_mails.len(), 1, "{expired_mails:?}");
    let mail = &expired_mails[0];
    assert_eq!(mail.rcpt_tos, ["ops@site.test", "oncall@site.test"]);
    assert!(
        mail.authenticated,
        "the agent did not log in to the SMTP server"
    );
    assert!(mail.subject.contains("expired on"), "{}", mail.subject);
    let soon_mails = mails_about(&mail_dir, "lab-soon");
    assert_eq!(soon_mails.len(), 1, "{soon_mails:?}");
    assert!(
        soon_mails[0].subject.contains("in 5 days"),
        "{}",
        soon_mails[0].subject
    );
    assert!(mails_about(&mail_dir, "lab-far").is_empty());

    let project_json = |project: &api::Project, expires_on: time::Date| {
        json!({
            "id": project.id,
            "name": project.spec.as_ref().unwrap().name,
            "owner": "prof.curie",
            "expires_on": expires_on.to_string(),
        })
    };
    assert_eq!(
        webhook.about("lab-expired"),
        [json!({"event": "expired", "project": project_json(&expired, days(-3)), "days_left": -3})]
    );
    assert_eq!(
        webhook.about("lab-soon"),
        [
            json!({"event": "expires_in_7_days", "project": project_json(&soon, days(5)), "days_left": 5})
        ]
    );
    assert!(webhook.about("lab-far").is_empty());

    // A restart, then several check intervals: nothing is sent again.
    agent.restart();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(mails(&mail_dir).len(), 2, "{:?}", mails(&mail_dir));
    assert_eq!(webhook.total(), 2);

    // SMTP down: the webhook still gets a new notice, the e-mail waits.
    smtp.stop();
    create("c4", spec("lab-outage", days(20))).await;
    wait_for("the webhook during the SMTP outage", &agent, || {
        webhook.about("lab-outage").len() == 1
    });
    wait_for("a failed e-mail attempt", &agent, || {
        agent.log().contains("expiry notice not sent")
    });
    assert_eq!(
        webhook.about("lab-outage")[0]["event"],
        "expires_in_30_days"
    );
    assert!(mails_about(&mail_dir, "lab-outage").is_empty());

    // SMTP back: the e-mail arrives, once, and the webhook is not repeated.
    let _smtp = SmtpServer::start(&python, smtp_port, &mail_dir);
    wait_for("the e-mail after the outage", &agent, || {
        !mails_about(&mail_dir, "lab-outage").is_empty()
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(mails_about(&mail_dir, "lab-outage").len(), 1);
    assert_eq!(webhook.about("lab-outage").len(), 1);
    assert_eq!(mails(&mail_dir).len(), 3);
    assert_eq!(webhook.total(), 3);

    // A new expiry date gets notices of its own.
    client
        .update_project(
            api::UpdateProjectRequest {
                request_id: "u1".into(),
                id: soon.id.clone(),
                spec: Some(spec("lab-soon", days(6))),
            },
            DEADLINE,
        )
        .await
        .unwrap();
    wait_for("the notices of the new date", &agent, || {
        mails_about(&mail_dir, "lab-soon").len() == 2 && webhook.about("lab-soon").len() == 2
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(mails(&mail_dir).len(), 4);
    assert_eq!(webhook.total(), 4);

    // The operators' listing: what expires within 30 days, and its notices.
    let listing = expiring_listing(&agent);
    for name in ["lab-expired", "lab-soon", "lab-outage"] {
        assert!(listing.contains(name), "{name} is not listed:\n{listing}");
    }
    assert!(!listing.contains("lab-far"), "{listing}");
    let notice_lines: Vec<Vec<&str>> = listing
        .lines()
        .map(|line| line.split_whitespace().take(4).collect())
        .collect();
    for notice in [
        ["notice", "expired", "smtp", "sent"],
        ["notice", "expired", "webhook", "sent"],
        ["notice", "expires_in_7_days", "smtp", "superseded"],
        ["notice", "expires_in_30_days", "smtp", "sent"],
    ] {
        assert!(
            notice_lines.contains(&notice.to_vec()),
            "no {notice:?} in:\n{listing}"
        );
    }

    let log = agent.log();
    assert!(log.contains("expiry notice sent"), "{log}");
    assert!(
        !log.contains(SMTP_PASSWORD),
        "the SMTP password is in the log:\n{log}"
    );
    assert!(
        !log.contains(WEBHOOK_TOKEN),
        "the webhook token is in the log:\n{log}"
    );
}
