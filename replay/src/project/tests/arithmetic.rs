//! The arithmetic and orderings the projector computes its own way, against the plain one.

use super::*;

proptest! {
    #[test]
    fn campaign_keys_write_dates_as_display_does(days in -5_000_000i32..5_000_000, campaign in "[a-z0-9|]{0,12}", adset in proptest::option::of("[0-9]{1,6}")) {
        let date = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
        let row = CampaignRow { campaign_id: campaign.clone(), date, level: "adset", snapshot_source: "daily", adset_id: adset.clone(), ..CampaignRow::default() };
        prop_assert_eq!(row.key(), format!("{}|{}|adset|daily|{}", campaign, date, adset.as_deref().unwrap_or("")));
    }

    #[test]
    fn ranked_hour_order_is_a_stable_sort_by_campaign_and_hour(rows in proptest::collection::vec((0..6usize, 0u8..28), 0..200)) {
        let ids = ["b7", "a", "b", "sibre10", "sibre9", ""];
        let input: Vec<(&str, u8, usize, ())> = rows.iter().enumerate().map(|(i, &(c, h))| (ids[c], h, i, ())).collect();
        let mut expected = input.clone();
        expected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let ordered = in_campaign_hour_order(input);
        let mut distinct: Vec<&str> = ordered.iter().map(|r| r.1).collect();
        distinct.dedup();
        prop_assert_eq!(ordered.iter().map(|r| (r.1, r.2, r.3)).collect::<Vec<_>>(), expected.iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>());
        prop_assert!(ordered.iter().all(|r| distinct.get(r.0 as usize) == Some(&r.1)), "rank is the campaign's place among the date's campaigns");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn revenue_per_session_equals_decimal_division_rounded(mantissa in -10_000_000_000_000i64..10_000_000_000_000, scale in 0u32..9, sessions in prop_oneof![1i64..50, 1i64..2_000_000_000]) {
        let revenue = Decimal::new(mantissa, scale);
        let got = revenue_per_session(revenue, sessions);
        prop_assert_eq!(got, (revenue / Decimal::from(sessions)).round_dp(6), "{} / {}", revenue, sessions);
        prop_assert!(got.scale() <= 6);
    }
}

#[test]
fn revenue_per_session_rounds_ties_to_even_in_both_directions() {
    for (revenue, sessions, expected) in [
        ("0.000005", 2, "0.000002"),
        ("0.000015", 2, "0.000008"),
        ("-0.000005", 2, "-0.000002"),
        ("-0.000015", 2, "-0.000008"),
        ("10", 3, "3.333333"),
        ("20", 3, "6.666667"),
    ] {
        let revenue: Decimal = revenue.parse().unwrap();
        assert_eq!(
            revenue_per_session(revenue, sessions),
            expected.parse::<Decimal>().unwrap(),
            "{revenue} / {sessions}"
        );
    }
}
