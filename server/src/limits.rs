//! Limits on how fast a client may go: how often enrolment codes may be tried, and how much a
//! device may push.
//!
//! A code has 60 bits, and every wrong one counts: per address, five wrong codes in ten
//! minutes are answered; then the address waits, one minute, then twice as long after each
//! further wrong code (up to an hour). Addresses that already sent a wrong code also share a
//! budget of sixty wrong codes a minute; an address with no wrong code is never held back by
//! others, so many addresses guessing together cannot lock everyone out of enrolment. The
//! counts live in this process: behind a load balancer with several instances the limits apply
//! per instance (docs/sync-protocol.md, "Enrolment").

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong codes an address may send per window before it has to wait.
const FREE_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(600);
const FIRST_BLOCK: Duration = Duration::from_secs(60);
const LONGEST_BLOCK: Duration = Duration::from_secs(3600);
/// Wrong codes per minute across all addresses.
const GLOBAL_FAILURES_PER_MINUTE: u32 = 60;
/// Addresses remembered at most (older entries are dropped first).
const MAX_ADDRESSES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct AddressState {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

#[derive(Debug)]
struct Global {
    minute_start: Instant,
    failures: u32,
}

/// The enrolment rate limits of one server process.
#[derive(Debug)]
pub struct EnrolLimits {
    addresses: Mutex<HashMap<IpAddr, AddressState>>,
    global: Mutex<Global>,
}

impl Default for EnrolLimits {
    fn default() -> Self {
        Self {
            addresses: Mutex::new(HashMap::new()),
            global: Mutex::new(Global { minute_start: Instant::now(), failures: 0 }),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl EnrolLimits {
    /// May `addr` try a code now? `Err(wait)` says how long it must wait first.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let known = match lock(&self.addresses).get(&addr) {
            None => false,
            Some(s) if s.blocked_until.is_some_and(|until| until > now) => {
                return Err(s.blocked_until.unwrap_or(now) - now);
            }
            Some(s) => now < s.window_start + WINDOW,
        };
        if !known {
            return Ok(());
        }
        let g = lock(&self.global);
        if now < g.minute_start + Duration::from_secs(60) && g.failures >= GLOBAL_FAILURES_PER_MINUTE {
            return Err(g.minute_start + Duration::from_secs(60) - now);
        }
        Ok(())
    }

    /// `addr` sent a wrong code.
    pub fn failed(&self, addr: IpAddr, now: Instant) {
        {
            let mut g = lock(&self.global);
            if now >= g.minute_start + Duration::from_secs(60) {
                *g = Global { minute_start: now, failures: 0 };
            }
            g.failures += 1;
        }
        let mut all = lock(&self.addresses);
        if all.len() >= MAX_ADDRESSES && !all.contains_key(&addr) {
            all.retain(|_, s| now < s.window_start + WINDOW || s.blocked_until.is_some_and(|u| u > now));
            if all.len() >= MAX_ADDRESSES {
                all.clear();
            }
        }
        let s = all.entry(addr).or_insert(AddressState { window_start: now, failures: 0, blocked_until: None });
        if now >= s.window_start + WINDOW && s.blocked_until.is_none_or(|u| u <= now) {
            *s = AddressState { window_start: now, failures: 0, blocked_until: None };
        }
        s.failures += 1;
        if s.failures >= FREE_FAILURES {
            let doublings = (s.failures - FREE_FAILURES).min(6);
            let block = (FIRST_BLOCK * 2u32.pow(doublings)).min(LONGEST_BLOCK);
            s.blocked_until = Some(now + block);
            s.window_start = now;
        }
    }

    /// `addr` enrolled: its wrong codes are forgiven.
    pub fn succeeded(&self, addr: IpAddr) {
        lock(&self.addresses).remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_longer_after_each_wrong_code_beyond_five() {
        let l = EnrolLimits::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(l.check(a, t).is_ok());
            l.failed(a, t);
        }
        assert_eq!(l.check(a, t), Err(FIRST_BLOCK));
        assert!(l.check(b, t).is_ok(), "another address is not affected");
        let later = t + FIRST_BLOCK;
        assert!(l.check(a, later).is_ok());
        l.failed(a, later);
        assert_eq!(l.check(a, later), Err(FIRST_BLOCK * 2));
        l.succeeded(a);
        assert!(l.check(a, later).is_ok());
    }

    #[test]
    fn guessing_addresses_together_get_sixty_wrong_codes_a_minute_and_lock_no_one_else_out() {
        let l = EnrolLimits::default();
        let t = Instant::now();
        for i in 0..GLOBAL_FAILURES_PER_MINUTE {
            let addr = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert!(l.check(addr, t).is_ok());
            l.failed(addr, t);
        }
        let guesser = IpAddr::from([10, 0, 0, 1]);
        assert!(l.check(guesser, t).is_err(), "an address that guessed waits for the minute");
        assert!(l.check(guesser, t + Duration::from_secs(61)).is_ok());
        let newcomer: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(l.check(newcomer, t).is_ok(), "a phone that never sent a wrong code enrols");
    }
}

/// Entities one device may push in an hour by default (a phone back after months offline has a
/// few thousand), and bytes of pushes.
pub const PUSH_ENTITIES_PER_HOUR: u64 = 20_000;
pub const PUSH_BYTES_PER_HOUR: u64 = 64 * 1024 * 1024;
const HOUR: Duration = Duration::from_secs(3600);

/// How much each device may push per hour, so that no member can fill the team's storage, and
/// every colleague's phone, faster than a person records. Per server process, like
/// [`EnrolLimits`].
#[derive(Debug, Default)]
pub struct PushLimits {
    devices: Mutex<HashMap<String, (Instant, u64, u64)>>,
}

impl PushLimits {
    /// Counts a push of `entities` entities and `bytes` bytes by `device`; `Err(wait)` if it
    /// would go over the hour's budget of `(entities, bytes)` (then nothing is counted).
    pub fn charge(
        &self,
        device: &str,
        entities: u64,
        bytes: u64,
        budget: (u64, u64),
        now: Instant,
    ) -> Result<(), Duration> {
        let mut all = lock(&self.devices);
        if all.len() >= MAX_ADDRESSES && !all.contains_key(device) {
            all.retain(|_, (start, _, _)| now < *start + HOUR);
        }
        let (start, n, b) = all.entry(device.to_string()).or_insert((now, 0, 0));
        if now >= *start + HOUR {
            (*start, *n, *b) = (now, 0, 0);
        }
        if *n + entities > budget.0 || *b + bytes > budget.1 {
            return Err(*start + HOUR - now);
        }
        *n += entities;
        *b += bytes;
        Ok(())
    }
}

#[cfg(test)]
mod push_tests {
    use super::*;

    #[test]
    fn a_device_pushes_at_most_its_hours_budget() {
        const B: (u64, u64) = (PUSH_ENTITIES_PER_HOUR, PUSH_BYTES_PER_HOUR);
        let l = PushLimits::default();
        let t = Instant::now();
        for _ in 0..10 {
            assert!(l.charge("a", 2_000, 1_000, B, t).is_ok());
        }
        assert!(l.charge("a", 1, 1, B, t).is_err());
        assert!(l.charge("b", 2_000, 1_000, B, t).is_ok(), "another device has its own budget");
        assert!(l.charge("a", 1, PUSH_BYTES_PER_HOUR + 1, B, t + HOUR).is_err(), "bytes count too");
        assert!(l.charge("a", 2_000, 1_000, B, t + HOUR).is_ok(), "a new hour");
    }
}
