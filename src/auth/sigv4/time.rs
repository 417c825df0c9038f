//! The two timestamp formats SigV4 meets: ISO 8601 basic (`20150830T123600Z`, used by
//! `x-amz-date` and the string to sign) and IMF-fixdate (`Sun, 30 Aug 2015 12:36:00 GMT`,
//! the HTTP `date` header, accepted when that is what a request signs).
//!
//! Pure conversions between text and `SystemTime`, UTC only, years 1970 to 9999. The
//! obsolete RFC 850 and asctime forms of `date` are not accepted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];

/// `YYYYMMDDTHHMMSSZ`. A time before 1970 is written as 1970-01-01T00:00:00Z.
pub(super) fn format_basic(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (year, month, day) = civil_from_days(seconds / SECONDS_PER_DAY);
    let of_day = seconds % SECONDS_PER_DAY;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Parses exactly `YYYYMMDDTHHMMSSZ`.
pub(super) fn parse_basic(text: &[u8]) -> Option<SystemTime> {
    let [
        y0,
        y1,
        y2,
        y3,
        mo0,
        mo1,
        d0,
        d1,
        b'T',
        h0,
        h1,
        mi0,
        mi1,
        s0,
        s1,
        b'Z',
    ] = *text
    else {
        return None;
    };
    let year = digits(&[y0, y1, y2, y3])?;
    time_of(
        year,
        digits(&[mo0, mo1])?,
        digits(&[d0, d1])?,
        [h0, h1, mi0, mi1, s0, s1],
    )
}

/// Parses exactly IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(super) fn parse_imf_fixdate(text: &[u8]) -> Option<SystemTime> {
    let [
        w0,
        w1,
        w2,
        b',',
        b' ',
        d0,
        d1,
        b' ',
        m0,
        m1,
        m2,
        b' ',
        y0,
        y1,
        y2,
        y3,
        b' ',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        b' ',
        b'G',
        b'M',
        b'T',
    ] = *text
    else {
        return None;
    };
    if !WEEKDAYS.contains(&&[w0, w1, w2]) {
        return None;
    }
    let month = MONTHS.iter().position(|m| **m == [m0, m1, m2])? as u64 + 1;
    let year = digits(&[y0, y1, y2, y3])?;
    time_of(year, month, digits(&[d0, d1])?, [h0, h1, mi0, mi1, s0, s1])
}

/// The time at a civil date and `HHMMSS`, or `None` for an impossible one.
fn time_of(year: u64, month: u64, day: u64, hms: [u8; 6]) -> Option<SystemTime> {
    let hours = digits(&hms[0..2])?;
    let minutes = digits(&hms[2..4])?;
    let seconds = digits(&hms[4..6])?;
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || hours > 23
        || minutes > 59
        || seconds > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // Day 31 of a 30-day month lands in the next month: refuse it.
    if civil_from_days(days) != (year, month, day) {
        return None;
    }
    let total = days * SECONDS_PER_DAY + hours * 3600 + minutes * 60 + seconds;
    UNIX_EPOCH.checked_add(Duration::from_secs(total))
}

fn digits(text: &[u8]) -> Option<u64> {
    text.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date in 1970..=9999 (month 1..=12).
/// Howard Hinnant's `days_from_civil`, restricted to non-negative years.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`] for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn known_instants_round_trip() {
        for (seconds, text) in [
            (0, "19700101T000000Z"),
            (1_440_938_160, "20150830T123600Z"),
            (951_782_400, "20000229T000000Z"),
            (1_709_251_199, "20240229T235959Z"),
            (253_402_300_799, "99991231T235959Z"),
        ] {
            assert_eq!(format_basic(at(seconds)), text);
            assert_eq!(parse_basic(text.as_bytes()), Some(at(seconds)), "{text}");
        }
        assert_eq!(
            format_basic(UNIX_EPOCH - Duration::from_secs(1)),
            "19700101T000000Z"
        );
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        for days in (0..146_097 * 2).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn impossible_or_misshapen_dates_are_refused() {
        for text in [
            "20150230T000000Z",
            "20150431T000000Z",
            "20190229T000000Z",
            "20151301T000000Z",
            "20150830T240000Z",
            "20150830T236000Z",
            "20150830T123660Z",
            "19691231T235959Z",
            "20150830 123600Z",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "2015083OT123600Z",
        ] {
            assert_eq!(parse_basic(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn imf_fixdate_parses_the_documented_form_only() {
        assert_eq!(
            parse_imf_fixdate(b"Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(at(1_440_938_160))
        );
        assert_eq!(
            parse_imf_fixdate(b"Fri, 24 May 2013 00:00:00 GMT"),
            parse_basic(b"20130524T000000Z")
        );
        for text in [
            "Sunday, 30-Aug-15 12:36:00 GMT",
            "Sun Aug 30 12:36:00 2015",
            "Sun, 30 Aug 2015 12:36:00 UTC",
            "Xyz, 30 Aug 2015 12:36:00 GMT",
            "Sun, 31 Sep 2015 12:36:00 GMT",
            "Sun, 30 aug 2015 12:36:00 GMT",
        ] {
            assert_eq!(parse_imf_fixdate(text.as_bytes()), None, "{text}");
        }
    }
}
