//! Decoding values: money and counts at their limits, numbers as upstreams send them,
//! dates and hours.

use super::*;
use serde_json::json;

/// The money in `field` of `row` (absent: none), errors as text.
fn dec(row: &serde_json::Value, field: &'static str) -> Result<Option<Decimal>, String> {
    row.get(field).map_or(Ok(None), |v| money(field, &Value::of_json(v))).map_err(|e| e.to_string())
}

/// The count in `field` of `row` (absent: none), errors as text.
fn cnt(row: &serde_json::Value, field: &'static str) -> Result<Option<i64>, String> {
    row.get(field).map_or(Ok(None), |v| count(field, &Value::of_json(v))).map_err(|e| e.to_string())
}

#[test]
fn money_and_counts_stop_just_below_their_limits() {
    assert_eq!(MONEY_LIMIT, Decimal::from(1_000_000_000_000i64));
    let text = json!({"m": "999999999999.999999", "big": 1_000_000_000_000i64, "neg": "-1,000,000,000,000", "c": "999999999999999", "cbig": 1_000_000_000_000_000i64, "cneg": "-1000000000000000"}).to_string();
    let row = serde_json::from_str::<serde_json::Value>(&text).unwrap();
    assert!(dec(&row, "m").unwrap().is_some());
    assert!(dec(&row, "big").unwrap_err().contains("DECIMAL(18,6)"));
    assert!(dec(&row, "neg").is_err());
    assert_eq!(cnt(&row, "c").unwrap(), Some(999_999_999_999_999));
    assert!(cnt(&row, "cbig").unwrap_err().contains("10^15"));
    assert!(cnt(&row, "cneg").is_err());
    assert_eq!(
        sum_opt(Some(i64::MAX), Some(1)),
        Some(i64::MAX),
        "saturates, never wraps or panics"
    );
}

#[test]
fn reads_numbers_the_way_upstreams_send_them() {
    let text = json!({"a": "1,082.41", "b": 171.2, "c": "23.0", "d": 0, "e": null, "f": "", "g": "x", "h": 23.5}).to_string();
    let row = serde_json::from_str::<serde_json::Value>(&text).unwrap();
    assert_eq!(dec(&row, "a").unwrap().map(|d| d.to_string()), Some("1082.41".into()));
    assert_eq!(dec(&row, "b").unwrap().map(|d| d.to_string()), Some("171.2".into()));
    assert_eq!(cnt(&row, "c").unwrap(), Some(23));
    assert_eq!(cnt(&row, "d").unwrap(), Some(0), "zero is zero");
    assert_eq!(cnt(&row, "e").unwrap(), None, "null is NULL");
    assert_eq!(cnt(&row, "missing").unwrap(), None);
    assert_eq!(dec(&row, "f").unwrap(), None);
    assert!(dec(&row, "g").is_err());
    assert!(cnt(&row, "h").is_err());
    let text = json!({"a": "0042", "b": "-7", "c": " 12 ", "d": "999999999999999999", "e": "9999999999999999999", "f": "-", "g": "1,234"}).to_string();
    let row = serde_json::from_str::<serde_json::Value>(&text).unwrap();
    assert_eq!(cnt(&row, "a").unwrap(), Some(42));
    assert_eq!(cnt(&row, "b").unwrap(), Some(-7));
    assert_eq!(cnt(&row, "c").unwrap(), Some(12));
    assert!(cnt(&row, "d").unwrap_err().contains("10^15"), "within i64, beyond any count");
    assert!(cnt(&row, "e").is_err(), "beyond i64: out of range, as through the decimal path");
    assert!(cnt(&row, "f").is_err());
    assert_eq!(cnt(&row, "g").unwrap(), Some(1234));
}

#[test]
fn locators_print_as_prefix_slash_index_and_equal_texts_are_equal() {
    for (prefix, i) in [
        ("/data", 0),
        ("", 7),
        ("/data/data", 10),
        ("/results", 4_294_967_295),
        ("/results", 4_294_967_296),
        ("/x", usize::MAX),
    ] {
        let indexed = Locator::indexed(&Arc::from(prefix), i);
        let text = format!("{prefix}/{i}");
        assert_eq!(indexed.to_string(), text);
        assert_eq!(indexed.len(), text.len());
        assert_eq!(indexed, Locator::text(&text), "{text}");
        assert!(indexed == *text.as_str());
    }
    let prefix: Arc<str> = Arc::from("/data/data");
    for index in [0, 7, 10, 99, 100, 4_095, 1_000_000, u32::MAX as usize] {
        let mut pushed = String::from("x");
        Locator::indexed(&prefix, index).push_to(&mut pushed);
        assert_eq!(pushed, format!("x{prefix}/{index}"));
    }
    for text in ["line 4", "/data/017", "/data/x", "", "/campaignResults/3"] {
        let l = Locator::text(text);
        let mut pushed = String::new();
        l.push_to(&mut pushed);
        assert_eq!(pushed, text);
        assert_eq!(l.to_string(), text);
        assert_eq!(l.len(), text.len());
    }
    assert_eq!(Locator::text("/campaignResults/3").split(), ("/campaignResults", Some(3)));
    assert_eq!(Locator::text("/data/017").split(), ("/data/017", None));
    assert_ne!(Locator::text("/data/1"), Locator::text("/data/01"));
}

use proptest::prelude::*;

proptest! {
    #[test]
    fn trimming_matches_str_trim_for_any_text(s in "\\PC{0,6}|[ \t\u{a0}\u{2003}a-z0-9]{0,6}") {
        prop_assert_eq!(trim(&s), s.trim());
    }

    #[test]
    fn plain_decimals_parse_to_exactly_what_from_str_gives(text in "[0-9]{0,20}(\\.[0-9]{0,20})?|[-+0-9._eE ,]{0,14}") {
        use std::str::FromStr;
        let general = Decimal::from_str(&text).ok();
        let digits = text.bytes().filter(u8::is_ascii_digit).count();
        let plain = text.split_once('.').map_or(text.as_str(), |(w, f)| if f.is_empty() { "" } else { w });
        let expected_plain = !plain.is_empty() && digits <= 18 && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') && text.matches('.').count() <= 1;
        match plain_decimal(&text) {
            // Equal bits: the same mantissa, scale and sign, so the same printed value.
            Some(d) => prop_assert_eq!(Some(d.serialize()), general.map(|g| g.serialize()), "{}", text),
            None => prop_assert!(!expected_plain, "`{}` is plain but was not read", text),
        }
        prop_assert_eq!(plain_decimal(&text).is_some(), expected_plain, "{}", text);
        prop_assert_eq!(parse_decimal(&text).map(|d| d.serialize()), general.or_else(|| Decimal::from_scientific(&text).ok()).map(|g| g.serialize()), "{}", text);
    }

    #[test]
    fn money_beyond_the_limit_is_refused_whatever_its_scale(mantissa in -10_i64.pow(13)..10_i64.pow(13), scale in 0u32..4) {
        let value = Decimal::new(mantissa, scale);
        prop_assert_eq!(bounded_money("v", value).is_ok(), value.abs() < MONEY_LIMIT, "{}", value);
    }

    #[test]
    fn floats_read_as_the_decimal_serde_json_prints(f in proptest::prop_oneof![
        proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        -1e7..1e7f64,
        (-1e6..1e6f64).prop_map(f64::round),
        (-1e17..1e17f64).prop_map(f64::trunc),
        proptest::strategy::Just(9_007_199_254_740_991.0),
        proptest::strategy::Just(9_007_199_254_740_992.0),
        proptest::strategy::Just(-0.0),
    ]) {
        use rust_decimal::prelude::ToPrimitive;
        let text = json!({"v": f}).to_string();
        let row = serde_json::from_str::<serde_json::Value>(&text).unwrap();
        let printed = serde_json::Number::from_f64(f).unwrap().to_string();
        let expected = parse_decimal(&printed);
        let money = expected.filter(|d| d.abs() < MONEY_LIMIT);
        prop_assert_eq!(dec(&row, "v").ok().flatten(), money, "{}", printed);
        let whole = expected.filter(|d| d.fract().is_zero()).and_then(|d| d.trunc().to_i64()).filter(|c| c.unsigned_abs() < COUNT_LIMIT as u64);
        prop_assert_eq!(cnt(&row, "v").ok().flatten(), whole, "{}", printed);
    }
}

#[test]
fn trimming_matches_str_trim() {
    for s in [
        "",
        " ",
        "a",
        " a",
        "a ",
        "\u{a0}a",
        "a\u{2003}",
        "\u{3000}",
        "ab",
        "a b",
        "\tx\n",
        "é",
        " é ",
        "x\u{85}",
        "~",
        "1,082.41",
    ] {
        assert_eq!(trim(s), s.trim(), "{s:?}");
    }
}

#[test]
fn dates_may_carry_a_time_and_hours_come_from_it() {
    let text = json!({"d": "2025-11-23 00:00:00.0", "h": "2025-11-23 06:00:00", "t": "2025-11-23T23:59:00Z", "bad": "23/11/2025", "nohour": "2025-11-23"}).to_string();
    let row = serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2025, 11, 23);
    assert_eq!(date(&Value::of_json(row.get("d").unwrap())).unwrap(), day);
    assert!(date(&Value::of_json(row.get("bad").unwrap())).is_err());
    assert_eq!(date_hour(&Value::of_json(row.get("h").unwrap())).unwrap(), day.map(|d| (d, 6)));
    assert_eq!(date_hour(&Value::of_json(row.get("t").unwrap())).unwrap(), day.map(|d| (d, 23)));
    assert!(
        date_hour(&Value::of_json(row.get("nohour").unwrap())).is_err(),
        "an hour field without its hour"
    );
    assert_eq!(date_hour(&Value::Null).unwrap(), None);
}
