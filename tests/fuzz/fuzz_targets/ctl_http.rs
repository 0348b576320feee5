//! Fuzz target: the control interface's HTTP request parser and basic-auth
//! check, then the XML-RPC body (docs/control.md). Must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rinit::ctl::http::fuzz_http(data);
});
