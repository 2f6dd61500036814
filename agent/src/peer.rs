//! Which OS user owns the other end of a loopback TCP connection (Linux).
//!
//! The agent must not serve another user of a shared machine. The owner of the peer's
//! socket is looked up with one netlink `sock_diag` request for exactly that socket (the
//! kernel answers in microseconds); `/proc/net/tcp{,6}` is the fallback, which costs a
//! scan of the whole TCP table (milliseconds on a large machine).
#![allow(unsafe_code)] // libc: getuid and a netlink socket (no safe wrapper in std)

use std::net::{IpAddr, SocketAddr};

/// Whether the peer's socket belongs to this process's user. `local` is our end.
#[cfg(target_os = "linux")]
pub fn is_own_user(peer: SocketAddr, local: SocketAddr) -> bool {
    let own = unsafe { libc::getuid() };
    let owner = sock_diag_owner(peer, local).or_else(|| proc_owner(peer.port(), local.port()));
    owner == Some(own)
}

#[cfg(not(target_os = "linux"))]
pub fn is_own_user(_peer: SocketAddr, _local: SocketAddr) -> bool {
    true
}

/// The address we accepted on for a loopback peer (the agent binds only loopback).
pub fn local_for(peer: SocketAddr, port: u16) -> SocketAddr {
    match peer.ip() {
        IpAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], port)),
        IpAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
    }
}

#[cfg(target_os = "linux")]
fn sock_diag_owner(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    const NETLINK_SOCK_DIAG: libc::c_int = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;

    fn addr(ip: IpAddr) -> [u8; 16] {
        let mut out = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => out.copy_from_slice(&v6.octets()),
        }
        out
    }
    // nlmsghdr (16) + inet_diag_req_v2 (56): the peer's socket is (src = peer, dst = us).
    let mut req = [0u8; 72];
    req[0..4].copy_from_slice(&72u32.to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req[16] = if peer.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    };
    req[17] = libc::IPPROTO_TCP as u8;
    req[20..24].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
    req[24..26].copy_from_slice(&peer.port().to_be_bytes());
    req[26..28].copy_from_slice(&local.port().to_be_bytes());
    req[28..44].copy_from_slice(&addr(peer.ip()));
    req[44..60].copy_from_slice(&addr(local.ip()));
    req[64..72].copy_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE

    let mut resp = [0u8; 512];
    let n = unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        );
        if fd < 0 {
            return None;
        }
        let sent = libc::send(fd, req.as_ptr().cast(), req.len(), 0);
        let n = if sent == req.len() as isize {
            libc::recv(fd, resp.as_mut_ptr().cast(), resp.len(), 0)
        } else {
            -1
        };
        libc::close(fd);
        n
    };
    // nlmsghdr (16) + inet_diag_msg: family, state, timer, retrans (4), sockid (48),
    // expires, rqueue, wqueue (12), then uid.
    let n = usize::try_from(n).ok()?;
    let kind = u16::from_ne_bytes([resp[4], resp[5]]);
    if n < 16 + 68 || kind == NLMSG_ERROR {
        return None;
    }
    let uid_at = 16 + 4 + 48 + 12;
    Some(u32::from_ne_bytes(
        resp[uid_at..uid_at + 4].try_into().ok()?,
    ))
}

#[cfg(target_os = "linux")]
fn proc_owner(local_port: u16, remote_port: u16) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .find_map(|text| find_owner(&text, local_port, remote_port))
}

/// Parse a `/proc/net/tcp` table: `sl local rem st tx:rx tr:when retr uid …`, ports in hex.
/// The peer's entry has local port = the peer's port and remote port = ours.
pub fn find_owner(table: &str, local_port: u16, remote_port: u16) -> Option<u32> {
    let port = |addr: &str| {
        addr.rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 7 && port(f[1]) == Some(local_port) && port(f[2]) == Some(remote_port))
            .then(|| f[7].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_socket_owner_from_proc_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:B9C8 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 1 1\n\
           1: 0100007F:1F90 0100007F:B9C8 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n";
        assert_eq!(find_owner(table, 0xB9C8, 0x1F90), Some(1000));
        assert_eq!(find_owner(table, 0x1F90, 0xB9C8), Some(0));
        assert_eq!(find_owner(table, 1, 2), None);
    }

    /// sock_diag finds a real connection's owner, and agrees with /proc.
    #[cfg(target_os = "linux")]
    #[test]
    fn sock_diag_finds_a_live_connection() {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(server) = std::net::TcpListener::bind(bind) else {
                continue;
            };
            let local = server.local_addr().unwrap();
            let client = std::net::TcpStream::connect(local).unwrap();
            let peer = client.local_addr().unwrap();
            let _accepted = server.accept().unwrap();
            let own = unsafe { libc::getuid() };
            assert_eq!(sock_diag_owner(peer, local), Some(own), "{bind}");
            assert_eq!(proc_owner(peer.port(), local.port()), Some(own), "{bind}");
            assert!(is_own_user(peer, local_for(peer, local.port())));
            // A socket that does not exist has no owner.
            let gone = SocketAddr::new(peer.ip(), 1);
            assert_eq!(sock_diag_owner(gone, local), None);
        }
    }
}
