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

    /// Starts a login attempt: `Err(seconds)` when either key has used up its
    /// failures. For the username the attempt counts as a failure from now on
    /// — so parallel guesses at one account cannot all slip past the check —
    /// until it is resolved with [`LoginThrottle::succeed`] or
    /// [`LoginThrottle::abandon`]. The address counts only failures that
    /// happened ([`LoginThrottle::fail`]): many clients may share one address
    /// behind a proxy, and their logins in flight are not failures.
    pub fn begin(&self, username: &str, address: &str) -> Result<Attempt, u64> {
        let now = Instant::now();
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
        let keys = Self::keys(username, address);
        let mut wait = None::<Duration>;
        for key in &keys {
            let limit = self.limit_of(key);
            let Some(times) = failures.get_mut(key) else {
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
        if let Some(wait) = wait {
            return Err(wait.as_secs().max(1));
        }
        self.record(&mut failures, &keys[0], now);
        Ok(Attempt { keys, at: now })
    }

    fn record(&self, failures: &mut HashMap<String, VecDeque<Instant>>, key: &str, at: Instant) {
        let limit = self.limit_of(key).max(1) as usize;
        let times = failures.entry(key.to_owned()).or_default();
        times.push_back(at);
        while times.len() > limit {
            times.pop_front();
        }
    }

    /// The password was wrong: the address counts it too.
    pub fn fail(&self, attempt: &Attempt) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        self.record(&mut failures, &attempt.keys[1], Instant::now());
    }

    /// The password was right: clears the user's failures.
    pub fn succeed(&self, attempt: &Attempt) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&attempt.keys[0]);
    }

    /// The attempt was not decided (the database failed): it does not count.
    pub fn abandon(&self, attempt: &Attempt) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::forget(&mut failures, &attempt.keys[0], attempt.at);
    }

    fn forget(failures: &mut HashMap<String, VecDeque<Instant>>, key: &str, at: Instant) {
        if let Some(times) = failures.get_mut(key)
            && let Some(position) = times.iter().position(|t| *t == at)
        {
            times.remove(position);
        }
    }
}

/// A login attempt in progress (counted as a failure until resolved).
#[derive(Debug)]
pub struct Attempt {
    keys: [String; 2],
    at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Begins an attempt that must be let through.
    #[track_caller]
    fn admitted(throttle: &LoginThrottle, username: &str, address: &str) -> Attempt {
        // a `match`, not a closure, so that a failure names the caller's line
        match throttle.begin(username, address) {
            Ok(attempt) => attempt,
            Err(wait) => panic!("{username} from {address} refused for {wait}s"),
        }
    }

    /// Begins an attempt that must be refused; returns the seconds to wait.
    #[track_caller]
    fn refused(throttle: &LoginThrottle, username: &str, address: &str) -> u64 {
        match throttle.begin(username, address) {
            Ok(attempt) => panic!("{username} from {address} let through: {attempt:?}"),
            Err(wait) => wait,
        }
    }

    /// A wrong password: begun, let through, failed.
    #[track_caller]
    fn failed_login(throttle: &LoginThrottle, username: &str, address: &str) {
        let attempt = admitted(throttle, username, address);
        throttle.fail(&attempt);
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
        let attempt = admitted(&throttle, "carol", "3.3.3.3");
        throttle.succeed(&attempt);
    }

    #[test]
    fn a_success_clears_the_user_and_an_abandoned_attempt_does_not_count() {
        let throttle = LoginThrottle::new(3, 0, Duration::from_secs(60));
        failed_login(&throttle, "alice", "a");
        failed_login(&throttle, "alice", "a");
        // two failures and one attempt in flight use up the limit of 3
        let in_flight = admitted(&throttle, "alice", "a");
        refused(&throttle, "alice", "a");
        // abandoned, the attempt in flight no longer counts: two failures remain
        throttle.abandon(&in_flight);
        let right_password = admitted(&throttle, "alice", "a");
        refused(&throttle, "alice", "a");
        // a success clears both failures: three new ones are let through again
        throttle.succeed(&right_password);
        for _ in 0..3 {
            failed_login(&throttle, "alice", "a");
        }
        refused(&throttle, "alice", "a");
    }

    #[test]
    fn failures_expire_after_the_window() {
        let window = Duration::from_millis(300);
        let throttle = LoginThrottle::new(1, 0, window);
        failed_login(&throttle, "alice", "a");
        assert_eq!(refused(&throttle, "alice", "a"), 1, "waits round up to 1s");
        std::thread::sleep(window + Duration::from_millis(50));
        let attempt = admitted(&throttle, "alice", "a");
        throttle.succeed(&attempt);
    }
}
