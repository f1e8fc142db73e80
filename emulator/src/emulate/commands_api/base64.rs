//! Standard padded base64 (RFC 4648 §4), the encoding of `inlineBase64` bodies
//! (upstream-runtime-and-bindings.md §5.1, §5.4: inline params and responses are base64).

use ::base64::Engine as _;
use ::base64::engine::general_purpose::STANDARD;

pub use ::base64::DecodeError as Base64Error;

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    STANDARD.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors.
    #[test]
    fn rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
        assert!(decode("Zg=").is_err(), "unpadded");
        assert!(decode("Z!==").is_err(), "not the alphabet");
    }
}
