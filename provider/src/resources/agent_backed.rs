//! One resource shape for every type the agent keeps: create, read, update,
//! delete and import are written here once, around the calls and the
//! conversions each type supplies ([`AgentBacked`]). What a long object
//! reports after a change (not ready yet, failed, a console that drifted)
//! is judged here too, in the same words for every type.

use std::marker::PhantomData;

use futures_util::StreamExt;

use giif_proto::status::Status;

use super::listing::{self, Listed, Listing};
use super::{is_up, state_id, warn_if_console_drifted, CreateFailure, Ctx, Resource};
use crate::agent::AgentError;
use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::Schema;
use crate::tfvalue::Value;

/// How diagnostics speak of a type: the summaries of its failures.
pub struct Words {
    pub create: &'static str,
    pub read: &'static str,
    pub update: &'static str,
    pub delete: &'static str,
    pub import: &'static str,
    /// The summary when a change ended without the object up.
    pub not_ready: &'static str,
}

/// Where a long object stands after a change.
pub struct Progress {
    /// How details name it: `The gateway gw-…`.
    pub subject: String,
    /// How a console warning names it: `gateway gw-…`.
    pub console_subject: String,
    pub status: String,
    pub last_error: String,
    /// What to do after a failure.
    pub advice: &'static str,
}

/// A type the agent keeps: its schema, its conversions and its calls.
#[tonic::async_trait]
pub trait AgentBacked: Send + Sync + 'static {
    /// The agent's message for one object.
    type Object: Send + Sync + Default + 'static;

    const TYPE_NAME: &'static str;
    const WORDS: Words;
    /// What `terraform query` finds of this type.
    const LISTING: Listing;

    fn schema() -> &'static Schema;
    /// The Terraform state of `object`; `shape` gives what the agent does
    /// not keep (timeouts, configuration-only attributes).
    fn state_from(object: &Self::Object, shape: &Value) -> Value;

    /// Checks across attributes that the schema's validators cannot express.
    fn validate(_config: &Value, _diags: &mut Diagnostics) {}
    /// Adjusts an in-place update's plan (see [`Resource::modify_plan`]).
    fn modify_plan(_prior: &Value, _planned: &mut Value, _diags: &mut Diagnostics) {}

    async fn create(ctx: &Ctx<'_>, planned: &Value) -> Result<Self::Object, AgentError>;
    /// A live read by id, or by whatever else import takes.
    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<Self::Object, AgentError>;
    async fn update(
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<Self::Object, AgentError>;
    /// Deletes; a warning (the object is gone, with problems) does not
    /// fail the destroy.
    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError>;

    /// A refresh: `None` when the object is gone.
    async fn read(ctx: &Ctx<'_>, id: &str) -> Result<Option<Self::Object>, AgentError> {
        match Self::get(ctx, id).await {
            Ok(object) if Self::gone(&object) => Ok(None),
            Ok(object) => Ok(Some(object)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Whether a read found what the object stands for gone (its VM).
    fn gone(_object: &Self::Object) -> bool {
        false
    }

    /// Where a long object stands; `None` for one that is up once made.
    fn progress(_object: &Self::Object) -> Option<Progress> {
        None
    }

    /// The diagnostic of a failed call (a type may add what the agent's
    /// error means for it).
    fn diagnostic(err: &AgentError, summary: &str, _config: &Value) -> Diagnostic {
        err.to_diagnostic(summary)
    }

    /// The diagnostic of a failed create.
    fn create_error(err: &AgentError, planned: &Value) -> Diagnostic {
        Self::diagnostic(err, Self::WORDS.create, planned)
    }

    /// Fixes the state after an update (an id the plan promised).
    fn after_update(_state: &mut Value, _planned: &Value) {}

    /// The detail of an import whose reference names nothing.
    fn import_not_found(reference: &str) -> String;
}

/// The [`Resource`] of an [`AgentBacked`] type.
pub struct AgentResource<T> {
    list_schema: Schema,
    kind: PhantomData<T>,
}

impl<T: AgentBacked> AgentResource<T> {
    pub fn new() -> Self {
        Self {
            list_schema: listing::filter_schema(&T::LISTING),
            kind: PhantomData,
        }
    }
}

impl<T: AgentBacked> Default for AgentResource<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Judges a long object after a change: up (with a warning if its console
/// drifted), or the diagnostic that says where it stopped.
fn settled<T: AgentBacked>(ctx: &Ctx<'_>, object: &T::Object) -> Result<(), Diagnostics> {
    let Some(progress) = T::progress(object) else {
        return Ok(());
    };
    if is_up(&progress.status) {
        warn_if_console_drifted(
            ctx,
            &progress.console_subject,
            &progress.status,
            &progress.last_error,
        );
        return Ok(());
    }
    let detail = if Status::Failed.is(&progress.status) {
        format!(
            "{} stopped at: {}\n\n{}",
            progress.subject, progress.last_error, progress.advice
        )
    } else {
        format!(
            "{} is still {} when the timeout ran out. The agent goes on; raise the timeout or run apply again.",
            progress.subject, progress.status
        )
    };
    Err(Diagnostic::error(T::WORDS.not_ready, detail).into())
}

#[tonic::async_trait]
impl<T: AgentBacked> Resource for AgentResource<T> {
    fn type_name(&self) -> &'static str {
        T::TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        T::schema()
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        T::validate(config, diags)
    }

    fn modify_plan(&self, prior: &Value, planned: &mut Value, diags: &mut Diagnostics) {
        T::modify_plan(prior, planned, diags)
    }

    async fn create(&self, ctx: &Ctx<'_>, planned: &Value) -> Result<Value, CreateFailure> {
        let object = T::create(ctx, planned)
            .await
            .map_err(|err| Diagnostics::from(T::create_error(&err, planned)))?;
        // Not up: Terraform keeps it (tainted) rather than orphaning it.
        settled::<T>(ctx, &object).map_err(|diags| CreateFailure {
            partial: Some(T::state_from(&object, planned)),
            diags,
        })?;
        Ok(T::state_from(&object, planned))
    }

    async fn read(&self, ctx: &Ctx<'_>, state: &Value) -> Result<Option<Value>, Diagnostics> {
        match T::read(ctx, &state_id(state)).await {
            Ok(object) => Ok(object.map(|object| T::state_from(&object, state))),
            Err(err) => Err(T::diagnostic(&err, T::WORDS.read, state).into()),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, Diagnostics> {
        let object = T::update(ctx, prior, planned)
            .await
            .map_err(|err| T::diagnostic(&err, T::WORDS.update, planned))?;
        settled::<T>(ctx, &object)?;
        let mut state = T::state_from(&object, planned);
        T::after_update(&mut state, planned);
        Ok(state)
    }

    async fn delete(&self, ctx: &Ctx<'_>, prior: &Value) -> Result<(), Diagnostics> {
        match T::delete(ctx, state_id(prior)).await {
            Ok(None) => Ok(()),
            // The provider treats a delete that returns only warnings as done.
            Ok(Some(warning)) => Err(warning.into()),
            // Already gone counts as deleted.
            Err(err) if err.is_not_found() => Ok(()),
            Err(err) => Err(T::diagnostic(&err, T::WORDS.delete, prior).into()),
        }
    }

    fn list_schema(&self) -> &Schema {
        &self.list_schema
    }

    async fn list(
        &self,
        ctx: &Ctx<'_>,
        filter: &Value,
        with_state: bool,
        limit: usize,
    ) -> Result<Vec<Listed>, Diagnostics> {
        let request = listing::request(&T::LISTING, filter);
        let found = ctx
            .agent
            .list_objects(request, ctx.timeout)
            .await
            .map_err(|err| {
                Diagnostics::from(err.to_diagnostic("Cannot list the site's objects"))
            })?;
        let objects = found.objects.into_iter().take(limit);
        if !with_state {
            return Ok(objects.map(|object| listed(object, None)).collect());
        }
        // Whole objects are read as a refresh reads them, a few at a time;
        // one gone since the listing is left out.
        let reads = futures_util::stream::iter(objects).map(|object| async move {
            match T::read(ctx, &object.id).await {
                Ok(Some(read)) => Ok(Some(listed(
                    object,
                    Some(T::state_from(&read, &Value::Null)),
                ))),
                Ok(None) => Ok(None),
                Err(err) => Err(Diagnostics::from(T::diagnostic(
                    &err,
                    T::WORDS.read,
                    &Value::Null,
                ))),
            }
        });
        let read: Vec<_> = reads.buffered(LIST_READS_AT_ONCE).collect().await;
        read.into_iter().filter_map(Result::transpose).collect()
    }

    async fn import(&self, ctx: &Ctx<'_>, reference: &str) -> Result<Value, Diagnostics> {
        match T::get(ctx, reference).await {
            Ok(object) => Ok(T::state_from(&object, &Value::Null)),
            Err(err) if err.is_not_found() => {
                Err(Diagnostic::error(T::WORDS.import, T::import_not_found(reference)).into())
            }
            Err(err) => Err(T::diagnostic(&err, T::WORDS.import, &Value::Null).into()),
        }
    }
}

/// How many objects a listing reads at once when Terraform wants them whole.
const LIST_READS_AT_ONCE: usize = 8;

fn listed(object: giif_proto::agent::ListedObject, state: Option<Value>) -> Listed {
    Listed {
        display_name: listing::display_name(&object),
        id: object.id,
        state,
    }
}

/// The names a state of `T` must have: every attribute and block of its
/// schema, no more.
#[cfg(test)]
pub fn state_keys_match_schema<T: AgentBacked>() -> Result<(), String> {
    let schema = T::schema();
    let shape = Value::object([("timeouts", Value::object([("create", Value::string("1m"))]))]);
    let state = T::state_from(&T::Object::default(), &shape);
    let Value::Object(fields) = &state else {
        return Err(format!("{}: the state is not an object", T::TYPE_NAME));
    };
    let have: std::collections::BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    let want: std::collections::BTreeSet<&str> = schema
        .attributes
        .iter()
        .map(|a| a.name)
        .chain(schema.blocks.iter().map(|b| b.type_name))
        .collect();
    if have == want {
        Ok(())
    } else {
        Err(format!(
            "{}: the state lacks {:?} and has {:?} beyond the schema",
            T::TYPE_NAME,
            want.difference(&have).collect::<Vec<_>>(),
            have.difference(&want).collect::<Vec<_>>()
        ))
    }
}
