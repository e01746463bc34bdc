//! Throttling of failed logins per username and per client address.
//!
//! Only failures are counted and only the keys that failed are slowed: a
//! correct password for another user is never delayed. The check runs before
//! the password is verified, so a throttled attacker costs no hashing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts of recent failures.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user: u32,
    per_address: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// A throttle allowing `per_user` and `per_address` failures per `window` (0: unlimited).
    pub fn new(per_user: u32, per_address: u32, window: Duration) -> Self {
        LoginThrottle {
            per_user,
            per_address,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, address: &str) -> [String; 2] {
        [format!("user:{username}"), format!("addr:{address}")]
    }

    fn limit_of(&self, key: &str) -> u32 {
        if key.starts_with("user:") {
            self.per_user
        } else {
            self.per_address
        }
    }

    /// Whether a login for `username` from `address` may be checked now:
    /// `Err(seconds)` when either key has used up its failures. Only failures
    /// count, so correct logins are never refused for being many or
    /// parallel; the password check asks again right before each argon2
    /// verification (a few run at a time), so parallel guesses queued behind
    /// those meet the failures of the ones before them.
    pub fn check(&self, username: &str, address: &str) -> Result<(), u64> {
        self.check_at(username, address, Instant::now())
    }

    /// [`LoginThrottle::check`] at the instant `now`.
    fn check_at(&self, username: &str, address: &str, now: Instant) -> Result<(), u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None::<Duration>;
        for key in Self::keys(username, address) {
            let limit = self.limit_of(&key);
            let Some(times) = failures.get_mut(&key) else {
                continue;
            };
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.window)
            {
                times.pop_front();
            }
            if limit > 0
                && times.len() >= limit as usize
                && let Some(oldest) = times.front()
            {
                let until = self.window.saturating_sub(now.duration_since(*oldest));
                wait = Some(wait.map_or(until, |w| w.max(until)));
            }
        }
        match wait {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    fn record(&self, failures: &mut HashMap<String, VecDeque<Instant>>, key: &str, at: Instant) {
        let limit = self.limit_of(key).max(1) as usize;
        let times = failures.entry(key.to_owned()).or_default();
        times.push_back(at);
        while times.len() > limit {
            times.pop_front();
        }
    }

    /// A wrong password (or a disabled user's): the user and the address
    /// count it.
    pub fn fail(&self, username: &str, address: &str) {
        self.fail_at(username, address, Instant::now());
    }

    /// [`LoginThrottle::fail`] at the instant `now`.
    fn fail_at(&self, username: &str, address: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bound the memory an attacker can make us hold.
        if failures.len() > 100_000 {
            let window = self.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in Self::keys(username, address) {
            self.record(&mut failures, &key, now);
        }
    }

    /// The password was right: clears the user's failures.
    pub fn succeed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&format!("user:{username}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check that must let the login through.
    #[track_caller]
    fn admitted(throttle: &LoginThrottle, username: &str, address: &str) {
        // a `match`, not a closure, so that a failure names the caller's line
        match throttle.check(username, address) {
            Ok(()) => {}
            Err(wait) => panic!("{username} from {address} refused for {wait}s"),
        }
    }

    /// A check that must refuse the login; returns the seconds to wait.
    #[track_caller]
    fn refused(throttle: &LoginThrottle, username: &str, address: &str) -> u64 {
        match throttle.check(username, address) {
            Ok(()) => panic!("{username} from {address} let through"),
            Err(wait) => wait,
        }
    }

    /// A wrong password: checked, let through, failed.
    #[track_caller]
    fn failed_login(throttle: &LoginThrottle, username: &str, address: &str) {
        admitted(throttle, username, address);
        throttle.fail(username, address);
    }

    #[test]
    fn failures_past_the_limit_are_refused_per_user_and_per_address() {
        let throttle = LoginThrottle::new(3, 5, Duration::from_secs(60));
        // the user's limit: 3 failures let through, the 4th attempt refused,
        // from any address
        for _ in 0..3 {
            failed_login(&throttle, "alice", "1.1.1.1");
        }
        let wait = refused(&throttle, "alice", "2.2.2.2");
        assert!((1..=60).contains(&wait), "{wait}");
        // another user from the same address gets in until the address's limit:
        // its 4th and 5th failures are let through, then it is refused for anyone
        for _ in 0..2 {
            failed_login(&throttle, "bob", "1.1.1.1");
        }
        let wait = refused(&throttle, "carol", "1.1.1.1");
        assert!((1..=60).contains(&wait), "{wait}");
        // carol's own count is untouched by the address's refusals: with two
        // failures and three refusals at 1.1.1.1 she still gets in elsewhere
        failed_login(&throttle, "carol", "3.3.3.3");
        failed_login(&throttle, "carol", "3.3.3.3");
        for _ in 0..3 {
            refused(&throttle, "carol", "1.1.1.1");
        }
        admitted(&throttle, "carol", "3.3.3.3");
        throttle.succeed("carol");
    }

    #[test]
    fn checks_without_failures_never_refuse_and_a_success_clears_the_user() {
        let throttle = LoginThrottle::new(3, 0, Duration::from_secs(60));
        // any number of checks in flight: only failures count
        for _ in 0..50 {
            admitted(&throttle, "alice", "a");
        }
        failed_login(&throttle, "alice", "a");
        failed_login(&throttle, "alice", "a");
        admitted(&throttle, "alice", "a");
        // a success clears both failures: three new ones are let through again
        throttle.succeed("alice");
        for _ in 0..3 {
            failed_login(&throttle, "alice", "a");
        }
        refused(&throttle, "alice", "a");
    }

    #[test]
    fn failures_expire_after_the_window() {
        // instants given, not waited for
        let window = Duration::from_secs(300);
        let throttle = LoginThrottle::new(1, 0, window);
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(throttle.check_at("alice", "a", at(0)), Ok(()));
        throttle.fail_at("alice", "a", at(0));
        assert_eq!(throttle.check_at("alice", "a", at(0)), Err(300));
        assert_eq!(throttle.check_at("alice", "a", at(299)), Err(1));
        // the wait rounds up to a whole second, never 0
        let almost = start + window - Duration::from_millis(1);
        assert_eq!(throttle.check_at("alice", "a", almost), Err(1));
        assert_eq!(throttle.check_at("alice", "a", at(300)), Ok(()));
        // a failure counts from its own instant
        throttle.fail_at("alice", "a", at(400));
        assert_eq!(throttle.check_at("alice", "a", at(699)), Err(1));
        assert_eq!(throttle.check_at("alice", "a", at(700)), Ok(()));
    }
}
