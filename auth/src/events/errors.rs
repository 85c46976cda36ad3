//! Error pages as `error` events, recorded off the request path.
//!
//! An error page must never wait for the database, and a flood of 404s must not
//! become a flood of inserts. So [`ErrorEvents::record`] only takes a token from a
//! process-wide budget ([`ERROR_EVENT_BUDGET`] events per clock second) and hands the
//! event to a bounded queue ([`ERROR_QUEUE`]) without waiting; one
//! [`ErrorEventWriter`] drains the queue into the event log. Whatever does not fit
//! (over budget, queue full, or the write failed) is dropped and reported through
//! [`Telemetry::error_event_dropped`]; the error page's log line is written anyway.
use super::{AuthEvent, EventLog};
use crate::clock::{Clock, UnixTime};
use crate::session::{SessionKey, SessionService};
use crate::telemetry::{ErrorDrop, Telemetry};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use tokio::sync::mpsc::{self, error::TrySendError};

/// At most this many error events are recorded per second, process-wide.
pub const ERROR_EVENT_BUDGET: u32 = 20;

/// How many error events may wait for the writer.
pub const ERROR_QUEUE: usize = 1024;

/// An error event on its way to the log.
pub struct ErrorEvent {
    pub event: AuthEvent,
    /// The request's session cookie, as its store key, when the caller does not know
    /// the user: the writer looks the session up and names its user.
    pub session: Option<SessionKey>,
}

impl fmt::Debug for ErrorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorEvent")
            .field("event", &self.event)
            .field("session", &self.session.is_some())
            .finish()
    }
}

/// A budget of `per_second` tokens for each clock second.
struct Budget {
    per_second: u32,
    /// The second being counted and the tokens taken in it.
    used: Mutex<(UnixTime, u32)>,
}

impl Budget {
    fn take(&self, now: UnixTime) -> bool {
        let mut used = self.used.lock();
        if used.0 != now {
            *used = (now, 0);
        }
        if used.1 >= self.per_second {
            return false;
        }
        used.1 += 1;
        true
    }
}

/// The sending side, shared by every request.
#[derive(Clone)]
pub struct ErrorEvents {
    tx: mpsc::Sender<ErrorEvent>,
    budget: Arc<Budget>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
}

impl fmt::Debug for ErrorEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorEvents")
            .field("per_second", &self.budget.per_second)
            .field("queued", &(self.tx.max_capacity() - self.tx.capacity()))
            .finish()
    }
}

impl ErrorEvents {
    /// The sender and the writer that must be spawned (once) to drain it; until it
    /// runs, events queue up and then are dropped as `queue_full`.
    pub fn new(
        log: EventLog,
        sessions: Arc<SessionService>,
        telemetry: Arc<dyn Telemetry>,
        per_second: u32,
        capacity: usize,
    ) -> (Self, ErrorEventWriter) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let events = Self {
            tx,
            budget: Arc::new(Budget {
                per_second,
                used: Mutex::new((UnixTime::MIN, 0)),
            }),
            clock: sessions.clock().clone(),
            telemetry: Arc::clone(&telemetry),
        };
        let writer = ErrorEventWriter {
            rx,
            log,
            sessions,
            telemetry,
        };
        (events, writer)
    }

    /// Queues the event `make(now)` builds if the budget allows and the queue has
    /// room; never waits. `make` runs only for events that will be queued. Returns
    /// whether the event was queued.
    pub fn record(&self, make: impl FnOnce(UnixTime) -> ErrorEvent) -> bool {
        let now = self.clock.now();
        if !self.budget.take(now) {
            self.telemetry.error_event_dropped(ErrorDrop::Budget);
            return false;
        }
        match self.tx.try_send(make(now)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.telemetry.error_event_dropped(ErrorDrop::QueueFull);
                false
            }
            Err(TrySendError::Closed(_)) => {
                self.telemetry.error_event_dropped(ErrorDrop::WriteFailed);
                false
            }
        }
    }
}

/// The receiving side: writes queued events to the log, one at a time.
pub struct ErrorEventWriter {
    rx: mpsc::Receiver<ErrorEvent>,
    log: EventLog,
    sessions: Arc<SessionService>,
    telemetry: Arc<dyn Telemetry>,
}

impl fmt::Debug for ErrorEventWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorEventWriter")
    }
}

impl ErrorEventWriter {
    /// Writes events until every [`ErrorEvents`] is gone and the queue is empty.
    pub async fn run(mut self) {
        while let Some(e) = self.rx.recv().await {
            self.write(e).await;
        }
    }

    async fn write(&self, ErrorEvent { mut event, session }: ErrorEvent) {
        if let (None, Some(key)) = (&event.user_id, session) {
            match self.sessions.peek(&key).await {
                Ok(Some(s)) => event = event.user(&s.user_id, &s.email),
                Ok(None) => {}
                // Recorded without the user rather than not at all.
                Err(e) => tracing::debug!(error = %e, "error event: session lookup failed"),
            }
        }
        if let Err(e) = self.log.record(&event).await {
            tracing::warn!(error = %e, request_id = ?event.request_id, "could not record an error event");
            self.telemetry.error_event_dropped(ErrorDrop::WriteFailed);
        }
    }
}
