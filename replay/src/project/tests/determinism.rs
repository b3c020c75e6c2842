//! Determinism: any event order, any partition into windows, and a carry in place of the
//! earlier dates all project the same rows.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn any_event_order_projects_the_same(seed in any::<u64>()) {
        let f = corpus();
        let expected = normalized(&f.project());
        let mut shuffled = f.events.clone();
        // Fisher-Yates with a splitmix sequence from the seed.
        let mut x = seed;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let j = ((z ^ (z >> 31)) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(normalized(&project(&shuffled, None, &ProjectorConfig::default())), expected);
    }
}

#[test]
fn date_partitioned_increments_equal_one_full_rebuild() {
    let f = corpus();
    let full = f.project();
    let mut rows = Vec::new();
    let mut hours = Vec::new();
    let mut comp = Vec::new();
    let mut lineage = Vec::new();
    let mut session_lineage = Vec::new();
    let mut intraday = Vec::new();
    for day in ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-22", "2025-11-23", "2025-11-24"]
    {
        let w = DateWindow { from: d(day), to: d(day) };
        let part = project(&f.events, Some(w), &ProjectorConfig::default());
        assert!(part.tables.campaign_index.iter().all(|r| r.date == d(day)));
        rows.extend(part.tables.campaign_index);
        hours.extend(part.tables.session_hourly);
        comp.extend(part.tables.completeness);
        lineage.extend(part.tables.lineage);
        session_lineage.extend(part.tables.session_lineage);
        intraday.extend(part.tables.intraday);
    }
    rows.sort_by_key(|r| r.key());
    session_lineage.sort();
    assert_eq!(rows, full.tables.campaign_index);
    assert_eq!(hours, full.tables.session_hourly);
    assert_eq!(comp, full.tables.completeness);
    assert_eq!(lineage, full.tables.lineage);
    assert_eq!(session_lineage, full.tables.session_lineage);
}

#[test]
fn a_carry_from_earlier_dates_replaces_reading_them() {
    let f = corpus();
    let full = f.project();
    let config = ProjectorConfig::default();
    let split = d("2025-11-21");
    let (markers, dates) = by_date(&f.events);
    let mut earlier = Projector::new(&config, None, Carry::default());
    for (date, events) in dates.range(..split) {
        earlier.day(*date, events);
    }
    let carry = earlier.carry().clone();
    assert!(
        !carry.identity.is_empty() && !carry.ok_counts.is_empty() && !carry.daily_meta.is_empty(),
        "the corpus exercises every part of the carry"
    );
    let later: Vec<Event> = dates
        .range(split..)
        .flat_map(|(_, events)| events.iter().cloned())
        .chain(markers)
        .collect();
    let window = DateWindow { from: split, to: d("2025-11-23") };
    let part = project_from(&later, Some(window), &config, carry);
    let in_window = |date: NaiveDate| window.contains(date);
    assert_eq!(
        part.tables.campaign_index,
        full.tables
            .campaign_index
            .iter()
            .filter(|r| in_window(r.date))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        part.tables.session_hourly,
        full.tables
            .session_hourly
            .iter()
            .filter(|r| in_window(r.date))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        part.tables.completeness,
        full.tables.completeness.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        part.tables.lineage,
        full.tables.lineage.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        part.tables.session_lineage,
        full.tables
            .session_lineage
            .iter()
            .filter(|r| in_window(r.date))
            .cloned()
            .collect::<Vec<_>>()
    );
    // Without the carry the same events project differently: the carry is not decoration.
    let cold = project_from(&later, Some(window), &config, Carry::default());
    assert_ne!(normalized(&cold), normalized(&part));
}
