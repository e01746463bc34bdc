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

    /// `Err(seconds)` when either key has used up its failures: retry after that long.
    pub fn check(&self, username: &str, address: &str) -> Result<(), u64> {
        let now = Instant::now();
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

    /// Records a failed attempt.
    pub fn fail(&self, username: &str, address: &str) {
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
        for key in Self::keys(username, address) {
            let limit = self.limit_of(&key).max(1) as usize;
            let times = failures.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
    }

    /// A success clears the user's failures (not the address's).
    pub fn succeed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&format!("user:{username}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_are_refused_per_user_and_per_address() {
        let throttle = LoginThrottle::new(3, 5, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.check("alice", "1.1.1.1").is_ok());
            throttle.fail("alice", "1.1.1.1");
        }
        let wait = throttle.check("alice", "2.2.2.2").err().unwrap_or_default();
        assert!((1..=60).contains(&wait), "{wait}");
        // another user from the same address still gets in, until the address limit
        assert!(throttle.check("bob", "1.1.1.1").is_ok());
        throttle.fail("bob", "1.1.1.1");
        throttle.fail("bob", "1.1.1.1");
        assert!(throttle.check("carol", "1.1.1.1").is_err());
        assert!(throttle.check("carol", "3.3.3.3").is_ok());
        throttle.succeed("alice");
        assert!(throttle.check("alice", "4.4.4.4").is_ok());
    }

    #[test]
    fn failures_expire_after_the_window() {
        let throttle = LoginThrottle::new(1, 0, Duration::from_millis(30));
        throttle.fail("alice", "a");
        assert!(throttle.check("alice", "a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(throttle.check("alice", "a").is_ok());
    }
}
