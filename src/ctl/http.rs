//! The HTTP side of the control interface (docs/control.md): a bounded
//! HTTP/1.0-1.1 request parser, basic auth as supervisord checks it
//! (including `{SHA}` passwords), and the response bytes.

/// Largest request body a connection may send. supervisorctl's biggest
/// call is `sendProcessStdin`; with at most `server::MAX_CONNECTIONS`
/// connections this bounds what clients can make PID 1 hold to ~34 MiB.
pub const MAX_REQUEST: usize = 256 * 1024;
/// Largest request head.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// HTTP/1.1 (keep-alive by default) rather than 1.0.
    pub http11: bool,
    pub keep_alive: bool,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

/// What the bytes received so far amount to.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Need more bytes.
    Partial,
    /// A whole request, and how many bytes of the buffer it used.
    Done(Request, usize),
    /// A request that gets this status and the connection closed.
    Bad(u16),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parse one request from the start of `buf`. Empty lines before it are
/// skipped (RFC 7230 §3.5; supervisorctl ends its `tail -f` GET with one).
pub fn parse(buf: &[u8]) -> Parsed {
    let skip = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    match parse_at(buf.get(skip..).unwrap_or(&[])) {
        Parsed::Done(r, used) => Parsed::Done(r, used + skip),
        other => other,
    }
}

fn parse_at(buf: &[u8]) -> Parsed {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Parsed::Bad(431)
        } else {
            Parsed::Partial
        };
    };
    if head_end > MAX_HEAD {
        return Parsed::Bad(431);
    }
    let Ok(head) = std::str::from_utf8(buf.get(..head_end).unwrap_or(b"")) else {
        return Parsed::Bad(400);
    };
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut words = first.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Parsed::Bad(400);
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Parsed::Bad(400),
    };
    let mut length: usize = 0;
    let mut keep_alive = http11;
    let mut authorization = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Parsed::Bad(400);
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => match v.parse::<usize>() {
                Ok(n) if n <= MAX_REQUEST => length = n,
                Ok(_) => return Parsed::Bad(413),
                Err(_) => return Parsed::Bad(400),
            },
            "transfer-encoding" => return Parsed::Bad(501),
            "connection" => {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
            "authorization" => authorization = Some(v.to_string()),
            _ => {}
        }
    }
    let start = head_end + 4;
    let Some(end) = start.checked_add(length) else {
        return Parsed::Bad(413);
    };
    let Some(body) = buf.get(start..end) else {
        return Parsed::Partial;
    };
    Parsed::Done(
        Request {
            method: method.to_string(),
            path: path.to_string(),
            http11,
            keep_alive,
            authorization,
            body: body.to_vec(),
        },
        end,
    )
}

/// The reason phrase medusa sends for `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A complete response.
pub fn response(status: u16, content_type: &str, body: &[u8], keep_alive: bool) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nServer: rinit\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        status,
        reason(status),
        content_type,
        body.len()
    );
    if status == 401 {
        head.push_str("WWW-Authenticate: Basic realm=\"default\"\r\n");
    }
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An error page for `status`.
pub fn error_response(status: u16) -> Vec<u8> {
    let body = format!(
        "<html><head><title>Error response</title></head><body><h1>Error response</h1><p>Error code {status}.</p><p>Message: {}.</p></body></html>",
        reason(status)
    );
    response(status, "text/html", body.as_bytes(), false)
}

/// Does `authorization` (the header value) carry the configured
/// credentials? A `{SHA}` password is the hex SHA-1 of the real one.
pub fn authorized(authorization: Option<&str>, username: &str, password: &str) -> bool {
    let Some(h) = authorization else { return false };
    let Some((scheme, cred)) = h.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let decoded = base64_decode(cred.trim());
    let Ok(decoded) = std::str::from_utf8(&decoded) else {
        return false;
    };
    let Some((user, pass)) = decoded.split_once(':') else {
        return false;
    };
    if user != username {
        return false;
    }
    match password.strip_prefix("{SHA}") {
        Some(hex) => sha1_hex(pass.as_bytes()).eq_ignore_ascii_case(hex),
        None => pass == password,
    }
}

/// Standard base64 (padding optional); invalid characters are skipped.
pub fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

pub fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-1, hex: only for `{SHA}` passwords (supervisord's format).
pub fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate().take(16) {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

/// Fuzz entry point: the parser and the auth check must return, never
/// panic.
pub fn fuzz_http(data: &[u8]) {
    if let Parsed::Done(r, _) = parse(data) {
        let _ = authorized(r.authorization.as_deref(), "u", "{SHA}00");
        let _ = super::xmlrpc::parse_call(&r.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_is_parsed_once_whole() {
        let req = b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nAuthorization: Basic dTpw\r\n\r\nhello+next";
        assert_eq!(parse(&req[..30]), Parsed::Partial);
        assert_eq!(parse(&req[..req.len() - 6]), Parsed::Partial);
        match parse(req) {
            Parsed::Done(r, used) => {
                assert_eq!(used, req.len() - 5);
                assert_eq!(r.body, b"hello");
                assert!(r.http11 && r.keep_alive);
                assert!(authorized(r.authorization.as_deref(), "u", "p"));
                assert!(!authorized(r.authorization.as_deref(), "u", "q"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_and_malformed_requests_get_an_error_status() {
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
            Parsed::Bad(413)
        );
        assert_eq!(parse(&vec![b'a'; MAX_HEAD + 1]), Parsed::Bad(431));
        assert_eq!(parse(b"GARBAGE\r\n\r\n"), Parsed::Bad(400));
        assert!(matches!(
            parse(b"\r\nGET / HTTP/1.1\r\n\r\n"),
            Parsed::Done(_, 20)
        ));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Parsed::Bad(400)
        );
    }

    #[test]
    fn sha_passwords_match_supervisord() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let h = format!("Basic {}", base64_encode(b"user:thepassword"));
        let sha = format!("{{SHA}}{}", sha1_hex(b"thepassword"));
        assert!(authorized(Some(&h), "user", &sha));
        assert!(!authorized(Some(&h), "user", "{SHA}0000"));
        assert!(!authorized(None, "user", "thepassword"));
    }

    /// A deterministic stand-in for the fuzzer in `cargo test`: mutations
    /// of a valid request (bytes flipped, cut, duplicated) never panic.
    #[test]
    fn mutated_requests_never_panic() {
        let body = "<?xml version='1.0'?><methodCall><methodName>supervisor.startProcess</methodName><params><param><value><string>a&amp;b</string></value></param><param><value><array><data><value><struct><member><name>k</name><value><i4>1</i4></value></member></struct></value></data></array></value></param></params></methodCall>";
        let base = format!(
            "POST /RPC2 HTTP/1.1\r\nAuthorization: Basic dTpw\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let mut m = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % m.len();
                match next() % 4 {
                    0 => m[i] = next() as u8,
                    1 => m.truncate(i.max(1)),
                    2 => {
                        let b = m[i];
                        m.insert(i, b)
                    }
                    _ => m[i] = b"<>&;/#x"[(next() % 7) as usize],
                }
            }
            fuzz_http(&m);
            let start = find(&m, b"\r\n\r\n").map_or(0, |p| p + 4).min(m.len());
            super::super::xmlrpc::fuzz_xmlrpc(&m[start..]);
        }
    }

    #[test]
    fn base64_round_trips() {
        for s in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"user:p\xffss"] {
            assert_eq!(base64_decode(&base64_encode(s)), s);
        }
    }
}
