//! How the page prints numbers: money in USD with thousands separators, ratios with two
//! decimals, changes as signed percentages, and a dash for a value that is not known. Pure
//! functions of their input (no locale), so the page is byte-identical for the same figures.

/// `1234567` → `1,234,567` (the integer part of a non-negative number).
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `value` with `decimals` decimals and thousands separators: `-1,082.41`.
pub fn number(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    // -0.00 prints as 0.00.
    let negative = value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{}", grouped(int))
    } else {
        format!("{sign}{}.{frac}", grouped(int))
    }
}

pub const MISSING: &str = "–";

/// `$1,082` (whole dollars), or a dash.
pub fn usd(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| {
        let n = number(v, 0);
        match n.strip_prefix('-') {
            Some(rest) => format!("-${rest}"),
            None => format!("${n}"),
        }
    })
}

/// `$1,082.41`, or a dash.
pub fn usd2(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| {
        let n = number(v, 2);
        match n.strip_prefix('-') {
            Some(rest) => format!("-${rest}"),
            None => format!("${n}"),
        }
    })
}

/// A ratio such as ROAS: `2.62`, or a dash.
pub fn ratio(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| number(v, 2))
}

/// A count: `4,631`, or a dash.
pub fn count(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| number(v, 0))
}

/// A relative change: `+12.3%`, `-4.0%`, or a dash.
pub fn pct(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| {
        let n = number(v * 100.0, 1);
        if n.starts_with('-') || n == "0.0" {
            format!("{n}%")
        } else {
            format!("+{n}%")
        }
    })
}

/// A change in points: `+0.52`, `-0.10`, or a dash.
pub fn signed(value: Option<f64>) -> String {
    value.map_or(MISSING.into(), |v| {
        let n = number(v, 2);
        if n.starts_with('-') || n == "0.00" {
            n
        } else {
            format!("+{n}")
        }
    })
}

/// The exact value behind a printed one, for sorting and for checks: `1082.41`, or empty.
pub fn exact(value: Option<f64>, decimals: usize) -> String {
    value.map_or(String::new(), |v| format!("{:.*}", decimals, v))
}

/// Minutes as `42 min` or `3 h 05 min`.
pub fn minutes(value: Option<i64>) -> String {
    match value {
        None => MISSING.into(),
        Some(m) if m.abs() < 60 => format!("{m} min"),
        Some(m) => format!("{} h {:02} min", m / 60, (m % 60).abs()),
    }
}

/// The ROAS colour band of a value: `b0` below 0.8, `b1` below 1.0 (losing money), `b2`
/// below 1.3, `b3` from 1.3; empty when unknown.
pub fn band(value: Option<f64>) -> &'static str {
    match value {
        None => "",
        Some(v) if v < 0.8 => "b0",
        Some(v) if v < 1.0 => "b1",
        Some(v) if v < 1.3 => "b2",
        Some(_) => "b3",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_ratios_print_without_locale() {
        assert_eq!(usd2(Some(1082.414)), "$1,082.41");
        assert_eq!(usd(Some(-1234567.6)), "-$1,234,568");
        assert_eq!(usd(Some(-0.2)), "$0");
        assert_eq!(ratio(Some(2.625)), "2.62");
        assert_eq!(pct(Some(0.1234)), "+12.3%");
        assert_eq!(pct(Some(-0.04)), "-4.0%");
        assert_eq!(signed(Some(0.5)), "+0.50");
        assert_eq!(count(None), MISSING);
        assert_eq!(minutes(Some(185)), "3 h 05 min");
        assert_eq!(band(Some(0.99)), "b1");
    }
}
