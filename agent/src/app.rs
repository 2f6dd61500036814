//! The agent's state and the plain functions behind the HTTP handlers.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::containers::{self, Container, Places};
use crate::origins::Origins;
use crate::requests::{Action, DocumentBody, Requests, State};
use crate::signer::{self, DocumentContent, Guesses, Unlocked};
use crate::tokens::Tokens;
use crate::ApiError;

/// (page origin, container id).
type OriginContainer = (String, String);

pub struct App {
    pub config: Config,
    pub origins: Origins,
    pub requests: Requests,
    pub guesses: Guesses,
    /// Keys kept after `remember`, per (origin, container), until the instant.
    remembered: Mutex<HashMap<OriginContainer, (Arc<Unlocked>, Instant)>>,
    /// Containers with a signature in progress.
    busy: Mutex<HashSet<String>>,
    /// PKCS#11 modules and their tokens.
    pub tokens: Arc<Tokens>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What happened to an approval form.
pub enum Decision {
    /// Signed or listed: the page may close.
    Done,
    Denied,
}

impl App {
    pub fn new(config: Config) -> App {
        App {
            origins: Origins::load(&config.data_dir, Duration::from_secs(config.deny_cooldown)),
            // Documents waiting for the person together: twice the largest one.
            requests: Requests::new(config.request_ttl(), config.max_document.saturating_mul(2)),
            guesses: Guesses::new(config.lockout_after, Duration::from_secs(config.lockout)),
            remembered: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashSet::new()),
            tokens: Arc::new(Tokens::new(
                config
                    .pkcs11_helper
                    .clone()
                    .or_else(|| std::env::current_exe().ok())
                    .unwrap_or_else(|| PathBuf::from("brama-agent")),
                config.pkcs11_modules(),
            )),
            config,
        }
    }

    /// Where containers and certificates are looked for, now: the removable media mounted at
    /// this moment included (a stick plugged in after the agent started shows up at once).
    pub fn places(&self) -> Places {
        Places::new(self.config.container_roots(), &self.config.data_dir)
    }

    /// Files in the container folders, then the certificates on tokens.
    pub fn containers(&self) -> Vec<Container> {
        let mut all = containers::scan(&self.places());
        all.extend(containers::token_containers(self.tokens.keys()));
        all
    }

    pub fn container(&self, id: &str) -> Result<Container, ApiError> {
        if id.starts_with("t-") {
            containers::token_containers(self.tokens.keys())
                .into_iter()
                .find(|c| c.id == id)
                .ok_or(ApiError::UnknownContainer)
        } else {
            containers::find(&self.places(), id).ok_or(ApiError::UnknownContainer)
        }
    }

    fn remembered(&self, origin: &str, container: &str) -> Option<Arc<Unlocked>> {
        let mut map = self.remembered.lock().expect("remember lock");
        let now = Instant::now();
        map.retain(|_, (_, until)| *until > now);
        map.get(&(origin.to_string(), container.to_string()))
            .map(|(u, _)| u.clone())
    }

    /// The container list as an approved origin sees it.
    pub fn container_list(&self, origin: &str) -> serde_json::Value {
        let list: Vec<_> = self
            .containers()
            .into_iter()
            .map(|c| {
                let ready = self.remembered(origin, &c.id).is_some();
                let (state, message) = if self.guesses.check(&c.id).is_err() {
                    ("locked_out", None)
                } else if ready {
                    ("ready", None)
                } else if let containers::Pairing::NoCertificate { looked_in } = &c.pairing {
                    (
                        "no_certificate",
                        Some(format!(
                            "no certificate for this key; looked in {}. Put the certificate file beside the key or run `brama-agent import-cert FILE`",
                            looked_in.join(", ")
                        )),
                    )
                } else if c.pairing == containers::Pairing::Hidden && c.certificates.is_empty() {
                    (
                        "needs_unlock",
                        Some("the holder is shown after the first unlock: this key store keeps everything encrypted".to_string()),
                    )
                } else {
                    ("needs_unlock", None)
                };
                let mut entry = json!({
                    "id": c.id, "label": c.label, "medium": c.medium, "kind": c.kind,
                    "medium_type": c.medium_type(), "medium_name": c.medium_name(),
                    "state": state, "locked": !ready, "certificates": c.views(),
                });
                if let Some(m) = message {
                    entry["message"] = m.into();
                }
                entry
            })
            .collect();
        json!({ "containers": list })
    }

    /// Start a request that needs the user; refused while a denial cools down.
    pub fn begin(&self, origin: &str, action: Action) -> Result<String, ApiError> {
        if let Some(retry_after) = self.origins.denied_for(origin) {
            return Err(ApiError::OriginDenied { retry_after });
        }
        self.requests.create(origin, action)
    }

    /// The user's answer on the approval page. A wrong password leaves the request pending
    /// (the page shows the error and the user may retry). `chosen` is the certificate picked
    /// on the page when the request named none and the key has several.
    pub fn decide(
        &self,
        id: &str,
        csrf_token: &str,
        approve: bool,
        password: Zeroizing<String>,
        remember: bool,
        chosen: Option<&str>,
    ) -> Result<Decision, ApiError> {
        let token_ok = self
            .requests
            .with_pending(id, |r| crate::requests::same(&r.csrf_token, csrf_token))?;
        if !token_ok {
            return Err(ApiError::CsrfRefused);
        }
        let (origin, action) = self
            .requests
            .take_action(id)
            .ok_or(ApiError::UnknownRequest)?;
        if !approve {
            self.origins.deny(&origin);
            self.requests.finish(id, State::Denied);
            return Ok(Decision::Denied);
        }
        match self.perform(&origin, &action, password, remember, chosen) {
            Ok(result) => {
                self.origins
                    .approve(&origin)
                    .map_err(|e| ApiError::SigningFailed(e.to_string()))?;
                self.requests.finish(id, State::Done(result));
                Ok(Decision::Done)
            }
            Err(e) => {
                self.requests.restore_action(id, action);
                Err(e)
            }
        }
    }

    /// The approval window went away without a decision (its page says so as it unloads):
    /// the waiting page is told at its next poll. Not a denial: no cooldown.
    pub fn abandon(&self, id: &str, csrf_token: &str) -> Result<(), ApiError> {
        let token_ok = self
            .requests
            .with_pending(id, |r| crate::requests::same(&r.csrf_token, csrf_token))?;
        if !token_ok {
            return Err(ApiError::CsrfRefused);
        }
        if self.requests.take_action(id).is_some() {
            self.requests.finish(id, State::Closed);
        }
        Ok(())
    }

    /// A wrong password or PIN counts towards the agent's back-off and lock. A token keeps its
    /// own count, so its answer (final try or not) is what the user sees, unless the agent
    /// locks first.
    fn counted(&self, container: &Container, e: ApiError) -> ApiError {
        if !matches!(e, ApiError::WrongPassword { .. }) {
            return e;
        }
        match self.guesses.failed(&container.id) {
            locked @ ApiError::LockedOut { .. } => locked,
            ours if container.token.is_none() => ours,
            _ => e,
        }
    }

    fn perform(
        &self,
        origin: &str,
        action: &Action,
        password: Zeroizing<String>,
        remember: bool,
        chosen: Option<&str>,
    ) -> Result<serde_json::Value, ApiError> {
        let (container_id, certificate_id) = match action {
            Action::Containers => return Ok(self.container_list(origin)),
            Action::Authenticate {
                container,
                certificate,
                ..
            }
            | Action::Sign {
                container,
                certificate,
                ..
            } => (container, certificate.as_deref().or(chosen)),
        };
        let container = self.container(container_id)?;
        let certificate = container.signing_certificate(certificate_id)?;
        self.guesses.check(&container.id)?;
        let _busy = Busy::take(&self.busy, &container.id)?;

        // A typed password is always checked, even when a key is remembered.
        let unlocked = if !password.is_empty() {
            signer::unlock(
                &container,
                certificate.as_deref(),
                certificate_id,
                &password,
                &self.tokens,
                &self.places(),
            )
            .map(Arc::new)
            .map_err(|e| self.counted(&container, e))?
        } else {
            match self.remembered(origin, &container.id) {
                Some(u) if certificate.as_ref().is_none_or(|c| *c == u.certificate) => u,
                _ => return Err(ApiError::NeedsUnlock),
            }
        };
        drop(password);

        let now = time::OffsetDateTime::now_utc() + self.config.clock_offset;
        let signature = match action {
            Action::Authenticate { challenge, .. } => {
                signer::sign_login(&unlocked, origin, challenge, now)
            }
            Action::Sign { document, .. } => match &document.body {
                DocumentBody::Attached(data) => {
                    signer::sign_document(&unlocked, DocumentContent::Attached(data), now)
                }
                DocumentBody::Digests(list) => {
                    signer::sign_document(&unlocked, DocumentContent::Digests(list), now)
                }
            },
            Action::Containers => unreachable!("handled above"),
        }
        .map_err(|e| self.counted(&container, e))?;
        self.guesses.succeeded(&container.id);
        // A token's PIN is never kept: each signature logs in and out again.
        if remember && container.token.is_none() {
            let until = Instant::now() + Duration::from_secs(self.config.remember);
            self.remembered.lock().expect("remember lock").insert(
                (origin.to_string(), container.id.clone()),
                (unlocked.clone(), until),
            );
        }
        let detached = matches!(action, Action::Sign { document, .. } if matches!(document.body, DocumentBody::Digests(..)));
        Ok(json!({
            "signature": b64(&signature),
            "certificate": b64(&unlocked.certificate),
            "container": container.id,
            "detached": detached,
        }))
    }
}

/// One signing operation at a time per container.
struct Busy<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl<'a> Busy<'a> {
    fn take(set: &'a Mutex<HashSet<String>>, id: &str) -> Result<Busy<'a>, ApiError> {
        if !set.lock().expect("busy lock").insert(id.to_string()) {
            return Err(ApiError::ContainerBusy);
        }
        Ok(Busy {
            set,
            id: id.to_string(),
        })
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.set.lock().expect("busy lock").remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_signing_operation_per_container() {
        let set = Mutex::new(HashSet::new());
        let first = Busy::take(&set, "c-1").unwrap();
        assert!(matches!(
            Busy::take(&set, "c-1"),
            Err(ApiError::ContainerBusy)
        ));
        assert!(Busy::take(&set, "c-2").is_ok(), "other containers are free");
        drop(first);
        assert!(
            Busy::take(&set, "c-1").is_ok(),
            "released when the operation ends"
        );
    }
}
