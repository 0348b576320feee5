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
        // nix's poll takes `PollFd`s that borrow their descriptors for a
        // lifetime; the set holds bare numbers registered by the concerns,
        // which keep the descriptors open across the pass.
        // SAFETY: `fds` is a live, exclusively borrowed array of exactly
        // `len` pollfd structs for the duration of the call; a stale number
        // is reported as POLLNVAL, not undefined behaviour.
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
        use std::os::fd::AsRawFd;
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut set = PollSet::new();
        let idle = set.add(r.as_raw_fd(), libc::POLLIN);
        let out = set.add(w.as_raw_fd(), libc::POLLOUT);
        set.wait(0);
        assert!(!set.readable(idle));
        assert!(set.writable(out));
        assert_eq!(nix::unistd::write(&w, b"x"), Ok(1));
        set.clear();
        let ready = set.add(r.as_raw_fd(), libc::POLLIN);
        set.wait(-1);
        assert!(set.readable(ready));
        assert_eq!(set.revents(99), 0);
    }
}
