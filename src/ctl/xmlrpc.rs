//! XML-RPC requests and responses (docs/control.md).
//!
//! The parser reads only what an XML-RPC `methodCall` needs: elements, text,
//! the five predefined entities and numeric character references, comments,
//! CDATA and the `<?xml?>` declaration. A DTD (`<!DOCTYPE`, `<!ENTITY`) or
//! any other entity is refused, so no payload can expand; nesting is capped.
//! The serializer writes what Python's `xmlrpclib.dumps` writes, which is
//! what supervisord answers.

/// An XML-RPC value. No `double`: supervisord's API has none, and float
/// parsing and printing would cost the static binary ~20 KB.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
    Struct(Vec<(String, Value)>),
    Nil,
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A struct member by name.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Deepest element nesting accepted (a methodCall with a struct in an array
/// in a multicall needs about 12).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

fn err<T>(msg: &str) -> Result<T, ParseError> {
    Err(ParseError(msg.to_string()))
}

#[derive(Debug, PartialEq)]
enum Token {
    Open(String),
    Close(String),
    /// `<x/>`
    Empty(String),
    Text(String),
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn next(&mut self) -> Result<Option<Token>, ParseError> {
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Ok(None);
            }
            if let Some(r) = rest.strip_prefix("<?") {
                let end = r.find("?>").ok_or_else(|| ParseError("unterminated <?".into()))?;
                self.pos += 2 + end + 2;
                continue;
            }
            if let Some(r) = rest.strip_prefix("<!--") {
                let end = r
                    .find("-->")
                    .ok_or_else(|| ParseError("unterminated comment".into()))?;
                self.pos += 4 + end + 3;
                continue;
            }
            if let Some(r) = rest.strip_prefix("<![CDATA[") {
                let end = r
                    .find("]]>")
                    .ok_or_else(|| ParseError("unterminated CDATA".into()))?;
                let text = r.get(..end).unwrap_or("").to_string();
                self.pos += 9 + end + 3;
                return Ok(Some(Token::Text(text)));
            }
            if rest.starts_with("<!") {
                return err("DTD and declarations are not accepted");
            }
            if let Some(r) = rest.strip_prefix("</") {
                let end = r.find('>').ok_or_else(|| ParseError("unterminated tag".into()))?;
                let name = r.get(..end).unwrap_or("").trim().to_string();
                self.pos += 2 + end + 1;
                return Ok(Some(Token::Close(name)));
            }
            if let Some(r) = rest.strip_prefix('<') {
                let end = r.find('>').ok_or_else(|| ParseError("unterminated tag".into()))?;
                let inner = r.get(..end).unwrap_or("");
                self.pos += 1 + end + 1;
                let (inner, empty) = match inner.strip_suffix('/') {
                    Some(i) => (i, true),
                    None => (inner, false),
                };
                // Attributes are ignored (XML-RPC has none); the name is
                // the first word.
                let name = inner.split_ascii_whitespace().next().unwrap_or("").to_string();
                if name.is_empty() {
                    return err("empty tag name");
                }
                return Ok(Some(if empty {
                    Token::Empty(name)
                } else {
                    Token::Open(name)
                }));
            }
            let end = rest.find('<').unwrap_or(rest.len());
            let raw = rest.get(..end).unwrap_or("");
            self.pos += end;
            return Ok(Some(Token::Text(unescape(raw)?)));
        }
    }
}

/// The five predefined entities and `&#N;` / `&#xN;`; anything else fails.
fn unescape(raw: &str) -> Result<String, ParseError> {
    if !raw.contains('&') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        let semi = after
            .find(';')
            .ok_or_else(|| ParseError("unterminated entity".into()))?;
        let name = after.get(..semi).unwrap_or("");
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = name.strip_prefix('#') {
                    d.parse::<u32>().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
                    .ok_or_else(|| ParseError(format!("undefined entity &{name};")))?
            }
        };
        out.push(c);
        rest = after.get(semi + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

/// A parsed element tree (only what XML-RPC needs).
#[derive(Debug)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

fn parse_tree(body: &str) -> Result<Element, ParseError> {
    let mut lx = Lexer { s: body, pos: 0 };
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let Some(tok) = lx.next()? else {
            return err("unexpected end of document");
        };
        match tok {
            Token::Open(name) => {
                if stack.len() >= MAX_DEPTH {
                    return err("too deeply nested");
                }
                stack.push(Element {
                    name,
                    text: String::new(),
                    children: Vec::new(),
                });
            }
            Token::Empty(name) => {
                let e = Element {
                    name,
                    text: String::new(),
                    children: Vec::new(),
                };
                match stack.last_mut() {
                    Some(top) => top.children.push(e),
                    None => return finish(&mut lx, e),
                }
            }
            Token::Text(t) => match stack.last_mut() {
                Some(top) => top.text.push_str(&t),
                None if t.trim().is_empty() => {}
                None => return err("text outside the root element"),
            },
            Token::Close(name) => {
                let Some(e) = stack.pop() else {
                    return err("unbalanced end tag");
                };
                if e.name != name {
                    return err("mismatched end tag");
                }
                match stack.last_mut() {
                    Some(top) => top.children.push(e),
                    None => return finish(&mut lx, e),
                }
            }
        }
    }
}

fn finish(lx: &mut Lexer, root: Element) -> Result<Element, ParseError> {
    while let Some(t) = lx.next()? {
        match t {
            Token::Text(s) if s.trim().is_empty() => {}
            _ => return err("content after the root element"),
        }
    }
    Ok(root)
}

fn value_of(e: &Element) -> Result<Value, ParseError> {
    // <value>text</value> is a string.
    let Some(t) = e.children.first() else {
        return Ok(Value::Str(e.text.clone()));
    };
    let text = t.text.trim();
    Ok(match t.name.as_str() {
        "int" | "i4" | "i8" => Value::Int(text.parse().map_err(|_| ParseError("bad int".into()))?),
        "boolean" => match text {
            "1" => Value::Bool(true),
            "0" => Value::Bool(false),
            _ => return err("bad boolean"),
        },
        "string" | "dateTime.iso8601" => Value::Str(t.text.clone()),
        "base64" => Value::Str(String::from_utf8_lossy(&super::http::base64_decode(text)).into_owned()),
        "nil" => Value::Nil,
        "array" => {
            let data = t.children.iter().find(|c| c.name == "data");
            let mut out = Vec::new();
            for v in data.map(|d| d.children.as_slice()).unwrap_or(&[]) {
                out.push(value_of(v)?);
            }
            Value::Array(out)
        }
        "struct" => {
            let mut out = Vec::new();
            for m in t.children.iter().filter(|c| c.name == "member") {
                let name = m
                    .children
                    .iter()
                    .find(|c| c.name == "name")
                    .map(|n| n.text.clone());
                let v = m.children.iter().find(|c| c.name == "value");
                if let (Some(n), Some(v)) = (name, v) {
                    out.push((n, value_of(v)?));
                }
            }
            Value::Struct(out)
        }
        _ => return err("unknown value type"),
    })
}

/// A `methodCall`: the method name and its parameters.
pub fn parse_call(body: &[u8]) -> Result<(String, Vec<Value>), ParseError> {
    let body = std::str::from_utf8(body).map_err(|_| ParseError("not UTF-8".into()))?;
    let root = parse_tree(body)?;
    if root.name != "methodCall" {
        return err("not a methodCall");
    }
    let name = root
        .children
        .iter()
        .find(|c| c.name == "methodName")
        .map(|c| c.text.trim().to_string())
        .unwrap_or_default();
    let mut params = Vec::new();
    if let Some(ps) = root.children.iter().find(|c| c.name == "params") {
        for p in ps.children.iter().filter(|c| c.name == "param") {
            if let Some(v) = p.children.iter().find(|c| c.name == "value") {
                params.push(value_of(v)?);
            }
        }
    }
    Ok((name, params))
}

/// Text as `xmlrpclib` escapes it; characters XML 1.0 cannot carry become
/// U+FFFD so the client's parser does not fail on a log's control bytes.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Int(i) => out.push_str(&format!("<value><int>{i}</int></value>\n")),
        Value::Bool(b) => out.push_str(&format!("<value><boolean>{}</boolean></value>\n", u8::from(*b))),
        Value::Nil => out.push_str("<value><nil/></value>"),
        Value::Str(s) => {
            out.push_str("<value><string>");
            escape(s, out);
            out.push_str("</string></value>\n");
        }
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for i in items {
                write_value(i, out);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (k, v) in members {
                out.push_str("<member>\n<name>");
                escape(k, out);
                out.push_str("</name>\n");
                write_value(v, out);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
    }
}

/// A `methodResponse` carrying `v`.
pub fn response(v: &Value) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n");
    write_value(v, &mut out);
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out
}

/// A `methodResponse` carrying a fault.
pub fn fault(code: i32, text: &str) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n");
    let v = Value::Struct(vec![
        ("faultCode".into(), Value::Int(i64::from(code))),
        ("faultString".into(), Value::str(text)),
    ]);
    write_value(&v, &mut out);
    out.push_str("</fault>\n</methodResponse>\n");
    out
}

/// A `methodCall` (for `rinit ctl`).
pub fn call(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodCall>\n<methodName>");
    escape(method, &mut out);
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>\n");
        write_value(p, &mut out);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// A `methodResponse` as the client reads it: `Ok(value)` or
/// `Err((faultCode, faultString))`.
pub fn parse_response(body: &[u8]) -> Result<Result<Value, (i64, String)>, ParseError> {
    let body = std::str::from_utf8(body).map_err(|_| ParseError("not UTF-8".into()))?;
    let root = parse_tree(body)?;
    if root.name != "methodResponse" {
        return err("not a methodResponse");
    }
    if let Some(f) = root.children.iter().find(|c| c.name == "fault") {
        let v = f
            .children
            .iter()
            .find(|c| c.name == "value")
            .map(value_of)
            .transpose()?;
        let v = v.unwrap_or(Value::Nil);
        let code = match v.member("faultCode") {
            Some(Value::Int(i)) => *i,
            _ => 0,
        };
        let text = v
            .member("faultString")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return Ok(Err((code, text)));
    }
    let v = root
        .children
        .iter()
        .find(|c| c.name == "params")
        .and_then(|ps| ps.children.iter().find(|c| c.name == "param"))
        .and_then(|p| p.children.iter().find(|c| c.name == "value"));
    match v {
        Some(v) => Ok(Ok(value_of(v)?)),
        None => err("no value in the response"),
    }
}

/// Fuzz entry point: the parser must return, never panic or hang.
pub fn fuzz_xmlrpc(data: &[u8]) {
    let _ = parse_call(data);
    let _ = parse_response(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_with_every_type_parses() {
        let body = b"<?xml version='1.0'?>\n<methodCall><methodName>supervisor.startProcess</methodName>\
<params><param><value><string>a&amp;b&#65;&#x42;</string></value></param>\
<param><value><boolean>1</boolean></value></param><param><value>plain</value></param>\
<param><value><array><data><value><i4>-3</i4></value></data></array></value></param>\
<param><value><struct><member><name>k</name><value><int>7</int></value></member></struct></value></param>\
</params></methodCall>";
        let (m, p) = parse_call(body).unwrap();
        assert_eq!(m, "supervisor.startProcess");
        assert_eq!(
            p,
            vec![
                Value::str("a&bAB"),
                Value::Bool(true),
                Value::str("plain"),
                Value::Array(vec![Value::Int(-3)]),
                Value::Struct(vec![("k".into(), Value::Int(7))]),
            ]
        );
    }

    #[test]
    fn dtd_and_unknown_entities_are_refused() {
        let bomb = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><methodCall><methodName>&a;</methodName></methodCall>";
        assert!(parse_call(bomb).is_err());
        assert!(parse_call(b"<methodCall><methodName>&a;</methodName></methodCall>").is_err());
    }

    #[test]
    fn nesting_is_capped() {
        let mut s = String::from("<methodCall>");
        for _ in 0..10000 {
            s.push_str("<a>");
        }
        assert!(parse_call(s.as_bytes()).is_err());
    }

    #[test]
    fn response_and_fault_round_trip() {
        let v = Value::Struct(vec![
            ("name".into(), Value::str("<x>")),
            ("pid".into(), Value::Int(3)),
        ]);
        assert_eq!(parse_response(response(&v).as_bytes()).unwrap(), Ok(v));
        assert_eq!(
            parse_response(fault(10, "BAD_NAME: x").as_bytes()).unwrap(),
            Err((10, "BAD_NAME: x".to_string()))
        );
        let (m, p) = parse_call(call("a.b", &[Value::Bool(false)]).as_bytes()).unwrap();
        assert_eq!((m.as_str(), p), ("a.b", vec![Value::Bool(false)]));
    }

    #[test]
    fn fuzz_inputs_do_not_panic() {
        for s in [
            "<",
            "<a",
            "</",
            "<a></b>",
            "&",
            "<a>&#xFFFFFFFF;</a>",
            "<!--",
            "<![CDATA[",
            "<?",
        ] {
            fuzz_xmlrpc(s.as_bytes());
        }
    }
}
