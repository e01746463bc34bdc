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

    #[test]
    fn failures_past_the_limit_are_refused_per_user_and_per_address() {
        let throttle = LoginThrottle::new(3, 5, Duration::from_secs(60));
        for _ in 0..3 {
            let attempt = throttle.begin("alice", "1.1.1.1");
            if let Ok(attempt) = attempt {
                throttle.fail(&attempt);
            }
        }
        let wait = throttle.begin("alice", "2.2.2.2").err().unwrap_or_default();
        assert!((1..=60).contains(&wait), "{wait}");
        // another user from the same address still gets in, until the address limit
        for _ in 0..2 {
            let attempt = throttle.begin("bob", "1.1.1.1");
            assert!(attempt.is_ok());
            if let Ok(attempt) = attempt {
                throttle.fail(&attempt);
            }
        }
        assert!(throttle.begin("carol", "1.1.1.1").is_err());
        let attempt = throttle.begin("carol", "3.3.3.3");
        assert!(attempt.is_ok());
        if let Ok(attempt) = attempt {
            throttle.succeed(&attempt);
        }
    }

    #[test]
    fn a_success_clears_the_user_and_an_abandoned_attempt_does_not_count() {
        let throttle = LoginThrottle::new(2, 0, Duration::from_secs(60));
        let first = throttle.begin("alice", "a");
        assert!(first.is_ok());
        let second = throttle.begin("alice", "a");
        assert!(
            throttle.begin("alice", "a").is_err(),
            "in-flight attempts count"
        );
        if let Ok(second) = second {
            throttle.abandon(&second);
        }
        let third = throttle.begin("alice", "a");
        if let Ok(third) = third {
            throttle.succeed(&third);
        }
        assert!(throttle.begin("alice", "a").is_ok());
    }

    #[test]
    fn failures_expire_after_the_window() {
        let throttle = LoginThrottle::new(1, 0, Duration::from_millis(30));
        assert!(throttle.begin("alice", "a").is_ok());
        assert!(throttle.begin("alice", "a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(throttle.begin("alice", "a").is_ok());
    }
}
