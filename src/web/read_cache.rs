//! Answers of the hottest reads, kept while nothing is written.
//!
//! Every write to the registry appends to the event chain in its own
//! transaction (the write transaction, [`crate::db::tx`], refuses to commit
//! one without an event), so the chain head's id is a version number of the
//! whole registry. The statement that checks a caller reads that id too
//! ([`crate::domain::callers::authorize`]); an answer computed after a check
//! that saw id `h` is stored under `h` and served only to requests whose own check sees
//! `h`. Any committed write moves the head, and the first request that sees
//! the new id empties the cache. So a cached answer is never older than the
//! database was when the request was checked, across any number of replicas
//! sharing the database: a client reads its own writes, and each replica
//! still makes one indexed query per request (the caller check it needs anyway).
//!
//! Only successful answers to GETs whose body depends on nothing but the
//! request's path and query (never on who asks) are cached.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web::Bytes;

/// Most answers kept at once.
const MAX_ENTRIES: usize = 4096;
/// Most bytes of answers kept at once.
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Larger answers are not kept.
const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// The cache of one process.
#[derive(Debug)]
pub struct ReadCache {
    enabled: bool,
    inner: Mutex<Generation>,
}

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache::new(true)
    }
}

/// The answers computed at one event head.
#[derive(Debug, Default)]
struct Generation {
    head: i64,
    bytes: usize,
    answers: HashMap<String, Bytes>,
}

impl ReadCache {
    /// A cache; a disabled one keeps nothing (`server.read_cache = false`).
    pub fn new(enabled: bool) -> Self {
        ReadCache {
            enabled,
            inner: Mutex::default(),
        }
    }

    /// The answer to `key` computed at `head`, if any.
    pub fn get(&self, head: i64, key: &str) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        let generation = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if generation.head != head {
            return None;
        }
        generation.answers.get(key).cloned()
    }

    /// Keeps the answer to `key` computed after a check that saw `head`. Any
    /// other head than the cache's starts afresh: a newer one because data
    /// changed, an older one because the database went back (a restored
    /// backup), whose old answers must not come back when its ids catch up.
    /// Whether the answer was kept (not when the cache is off or full, or
    /// the answer too large).
    pub fn put(&self, head: i64, key: String, answer: Bytes) -> bool {
        if !self.enabled {
            return false;
        }
        let mut generation = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if head != generation.head {
            *generation = Generation {
                head,
                ..Generation::default()
            };
        }
        let size = key.len() + answer.len();
        if answer.len() > MAX_ENTRY_BYTES
            || generation.answers.len() >= MAX_ENTRIES
            || generation.bytes + size > MAX_BYTES
        {
            return false;
        }
        let key_len = key.len();
        if let Some(previous) = generation.answers.insert(key, answer) {
            generation.bytes -= key_len + previous.len();
        }
        generation.bytes += size;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_live_only_as_long_as_their_head() {
        let cache = ReadCache::default();
        cache.put(5, "/a".to_owned(), Bytes::from_static(b"one"));
        assert_eq!(cache.get(5, "/a").as_deref(), Some(&b"one"[..]));
        assert_eq!(cache.get(5, "/b"), None);
        // a request that saw an older or newer head never gets it
        assert_eq!(cache.get(4, "/a"), None);
        assert_eq!(cache.get(6, "/a"), None);
        // a newer head empties the cache
        cache.put(6, "/b".to_owned(), Bytes::from_static(b"new"));
        assert_eq!(cache.get(6, "/a"), None);
        assert_eq!(cache.get(6, "/b").as_deref(), Some(&b"new"[..]));
        // so does an older one (a restored backup): its answers never
        // return once the ids catch up
        cache.put(4, "/c".to_owned(), Bytes::from_static(b"restored"));
        assert_eq!(cache.get(6, "/b"), None);
        assert_eq!(cache.get(4, "/c").as_deref(), Some(&b"restored"[..]));
    }

    #[test]
    fn large_answers_and_overflow_are_not_kept() {
        let cache = ReadCache::default();
        cache.put(
            1,
            "/big".to_owned(),
            Bytes::from(vec![0; MAX_ENTRY_BYTES + 1]),
        );
        assert_eq!(cache.get(1, "/big"), None);
        for i in 0..MAX_ENTRIES + 10 {
            cache.put(1, format!("/{i}"), Bytes::from_static(b"x"));
        }
        assert!(cache.get(1, "/0").is_some());
        assert_eq!(cache.get(1, &format!("/{}", MAX_ENTRIES + 5)), None);
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = ReadCache::new(false);
        cache.put(1, "/a".to_owned(), Bytes::from_static(b"one"));
        assert_eq!(cache.get(1, "/a"), None);
    }
}
