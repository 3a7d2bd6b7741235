//! Refreshing many projects at once. A `plan` reads every project in the
//! configuration, ten at a time; a read that arrives while others are on
//! their way to the agent waits for them and then goes with every read
//! queued meanwhile in one GetProjects call. No read waits for a timer: the
//! first goes at once, and each batch leaves as soon as the one before it is
//! answered, so N reads cost a handful of agent calls instead of N.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use giif_proto::agent as api;
use tokio::sync::oneshot;

use super::error::{AgentError, Reason};
use super::AgentClient;

/// The agent's limit per GetProjects call.
const MAX_IDS_PER_CALL: usize = 1000;

type Answer = Result<Option<api::Project>, AgentError>;

struct Waiter {
    id: String,
    deadline: Duration,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Pending {
    queue: Vec<Waiter>,
    /// A task is sending batches; it takes whatever is queued when its
    /// current call returns.
    sending: bool,
}

#[derive(Default)]
pub struct ProjectReads {
    pending: Mutex<Pending>,
}

impl ProjectReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // The lock guards plain data, never held across an await: a panic
        // elsewhere leaves it consistent.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl AgentClient {
    /// The project with this id as the agent holds it now, or `None` when
    /// there is none. Reads made at the same time share agent calls.
    pub async fn read_project(&self, id: &str, deadline: Duration) -> Answer {
        if id.is_empty() {
            return Err(AgentError::local(
                Reason::InvalidArgument,
                id,
                "the state holds no project id; remove the project from the state \
                 (terraform state rm) and import it again",
            ));
        }
        let client = self.clone();
        let fetch = move |request: api::GetProjectsRequest, deadline: Duration| {
            let client = client.clone();
            async move { client.get_projects_or_each(request, deadline).await }
        };
        self.reads.clone().read(id, deadline, fetch).await
    }

    /// GetProjects, or from an agent older than it one GetProject per id,
    /// all at once.
    async fn get_projects_or_each(
        &self,
        request: api::GetProjectsRequest,
        deadline: Duration,
    ) -> Result<api::GetProjectsResponse, AgentError> {
        match self.get_projects(request.clone(), deadline).await {
            Err(err) if err.is_unimplemented() => {
                one_by_one(request.ids, |id| {
                    self.get_project(api::get_project_request::Key::Id(id), deadline)
                })
                .await
            }
            answer => answer,
        }
    }
}

/// GetProjects' answer from one `get_one` per id, all at once: the projects
/// found; an id that names none is left out, any other error fails them all.
async fn one_by_one<F, Fut>(
    ids: Vec<String>,
    get_one: F,
) -> Result<api::GetProjectsResponse, AgentError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<api::Project, AgentError>>,
{
    let mut projects = Vec::new();
    for answer in futures_util::future::join_all(ids.into_iter().map(get_one)).await {
        match answer {
            Ok(project) => projects.push(project),
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err),
        }
    }
    Ok(api::GetProjectsResponse { projects })
}

impl ProjectReads {
    /// Queues the read and makes sure a task is sending batches with `fetch`.
    async fn read<F, Fut>(self: Arc<Self>, id: &str, deadline: Duration, fetch: F) -> Answer
    where
        F: Fn(api::GetProjectsRequest, Duration) -> Fut + Send + 'static,
        Fut: Future<Output = Result<api::GetProjectsResponse, AgentError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let start_sending = {
            let mut pending = self.lock();
            pending.queue.push(Waiter {
                id: id.to_string(),
                deadline,
                reply,
            });
            !std::mem::replace(&mut pending.sending, true)
        };
        if start_sending {
            tokio::spawn(self.send_batches(fetch));
        }
        // Bounded here too: a read may first wait for the call before its own.
        match tokio::time::timeout(deadline, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(AgentError::local(
                Reason::Internal,
                id,
                format!(
                    "the read of project {id} was abandoned before the agent answered; run the \
                     command again"
                ),
            )),
            Err(_) => Err(AgentError::local(
                Reason::Transient,
                id,
                format!(
                    "the agent did not answer the read of project {id} within {} s",
                    deadline.as_secs()
                ),
            )),
        }
    }

    async fn send_batches<F, Fut>(self: Arc<Self>, fetch: F)
    where
        F: Fn(api::GetProjectsRequest, Duration) -> Fut,
        Fut: Future<Output = Result<api::GetProjectsResponse, AgentError>>,
    {
        let _stop_on_panic = StopOnPanic(&self);
        loop {
            let batch: Vec<Waiter> = {
                let mut pending = self.lock();
                if pending.queue.is_empty() {
                    pending.sending = false;
                    return;
                }
                let take = pending.queue.len().min(MAX_IDS_PER_CALL);
                pending.queue.drain(..take).collect()
            };
            let mut ids: Vec<String> = batch.iter().map(|w| w.id.clone()).collect();
            ids.sort();
            ids.dedup();
            // Retried for as long as the most patient read allows.
            let deadline = batch.iter().map(|w| w.deadline).max().unwrap_or_default();
            match fetch(api::GetProjectsRequest { ids }, deadline).await {
                Ok(found) => {
                    let by_id: HashMap<String, api::Project> = found
                        .projects
                        .into_iter()
                        .map(|p| (p.id.clone(), p))
                        .collect();
                    for waiter in batch {
                        let _ = waiter.reply.send(Ok(by_id.get(&waiter.id).cloned()));
                    }
                }
                Err(err) => {
                    for waiter in batch {
                        let _ = waiter.reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }
}

/// If sending panics, the reads queued behind it end with an error (their
/// replies are dropped) and the next read starts a new sender, instead of
/// everything waiting on a sender that is gone.
struct StopOnPanic<'a>(&'a ProjectReads);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut pending = self.0.lock();
            pending.sending = false;
            pending.queue.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Calls = Arc<Mutex<Vec<Vec<String>>>>;

    /// A GetProjects stand-in that records each call's ids, then takes a
    /// permit of `gate` before it answers (the test hands them out), and
    /// knows every id but those starting "gone".
    fn fake_agent(
        calls: Calls,
        gate: Arc<tokio::sync::Semaphore>,
    ) -> impl Fn(
        api::GetProjectsRequest,
        Duration,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<api::GetProjectsResponse, AgentError>> + Send>,
    > + Clone
           + Send
           + 'static {
        move |request, _| {
            let calls = calls.clone();
            let gate = gate.clone();
            Box::pin(async move {
                calls.lock().unwrap().push(request.ids.clone());
                let _pass = gate.acquire().await.unwrap();
                Ok(api::GetProjectsResponse {
                    projects: request
                        .ids
                        .iter()
                        .filter(|id| !id.starts_with("gone"))
                        .map(|id| api::Project {
                            id: id.clone(),
                            ..Default::default()
                        })
                        .collect(),
                })
            })
        }
    }

    #[tokio::test]
    async fn reads_made_while_a_call_is_out_go_together_in_the_next() {
        let reads = Arc::new(ProjectReads::default());
        let calls = Calls::default();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let fetch = fake_agent(calls.clone(), gate.clone());
        let second = Duration::from_secs(1);

        let first = tokio::spawn(reads.clone().read("p-first", second, fetch.clone()));
        while calls.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        // 1201 more while the first call is out, one of them twice and one
        // for a project that does not exist.
        let mut ids: Vec<String> = (0..1199).map(|n| format!("p-{n:04}")).collect();
        ids.push("p-1100".into());
        ids.push("gone-1".into());
        let waiting: Vec<_> = ids
            .iter()
            .map(|id| {
                let (id, reads, fetch) = (id.clone(), reads.clone(), fetch.clone());
                tokio::spawn(async move { reads.read(&id, second, fetch).await })
            })
            .collect();
        while reads.lock().queue.len() < ids.len() {
            tokio::task::yield_now().await;
        }
        gate.add_permits(usize::MAX >> 4);

        assert_eq!(first.await.unwrap().unwrap().unwrap().id, "p-first");
        for (id, read) in ids.iter().zip(waiting) {
            let answer = read.await.unwrap().unwrap();
            if id.starts_with("gone") {
                assert!(answer.is_none(), "{id} exists on the fake agent");
            } else {
                assert_eq!(answer.unwrap().id, *id);
            }
        }
        let sizes: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
        // The first alone, then the queue in calls of at most 1000 ids, the
        // duplicate asked once.
        assert_eq!(sizes, vec![1, 1000, 200], "{sizes:?}");
        assert!(
            !reads.lock().sending,
            "the sender stopped with an empty queue"
        );
    }

    #[tokio::test]
    async fn an_error_reaches_every_read_of_its_call_and_the_next_read_calls_again() {
        let reads = Arc::new(ProjectReads::default());
        let calls = Arc::new(Mutex::new(0));
        let failing = {
            let calls = calls.clone();
            move |_: api::GetProjectsRequest, _: Duration| {
                *calls.lock().unwrap() += 1;
                async {
                    Err::<api::GetProjectsResponse, _>(AgentError {
                        reason: Reason::Transient,
                        message: "the agent could not be reached".into(),
                        field: String::new(),
                        hint: String::new(),
                        retryable: true,
                        subject: String::new(),
                    })
                }
            }
        };
        let second = Duration::from_secs(1);
        let both = tokio::join!(
            reads.clone().read("p-1", second, failing.clone()),
            reads.clone().read("p-2", second, failing.clone()),
        );
        for answer in [both.0, both.1] {
            assert_eq!(
                answer.unwrap_err().message,
                "the agent could not be reached"
            );
        }
        assert_eq!(
            *calls.lock().unwrap(),
            1,
            "two reads queued together, one call"
        );

        let again = reads.clone().read("p-1", second, failing).await;
        assert!(again.is_err());
        assert_eq!(
            *calls.lock().unwrap(),
            2,
            "a read after a failed call calls again"
        );
    }

    fn echo(
        request: api::GetProjectsRequest,
        _: Duration,
    ) -> std::future::Ready<Result<api::GetProjectsResponse, AgentError>> {
        std::future::ready(Ok(api::GetProjectsResponse {
            projects: request
                .ids
                .into_iter()
                .map(|id| api::Project {
                    id,
                    ..Default::default()
                })
                .collect(),
        }))
    }

    #[tokio::test]
    async fn a_sender_that_panics_fails_its_reads_and_the_next_read_starts_afresh() {
        let reads = Arc::new(ProjectReads::default());
        let second = Duration::from_secs(1);
        let broken = |_: api::GetProjectsRequest, _: Duration| async {
            if std::hint::black_box(true) {
                panic!("the stand-in agent broke");
            }
            Ok::<_, AgentError>(api::GetProjectsResponse::default())
        };
        let lost = reads.clone().read("p-1", second, broken).await.unwrap_err();
        assert!(lost.message.contains("abandoned"), "{lost}");
        assert!(!reads.lock().sending, "no sender is left marked as running");
        let fresh = reads.clone().read("p-2", second, echo).await.unwrap();
        assert_eq!(fresh.unwrap().id, "p-2");
    }

    #[tokio::test]
    async fn a_read_gives_up_at_its_deadline() {
        let reads = Arc::new(ProjectReads::default());
        let silent = |_: api::GetProjectsRequest, _: Duration| {
            std::future::pending::<Result<api::GetProjectsResponse, AgentError>>()
        };
        let err = reads
            .clone()
            .read("p-1", Duration::from_millis(50), silent)
            .await
            .unwrap_err();
        assert_eq!(err.reason, Reason::Transient);
        assert!(err.message.contains("did not answer"), "{err}");
    }

    #[tokio::test]
    async fn an_older_agent_is_asked_one_project_at_a_time() {
        let get_one = |id: String| async move {
            match id.as_str() {
                "gone" => Err(AgentError::local(Reason::NotFound, &id, "no project")),
                "broken" => Err(AgentError::local(Reason::Internal, &id, "store failed")),
                _ => Ok(api::Project {
                    id,
                    ..Default::default()
                }),
            }
        };
        let found = one_by_one(vec!["a".into(), "gone".into(), "b".into()], get_one)
            .await
            .unwrap();
        let ids: Vec<&str> = found.projects.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "a missing project is left out");
        let failed = one_by_one(vec!["a".into(), "broken".into()], get_one)
            .await
            .unwrap_err();
        assert_eq!(failed.message, "store failed");
    }
}
