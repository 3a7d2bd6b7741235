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
        let client = self.clone();
        let fetch = move |request: api::GetProjectsRequest, deadline: Duration| {
            let client = client.clone();
            async move { client.get_projects(request, deadline).await }
        };
        self.reads.clone().read(id, deadline, fetch).await
    }
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
        answer.await.unwrap_or_else(|_| {
            Err(AgentError {
                reason: Reason::Internal,
                message: "the provider stopped before the agent answered".into(),
                field: String::new(),
                hint: String::new(),
                retryable: false,
                subject: id.to_string(),
            })
        })
    }

    async fn send_batches<F, Fut>(self: Arc<Self>, fetch: F)
    where
        F: Fn(api::GetProjectsRequest, Duration) -> Fut,
        Fut: Future<Output = Result<api::GetProjectsResponse, AgentError>>,
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    type Calls = Arc<Mutex<Vec<Vec<String>>>>;

    /// A GetProjects stand-in that records each call's ids, waits for `gate`
    /// on its first call, and knows every id but those starting "gone".
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
}
