//! Wrong tokens, counted per client address and in all. A bearer token or
//! a dashboard login that does not match the API token counts against the
//! address it came from. After [`MAX_WRONG`] within [`WINDOW_MS`] of the
//! first, that address's attempts with a token are answered 429 with
//! `Retry-After`, unchecked, right token or not, until the window ends: a
//! guesser gets [`MAX_WRONG`] tries a window, however many requests it
//! sends at once.
//!
//! Many addresses (a guesser rotating through 127.x.y.z, say) are bounded
//! in all: past [`MAX_WRONG_ALL`] wrong tokens within a window, a token
//! from an address that never presented the right one is held too, until
//! that window ends. An address that presented the right token and has no
//! wrong one of its own is never held: the operator's own clients keep
//! working while a flood is held back. At most [`MAX_ADDRESSES`] addresses
//! are counted on their own; past that, an address not yet counted is
//! counted in all only, and is not held for guesses it did not make.
//!
//! What it does not touch: sessions already issued (their cookie is not a
//! guess of the token) and requests without a token. A right token clears
//! its address's count. Behind a reverse proxy every client has the
//! proxy's address, so one client's guesses hold up the others' tokens for
//! the window: the price of not trusting a forwarded-for header, which any
//! client can write.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::Extension;
use axum::extract::ConnectInfo;
use axum::http::header;
use axum::response::Response;

/// Wrong tokens an address may send within a window.
pub const MAX_WRONG: u32 = 10;
/// How long an address's count lasts from its first wrong token.
pub const WINDOW_MS: u64 = 60_000;
/// Most addresses counted on their own, and most remembered for a right
/// token.
const MAX_ADDRESSES: usize = 10_000;
/// Wrong tokens from all addresses within a window before tokens from
/// addresses that never presented the right one are held.
pub const MAX_WRONG_ALL: u32 = 1_000;
/// The address of a request that came without one (not over TCP).
pub const SHARED: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// A request's client, as `deckhand serve` records it (an extractor).
pub type Client = Extension<ConnectInfo<SocketAddr>>;

/// The address a request came from ([`SHARED`] when it has none).
pub fn address(from: Option<Client>) -> IpAddr {
    from.map_or(SHARED, |Extension(ConnectInfo(a))| a.ip())
}

/// An address held for its wrong tokens, and for how long: what the API and
/// the login form both answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub wait_ms: u64,
    /// Held for the guesses of every address ([`MAX_WRONG_ALL`]), not its own.
    pub flood: bool,
}

impl Held {
    /// Whole seconds until the address may try again, at least 1: the
    /// `Retry-After` value.
    pub fn secs(self) -> u64 {
        self.wait_ms.div_ceil(1000).max(1)
    }

    /// What the client is told, naming the limit and the wait.
    pub fn message(self) -> String {
        let limit = if self.flood {
            format!("{MAX_WRONG_ALL} wrong tokens from all addresses")
        } else {
            format!("{MAX_WRONG} wrong tokens from this address")
        };
        format!(
            "{limit} within {} s: try again in {} s",
            WINDOW_MS / 1000,
            self.secs()
        )
    }

    /// `response` (a 429) with its `Retry-After` header.
    pub fn answer(self, mut response: Response) -> Response {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, self.secs().into());
        response
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    wrong: u32,
    since_ms: u64,
}

impl Count {
    fn live(&self, now_ms: u64) -> bool {
        now_ms < self.since_ms.saturating_add(WINDOW_MS)
    }

    /// How long a held count holds from `now_ms`.
    fn held(&self, now_ms: u64, flood: bool) -> Held {
        Held {
            wait_ms: self
                .since_ms
                .saturating_add(WINDOW_MS)
                .saturating_sub(now_ms),
            flood,
        }
    }
}

/// The counts; see the module's documentation.
#[derive(Default)]
pub struct Guesses {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Wrong tokens per address.
    counts: HashMap<IpAddr, Count>,
    /// Wrong tokens from every address.
    all: Option<Count>,
    /// Addresses that presented the right token (when they last did).
    trusted: HashMap<IpAddr, u64>,
}

impl Guesses {
    pub fn new() -> Guesses {
        Guesses::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Counts are plain numbers: a panic elsewhere leaves no half state
        // behind.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `addr` may present a token at `now_ms`; if not, how long it
    /// is held.
    pub fn check(&self, addr: IpAddr, now_ms: u64) -> Result<(), Held> {
        let inner = self.inner();
        let own = inner.counts.get(&addr);
        if let Some(c) = own.filter(|c| c.wrong >= MAX_WRONG && c.live(now_ms)) {
            return Err(c.held(now_ms, false));
        }
        let flood = inner
            .all
            .as_ref()
            .filter(|c| c.wrong >= MAX_WRONG_ALL && c.live(now_ms));
        match flood {
            Some(c) if addr == SHARED || !inner.trusted.contains_key(&addr) => {
                Err(c.held(now_ms, true))
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong token from `addr`.
    pub fn wrong(&self, addr: IpAddr, now_ms: u64) {
        let mut inner = self.inner();
        bump(&mut inner.all, now_ms);
        // A wrong token ends an address's trust.
        inner.trusted.remove(&addr);
        let counts = &mut inner.counts;
        if counts.len() >= MAX_ADDRESSES && !counts.contains_key(&addr) {
            counts.retain(|_, c| c.live(now_ms));
            if counts.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let mut count = counts.get(&addr).copied();
        bump(&mut count, now_ms);
        if let Some(count) = count {
            counts.insert(addr, count);
        }
    }

    /// A right token from `addr`: its count starts again, and it is trusted
    /// through a flood of other addresses' guesses.
    pub fn right(&self, addr: IpAddr, now_ms: u64) {
        if addr == SHARED {
            return;
        }
        let mut inner = self.inner();
        inner.counts.remove(&addr);
        let trusted = &mut inner.trusted;
        if trusted.len() >= MAX_ADDRESSES && !trusted.contains_key(&addr) {
            // The least recently seen half makes room.
            let mut seen: Vec<u64> = trusted.values().copied().collect();
            seen.sort_unstable();
            let cut = seen[seen.len() / 2];
            trusted.retain(|_, at| *at > cut);
        }
        trusted.insert(addr, now_ms);
    }
}

/// One more wrong token in `count`, a new window if its own has ended.
fn bump(count: &mut Option<Count>, now_ms: u64) {
    let c = count.get_or_insert(Count {
        wrong: 0,
        since_ms: now_ms,
    });
    if !c.live(now_ms) {
        *c = Count {
            wrong: 0,
            since_ms: now_ms,
        };
    }
    c.wrong = c.wrong.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn an_address_is_held_after_max_wrong_until_its_window_ends() {
        let g = Guesses::new();
        for i in 0..MAX_WRONG {
            assert_eq!(g.check(ip(1), 1_000 + u64::from(i)), Ok(()));
            g.wrong(ip(1), 1_000 + u64::from(i));
        }
        let held = g.check(ip(1), 2_000).unwrap_err();
        assert_eq!(held.wait_ms, WINDOW_MS - 1_000);
        assert_eq!(held.secs(), 59);
        assert_eq!(
            Held {
                wait_ms: 1,
                flood: false
            }
            .secs(),
            1,
            "a wait under a second is 1 s"
        );
        // Another address is not held.
        assert_eq!(g.check(ip(2), 2_000), Ok(()));
        // The window ends: a new count starts with the next wrong token.
        assert_eq!(g.check(ip(1), 1_000 + WINDOW_MS), Ok(()));
        g.wrong(ip(1), 1_000 + WINDOW_MS);
        assert_eq!(g.check(ip(1), 1_001 + WINDOW_MS), Ok(()));
        // A right token clears the count.
        for _ in 0..MAX_WRONG {
            g.wrong(ip(3), 5_000);
        }
        assert!(g.check(ip(3), 5_000).is_err());
        g.right(ip(3), 5_000);
        assert_eq!(g.check(ip(3), 5_000), Ok(()));
    }

    #[test]
    fn a_flood_from_many_addresses_is_bounded_and_locks_out_no_right_token() {
        let g = Guesses::new();
        g.right(ip(999_999), 0);
        // Each address guesses a few times: never held on its own.
        for n in 0..MAX_WRONG_ALL {
            assert_eq!(g.check(ip(n), 5), Ok(()));
            g.wrong(ip(n), 5);
        }
        // The flood is held in all: a new address waits out the window...
        let held = g.check(ip(MAX_WRONG_ALL + 1), 10).unwrap_err();
        assert_eq!(held.wait_ms, WINDOW_MS - 5);
        // ...but an address that presented the right token does not.
        assert_eq!(g.check(ip(999_999), 10), Ok(()));
        // The window ends: new addresses are checked again.
        assert_eq!(g.check(ip(MAX_WRONG_ALL + 1), 5 + WINDOW_MS), Ok(()));
    }

    #[test]
    fn past_max_addresses_new_ones_are_counted_in_all_only() {
        let g = Guesses::new();
        for n in 0..MAX_ADDRESSES as u32 {
            g.wrong(ip(n), 0);
        }
        // Full, none expired: a new address guessing is not held for the
        // others' guesses, nor for its own (it is bounded in all).
        let a = ip(MAX_ADDRESSES as u32);
        g.right(a, 10);
        for _ in 0..MAX_WRONG {
            g.wrong(a, 10);
        }
        assert_eq!(g.inner().counts.len(), MAX_ADDRESSES);
        // After the window, the old counts are dropped on the next wrong.
        g.wrong(a, WINDOW_MS + 20);
        assert_eq!(g.inner().counts.len(), 1);
        assert_eq!(g.check(ip(1), WINDOW_MS + 20), Ok(()));
    }
}
