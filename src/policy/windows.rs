//! Maintenance windows: recurring times, in a time zone, when disruptive steps (a notebook
//! Stop) may start. A window is weekly (`Sat 22:00-Sun 04:00`) or daily (`22:00-04:00`); the
//! local times are turned into instants with the zone's rules (jiff), so daylight saving time
//! moves the window with the wall clock. A local time that does not exist (skipped when DST
//! begins) is moved forward by the gap (02:30 becomes 03:30); a repeated one (when DST ends) is
//! its first occurrence.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::model::Millis;

/// A parsed `when`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// `None`: daily.
    pub start_day: Option<Weekday>,
    pub start: Time,
    pub end_day: Option<Weekday>,
    pub end: Time,
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

fn time(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// `[Day] HH:MM-[Day] HH:MM` (both days or neither).
///
/// # Errors
///
/// What is wrong, for the configuration's message.
pub fn parse(when: &str) -> Result<Spec, String> {
    let bad = || {
        format!(
            "must be like `Sat 22:00-Sun 04:00` (weekly, days Mon..Sun) or `22:00-04:00` \
             (daily), found `{when}`"
        )
    };
    let (from, to) = when.split_once('-').ok_or_else(bad)?;
    let side = |s: &str| -> Result<(Option<Weekday>, Time), String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [t] => Ok((None, time(t).ok_or_else(bad)?)),
            [d, t] => Ok((Some(weekday(d).ok_or_else(bad)?), time(t).ok_or_else(bad)?)),
            _ => Err(bad()),
        }
    };
    let (start_day, start) = side(from)?;
    let (end_day, end) = side(to)?;
    if start_day.is_some() != end_day.is_some() {
        return Err(bad());
    }
    if start_day == end_day && start == end {
        return Err(format!("`{when}` is empty: its start and end are the same"));
    }
    Ok(Spec {
        start_day,
        start,
        end_day,
        end,
    })
}

fn instant(date: Date, time: Time, tz: &TimeZone) -> Option<Millis> {
    let zoned = DateTime::from_parts(date, time)
        .to_zoned_datetime(tz.clone())
        .ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// The occurrence of `spec` that contains `now` or, if none does, the next one: (start, end).
pub fn occurrence(spec: &Spec, tz: &TimeZone, now: Millis) -> Option<(Millis, Millis)> {
    let today = Timestamp::from_millisecond(now)
        .ok()?
        .to_zoned_datetime(tz.clone())
        .date();
    // The start date of the occurrence that began most recently on or before today.
    let (anchor, period, length_days) = match (spec.start_day, spec.end_day) {
        (Some(s), Some(e)) => {
            let back = i64::from(s.until(today.weekday()));
            let mut days = i64::from(s.until(e));
            if days == 0 && spec.end <= spec.start {
                days = 7;
            }
            (today.checked_sub(back.days()).ok()?, 7, days)
        }
        _ => {
            let days = i64::from(spec.end <= spec.start);
            (today, 1, days)
        }
    };
    let mut best: Option<(Millis, Millis)> = None;
    for k in [-2i64, -1, 0, 1] {
        let start_date = anchor.checked_add((k * period).days()).ok()?;
        let end_date = start_date.checked_add(length_days.days()).ok()?;
        let start = instant(start_date, spec.start, tz)?;
        let end = instant(end_date, spec.end, tz)?;
        if end > now && best.is_none_or(|(s, _)| start < s) {
            best = Some((start, end));
        }
    }
    best
}

/// When a disruptive step may start at the earliest, given the windows that apply: `None`
/// when one applies and is open now (or none applies), else the next opening.
pub fn wait_until(windows: &[(Spec, TimeZone)], now: Millis) -> Option<Millis> {
    let mut next: Option<Millis> = None;
    for (spec, tz) in windows {
        let (start, _) = occurrence(spec, tz, now)?;
        if start <= now {
            return None;
        }
        next = Some(next.map_or(start, |n| n.min(start)));
    }
    next
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn parses_weekly_and_daily_windows_and_refuses_the_rest() {
        let s = parse("Sat 22:00-Sun 04:00").unwrap();
        assert_eq!(s.start_day, Some(Weekday::Saturday));
        assert_eq!(s.end, Time::new(4, 0, 0, 0).unwrap());
        assert_eq!(parse("22:00-04:00").unwrap().start_day, None);
        for bad in [
            "Sat 22:00-04:00",
            "Sat 25:00-Sun 04:00",
            "22-04",
            "Caturday 1:00-2:00",
            "10:00-10:00",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_weekly_window_in_berlin_opens_and_closes_at_local_times() {
        let spec = parse("Sat 22:00-Sun 04:00").unwrap();
        let w = [(spec, berlin())];
        // Friday 2026-12-04 12:00 UTC: the next opening is Saturday 22:00 CET = 21:00 UTC.
        assert_eq!(
            wait_until(&w, at("2026-12-04T12:00:00Z")),
            Some(at("2026-12-05T21:00:00Z"))
        );
        // Inside it: Sunday 02:00 CET.
        assert_eq!(wait_until(&w, at("2026-12-06T01:00:00Z")), None);
        // Just after it closed (Sunday 04:00 CET = 03:00 UTC): next Saturday.
        assert_eq!(
            wait_until(&w, at("2026-12-06T03:00:00Z")),
            Some(at("2026-12-12T21:00:00Z"))
        );
    }

    #[test]
    fn windows_follow_daylight_saving_time() {
        let w = [(parse("Sat 22:00-Sun 04:00").unwrap(), berlin())];
        // Summer (CEST, UTC+2): Saturday 2026-07-04 22:00 local = 20:00 UTC.
        assert_eq!(
            wait_until(&w, at("2026-07-03T12:00:00Z")),
            Some(at("2026-07-04T20:00:00Z"))
        );
        // The night DST ends (2026-10-25 03:00 CEST -> 02:00 CET): the window closes at 04:00
        // CET = 03:00 UTC, so it lasts seven hours.
        let (start, end) = occurrence(&w[0].0, &w[0].1, at("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(start, at("2026-10-24T20:00:00Z"));
        assert_eq!(end, at("2026-10-25T03:00:00Z"));
        // A daily 02:30 start on the night DST begins (2026-03-29, 02:00 -> 03:00 CEST) does not
        // exist: it opens one hour later on the wall clock, 03:30 CEST = 01:30 UTC.
        let daily = [(parse("02:30-05:00").unwrap(), berlin())];
        assert_eq!(
            wait_until(&daily, at("2026-03-29T00:00:00Z")),
            Some(at("2026-03-29T01:30:00Z"))
        );
    }

    #[test]
    fn a_daily_window_across_midnight_and_several_windows() {
        let utc = TimeZone::UTC;
        let night = (parse("22:00-04:00").unwrap(), utc.clone());
        assert_eq!(
            wait_until(std::slice::from_ref(&night), at("2026-12-04T23:30:00Z")),
            None
        );
        assert_eq!(
            wait_until(std::slice::from_ref(&night), at("2026-12-05T03:59:00Z")),
            None
        );
        assert_eq!(
            wait_until(std::slice::from_ref(&night), at("2026-12-05T04:00:00Z")),
            Some(at("2026-12-05T22:00:00Z"))
        );
        // Of two windows, the sooner opening counts, and any open one lets the step start.
        let lunch = (parse("12:00-13:00").unwrap(), utc);
        assert_eq!(
            wait_until(&[night.clone(), lunch.clone()], at("2026-12-05T08:00:00Z")),
            Some(at("2026-12-05T12:00:00Z"))
        );
        assert_eq!(
            wait_until(&[night, lunch], at("2026-12-05T12:30:00Z")),
            None
        );
        assert_eq!(wait_until(&[], at("2026-12-05T12:30:00Z")), None);
    }
}
