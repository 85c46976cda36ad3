//! A strict `application/x-www-form-urlencoded` parser: malformed escapes and invalid
//! UTF-8 are errors (answered with 400), not silently replaced characters.
use percent_encoding::percent_decode;

const MAX_FIELDS: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct FormError;

#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut fields = Vec::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if fields.len() == MAX_FIELDS {
                return Err(FormError);
            }
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            fields.push((decode(k)?, decode(v)?));
        }
        Ok(Self(fields))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(raw: &[u8]) -> Result<String, FormError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    // Every '%' must start a valid escape.
    let mut i = 0;
    while i < plus_as_space.len() {
        if plus_as_space[i] == b'%' {
            let ok = plus_as_space
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(FormError);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| FormError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let f = Form::parse(b"email=a%40b.c&password=p+w%26x&empty=&flag").unwrap();
        assert_eq!(f.get("email"), Some("a@b.c"));
        assert_eq!(f.get("password"), Some("p w&x"));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("missing"), None);
        assert_eq!(
            Form::parse("名前=%E5%B1%B1".as_bytes())
                .unwrap()
                .get("名前"),
            Some("山")
        );
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(Form::parse(b"a=%ff%fe").unwrap_err(), FormError);
        assert_eq!(Form::parse(b"a=\xff").unwrap_err(), FormError);
        assert_eq!(Form::parse(b"a=%zz").unwrap_err(), FormError);
        assert_eq!(Form::parse(b"a=%4").unwrap_err(), FormError);
        let many = "a=1&".repeat(65);
        assert_eq!(Form::parse(many.as_bytes()).unwrap_err(), FormError);
    }
}
