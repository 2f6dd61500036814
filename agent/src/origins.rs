//! Web origins the user approved, kept in `data_dir/origins.json`, and recent denials.
//!
//! The file is the truth, shared by the running agent and `brama-agent origins` on the command
//! line: every read notices a changed file (its inode, size and modification time) and reloads
//! it, so an origin revoked on the command line is refused at the next request; every change is
//! read-modify-write under an exclusive lock (`origins.lock`), so neither writer puts back what
//! the other removed.
#![allow(unsafe_code)] // libc::flock on the lock file: std's File::lock is newer than the MSRV

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Approval {
    /// RFC 3339 time of approval.
    pub approved_at: String,
}

/// What identifies one version of the file: inode, size, modification time.
type Stamp = Option<(u64, u64, SystemTime)>;

struct Cached {
    stamp: Stamp,
    approved: BTreeMap<String, Approval>,
}

pub struct Origins {
    file: PathBuf,
    approved: Mutex<Cached>,
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

fn stamp(file: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(file).ok()?;
    Some((m.ino(), m.len(), m.modified().ok()?))
}

fn read(file: &Path) -> BTreeMap<String, Approval> {
    std::fs::read(file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// An exclusive lock on `origins.lock` beside the file, released when dropped.
struct FileLock(std::fs::File);

impl FileLock {
    fn take(file: &Path) -> std::io::Result<FileLock> {
        use std::os::fd::AsRawFd;
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(file.with_extension("lock"))?;
        // SAFETY: flock on a descriptor this function owns; it blocks until the lock is ours.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(FileLock(f))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking the descriptor locked in `take`, still open.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

impl Origins {
    pub fn load(data_dir: &std::path::Path, cooldown: Duration) -> Origins {
        let file = data_dir.join("origins.json");
        Origins {
            approved: Mutex::new(Cached {
                stamp: stamp(&file),
                approved: read(&file),
            }),
            file,
            denied: Mutex::new(HashMap::new()),
            cooldown,
        }
    }

    /// The approvals as the file has them now.
    fn current(&self) -> std::sync::MutexGuard<'_, Cached> {
        let mut c = self.approved.lock().expect("origins lock");
        let now = stamp(&self.file);
        if now != c.stamp {
            c.approved = read(&self.file);
            c.stamp = now;
        }
        c
    }

    pub fn is_approved(&self, origin: &str) -> bool {
        self.current().approved.contains_key(origin)
    }

    pub fn list(&self) -> BTreeMap<String, Approval> {
        self.current().approved.clone()
    }

    /// Read the file under the lock, change it with `f`, write it back.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, Approval>) -> T,
    ) -> std::io::Result<T> {
        let mut c = self.approved.lock().expect("origins lock");
        let _lock = FileLock::take(&self.file)?;
        let mut approved = read(&self.file);
        let out = f(&mut approved);
        self.save(&approved)?;
        c.stamp = stamp(&self.file);
        c.approved = approved;
        Ok(out)
    }

    pub fn approve(&self, origin: &str) -> std::io::Result<()> {
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.change(|approved| {
            approved
                .entry(origin.to_string())
                .or_insert(Approval { approved_at: at });
        })?;
        self.denied.lock().expect("origins lock").remove(origin);
        Ok(())
    }

    /// Returns whether the origin was approved.
    pub fn revoke(&self, origin: &str) -> std::io::Result<bool> {
        self.change(|approved| approved.remove(origin).is_some())
    }

    fn save(&self, approved: &BTreeMap<String, Approval>) -> std::io::Result<()> {
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
        // Two holders of the file (the running agent and the command line) see each other's
        // changes at once and never restore what the other removed.
        let running = Origins::load(dir.path(), Duration::from_secs(60));
        let cli = Origins::load(dir.path(), Duration::from_secs(60));
        running.approve("https://x.example").unwrap();
        assert!(cli.is_approved("https://x.example"));
        assert!(cli.revoke("https://x.example").unwrap());
        assert!(!running.is_approved("https://x.example"), "revoked at once");
        running.approve("https://y.example").unwrap();
        assert!(
            !cli.is_approved("https://x.example") && !running.is_approved("https://x.example"),
            "a later approval does not bring a revoked origin back"
        );
        cli.approve("https://z.example").unwrap();
        assert!(running.is_approved("https://z.example"), "allowed at once");
        o.deny("https://b.example");
        assert!(o.denied_for("https://b.example").unwrap() > 50);
        assert_eq!(o.denied_for("https://c.example"), None);
    }
}
