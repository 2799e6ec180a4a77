//! The UDP socket under a QUIC endpoint, with buffers sized for bursts.
//!
//! Linux gives a UDP socket about 208 KiB of receive buffer by default.
//! At 120,000 requests a second of 256 B that is 6 ms of traffic: if the
//! thread reading the socket is held up longer (a busy worker, a host
//! stall), the kernel drops datagrams (`UdpRcvbufErrors` in `nstat`), and
//! QUIC's loss recovery resends them only after its loss-detection delay,
//! so every request in them waits that long. `scripts/quic.rhai` on a
//! 2-core VM, 4 runs each, alternating: with the default buffers 0, 18, 32
//! and 0 datagrams were dropped per run; with these, none. So both
//! endpoints ask for [`WANTED_BUFFER`] each way, as quic-go does.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Once;

use socket2::{Domain, Protocol, Socket, Type};

/// The send and receive buffer each endpoint asks the OS for. Linux caps
/// it at `net.core.rmem_max` / `net.core.wmem_max`.
pub const WANTED_BUFFER: usize = 8 << 20;

/// Below this a warning says how to raise the OS limit.
const ENOUGH: usize = 1 << 20;

/// A QUIC endpoint on a socket from [`bind`] (a server when `server` is
/// given, else a client only), and the receive buffer the OS gave it.
pub(crate) fn endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
) -> io::Result<(quinn::Endpoint, usize)> {
    let (socket, buffer) = bind(addr)?;
    let endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        server,
        socket,
        std::sync::Arc::new(quinn::TokioRuntime),
    )?;
    Ok((endpoint, buffer))
}

/// A UDP socket bound to `addr`, its buffers as large as the OS allows up
/// to [`WANTED_BUFFER`], and the receive buffer it got, in bytes as Linux
/// reports it (twice what it grants; the other half is its bookkeeping).
pub(crate) fn bind(addr: SocketAddr) -> io::Result<(UdpSocket, usize)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Failing to enlarge a buffer is not fatal: the socket works, only
    // less well under bursts, and the warning below says so.
    let _ = socket.set_recv_buffer_size(WANTED_BUFFER);
    let _ = socket.set_send_buffer_size(WANTED_BUFFER);
    if addr.is_ipv6() {
        // Dual stack, as quinn's own endpoints are.
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&addr.into())?;
    let recv = socket.recv_buffer_size()?;
    if recv < ENOUGH {
        static WARNED: Once = Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                "the OS gave the QUIC socket a receive buffer of {} KiB (asked for {} KiB, \
                 limit net.core.rmem_max = {}); bursts may lose datagrams and stall requests \
                 for a retransmission. Raise the limit with \
                 `sysctl -w net.core.rmem_max={WANTED_BUFFER}`",
                recv >> 10,
                WANTED_BUFFER >> 10,
                os_limit().map_or("unknown".into(), |l| l.to_string()),
            );
        });
    }
    Ok((socket.into(), recv))
}

/// The most receive buffer the OS grants a socket that asks
/// (`net.core.rmem_max`, Linux), if known.
pub fn os_limit() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The smallest receive buffer a socket from [`bind`] should report: all
/// of [`WANTED_BUFFER`] or the OS limit, whichever is less (Linux reports
/// at least that, being twice what it grants); where the limit is unknown,
/// anything.
pub fn least_expected() -> usize {
    os_limit().map_or(1, |limit| limit.min(WANTED_BUFFER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_gets_more_than_the_default_buffer_where_the_os_allows() {
        let (_socket, got) = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(got >= least_expected(), "got {got}, limit {:?}", os_limit());
    }
}
