//! The one `poll(2)` call of the event loop, over every descriptor the loop
//! watches: the signalfd, and whatever the other concerns register (output
//! pipes, the log writer waiting for POLLOUT, control sockets, listener
//! pipes).
//!
//! Each pass the loop clears the set, asks every concern to `add` its
//! descriptors (remembering the slot it got back), waits once, then hands
//! each concern its slots' `revents`. Nothing here blocks except `wait`,
//! and `wait` is bounded by the loop's nearest deadline.

use std::os::fd::RawFd;

/// A slot in the set, returned by [`PollSet::add`].
pub type Slot = usize;

#[derive(Default)]
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    pub fn new() -> PollSet {
        PollSet::default()
    }

    /// Forget last pass's descriptors (the capacity is kept).
    pub fn clear(&mut self) {
        self.fds.clear();
    }

    /// Watch `fd` for `events` (`libc::POLLIN`, `libc::POLLOUT`, …).
    pub fn add(&mut self, fd: RawFd, events: i16) -> Slot {
        self.fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
        self.fds.len() - 1
    }

    /// What `wait` reported for `slot` (0 for a slot that does not exist).
    pub fn revents(&self, slot: Slot) -> i16 {
        self.fds.get(slot).map_or(0, |p| p.revents)
    }

    /// True when `slot` is readable, or hung up / in error (a read then
    /// tells which).
    pub fn readable(&self, slot: Slot) -> bool {
        self.revents(slot) & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// True when `slot` can take a write, or is in error (a write then
    /// tells which).
    pub fn writable(&self, slot: Slot) -> bool {
        self.revents(slot) & (libc::POLLOUT | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// Wait until a descriptor is ready or `timeout_ms` passes (-1: no
    /// deadline). EINTR counts as "nothing ready": the caller's pass runs
    /// again and recomputes its deadline.
    pub fn wait(&mut self, timeout_ms: i32) {
        for p in &mut self.fds {
            p.revents = 0;
        }
        // SAFETY: `fds` is a live, exclusively borrowed array of exactly
        // `len` pollfd structs for the duration of the call.
        let r = unsafe { libc::poll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, timeout_ms) };
        if r < 0 {
            for p in &mut self.fds {
                p.revents = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readable_pipe_is_reported_in_its_slot_only() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut set = PollSet::new();
        let idle = set.add(fds[0], libc::POLLIN);
        let out = set.add(fds[1], libc::POLLOUT);
        set.wait(0);
        assert!(!set.readable(idle));
        assert!(set.writable(out));
        // SAFETY: writing one byte from a live buffer to our own pipe.
        assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
        set.clear();
        let ready = set.add(fds[0], libc::POLLIN);
        set.wait(-1);
        assert!(set.readable(ready));
        assert_eq!(set.revents(99), 0);
        for fd in fds {
            // SAFETY: closing the two descriptors this test opened.
            unsafe { libc::close(fd) };
        }
    }
}
