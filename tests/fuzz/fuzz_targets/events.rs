//! Fuzz target: the event-listener protocol as rinit reads it from a
//! listener's stdout (docs/events.md), and capture mode's token scanner.
//! The first byte picks where the input is split into reads, so tokens and
//! result lines split across reads are covered. Must never panic or grow
//! without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::events::capture::Capture;
use rinit::events::listener::{Listener, ResultHandler};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 16) + 1;
    let handler = if step % 2 == 0 {
        ResultHandler::Default
    } else {
        ResultHandler::SupervisorStdout
    };
    let mut l = Listener::new("fuzz", handler);
    let mut capture = Capture::new(64);
    let mut out = Vec::new();
    let mut pieces = Vec::new();
    for (n, chunk) in rest.chunks(step).enumerate() {
        // An event goes out whenever the listener says READY.
        if l.is_ready() {
            l.sent(n as u64, &mut out);
        }
        l.feed(chunk, &mut out);
        capture.feed(chunk, &mut pieces);
        out.clear();
        pieces.clear();
    }
    capture.finish(&mut pieces);
    l.ended(&mut out);
});
