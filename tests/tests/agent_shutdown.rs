//! The agent stops cleanly when systemd stops it (SIGTERM).

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::agent::TestAgent;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_agent_cleanly() {
    let mut agent = TestAgent::start(100, 110, None);
    // It serves first: a call goes through.
    agent.client().await.agent_info().await.unwrap();
    let status = agent.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", agent.log());
    assert!(agent.log().contains("shutting down"), "{}", agent.log());
}
