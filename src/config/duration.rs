//! Human durations: `90s`, `15m`, `1h30m`, `2d`, `1w`.

use std::time::Duration;

/// Parses a duration made of `<number><unit>` parts, units `s`, `m`, `h`, `d`, `w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let help = "write a duration such as \"90s\", \"15m\", \"1h30m\", \"2d\" or \"1w\"";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty duration: {help}"));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "invalid duration {text:?}: unexpected {c:?}; {help}"
                ));
            }
        };
        if number.is_empty() {
            return Err(format!(
                "invalid duration {text:?}: a unit needs a number before it; {help}"
            ));
        }
        let value: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: number too large"))?;
        total = value
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("invalid duration {text:?}: too large"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "invalid duration {text:?}: missing unit after {number}; {help}"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Writes a duration the way [`parse_duration`] reads it (largest units first).
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let cases = [
            ("90s", 90),
            ("15m", 900),
            ("1h30m", 5_400),
            ("2d", 172_800),
            ("1w", 604_800),
            ("0s", 0),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
    }

    #[test]
    fn rejects_with_a_reason() {
        for bad in [
            "",
            "15",
            "m",
            "15 minutes",
            "1.5h",
            "-3m",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
