//! Capture mode of a program's stream (`stdout_capture_maxbytes` /
//! `stderr_capture_maxbytes`): the text between `<!--XSUPERVISOR:BEGIN-->`
//! and `<!--XSUPERVISOR:END-->` becomes one PROCESS_COMMUNICATION event
//! instead of log output (docs/events.md, "Capture mode").
//!
//! Pure: the caller feeds each chunk it read and gets back the pieces in
//! order. Tokens split across reads are recognised.

const BEGIN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
const END: &[u8] = b"<!--XSUPERVISOR:END-->";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Output to log as usual (and to send as PROCESS_LOG when enabled).
    /// `captured` is true inside a block: supervisord still emits
    /// PROCESS_LOG events for it, but writes it to the capture buffer
    /// rather than the log file.
    Output { data: Vec<u8>, captured: bool },
    /// A block ended: its data, for a PROCESS_COMMUNICATION event.
    Communication(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Capture {
    maxbytes: usize,
    capturing: bool,
    /// Bytes that may be the start of a token, held for the next read.
    held: Vec<u8>,
    /// The current block, at most `maxbytes` (older bytes dropped first).
    block: Vec<u8>,
}

impl Capture {
    pub fn new(maxbytes: u64) -> Capture {
        Capture {
            maxbytes: usize::try_from(maxbytes).unwrap_or(usize::MAX),
            capturing: false,
            held: Vec::new(),
            block: Vec::new(),
        }
    }

    /// One chunk read from the stream.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Piece>) {
        self.held.extend_from_slice(data);
        loop {
            let token = if self.capturing { END } else { BEGIN };
            let data = std::mem::take(&mut self.held);
            match find(&data, token) {
                Some(at) => {
                    self.emit(data.get(..at).unwrap_or(&[]), out);
                    self.toggle(out);
                    self.held = data.get(at + token.len()..).unwrap_or(&[]).to_vec();
                }
                None => {
                    let keep = prefix_at_end(&data, token);
                    let split = data.len() - keep;
                    self.emit(data.get(..split).unwrap_or(&[]), out);
                    self.held = data.get(split..).unwrap_or(&[]).to_vec();
                    return;
                }
            }
        }
    }

    /// The stream ended: what was held back for a possible token is
    /// output after all (supervisord loses it; rinit does not).
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        let data = std::mem::take(&mut self.held);
        self.emit(&data, out);
    }

    fn emit(&mut self, data: &[u8], out: &mut Vec<Piece>) {
        if data.is_empty() {
            return;
        }
        if self.capturing {
            self.block.extend_from_slice(data);
            if self.block.len() > self.maxbytes {
                let excess = self.block.len() - self.maxbytes;
                self.block.drain(..excess);
            }
        }
        out.push(Piece::Output {
            data: data.to_vec(),
            captured: self.capturing,
        });
    }

    fn toggle(&mut self, out: &mut Vec<Piece>) {
        if self.capturing {
            out.push(Piece::Communication(std::mem::take(&mut self.block)));
        }
        self.capturing = !self.capturing;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest proper prefix of `token` that `data` ends with.
fn prefix_at_end(data: &[u8], token: &[u8]) -> usize {
    (1..token.len())
        .rev()
        .find(|&n| data.ends_with(token.get(..n).unwrap_or(&[])))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(data: &[u8], captured: bool) -> Piece {
        Piece::Output {
            data: data.to_vec(),
            captured,
        }
    }

    #[test]
    fn a_block_becomes_one_communication() {
        let mut c = Capture::new(1024);
        let mut got = Vec::new();
        c.feed(
            b"hello\n<!--XSUPERVISOR:BEGIN-->captured-data<!--XSUPERVISOR:END-->after\n",
            &mut got,
        );
        assert_eq!(
            got,
            [
                out(b"hello\n", false),
                out(b"captured-data", true),
                Piece::Communication(b"captured-data".to_vec()),
                out(b"after\n", false)
            ]
        );
    }

    #[test]
    fn tokens_split_across_reads_are_recognised() {
        let text: &[u8] = b"a<!--XSUPERVISOR:BEGIN-->xyz<!--XSUPERVISOR:END-->b";
        let mut c = Capture::new(1024);
        let mut got = Vec::new();
        for b in text {
            c.feed(&[*b], &mut got);
        }
        c.finish(&mut got);
        assert!(got.contains(&Piece::Communication(b"xyz".to_vec())));
        let plain: Vec<u8> = got
            .iter()
            .filter_map(|p| match p {
                Piece::Output {
                    data,
                    captured: false,
                } => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(plain, b"ab");
    }

    #[test]
    fn a_block_keeps_only_its_last_maxbytes() {
        let mut c = Capture::new(4);
        let mut got = Vec::new();
        c.feed(b"<!--XSUPERVISOR:BEGIN-->123456<!--XSUPERVISOR:END-->", &mut got);
        assert!(got.contains(&Piece::Communication(b"3456".to_vec())));
    }

    #[test]
    fn held_bytes_come_out_at_the_end() {
        let mut c = Capture::new(16);
        let mut got = Vec::new();
        c.feed(b"tail <!--X", &mut got);
        assert_eq!(got, [out(b"tail ", false)]);
        c.finish(&mut got);
        assert_eq!(got.last(), Some(&out(b"<!--X", false)));
    }
}
