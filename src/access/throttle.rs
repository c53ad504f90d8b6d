//! Failed-login accounting with exponential back-off, in memory and bounded.
//!
//! Every attempt is counted *before* its password is checked
//! ([`Throttle::begin`] and the [`Attempt`] it returns, in one lock): attempts
//! in flight count as failures until they succeed, so parallel guesses cannot
//! all slip past the check. Three keys are counted: the client address, the
//! account from that address, and the account from anywhere. Each allows a few
//! failures, then makes the next attempt wait twice as long after each further
//! failure (up to a cap); the account-wide key allows many more failures, so
//! an attacker's failures from one address delay the real user on another only
//! after far more guesses, and never lock them out for longer than the cap. A
//! success clears the account's counts. User names are cut to
//! [`MAX_KEY_BYTES`] before use, and each table holds at most
//! [`ThrottleConfig::max_entries`] keys (the oldest is evicted). Knows nothing
//! of HTTP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest part of a user name used as a key (longer names are no user's).
pub const MAX_KEY_BYTES: usize = 64;

/// How failures turn into waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures per address (and per account from one address) before back-off.
    pub free_failures: u32,
    /// Failures per account from all addresses before back-off.
    pub free_account_failures: u32,
    /// The first wait; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// Keys kept per table.
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 5,
            free_account_failures: 50,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
            max_entries: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    AccountAt(String, IpAddr),
    Account(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last: Instant,
    until: Instant,
}

/// Why an attempt must wait, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Wait at least this long.
    pub retry_after: Duration,
    /// Which key is backing off: "address", "account from address" or "account".
    pub scope: &'static str,
}

/// What a finished failure did, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// Which key started or lengthened its back-off.
    pub scope: &'static str,
    /// Its failures within the window.
    pub failures: u32,
    /// The wait it now imposes.
    pub delay: Duration,
}

/// The failure tables; cheap to clone and share.
#[derive(Clone, Debug, Default)]
pub struct Throttle {
    config: ThrottleConfig,
    table: Arc<Mutex<HashMap<Key, Entry>>>,
}

/// One login attempt admitted by [`Throttle::begin`]; report its outcome with
/// [`Attempt::succeeded`] or [`Attempt::failed`]. Dropped without either, it
/// counts as a failure.
#[derive(Debug)]
pub struct Attempt {
    throttle: Throttle,
    keys: Vec<Key>,
    done: bool,
}

/// `name` cut to at most [`MAX_KEY_BYTES`] on a character boundary, lowercased.
pub fn account_key(name: &str) -> String {
    let mut end = name.len().min(MAX_KEY_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_lowercase()
}

impl Throttle {
    /// Empty tables with `config`.
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            table: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        match self.table.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn free(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.config.free_account_failures,
            _ => self.config.free_failures,
        }
    }

    fn delay(&self, over: u32) -> Duration {
        let factor = 1u32.checked_shl(over.min(30)).unwrap_or(u32::MAX);
        self.config
            .base_delay
            .saturating_mul(factor)
            .min(self.config.max_delay)
    }

    /// Admits an attempt for `account` from `addr`, or says how long to wait.
    /// The attempt counts as a failure from now until it succeeds.
    pub fn begin(&self, account: &str, addr: IpAddr) -> Result<Attempt, Backoff> {
        let name = account_key(account);
        let keys = vec![
            Key::Addr(addr),
            Key::AccountAt(name.clone(), addr),
            Key::Account(name),
        ];
        let now = Instant::now();
        let mut table = self.lock();
        for key in &keys {
            let Some(e) = table.get(key) else { continue };
            if now.duration_since(e.last) > self.config.window && e.in_flight == 0 {
                table.remove(key);
                continue;
            }
            if e.until > now {
                return Err(Backoff {
                    retry_after: e.until - now,
                    scope: scope(key),
                });
            }
            // Attempts still running count as failures already.
            let pending = e.failures.saturating_add(e.in_flight);
            if pending >= self.free(key) && e.in_flight > 0 {
                return Err(Backoff {
                    retry_after: self.config.base_delay,
                    scope: scope(key),
                });
            }
        }
        for key in &keys {
            if !table.contains_key(key) && table.len() >= self.config.max_entries {
                evict(&mut table, now, self.config.window);
            }
            let e = table.entry(key.clone()).or_insert(Entry {
                failures: 0,
                in_flight: 0,
                last: now,
                until: now,
            });
            e.in_flight = e.in_flight.saturating_add(1);
            e.last = now;
        }
        Ok(Attempt {
            throttle: self.clone(),
            keys,
            done: false,
        })
    }

    /// How many keys are tracked (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn finish(&self, keys: &[Key], failed: bool) -> Vec<Escalation> {
        let now = Instant::now();
        let mut table = self.lock();
        let mut escalations = Vec::new();
        for key in keys {
            let free = self.free(key);
            let Some(e) = table.get_mut(key) else {
                continue;
            };
            e.in_flight = e.in_flight.saturating_sub(1);
            e.last = now;
            if !failed {
                continue;
            }
            e.failures = e.failures.saturating_add(1);
            if e.failures >= free {
                let delay = self.delay(e.failures - free);
                e.until = now + delay;
                escalations.push(Escalation {
                    scope: scope(key),
                    failures: e.failures,
                    delay,
                });
            }
        }
        if !failed {
            // The right password: the account's own counts start again (the
            // address keeps its count: it may be guessing other accounts).
            for key in keys {
                if matches!(key, Key::AccountAt(..) | Key::Account(_)) {
                    if let Some(e) = table.get(key) {
                        if e.in_flight == 0 {
                            table.remove(key);
                        }
                    }
                }
            }
        }
        escalations
    }
}

fn scope(key: &Key) -> &'static str {
    match key {
        Key::Addr(_) => "address",
        Key::AccountAt(..) => "account from address",
        Key::Account(_) => "account",
    }
}

/// Makes room: drops what the window forgot, else the least recently used key.
fn evict(table: &mut HashMap<Key, Entry>, now: Instant, window: Duration) {
    let before = table.len();
    table.retain(|_, e| e.in_flight > 0 || now.duration_since(e.last) <= window);
    if table.len() < before {
        return;
    }
    let oldest = table
        .iter()
        .filter(|(_, e)| e.in_flight == 0)
        .min_by_key(|(_, e)| e.last)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        table.remove(&k);
    }
}

impl Attempt {
    /// The password was right: clears the account's failures.
    pub fn succeeded(mut self) {
        self.done = true;
        self.throttle.finish(&self.keys, false);
    }

    /// The password was never checked (the server was too busy): the attempt
    /// counts neither way.
    pub fn cancel(mut self) {
        self.done = true;
        let mut table = self.throttle.lock();
        for key in &self.keys {
            if let Some(e) = table.get_mut(key) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
        }
    }

    /// The password was wrong: returns the back-offs this failure started or
    /// lengthened (for the audit log).
    pub fn failed(mut self) -> Vec<Escalation> {
        self.done = true;
        self.throttle.finish(&self.keys, true)
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            self.throttle.finish(&self.keys, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn quick() -> ThrottleConfig {
        ThrottleConfig {
            free_failures: 3,
            free_account_failures: 10,
            base_delay: Duration::from_secs(60),
            ..ThrottleConfig::default()
        }
    }

    #[test]
    fn failures_back_off_exponentially_per_address() {
        let t = Throttle::new(quick());
        let attacker = ip("192.0.2.1");
        for _ in 0..3 {
            t.begin("root", attacker).expect("free failures").failed();
        }
        let wait = t.begin("root", attacker).expect_err("backing off");
        assert!(wait.retry_after > Duration::from_secs(50), "{wait:?}");
        // Another account from the same address waits too.
        assert!(t.begin("alice", attacker).is_err());
    }

    #[test]
    fn attempts_in_flight_count_so_parallel_guesses_are_refused() {
        let t = Throttle::new(quick());
        let a = ip("192.0.2.1");
        let held: Vec<Attempt> = (0..3).map(|_| t.begin("root", a).expect("free")).collect();
        assert!(t.begin("root", a).is_err(), "a 4th guess in flight");
        drop(held); // dropped unfinished: failures
        assert!(t.begin("root", a).is_err());
    }

    #[test]
    fn an_attackers_failures_do_not_stop_the_owner_elsewhere() {
        let t = Throttle::new(quick());
        for _ in 0..6 {
            if let Ok(a) = t.begin("root", ip("192.0.2.1")) {
                a.failed();
            }
        }
        let owner = t.begin("root", ip("198.51.100.7")).expect("owner admitted");
        owner.succeeded();
        // Only after many more failures (from many addresses) does the account itself wait.
        for i in 0..10 {
            t.begin("root", ip(&format!("203.0.113.{i}")))
                .expect("each address is new")
                .failed();
        }
        let e = t
            .begin("root", ip("198.51.100.7"))
            .expect_err("account backs off");
        assert_eq!(e.scope, "account");
        assert!(e.retry_after <= ThrottleConfig::default().max_delay);
    }

    #[test]
    fn success_clears_the_account_and_keys_are_bounded() {
        let t = Throttle::new(ThrottleConfig {
            max_entries: 50,
            ..quick()
        });
        let a = ip("192.0.2.9");
        t.begin("bob", a).expect("ok").failed();
        t.begin("bob", a).expect("ok").succeeded();
        for _ in 0..2 {
            t.begin("bob", a).expect("counts started again").failed();
        }
        let long = "x".repeat(2_000_000);
        let t2 = Throttle::new(ThrottleConfig {
            max_entries: 50,
            ..quick()
        });
        for i in 0..500 {
            let addr = ip(&format!("10.0.{}.{}", i / 200, i % 200));
            t2.begin(&format!("{i}{long}"), addr).expect("new").failed();
        }
        assert!(t2.len() <= 50, "{}", t2.len());
        assert_eq!(account_key(&long).len(), MAX_KEY_BYTES);
        assert_eq!(account_key("é".repeat(40).as_str()).len(), 64);
    }
}
