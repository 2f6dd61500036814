//! Web origins the user approved, kept in `data_dir/origins.json`, and recent denials.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Approval {
    /// RFC 3339 time of approval.
    pub approved_at: String,
}

pub struct Origins {
    file: PathBuf,
    approved: Mutex<BTreeMap<String, Approval>>,
    denied: Mutex<HashMap<String, Instant>>,
    cooldown: Duration,
}

/// An origin as browsers serialise it: scheme://host[:port], lower case, no path.
pub fn is_well_formed(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "https" | "http")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest.bytes().all(|b| b.is_ascii_graphic())
        && origin == origin.to_ascii_lowercase()
}

impl Origins {
    pub fn load(data_dir: &std::path::Path, cooldown: Duration) -> Origins {
        let file = data_dir.join("origins.json");
        let approved = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Origins {
            file,
            approved: Mutex::new(approved),
            denied: Mutex::new(HashMap::new()),
            cooldown,
        }
    }

    pub fn is_approved(&self, origin: &str) -> bool {
        self.approved
            .lock()
            .expect("origins lock")
            .contains_key(origin)
    }

    pub fn list(&self) -> BTreeMap<String, Approval> {
        self.approved.lock().expect("origins lock").clone()
    }

    pub fn approve(&self, origin: &str) -> std::io::Result<()> {
        let mut approved = self.approved.lock().expect("origins lock");
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        approved
            .entry(origin.to_string())
            .or_insert(Approval { approved_at: at });
        self.denied.lock().expect("origins lock").remove(origin);
        self.save(&approved)
    }

    /// Returns whether the origin was approved.
    pub fn revoke(&self, origin: &str) -> std::io::Result<bool> {
        let mut approved = self.approved.lock().expect("origins lock");
        let was = approved.remove(origin).is_some();
        self.save(&approved)?;
        Ok(was)
    }

    fn save(&self, approved: &BTreeMap<String, Approval>) -> std::io::Result<()> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.file.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(approved).expect("serialises"),
        )?;
        std::fs::rename(tmp, &self.file)
    }

    pub fn deny(&self, origin: &str) {
        self.denied
            .lock()
            .expect("origins lock")
            .insert(origin.to_string(), Instant::now() + self.cooldown);
    }

    /// Seconds left in a denial's cooldown, if any.
    pub fn denied_for(&self, origin: &str) -> Option<u64> {
        let denied = self.denied.lock().expect("origins lock");
        let until = *denied.get(origin)?;
        let now = Instant::now();
        (until > now).then(|| (until - now).as_secs().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_shapes() {
        assert!(is_well_formed("https://cabinet.example"));
        assert!(is_well_formed("http://127.0.0.1:8080"));
        for bad in [
            "null",
            "https://",
            "https://a/b",
            "ftp://a",
            "https://A.example",
            "https://a b",
            "https://u@a",
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn approvals_persist_and_denials_cool_down() {
        let dir = tempfile::tempdir().unwrap();
        let o = Origins::load(dir.path(), Duration::from_secs(60));
        o.approve("https://a.example").unwrap();
        assert!(Origins::load(dir.path(), Duration::from_secs(60)).is_approved("https://a.example"));
        assert!(o.revoke("https://a.example").unwrap());
        assert!(
            !Origins::load(dir.path(), Duration::from_secs(60)).is_approved("https://a.example")
        );
        o.deny("https://b.example");
        assert!(o.denied_for("https://b.example").unwrap() > 50);
        assert_eq!(o.denied_for("https://c.example"), None);
    }
}
