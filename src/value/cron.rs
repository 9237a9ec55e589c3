//! A GitHub Actions `schedule` cron: five fields separated by spaces (minute, hour, day
//! of month, month, day of week), each a comma list of `*`, a number or a name, or a
//! range, with an optional `/step`; the grammar actionlint checks (robfig/cron's
//! standard parser).

const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    ),
    (
        "day of week",
        0,
        6,
        &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    ),
];

/// Why `s` is not a cron schedule GitHub accepts.
pub fn check_cron(s: &str) -> Result<(), String> {
    if s.contains(|c: char| c.is_control() || (c.is_whitespace() && c != ' ')) {
        return Err("fields are separated by spaces only, on one line".into());
    }
    let fields: Vec<&str> = s.split(' ').filter(|f| !f.is_empty()).collect();
    if fields.len() != 5 {
        return Err(format!("expected five fields, found {}", fields.len()));
    }
    for (text, (name, min, max, names)) in fields.iter().zip(FIELDS) {
        for item in text.split(',') {
            field_item(item, min, max, names)
                .map_err(|why| format!("the {name} field `{text}`: {why}"))?;
        }
    }
    Ok(())
}

fn field_item(item: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(step) = step
        && step.parse::<u32>().map_or(true, |s| s == 0)
    {
        return Err(format!("`{step}` is not a step (a number from 1)"));
    }
    // `?` means "any" in the two day fields.
    if range == "*" || (range == "?" && (max == 31 || max == 6)) {
        return Ok(());
    }
    let value = |v: &str| -> Result<u32, String> {
        let n = match names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
            Some(p) => p as u32 + min,
            None => v
                .parse::<u32>()
                .map_err(|_| format!("`{v}` is not a number"))?,
        };
        if n < min || n > max {
            return Err(format!("{n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    match range.split_once('-') {
        Some((a, b)) => {
            if value(a)? > value(b)? {
                return Err(format!("the range `{range}` runs backwards"));
            }
        }
        None => {
            value(range)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_cron as check;

    #[test]
    fn accepted() {
        for ok in [
            "0 3 * * 1",
            "*/15 * * * *",
            "0 0 1,15 JAN-MAR mon-fri",
            "5 4 * * SUN",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refused() {
        for bad in [
            "0\n3\n*\n*\n1",
            "0 3 * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "0\t3 * * 1",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
