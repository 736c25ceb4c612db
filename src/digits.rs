//! Text forms that the hot paths write hundreds of thousands of times per run — decimal
//! integers, IPv4 addresses, RFC 3339 times — appended to a `String` without
//! going through `core::fmt` (which costs over a thousand instructions for one IPv4 address).
//! Each is equal to the standard formatting it replaces; the tests below prove it.

use std::net::Ipv4Addr;

/// Appends the decimal form of `v` (as `{v}` prints it).
pub fn push_decimal(out: &mut String, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    push_ascii(out, &buf[i..]);
}

/// Appends the dotted-quad form of `a` (as `{a}` prints it).
pub fn push_ipv4(out: &mut String, a: Ipv4Addr) {
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, o.into());
    }
}

/// Appends `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`, for years 0 to 9999; returns
/// false (appending nothing) for other times.
pub fn push_rfc3339(out: &mut String, secs: i64) -> bool {
    const YEAR_0: i64 = -62_167_219_200;
    const YEAR_10000: i64 = 253_402_300_800;
    if !(YEAR_0..YEAR_10000).contains(&secs) {
        return false;
    }
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut buf = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, v: i64| {
        let mut v = v;
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, sod / 3600);
    put(14, 2, sod / 60 % 60);
    put(17, 2, sod % 60);
    push_ascii(out, &buf);
    true
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push_ascii(out: &mut String, bytes: &[u8]) {
    out.push_str(std::str::from_utf8(bytes).expect("digits are ASCII"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::from("x");
        f(&mut s);
        s
    }

    #[test]
    fn edges() {
        assert_eq!(with(|s| push_decimal(s, 0)), "x0");
        assert_eq!(with(|s| push_decimal(s, u64::MAX)), "x18446744073709551615");
        assert_eq!(
            with(|s| push_ipv4(s, Ipv4Addr::new(10, 0, 255, 7))),
            "x10.0.255.7"
        );
        // 2008-01-01T01:01:01Z, the upstream test fixtures' time.
        assert_eq!(
            with(|s| assert!(push_rfc3339(s, 1_199_149_261))),
            "x2008-01-01T01:01:01Z"
        );
        assert_eq!(
            with(|s| assert!(push_rfc3339(s, -62_167_219_200))),
            "x0000-01-01T00:00:00Z"
        );
        assert_eq!(
            with(|s| assert!(push_rfc3339(s, 253_402_300_799))),
            "x9999-12-31T23:59:59Z"
        );
        assert_eq!(with(|s| assert!(!push_rfc3339(s, 253_402_300_800))), "x");
    }

    proptest! {
        #[test]
        fn equal_to_std_and_jiff(v: u64, a: [u8; 4],
                                 secs in -62_167_219_200i64..253_402_300_800) {
            prop_assert_eq!(with(|s| push_decimal(s, v)), format!("x{v}"));
            let ip = Ipv4Addr::from(a);
            prop_assert_eq!(with(|s| push_ipv4(s, ip)), format!("x{ip}"));
            let t = k8s_openapi::jiff::Timestamp::from_second(secs).unwrap();
            prop_assert_eq!(
                with(|s| assert!(push_rfc3339(s, secs))),
                format!("x{}", t.strftime("%Y-%m-%dT%H:%M:%SZ"))
            );
        }
    }
}
