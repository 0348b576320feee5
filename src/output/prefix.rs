//! Line assembly for output that rinit copies to its own stdout/stderr or
//! to syslog (docs/output.md, "Name prefix"). Pure and clock-injected.
//!
//! * A line is written only once complete, in one piece, so that no line
//!   ever holds two programs' bytes.
//! * A partial line is flushed (with a newline) after [`IDLE_FLUSH_MS`]
//!   without new data, or when the program exits.
//! * A line longer than [`MAX_LINE`] is cut into pieces of that size, each
//!   ending with [`SPLIT_MARKER`].
//! * Bytes are never decoded: invalid UTF-8 and `\r` pass unchanged.

use crate::machine::Millis;

pub const MAX_LINE: usize = 64 * 1024;
pub const IDLE_FLUSH_MS: Millis = 200;
/// Ends each piece of a line that was too long.
pub const SPLIT_MARKER: &[u8] = b" [...]";

/// How a piece handed to the sink ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// A whole line (its `\n` not included).
    Line,
    /// The first `MAX_LINE` bytes of a longer line.
    Split,
    /// A partial line flushed after idle time or at exit.
    Partial,
}

#[derive(Default)]
pub struct Lines {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out.
    start: usize,
    last_data: Millis,
}

impl Lines {
    /// Bytes waiting (for back-pressure: stop reading above a bound).
    pub fn backlog(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn feed(&mut self, data: &[u8], now: Millis) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        self.last_data = now;
    }

    /// The sink had no room: its data is not idle, it is waiting (the
    /// partial line's idle time starts again once it can move).
    pub fn touch(&mut self, now: Millis) {
        self.last_data = now;
    }

    /// When the partial line in the buffer is due for flushing.
    pub fn deadline(&self) -> Option<Millis> {
        (self.backlog() > 0).then(|| self.last_data.saturating_add(IDLE_FLUSH_MS))
    }

    /// The bytes waiting, from the first one not handed out yet.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// The piece ready at offset `at` of [`Lines::pending`]: its length,
    /// the bytes it uses up (its `\n` included) and its kind; `None` when
    /// what is there is not ready (a partial line still within its idle
    /// time, or nothing). With `force`, a partial line is ready at once.
    pub fn piece_at(&self, at: usize, now: Millis, force: bool) -> Option<(usize, usize, Piece)> {
        let rest = self.pending().get(at..)?;
        if rest.is_empty() {
            return None;
        }
        let window = &rest[..rest.len().min(MAX_LINE + 1)];
        match find_newline(window) {
            Some(n) if n <= MAX_LINE => Some((n, n + 1, Piece::Line)),
            _ if rest.len() > MAX_LINE => Some((MAX_LINE, MAX_LINE, Piece::Split)),
            _ if force || now >= self.last_data.saturating_add(IDLE_FLUSH_MS) => {
                Some((rest.len(), rest.len(), Piece::Partial))
            }
            _ => None,
        }
    }

    /// `n` bytes of [`Lines::pending`] were handed out.
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.buf.len());
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > 2 * MAX_LINE {
                self.buf.shrink_to(MAX_LINE);
            }
        }
    }

    /// Hand out every ready piece to `sink` until it returns false (no room
    /// now: the piece stays for the next call). With `force`, a partial line
    /// is ready at once (the program exited).
    pub fn drain(&mut self, now: Millis, force: bool, mut sink: impl FnMut(&[u8], Piece) -> bool) {
        let mut at = 0;
        while let Some((len, skip, piece)) = self.piece_at(at, now, force) {
            if !sink(&self.pending()[at..at + len], piece) {
                break;
            }
            at += skip;
        }
        self.consume(at);
    }
}

/// The first `\n` in `s`: the hot loop of prefixed output (a byte-by-byte
/// search cost more than the copy itself). `memchr` (already linked for
/// serde_json) picks SSE2/AVX2 at run time.
pub fn find_newline(s: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', s)
}

/// Bytes [`render`] appends for a piece of `len` bytes.
pub fn rendered_len(prefix: &[u8], len: usize, kind: Piece) -> usize {
    let marker = if kind == Piece::Split {
        SPLIT_MARKER.len()
    } else {
        0
    };
    prefix.len() + len + marker + 1
}

/// Append the bytes written for one piece: `prefix`, the piece, the split
/// marker for a cut line, and a newline.
pub fn render(out: &mut Vec<u8>, prefix: &[u8], piece: &[u8], kind: Piece) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(piece);
    if kind == Piece::Split {
        out.extend_from_slice(SPLIT_MARKER);
    }
    out.push(b'\n');
}

/// `name | ` padded so that the bars line up (`docker compose` style).
pub fn prefix_for(name: &str, width: usize) -> Vec<u8> {
    format!("{name:<width$} | ").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(l: &mut Lines, now: Millis, force: bool) -> Vec<(Vec<u8>, Piece)> {
        let mut v = Vec::new();
        l.drain(now, force, |b, p| {
            v.push((b.to_vec(), p));
            true
        });
        v
    }

    #[test]
    fn whole_lines_partial_after_idle_and_at_exit() {
        let mut l = Lines::default();
        l.feed(b"one\ntw", 0);
        assert_eq!(collect(&mut l, 0, false), vec![(b"one".to_vec(), Piece::Line)]);
        assert_eq!(l.deadline(), Some(IDLE_FLUSH_MS));
        assert!(collect(&mut l, IDLE_FLUSH_MS - 1, false).is_empty());
        l.feed(b"o\r\n\xff\xfe", 100);
        assert_eq!(
            collect(&mut l, 150, false),
            vec![(b"two\r".to_vec(), Piece::Line)]
        );
        assert_eq!(
            collect(&mut l, 150, true),
            vec![(b"\xff\xfe".to_vec(), Piece::Partial)]
        );
        assert_eq!(l.backlog(), 0);
        assert_eq!(l.deadline(), None);
    }

    #[test]
    fn long_lines_are_split_with_a_marker() {
        let mut l = Lines::default();
        let mut data = vec![b'a'; MAX_LINE * 2 + 10];
        data.push(b'\n');
        l.feed(&data, 0);
        let got = collect(&mut l, 0, false);
        let kinds: Vec<Piece> = got.iter().map(|(_, p)| *p).collect();
        assert_eq!(kinds, [Piece::Split, Piece::Split, Piece::Line]);
        assert_eq!(got[2].0.len(), 10);
        let mut out = Vec::new();
        render(&mut out, b"web | ", &got[0].0[..3], Piece::Split);
        assert_eq!(out, b"web | aaa [...]\n");
    }

    #[test]
    fn newline_search_matches_the_simple_one() {
        let mut data = [b'x'; 100];
        for at in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 99] {
            data.fill(b'x');
            data[at] = b'\n';
            for end in [at + 1, 100] {
                assert_eq!(find_newline(&data[..end]), Some(at), "at {at} end {end}");
            }
            assert_eq!(find_newline(&data[..at]), None);
        }
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(b"\x8a\x0a"), Some(1));
    }

    #[test]
    fn a_full_sink_keeps_the_line_for_later() {
        let mut l = Lines::default();
        l.feed(b"a\nb\n", 0);
        let mut n = 0;
        l.drain(0, false, |_, _| {
            n += 1;
            n == 1
        });
        assert_eq!(collect(&mut l, 0, false), vec![(b"b".to_vec(), Piece::Line)]);
        assert_eq!(prefix_for("db", 4), b"db   | ");
    }
}
