//! Pending requests: pending → done | denied | expired | superseded.
//!
//! Ids are 128-bit random and bound to the origin that made them (another origin gets
//! "unknown"); a result is delivered once; at most one pending request per origin (a new one
//! supersedes the old, whose page then says so).
//!
//! Memory is bounded: every request, in any state, is dropped with its document when it expires
//! (on each new request, each poll, and every few seconds from the server's timer); at most
//! [`MAX_PENDING`] requests wait at once (many subdomains are many origins), and the documents
//! held together stay under the byte cap. Past either cap a new request is refused with
//! `too_many_requests`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use certs::cms::Digest;
use zeroize::Zeroizing;

use crate::ApiError;

/// What the page asked for.
pub enum Action {
    /// List the containers (the origin is approved as a side effect).
    Containers,
    /// Container and certificate ids are resolved when the user approves, so an unapproved
    /// origin learns nothing about which containers exist.
    Authenticate {
        container: String,
        certificate: Option<String>,
        challenge: String,
    },
    Sign {
        container: String,
        certificate: Option<String>,
        document: Document,
    },
}

/// A document to sign, as the approval page shows it.
pub struct Document {
    pub name: String,
    pub size: usize,
    /// SHA-256 of the content (or the brought hash), hex, for the page.
    pub fingerprint: String,
    /// The first bytes as text, when the content is text.
    pub preview: Option<String>,
    pub body: DocumentBody,
}

pub enum DocumentBody {
    /// Attached signature over this content.
    Attached(Zeroizing<Vec<u8>>),
    /// Detached signature over one of these digests: the one the key signs with (the agent
    /// hashes a document with SHA-256, and with GOST 34.311 too when the key may be DSTU; a
    /// page brings one hash).
    Digests(Vec<(Digest, Vec<u8>)>),
}

pub enum State {
    Pending,
    Done(serde_json::Value),
    Denied,
    Superseded,
    /// The person closed the approval window without deciding.
    Closed,
}

pub struct Request {
    pub id: String,
    pub origin: String,
    pub action: Action,
    pub csrf_token: String,
    pub state: State,
    pub expires: Instant,
}

/// Requests waiting for the person at once, across all origins.
pub const MAX_PENDING: usize = 32;

pub struct Requests {
    ttl: Duration,
    /// Bytes of documents held together, at most.
    max_bytes: usize,
    map: Mutex<HashMap<String, Request>>,
}

/// The bytes a request holds (an attached document's content).
fn held(action: &Action) -> usize {
    match action {
        Action::Sign {
            document:
                Document {
                    body: DocumentBody::Attached(data),
                    ..
                },
            ..
        } => data.len(),
        _ => 0,
    }
}

pub fn random_token() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
    certs::hex(&b)
}

/// Constant-time comparison for tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

impl Requests {
    pub fn new(ttl: Duration, max_bytes: usize) -> Requests {
        Requests {
            ttl,
            max_bytes,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Drop every expired request, whatever its state, with what it holds.
    pub fn purge(&self) {
        let now = Instant::now();
        self.map
            .lock()
            .expect("requests lock")
            .retain(|_, r| r.expires > now);
    }

    /// Bytes of documents held now.
    pub fn held_bytes(&self) -> usize {
        self.map
            .lock()
            .expect("requests lock")
            .values()
            .map(|r| held(&r.action))
            .sum()
    }

    /// Register a new pending request; any pending one of the same origin is superseded.
    /// Refused with `too_many_requests` past [`MAX_PENDING`] or the byte cap.
    pub fn create(&self, origin: &str, action: Action) -> Result<String, ApiError> {
        let mut map = self.map.lock().expect("requests lock");
        let now = Instant::now();
        map.retain(|_, r| r.expires > now);
        for r in map.values_mut() {
            if r.origin == origin && matches!(r.state, State::Pending) {
                r.state = State::Superseded;
                r.action = Action::Containers; // drop the document and challenge now
            }
        }
        let pending = map
            .values()
            .filter(|r| matches!(r.state, State::Pending))
            .count();
        let bytes: usize = map.values().map(|r| held(&r.action)).sum();
        if pending >= MAX_PENDING || bytes + held(&action) > self.max_bytes {
            return Err(ApiError::TooManyRequests);
        }
        let id = random_token();
        map.insert(
            id.clone(),
            Request {
                id: id.clone(),
                origin: origin.to_string(),
                action,
                csrf_token: random_token(),
                state: State::Pending,
                expires: now + self.ttl,
            },
        );
        Ok(id)
    }

    /// Poll from `origin`: `Ok(None)` while pending, `Ok(Some(result))` once, then unknown.
    pub fn poll(&self, id: &str, origin: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let mut map = self.map.lock().expect("requests lock");
        let now = Instant::now();
        map.retain(|key, r| r.expires > now || key == id);
        let r = map
            .get(id)
            .filter(|r| r.origin == origin)
            .ok_or(ApiError::UnknownRequest)?;
        if Instant::now() >= r.expires {
            map.remove(id);
            return Err(ApiError::RequestExpired);
        }
        match r.state {
            State::Pending => Ok(None),
            State::Superseded => {
                map.remove(id);
                Err(ApiError::RequestSuperseded)
            }
            State::Closed => {
                map.remove(id);
                Err(ApiError::WindowClosed)
            }
            State::Denied | State::Done(_) => match map.remove(id).map(|r| r.state) {
                Some(State::Done(result)) => Ok(Some(result)),
                _ => Err(ApiError::OriginDenied { retry_after: 0 }),
            },
        }
    }

    /// Run `f` on a live pending request (the approval page's view).
    pub fn with_pending<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Request) -> T,
    ) -> Result<T, ApiError> {
        let mut map = self.map.lock().expect("requests lock");
        let r = map.get_mut(id).ok_or(ApiError::UnknownRequest)?;
        match r.state {
            State::Pending if Instant::now() >= r.expires => Err(ApiError::RequestExpired),
            State::Pending => Ok(f(r)),
            State::Superseded => Err(ApiError::RequestSuperseded),
            _ => Err(ApiError::UnknownRequest),
        }
    }

    /// Take a pending request's action out for processing (the request stays pending until
    /// [`Requests::finish`]); `None` if it is no longer pending.
    pub fn take_action(&self, id: &str) -> Option<(String, Action)> {
        let mut map = self.map.lock().expect("requests lock");
        let r = map
            .get_mut(id)
            .filter(|r| matches!(r.state, State::Pending))?;
        Some((
            r.origin.clone(),
            std::mem::replace(&mut r.action, Action::Containers),
        ))
    }

    /// Put an action back (after a wrong password, the user may try again).
    pub fn restore_action(&self, id: &str, action: Action) {
        if let Some(r) = self.map.lock().expect("requests lock").get_mut(id) {
            if matches!(r.state, State::Pending) {
                r.action = action;
            }
        }
    }

    pub fn finish(&self, id: &str, state: State) {
        if let Some(r) = self.map.lock().expect("requests lock").get_mut(id) {
            if matches!(r.state, State::Pending) {
                r.state = state;
                r.expires = Instant::now() + self.ttl;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_origin_delivered_once_superseded_and_expired() {
        let r = Requests::new(Duration::from_secs(60), 1 << 20);
        let a = r.create("https://a", Action::Containers).unwrap();
        assert_eq!(a.len(), 32, "128-bit id");
        assert!(matches!(
            r.poll(&a, "https://b"),
            Err(ApiError::UnknownRequest)
        ));
        assert_eq!(r.poll(&a, "https://a").unwrap(), None);
        r.finish(&a, State::Done(serde_json::json!({"ok": true})));
        assert_eq!(
            r.poll(&a, "https://a").unwrap(),
            Some(serde_json::json!({"ok": true}))
        );
        assert!(matches!(
            r.poll(&a, "https://a"),
            Err(ApiError::UnknownRequest)
        ));

        let first = r.create("https://a", Action::Containers).unwrap();
        let second = r.create("https://a", Action::Containers).unwrap();
        assert!(matches!(
            r.poll(&first, "https://a"),
            Err(ApiError::RequestSuperseded)
        ));
        assert_eq!(r.poll(&second, "https://a").unwrap(), None);

        // Bounded: the byte cap and the count cap refuse with a typed error; expiry drops
        // everything a request held, in any state.
        let doc = |n: usize| Action::Sign {
            container: "c".into(),
            certificate: None,
            document: Document {
                name: "d".into(),
                size: n,
                fingerprint: String::new(),
                preview: None,
                body: DocumentBody::Attached(Zeroizing::new(vec![0; n])),
            },
        };
        let capped = Requests::new(Duration::from_millis(300), 1000);
        capped.create("https://a", doc(600)).unwrap();
        assert!(matches!(
            capped.create("https://b", doc(600)),
            Err(ApiError::TooManyRequests)
        ));
        assert_eq!(capped.held_bytes(), 600);
        for i in 0..MAX_PENDING - 1 {
            capped
                .create(&format!("https://{i}.b"), Action::Containers)
                .unwrap();
        }
        assert!(matches!(
            capped.create("https://one-more", Action::Containers),
            Err(ApiError::TooManyRequests)
        ));
        std::thread::sleep(Duration::from_millis(350));
        capped.purge();
        assert_eq!(capped.held_bytes(), 0);
        assert!(capped.create("https://b", doc(600)).is_ok());

        let short = Requests::new(Duration::from_millis(0), 1 << 20);
        let x = short.create("https://a", Action::Containers).unwrap();
        assert!(matches!(
            short.poll(&x, "https://a"),
            Err(ApiError::RequestExpired)
        ));
    }
}
