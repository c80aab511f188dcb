//! Wrong tokens, counted per client address. A bearer token or a dashboard
//! login that does not match the API token counts against the address it
//! came from. After [`MAX_WRONG`] within [`WINDOW_MS`] of the first, that
//! address's attempts with a token are answered 429 with `Retry-After`,
//! unchecked, right token or not, until the window ends: a guesser gets
//! [`MAX_WRONG`] tries a window, however many requests it sends at once.
//!
//! What it does not touch: sessions already issued (their cookie is not a
//! guess of the token) and requests without a token. A right token clears
//! its address's count. Behind a reverse proxy every client has the
//! proxy's address, so one client's guesses hold up the others' tokens for
//! the window: the price of not trusting a forwarded-for header, which any
//! client can write. At most [`MAX_ADDRESSES`] addresses are counted;
//! past that, addresses not yet counted share one count.

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
/// Most addresses counted on their own.
const MAX_ADDRESSES: usize = 10_000;
/// The count addresses share once [`MAX_ADDRESSES`] are counted, and the
/// address of a request that came without one (not over TCP).
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
}

impl Held {
    /// Whole seconds until the address may try again, at least 1: the
    /// `Retry-After` value.
    pub fn secs(self) -> u64 {
        self.wait_ms.div_ceil(1000).max(1)
    }

    /// What the client is told, naming the limit and the wait.
    pub fn message(self) -> String {
        format!(
            "{MAX_WRONG} wrong tokens from this address within {} s: try again in {} s",
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
}

/// The counts; see the module's documentation.
#[derive(Default)]
pub struct Guesses {
    counts: Mutex<HashMap<IpAddr, Count>>,
}

impl Guesses {
    pub fn new() -> Guesses {
        Guesses::default()
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, Count>> {
        // A count is two plain numbers: a panic elsewhere leaves no half
        // state behind.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `addr` may present a token at `now_ms`; if not, how long it
    /// is held.
    pub fn check(&self, addr: IpAddr, now_ms: u64) -> Result<(), Held> {
        let counts = self.counts();
        match counts.get(&key(&counts, addr)) {
            Some(c) if c.wrong >= MAX_WRONG && c.live(now_ms) => Err(Held {
                wait_ms: c.since_ms.saturating_add(WINDOW_MS) - now_ms,
            }),
            _ => Ok(()),
        }
    }

    /// Counts a wrong token from `addr`.
    pub fn wrong(&self, addr: IpAddr, now_ms: u64) {
        let mut counts = self.counts();
        if counts.len() >= MAX_ADDRESSES && !counts.contains_key(&addr) {
            counts.retain(|_, c| c.live(now_ms));
        }
        let key = key(&counts, addr);
        let count = counts.entry(key).or_insert(Count {
            wrong: 0,
            since_ms: now_ms,
        });
        if !count.live(now_ms) {
            *count = Count {
                wrong: 0,
                since_ms: now_ms,
            };
        }
        count.wrong = count.wrong.saturating_add(1);
    }

    /// A right token from `addr`: its count starts again.
    pub fn right(&self, addr: IpAddr) {
        if addr != SHARED {
            self.counts().remove(&addr);
        }
    }
}

/// Where `addr` is counted: on its own, or in the shared count once the
/// table is full.
fn key(counts: &HashMap<IpAddr, Count>, addr: IpAddr) -> IpAddr {
    if counts.contains_key(&addr) || counts.len() < MAX_ADDRESSES {
        addr
    } else {
        SHARED
    }
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
            Held { wait_ms: 1 }.secs(),
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
        g.right(ip(3));
        assert_eq!(g.check(ip(3), 5_000), Ok(()));
    }

    #[test]
    fn past_max_addresses_new_ones_share_a_count_and_old_ones_are_dropped() {
        let g = Guesses::new();
        for n in 0..MAX_ADDRESSES as u32 {
            g.wrong(ip(n), 0);
        }
        // Full, none expired: new addresses share one count.
        let (a, b) = (ip(MAX_ADDRESSES as u32), ip(MAX_ADDRESSES as u32 + 1));
        for _ in 0..MAX_WRONG {
            g.wrong(a, 10);
        }
        assert!(g.check(b, 10).is_err(), "b shares a's count");
        assert_eq!(g.check(ip(0), 10), Ok(()), "counted alone, one wrong");
        // After the window, the old counts are dropped on the next wrong.
        g.wrong(b, WINDOW_MS + 20);
        assert_eq!(g.counts().len(), 1);
        assert_eq!(g.check(a, WINDOW_MS + 20), Ok(()));
    }
}
