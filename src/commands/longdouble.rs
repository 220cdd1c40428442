//! INCRBYFLOAT's numbers: C's long double through `csrc/longdouble.c`,
//! because the digits Redis prints come from long double arithmetic.

use std::ffi::c_char;

use crate::protocol::Reply;

unsafe extern "C" {
    fn shardcask_ld_valid(text: *const c_char, len: usize) -> i32;
    fn shardcask_ld_incr(
        old: *const c_char,
        old_len: usize,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_len: usize,
    ) -> i64;
}

/// `ERR value is not a valid float`
pub const NOT_A_FLOAT: Reply = Reply::err("ERR value is not a valid float");

/// Room for any printed long double (Redis's MAX_LONG_DOUBLE_CHARS).
const OUT_CHARS: usize = 5 * 1024 + 8;

/// True when `text` reads as a number the way Redis's `string2ld` reads it.
pub fn is_valid(text: &[u8]) -> bool {
    // SAFETY: the C side reads exactly `len` bytes of `text`.
    unsafe { shardcask_ld_valid(text.as_ptr().cast(), text.len()) == 1 }
}

/// `old` (absent: 0) plus `increment`, printed as Redis prints it, or the
/// error reply Redis gives.
pub fn increment(old: Option<&[u8]>, increment: &[u8]) -> Result<String, Reply> {
    let mut out = vec![0u8; OUT_CHARS];
    let (old_ptr, old_len) = old.map_or((std::ptr::null(), 0), |old| (old.as_ptr(), old.len()));
    // SAFETY: the C side reads `old_len` bytes of `old` (none when null) and
    // `increment.len()` of `increment`, and writes at most `out.len()` bytes.
    let len = unsafe {
        shardcask_ld_incr(
            old_ptr.cast(),
            old_len,
            increment.as_ptr().cast(),
            increment.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    match len {
        -3 => Err(Reply::err("ERR increment would produce NaN or Infinity")),
        len if len < 0 => Err(NOT_A_FLOAT),
        len => {
            out.truncate(len as usize);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_print_as_redis_prints_them() {
        // Answers of redis-server 7.0.15 for the same sums.
        assert_eq!(increment(None, b"0.1").unwrap(), "0.1");
        assert_eq!(increment(Some(b"0.2"), b"0.1").unwrap(), "0.3");
        assert_eq!(
            increment(Some(b"1000.1"), b"0").unwrap(),
            "1000.09999999999999998"
        );
        assert_eq!(increment(None, b"5.0e3").unwrap(), "5000");
        assert_eq!(
            increment(None, b"123456789.123456789").unwrap(),
            "123456789.12345678899873747"
        );
        assert_eq!(increment(Some(b"1"), b"-1").unwrap(), "0");
        assert_eq!(increment(Some(b"abc"), b"1"), Err(NOT_A_FLOAT));
        assert_eq!(increment(None, b" 1"), Err(NOT_A_FLOAT));
        assert_eq!(increment(None, b"nan"), Err(NOT_A_FLOAT));
        assert_eq!(increment(Some(b"\x001"), b"1"), Err(NOT_A_FLOAT));
        assert_eq!(
            increment(Some(b"1e4932"), b"1e4932").unwrap_err(),
            Reply::err("ERR increment would produce NaN or Infinity")
        );
        assert!(is_valid(b"1e10") && is_valid(b"-.5") && !is_valid(b"") && !is_valid(b"1x"));
    }
}
