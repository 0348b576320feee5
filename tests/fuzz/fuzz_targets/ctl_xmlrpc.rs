//! Fuzz target: the XML-RPC call and response parsers (no DTD, no entity
//! expansion, nesting capped; docs/control.md). Must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rinit::ctl::xmlrpc::fuzz_xmlrpc(data);
});
