//! Time, injected: the engine never reads the system clock directly.
//!
//! [`SystemClock`] is the real one. [`TestClock`] only moves when a test
//! advances it, so retries, timers and leases are tested without sleeping.
//! Wall-clock limits of a plugin invocation are not the engine's: the
//! executor enforces them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A future that completes at a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> i64;
    /// Completes once [`now`](Clock::now) has reached `deadline`.
    fn sleep_until(&self, deadline: i64) -> Sleep;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(millis)
            .unwrap_or(0)
    }

    fn sleep_until(&self, deadline: i64) -> Sleep {
        let wait = deadline.saturating_sub(self.now()).max(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(
            wait.unsigned_abs(),
        )))
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<tokio::sync::watch::Sender<i64>>,
}

impl TestClock {
    /// A clock standing at `start` (milliseconds since the epoch).
    pub fn new(start: i64) -> TestClock {
        TestClock {
            now: Arc::new(tokio::sync::watch::Sender::new(start)),
        }
    }

    /// Moves time forward, waking every sleeper whose deadline passed.
    pub fn advance(&self, by: Duration) {
        let by = millis(by);
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: i64) -> Sleep {
        let mut changes = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, never
            // wake (time has stopped).
            if changes.wait_for(|now| *now >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// A duration in whole milliseconds, saturating (for adding to epoch
/// milliseconds with `saturating_add`).
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Formats epoch milliseconds as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0).unsigned_abs());
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_clock_wakes_sleepers_when_advanced() {
        let clock = TestClock::new(1_000);
        let sleeper = tokio::spawn(clock.sleep_until(61_000));
        clock.advance(Duration::from_secs(30));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(30));
        sleeper.await.expect("the sleeper finishes");
        assert_eq!(clock.now(), 61_000);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
