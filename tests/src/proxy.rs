//! A TCP proxy that can play a database outage: between the app and PostgreSQL, it
//! pipes bytes both ways until it is taken down, then cuts every open connection and
//! closes its port, so new connections are refused exactly as by a stopped server,
//! until it is restored on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// A proxy on `127.0.0.1`, forwarding to one upstream address.
pub struct FaultyProxy {
    address: SocketAddr,
    upstream: String,
    running: Mutex<Option<Running>>,
}

/// The tasks of a proxy that is up: its accept loop and one pipe per connection.
struct Running {
    accept: JoinHandle<()>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl FaultyProxy {
    /// Starts a proxy on a free local port, forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Self {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let address = listener.local_addr().expect("the proxy has a local address");
        let proxy = Self { address, upstream: upstream.to_owned(), running: Mutex::new(None) };
        proxy.serve(listener);
        proxy
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The outage: cuts every open connection and refuses new ones.
    pub fn take_down(&self) {
        if let Some(running) = self.running.lock().expect("not poisoned").take() {
            running.accept.abort();
            for pipe in running.pipes.lock().expect("not poisoned").drain(..) {
                pipe.abort();
            }
        }
    }

    /// The end of the outage: accepts and forwards again, on the same port.
    pub fn restore(&self) {
        if self.running.lock().expect("not poisoned").is_none() {
            self.serve(listen(self.address));
        }
    }

    fn serve(&self, listener: TcpListener) {
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let upstream = self.upstream.clone();
        let accepted = pipes.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut pipes = accepted.lock().expect("not poisoned");
                pipes.retain(|pipe| !pipe.is_finished());
                pipes.push(pipe);
            }
        });
        *self.running.lock().expect("not poisoned") = Some(Running { accept, pipes });
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.take_down();
    }
}

/// A listener on `address`, reusable at once after the previous one on that port closed
/// (its cut connections linger in TIME_WAIT).
fn listen(address: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(address).unwrap_or_else(|error| panic!("the proxy cannot bind {address}: {error}"));
    socket.listen(1024).expect("the proxy listens")
}
