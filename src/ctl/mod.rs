//! The control interface (docs/control.md): supervisord's XML-RPC API,
//! served from rinit's one poll loop so that the real `supervisorctl` (and
//! superlance) work unchanged, and `rinit ctl`, the client in the binary.

pub mod client;
pub mod http;
pub mod rpc;
pub mod server;
pub mod xmlrpc;

pub use server::Server;
