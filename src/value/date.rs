//! `{{date 'FORMAT'}}` in tag templates: the subset of moment.js formats that
//! docker/metadata-action accepts and that always gives tag characters, and a moment in
//! UTC to fill it with.
//!
//! Fields: `YYYY` (year), `YY` (its last two digits), `MM` (month), `DD` (day), `HH`
//! (hour, 00-23), `mm` (minute), `ss` (second), each zero-padded; between them the
//! literal characters `-`, `_`, `.` and digits. Every other letter is refused: moment
//! gives it a meaning of its own (`M`, `D`, `hh`, `Q`, ...) or none, and metadata-action
//! would then disagree with specc.

use std::fmt;

/// One piece of a date format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateField {
    Year,
    YearShort,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Literal(char),
}

impl DateField {
    /// The fields a format is made of, longest first (`YYYY` before `YY`).
    pub const NAMED: &'static [(&'static str, DateField)] = &[
        ("YYYY", DateField::Year),
        ("YY", DateField::YearShort),
        ("MM", DateField::Month),
        ("DD", DateField::Day),
        ("HH", DateField::Hour),
        ("mm", DateField::Minute),
        ("ss", DateField::Second),
    ];

    /// Where the field is in [`UtcTime::iso`] (`YYYY-MM-DDTHH:MM:SSZ`): offset, length.
    pub fn iso_range(self) -> Option<(usize, usize)> {
        Some(match self {
            DateField::Year => (0, 4),
            DateField::YearShort => (2, 2),
            DateField::Month => (5, 2),
            DateField::Day => (8, 2),
            DateField::Hour => (11, 2),
            DateField::Minute => (14, 2),
            DateField::Second => (17, 2),
            DateField::Literal(_) => return None,
        })
    }
}

/// A parsed date format, e.g. `YYYYMMDD-HHmmss`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DateFormat {
    text: String,
    fields: Vec<DateField>,
}

/// Why a date format is refused: byte range inside the format, reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormatError {
    pub start: usize,
    pub len: usize,
    pub reason: String,
}

impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl DateFormat {
    /// Parses `s` (the text between the quotes of `{{date '...'}}`).
    pub fn parse(s: &str) -> Result<Self, DateFormatError> {
        if s.is_empty() {
            return Err(DateFormatError {
                start: 0,
                len: 0,
                reason: "an empty date format".into(),
            });
        }
        let mut fields = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let rest = &s[i..];
            if let Some((name, field)) = DateField::NAMED.iter().find(|(n, _)| rest.starts_with(n))
            {
                fields.push(*field);
                i += name.len();
                continue;
            }
            let c = rest.chars().next().unwrap_or('-');
            if c.is_ascii_digit() || "-_.".contains(c) {
                fields.push(DateField::Literal(c));
                i += 1;
                continue;
            }
            let run = rest.chars().take_while(|x| *x == c).count();
            return Err(DateFormatError {
                start: i,
                len: run * c.len_utf8(),
                reason: if c.is_ascii_alphabetic() {
                    format!(
                        "`{}` is not a date field specc knows",
                        &rest[..run * c.len_utf8()]
                    )
                } else {
                    format!("`{c}` cannot be part of a tag")
                },
            });
        }
        Ok(DateFormat {
            text: s.to_string(),
            fields,
        })
    }

    pub fn fields(&self) -> &[DateField] {
        &self.fields
    }

    /// The format filled with `time`.
    pub fn render(&self, time: &UtcTime) -> String {
        let iso = time.iso();
        self.fields
            .iter()
            .map(|f| match (f, f.iso_range()) {
                (DateField::Literal(c), _) => c.to_string(),
                (_, Some((start, len))) => iso[start..start + len].to_string(),
                (_, None) => String::new(),
            })
            .collect()
    }
}

/// A moment in UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl UtcTime {
    /// `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM:SS[Z]`, in UTC.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t.strip_suffix('Z').unwrap_or(t))),
            None => (s, None),
        };
        let number = |part: &str, digits: usize| -> Option<u32> {
            (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().ok())
                .flatten()
        };
        let d: Vec<&str> = date.split('-').collect();
        let [year, month, day] = d.as_slice() else {
            return Err("expected `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`".into());
        };
        let (Some(year), Some(month), Some(day)) =
            (number(year, 4), number(month, 2), number(day, 2))
        else {
            return Err("expected `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`".into());
        };
        let (hour, minute, second) = match time {
            None => (0, 0, 0),
            Some(t) => {
                let parts: Vec<Option<u32>> = t.split(':').map(|p| number(p, 2)).collect();
                match parts.as_slice() {
                    [Some(h), Some(m), Some(s)] => (*h, *m, *s),
                    _ => return Err("expected the time as `THH:MM:SSZ`".into()),
                }
            }
        };
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return Err(format!("`{s}` is not a date and time that exists"));
        }
        Ok(UtcTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// The moment `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: u64) -> Self {
        let days = secs / 86_400;
        let rest = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: (rest / 3600) as u32,
            minute: (rest / 60 % 60) as u32,
            second: (rest % 60) as u32,
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year % 10_000,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second
        )
    }
}

impl Default for UtcTime {
    /// 1970-01-01T00:00:00Z.
    fn default() -> Self {
        UtcTime::from_unix(0)
    }
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The calendar date `days` days after 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    let (mut year, mut days) = (1970u32, days);
    loop {
        let length = if is_leap(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let mut month = 1;
    while days >= u64::from(days_in_month(year, month)) {
        days -= u64::from(days_in_month(year, month));
        month += 1;
    }
    (year, month, days as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = UtcTime::parse("2020-01-10T09:30:05Z").unwrap();
        let f = |s: &str| DateFormat::parse(s).unwrap().render(&t);
        assert_eq!(f("YYYYMMDD"), "20200110");
        assert_eq!(f("YYYYMMDD-HHmmss"), "20200110-093005");
        assert_eq!(f("YY.MM.DD_HH"), "20.01.10_09");
        for bad in ["", "YYYYMMDD hh", "MMM", "YYY", "Q", "YYYY/MM", "hh"] {
            assert!(DateFormat::parse(bad).is_err(), "{bad:?}");
        }
        let e = DateFormat::parse("YYYY-MMM").unwrap_err();
        assert_eq!((e.start, e.len), (7, 1));
    }

    #[test]
    fn times() {
        assert_eq!(UtcTime::from_unix(0).iso(), "1970-01-01T00:00:00Z");
        // 2000-02-29T12:34:56Z, a leap day of a year divisible by 400.
        assert_eq!(
            UtcTime::from_unix(951_827_696).iso(),
            "2000-02-29T12:34:56Z"
        );
        assert_eq!(
            UtcTime::from_unix(1_704_067_199).iso(),
            "2023-12-31T23:59:59Z"
        );
        assert_eq!(
            UtcTime::parse("2024-02-29").unwrap().iso(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            UtcTime::parse("2024-02-29T23:59:59").unwrap(),
            UtcTime::parse("2024-02-29T23:59:59Z").unwrap()
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024-01-01T24:00:00Z",
            "today",
        ] {
            assert!(UtcTime::parse(bad).is_err(), "{bad}");
        }
    }
}
