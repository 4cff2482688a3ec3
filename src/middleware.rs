//! The HTTP middleware (feature `tower`; the guide is [`crate::_documentation::http`]):
//! [`EctLayer`] verifies the `Execution-Context` field of every request (SPEC.md §9) before the
//! inner service sees it, and puts the [`VerifiedRequest`](crate::VerifiedRequest) in the
//! request's extensions; with the feature `axum`, `VerifiedRequest` is also an axum extractor.
//!
//! * **What is checked.** Every field line (ECT-HTTP-1..4, bounded by
//!   [`EctLayer::max_field_bytes`] before anything else), then the tokens as
//!   [`Verifier::verify_inline`] checks them (the first token is the request's own, the rest
//!   its parents), or, with [`EctLayer::ledger`], as [`Verifier::accept_inline`] accepts them.
//! * **Refusals** are JSON, `{"error":{"code":"…","rule":"ECT-…","message":"…"}}`
//!   ([`EctRefusal`]): 403 for every rejected token or field (ECT-HTTP-5), a request without
//!   the field included (`http.missing`, unless [`MissingField::Allow`]); 503 with
//!   `Retry-After` when the answer depends on something that cannot answer now: a ledger
//!   (`ledger.io`), a replay cache (`replay.unavailable`, `replay.full`), or the layer's own
//!   full queue (`http.overloaded`). Never a pass.
//! * **The async/CPU boundary.** The ES256 verifications and every store call run on the
//!   layer's own verification threads, never on the async workers: [`EctLayer::concurrency`]'s
//!   `in_flight` threads (default: two per core, started at the first request) take the
//!   requests from one queue in arrival order; at most `queued` more requests wait in it, and
//!   any beyond are refused at once with 503 (`http.overloaded`). A thread that finishes takes
//!   the next request at once, so under load the cores verify without a gap (what
//!   `spawn_blocking` per request did not do: BENCHMARKS.md, "HTTP middleware"). So a flood of
//!   tokens costs the server a bounded queue and two threads per core, and requests without the
//!   field (when let through) are never stuck behind it. The async side only awaits an answer
//!   (a tokio `oneshot`), so the layer runs on any executor.
//! * **Time.** The layer reads the clock it is given ([`EctLayer::new`]), once per request,
//!   when a verification thread takes the request; [`unix_now`] is the system clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::task::{Context, Poll};

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};

use crate::error::Error;
use crate::http::{DEFAULT_MAX_FIELD_BYTES, REJECTION_STATUS, from_header_map};
use crate::keys::{KeyResolver, KeySet};
use crate::ledger::Ledger;
use crate::verifier::Verifier;

/// The default number of requests waiting for a verification turn, beyond those being
/// verified, before the layer answers 503 (`http.overloaded`).
pub const DEFAULT_QUEUED: usize = 1024;
/// The default `Retry-After` of a 503, in seconds.
pub const DEFAULT_RETRY_AFTER_SECONDS: u32 = 1;

/// What [`EctLayer`] does with a request that has no `Execution-Context` field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingField {
    /// Refuse it: 403, `http.missing` (the default).
    #[default]
    Refuse,
    /// Pass it to the inner service without a [`VerifiedRequest`](crate::VerifiedRequest) in
    /// its extensions (an endpoint that takes ECTs when they come, or a health check). A
    /// present but bad field is still refused.
    Allow,
}

/// The system clock in seconds since the Unix epoch, for [`EctLayer::new`]. The verifier itself
/// never reads a clock; the layer reads the one it is given.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A refusal of a request by [`EctLayer`] or by the axum extractor: an [`Error`] and its HTTP
/// answer ([`EctRefusal::status`], [`EctRefusal::into_response`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EctRefusal {
    error: Error,
    retry_after: u32,
}

impl EctRefusal {
    /// The refusal of `error`, with the default `Retry-After` when it is a 503.
    pub fn new(error: Error) -> Self {
        EctRefusal {
            error,
            retry_after: DEFAULT_RETRY_AFTER_SECONDS,
        }
    }

    /// Why.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// 503 for what cannot answer now (`ledger.io`, `replay.unavailable`, `replay.full`,
    /// `http.overloaded`), 403 for everything else (ECT-HTTP-5).
    pub fn status(&self) -> StatusCode {
        match self.error {
            Error::LedgerIo(_)
            | Error::ReplayUnavailable(_)
            | Error::ReplayCacheFull
            | Error::HttpOverloaded => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::from_u16(REJECTION_STATUS).expect("403 is a status"),
        }
    }

    /// The JSON body: `{"error":{"code":"…","rule":"ECT-…","message":"…"}}`.
    pub fn body(&self) -> String {
        let full = self.error.to_string();
        let prefix = format!("{} ({}): ", self.error.code(), self.error.rule());
        let message = full.strip_prefix(&prefix).unwrap_or(&full);
        serde_json::json!({"error": {
            "code": self.error.code(),
            "rule": self.error.rule(),
            "message": message,
        }})
        .to_string()
    }

    /// The response: [`EctRefusal::status`], `Content-Type: application/json`,
    /// `Retry-After` on a 503, and [`EctRefusal::body`].
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        let status = self.status();
        let mut response = Response::new(B::from(self.body()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(RETRY_AFTER, HeaderValue::from(self.retry_after));
        }
        response
    }
}

impl From<Error> for EctRefusal {
    fn from(error: Error) -> Self {
        EctRefusal::new(error)
    }
}

/// A tower [`Layer`](tower::Layer) that verifies the `Execution-Context` field of every request
/// before its inner service sees it ([`EctService`]): what is checked, the refusals, the
/// verification threads and the bounded queue are described in [`crate::_documentation::http`].
///
/// ```
/// # use std::sync::Arc;
/// use wimse_ect::{EctLayer, KeySet, MissingField, Policy, Verifier, unix_now};
/// # let keys = KeySet::from_keys([]).unwrap();
/// let policy = Policy::new("spiffe://example.org/agent-b");
/// let verifier = Arc::new(Verifier::new(keys, policy).unwrap());
/// let layer = EctLayer::new(verifier, unix_now)
///     .missing(MissingField::Refuse)
///     .concurrency(4, 256);
/// # let _ = layer;
/// ```
pub struct EctLayer<K: KeyResolver = KeySet> {
    verifier: Arc<Verifier<K>>,
    ledger: Option<Arc<dyn Ledger>>,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    missing: MissingField,
    max_field_bytes: usize,
    retry_after: u32,
    pool: Arc<Pool>,
}

impl<K: KeyResolver> Clone for EctLayer<K> {
    fn clone(&self) -> Self {
        EctLayer {
            verifier: Arc::clone(&self.verifier),
            ledger: self.ledger.clone(),
            clock: Arc::clone(&self.clock),
            missing: self.missing,
            max_field_bytes: self.max_field_bytes,
            retry_after: self.retry_after,
            pool: Arc::clone(&self.pool),
        }
    }
}

impl<K: KeyResolver> std::fmt::Debug for EctLayer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EctLayer")
            .field("verifier", &self.verifier)
            .field("ledger", &self.ledger.is_some())
            .field("missing", &self.missing)
            .field("max_field_bytes", &self.max_field_bytes)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl<K: KeyResolver + Send + Sync + 'static> EctLayer<K> {
    /// A layer verifying with `verifier` at the time `clock` gives (seconds since the Unix
    /// epoch, e.g. [`unix_now`]), against the inline parents only (no ledger), refusing
    /// requests without the field, bounding the field to [`DEFAULT_MAX_FIELD_BYTES`], two
    /// verification threads per core and [`DEFAULT_QUEUED`] requests waiting.
    pub fn new(
        verifier: Arc<Verifier<K>>,
        clock: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        // Two threads per core: the async workers (HTTP) share the cores with them, and with
        // one per core a core loses its verification thread whenever a worker runs
        // (BENCHMARKS.md, "HTTP middleware").
        EctLayer {
            verifier,
            ledger: None,
            clock: Arc::new(clock),
            missing: MissingField::Refuse,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            retry_after: DEFAULT_RETRY_AFTER_SECONDS,
            pool: Arc::new(Pool::new(2 * cores, DEFAULT_QUEUED)),
        }
    }

    /// Accepts every request's tokens into `ledger` ([`Verifier::accept_inline`]: the inline
    /// parents it does not hold, then the request's own token), instead of checking the DAG
    /// against the inline parents only.
    pub fn ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// What to do with a request without the field (default [`MissingField::Refuse`]).
    pub fn missing(mut self, missing: MissingField) -> Self {
        self.missing = missing;
        self
    }

    /// The bound on the combined field value (ECT-HTTP-4; default
    /// [`DEFAULT_MAX_FIELD_BYTES`]).
    pub fn max_field_bytes(mut self, max: usize) -> Self {
        self.max_field_bytes = max;
        self
    }

    /// `in_flight` verification threads (at least 1; started at the first request), and at
    /// most `queued` more requests waiting for one; beyond that, 503 `http.overloaded`. Layers
    /// cloned from this one, and every service they make, share these threads and bounds; the
    /// threads end when the last of them is dropped.
    pub fn concurrency(mut self, in_flight: usize, queued: usize) -> Self {
        self.pool = Arc::new(Pool::new(in_flight.max(1), queued));
        self
    }

    /// The `Retry-After` of a 503, in seconds (default [`DEFAULT_RETRY_AFTER_SECONDS`]).
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = seconds;
        self
    }
}

impl<S, K: KeyResolver> tower::Layer<S> for EctLayer<K> {
    type Service = EctService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        EctService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// The service [`EctLayer`] wraps around an inner service.
pub struct EctService<S, K: KeyResolver = KeySet> {
    inner: S,
    layer: Arc<EctLayer<K>>,
}

impl<S: Clone, K: KeyResolver> Clone for EctService<S, K> {
    fn clone(&self) -> Self {
        EctService {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<S, K: KeyResolver> std::fmt::Debug for EctService<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EctService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S, K, ReqBody, ResBody> tower::Service<Request<ReqBody>> for EctService<S, K>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    K: KeyResolver + Send + Sync + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready serves this request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = Arc::clone(&self.layer);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let refuse = |error: Error| {
                let mut refusal = EctRefusal::new(error);
                refusal.retry_after = layer.retry_after;
                Ok(refusal.into_response())
            };
            // ECT-HTTP-1..4, the size bound first; cheap, so on the async thread.
            let tokens = match from_header_map(&parts.headers, layer.max_field_bytes) {
                Ok(tokens) => tokens,
                Err(e) => return refuse(e),
            };
            if tokens.is_empty() {
                return match layer.missing {
                    MissingField::Refuse => refuse(Error::HttpMissing),
                    MissingField::Allow => inner.call(Request::from_parts(parts, body)).await,
                };
            }
            let verdict = {
                let job_layer = Arc::clone(&layer);
                let verify = move || {
                    let now = (job_layer.clock)();
                    match &job_layer.ledger {
                        Some(ledger) => job_layer.verifier.accept_inline(&tokens, now, &**ledger),
                        None => job_layer.verifier.verify_inline(&tokens, now),
                    }
                };
                match layer.pool.run(verify) {
                    None => Err(Error::HttpOverloaded),
                    Some(answer) => match answer.await {
                        Ok(Ok(verdict)) => verdict,
                        // A panic in verification is a bug: it propagates, never a pass.
                        Ok(Err(panic)) => std::panic::resume_unwind(panic),
                        // The job was dropped unrun: the pool has no thread left.
                        Err(_) => Err(Error::HttpOverloaded),
                    },
                }
            };
            match verdict {
                Ok(verified) => {
                    parts.extensions.insert(verified);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(e) => refuse(e),
            }
        })
    }
}

/// A job of the [`Pool`]: one request's verification.
type Job = Box<dyn FnOnce() + Send>;

/// What a job answers: the verdict, or the panic it raised.
type Answer = std::thread::Result<crate::error::Result<crate::inline::VerifiedRequest>>;

/// The verification threads and their bounded queue: `in_flight` threads (started at the first
/// request) take the jobs from one FIFO queue, and at most `in_flight + queued` jobs are in it
/// or running at once. A thread that finishes a job takes the next at once, so under load the
/// threads never wait for the async side.
struct Pool {
    jobs: mpsc::Sender<Job>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    /// How many threads were started (at the first job).
    started: OnceLock<usize>,
    /// Jobs in the queue or running.
    admitted: Arc<AtomicUsize>,
    in_flight: usize,
    queued: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("in_flight", &self.in_flight)
            .field("queued", &self.queued)
            .field("admitted", &self.admitted.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Pool {
    fn new(in_flight: usize, queued: usize) -> Self {
        let (jobs, queue) = mpsc::channel();
        Pool {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            started: OnceLock::new(),
            admitted: Arc::new(AtomicUsize::new(0)),
            in_flight,
            queued,
        }
    }

    /// Queues `verify`, or `None` when the queue is full or no thread could be started. The
    /// answer arrives when a thread has run it. A job whose request went away (its answer's
    /// receiver dropped) before a thread took it is not run.
    fn run<F>(&self, verify: F) -> Option<tokio::sync::oneshot::Receiver<Answer>>
    where
        F: FnOnce() -> crate::error::Result<crate::inline::VerifiedRequest> + Send + 'static,
    {
        if *self.started.get_or_init(|| self.start()) == 0 {
            return None;
        }
        let capacity = self.in_flight.saturating_add(self.queued);
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()?;
        let place = Place(Arc::clone(&self.admitted));
        let (answer, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if answer.is_closed() {
                drop(place);
                return;
            }
            let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(verify));
            // The place is free before the answer is sent: a client that has its answer finds
            // room for its next request.
            drop(place);
            let _ = answer.send(verdict);
        });
        // The receiving end lives as long as any thread; with none the job comes back.
        self.jobs.send(job).ok()?;
        Some(receiver)
    }

    /// Starts the threads; how many started. They end when the pool is dropped (the queue's
    /// sending end with it).
    fn start(&self) -> usize {
        (0..self.in_flight)
            .filter(|i| {
                let queue = Arc::clone(&self.queue);
                std::thread::Builder::new()
                    .name(format!("ect-verify-{i}"))
                    .spawn(move || {
                        loop {
                            // The lock is held only while waiting for the next job.
                            let job = match queue.lock() {
                                Ok(q) => q.recv(),
                                Err(poisoned) => poisoned.into_inner().recv(),
                            };
                            match job {
                                Ok(job) => job(),
                                Err(mpsc::RecvError) => return,
                            }
                        }
                    })
                    .is_ok()
            })
            .count()
    }
}

/// A job's place in the [`Pool`], given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The axum extractor (feature `axum`): the [`VerifiedRequest`](crate::VerifiedRequest) an
/// [`EctLayer`] put in the request's extensions. Without one (no layer, or a request let
/// through by [`MissingField::Allow`]) the handler is refused like the layer refuses: 403,
/// `http.missing`. `Option<VerifiedRequest>` extracts `None` instead.
#[cfg(feature = "axum")]
mod extract {
    use super::*;
    use crate::inline::VerifiedRequest;
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum_core::response::IntoResponse;
    use http::request::Parts;

    impl<S: Send + Sync> FromRequestParts<S> for VerifiedRequest {
        type Rejection = EctRefusal;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, EctRefusal> {
            parts
                .extensions
                .get::<VerifiedRequest>()
                .cloned()
                .ok_or_else(|| EctRefusal::new(Error::HttpMissing))
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedRequest {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<VerifiedRequest>().cloned())
        }
    }

    impl IntoResponse for EctRefusal {
        fn into_response(self) -> axum_core::response::Response {
            EctRefusal::into_response(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A job that waits for `release`, then refuses with `error`.
    fn held(
        error: Error,
    ) -> (
        mpsc::Sender<()>,
        impl FnOnce() -> crate::error::Result<crate::inline::VerifiedRequest> + Send + 'static,
    ) {
        let (release, wait) = mpsc::channel::<()>();
        (release, move || {
            wait.recv().unwrap();
            Err(error)
        })
    }

    fn verdict(answer: tokio::sync::oneshot::Receiver<Answer>) -> crate::error::Result<()> {
        answer
            .blocking_recv()
            .expect("answered")
            .expect("no panic")
            .map(|_| ())
    }

    #[test]
    fn the_queue_is_bounded_and_gives_places_back() {
        let pool = Pool::new(1, 1);
        let (release, job) = held(Error::Expired);
        let first = pool.run(job).unwrap();
        let second = pool.run(|| Err(Error::Replay)).unwrap();
        // One running, one waiting: full.
        assert!(pool.run(|| Err(Error::Crit)).is_none());
        release.send(()).unwrap();
        assert_eq!(verdict(first), Err(Error::Expired));
        assert_eq!(verdict(second), Err(Error::Replay));
        assert_eq!(pool.admitted.load(Ordering::SeqCst), 0);
        let third = pool.run(|| Err(Error::Crit)).unwrap();
        assert_eq!(verdict(third), Err(Error::Crit));
    }

    #[test]
    fn a_job_whose_request_went_away_is_not_run() {
        let pool = Pool::new(1, 4);
        let (release, job) = held(Error::Expired);
        let first = pool.run(job).unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let gone = pool
            .run(move || {
                flag.store(true, Ordering::SeqCst);
                Err(Error::Replay)
            })
            .unwrap();
        drop(gone);
        release.send(()).unwrap();
        assert_eq!(verdict(first), Err(Error::Expired));
        let after = pool.run(|| Err(Error::Crit)).unwrap();
        assert_eq!(verdict(after), Err(Error::Crit));
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(pool.admitted.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_panic_is_handed_back_and_the_thread_goes_on() {
        let pool = Pool::new(1, 0);
        let answer = pool.run(|| panic!("a bug")).unwrap();
        let panic = answer.blocking_recv().unwrap().unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"a bug"));
        let next = pool.run(|| Err(Error::Crit)).unwrap();
        assert_eq!(verdict(next), Err(Error::Crit));
    }
}
