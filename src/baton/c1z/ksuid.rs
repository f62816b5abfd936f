//! Minimal KSUID generator: 27 base62 characters encoding a 4-byte timestamp and 16 random bytes.
//!
//! Baton names each sync with a KSUID (`segmentio/ksuid`); its readers only need a unique,
//! roughly time-ordered string, but we produce a valid KSUID so tools that parse it accept it.

/// KSUID epoch: 2014-05-13T16:53:20Z, in Unix seconds.
const EPOCH: i64 = 1_400_000_000;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the string form.
pub const LEN: usize = 27;

/// A new KSUID for `unix_seconds` with a random payload.
pub fn new(unix_seconds: i64) -> String {
    let mut payload = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut payload[..]);
    encode(unix_seconds, &payload)
}

/// The string form of the KSUID made of `unix_seconds` and `payload`.
pub fn encode(unix_seconds: i64, payload: &[u8; 16]) -> String {
    // Times outside the 136-year KSUID window are clamped rather than wrapped.
    let ts = (unix_seconds - EPOCH).clamp(0, i64::from(u32::MAX)) as u32;
    let mut n = [0u8; 20];
    n[..4].copy_from_slice(&ts.to_be_bytes());
    n[4..].copy_from_slice(payload);
    // Base62 by repeated long division of the 160-bit big-endian number.
    let mut out = [b'0'; LEN];
    for slot in out.iter_mut().rev() {
        let mut rem = 0u32;
        for byte in n.iter_mut() {
            let acc = (rem << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            rem = acc % 62;
        }
        *slot = ALPHABET[rem as usize];
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

/// Decodes the timestamp (Unix seconds) of a KSUID string; `None` if it is not one.
#[cfg(test)]
pub fn timestamp(ksuid: &str) -> Option<i64> {
    if ksuid.len() != LEN {
        return None;
    }
    let mut n = [0u8; 20];
    for c in ksuid.bytes() {
        let d = ALPHABET.iter().position(|a| *a == c)? as u32;
        let mut carry = d;
        for byte in n.iter_mut().rev() {
            let acc = u32::from(*byte) * 62 + carry;
            *byte = acc as u8;
            carry = acc >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(i64::from(u32::from_be_bytes([n[0], n[1], n[2], n[3]])) + EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Extremes of the format: all-zero and all-ones KSUIDs.
        assert_eq!(encode(EPOCH, &[0; 16]), "000000000000000000000000000");
        assert_eq!(
            encode(EPOCH + i64::from(u32::MAX), &[0xff; 16]),
            "aWgEPTl1tmebfsQzFP4bxwgy80V"
        );
    }

    #[test]
    fn round_trips_time_and_sorts() {
        let a = new(1_700_000_000);
        let b = new(1_700_000_100);
        assert_eq!(a.len(), LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(timestamp(&a), Some(1_700_000_000));
        assert!(a < b);
        assert_eq!(timestamp("not-a-ksuid"), None);
    }
}
