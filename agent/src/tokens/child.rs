//! The agent's end of one helper process: spawn it, send a request, wait for the reply with a
//! deadline, and kill it when it hangs or dies.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::protocol::{Reply, Request, TokenError};

/// How long a module may take to load and initialise.
const START_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Helper {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
    /// The module's own description (C_GetInfo).
    pub library: String,
}

impl Helper {
    /// Start `exe pkcs11-helper module` and wait for it to say the module is ready.
    pub fn spawn(exe: &Path, module: &Path) -> Result<Helper, TokenError> {
        let mut child = Command::new(exe)
            .arg("pkcs11-helper")
            .arg(module)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| TokenError::ModuleFailed {
                message: format!("cannot start the helper {}: {e}", exe.display()),
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, replies) = mpsc::channel();
        // A blocking reader thread turns the pipe into a channel with a deadline; it ends when
        // the helper's stdout closes.
        std::thread::Builder::new()
            .name("pkcs11-helper-reader".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| TokenError::Failed {
                message: e.to_string(),
            })?;
        let mut helper = Helper {
            child,
            stdin,
            replies,
            library: String::new(),
        };
        match helper.receive(START_TIMEOUT)? {
            Reply::Ready { library } => {
                helper.library = library;
                Ok(helper)
            }
            Reply::Error { error } => Err(error),
            other => Err(TokenError::ModuleFailed {
                message: format!("unexpected first answer {other:?}"),
            }),
        }
    }

    /// Send `request` and wait up to `timeout` for the reply. Any error but a reply of
    /// [`Reply::Error`] means the helper is gone (it is killed here): drop it and start anew.
    pub fn call(&mut self, request: &Request, timeout: Duration) -> Result<Reply, TokenError> {
        // Written into one zeroizing buffer, big enough not to reallocate: it may hold a PIN.
        let mut line = Zeroizing::new(Vec::with_capacity(8192));
        serde_json::to_writer(&mut *line, request).map_err(|e| TokenError::Failed {
            message: e.to_string(),
        })?;
        line.push(b'\n');
        if self
            .stdin
            .write_all(&line)
            .and_then(|_| self.stdin.flush())
            .is_err()
        {
            return Err(self.gone());
        }
        self.receive(timeout)
    }

    fn receive(&mut self, timeout: Duration) -> Result<Reply, TokenError> {
        match self.replies.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line).map_err(|e| {
                let _ = self.child.kill();
                TokenError::Failed {
                    message: format!("unreadable answer from the helper: {e}"),
                }
            }),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(TokenError::Failed {
                    message: format!(
                        "the module did not answer within {} s; its helper was stopped",
                        timeout.as_secs()
                    ),
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.gone()),
        }
    }

    /// The helper closed its pipe: say how it ended.
    fn gone(&mut self) -> TokenError {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        TokenError::Failed {
            message: format!("the module's helper stopped ({status})"),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing stdin ends a healthy helper; kill covers one stuck inside its module.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
