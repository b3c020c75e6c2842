//! The fake upstream's deterministic campaign universe. Every number is a pure function of
//! (seed, campaign, date, restatement epoch): no clock, no RNG state, so two fakes with the
//! same seed serve the same bytes. Days less than 3 days old drift with the epoch (restated);
//! older days never change.

use chrono::{DateTime, NaiveDate, Timelike, Utc};

pub const BUYERS: &[&str] = &["TJ", "Jane", "Marco", "Priya", "Ana"];
pub const CATEGORIES: &[&str] =
    &["Finance", "Healthcare", "Real Estate", "Auto Insurance", "Home Services", "Travel"];
pub const LANES: &[&str] = &["ASC", "LAL_1", "LAL_2_5", "Contextual", "Sandbox", "Warm"];
pub const SITES: &[&str] =
    &["secretprice.com", "homevaluehub.com", "carinsurancenow.net", "travelfind.org"];
/// Days younger than this are restated between epochs.
pub const RESTATE_WINDOW_DAYS: i64 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub index: usize,
    pub sid: String,
    /// The platform that buys its traffic: facebook, taboola, outbrain, newsbreak, mediago,
    /// zemanta, smartnews, or `other` (an ad network with no spend report).
    pub media: &'static str,
    pub network_id: &'static str,
    pub platform_id: String,
    pub name: String,
    pub buyer: &'static str,
    pub category: &'static str,
    pub lane: Option<&'static str>,
    pub account_id: String,
    pub site: &'static str,
    /// S1 reports this campaign's `networkCampaignId` (otherwise the name prefix is the only link).
    pub s1_knows_platform_id: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayMetrics {
    pub sessions: u64,
    pub s1_clicks: u64,
    pub revenue_cents: i64,
    pub reconciled_revenue_cents: i64,
    pub spend_cents: i64,
    pub impressions: u64,
    pub clicks: u64,
    pub conversions: u64,
}

#[derive(Debug, Clone)]
pub struct Universe {
    pub seed: u64,
    pub today: NaiveDate,
    pub campaigns: Vec<Campaign>,
}

pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

fn base36(mut n: u64, len: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

impl Universe {
    pub fn new(seed: u64, campaigns: usize, today: NaiveDate) -> Self {
        let campaigns = (0..campaigns).map(|i| Campaign::generate(seed, i)).collect();
        Universe { seed, today, campaigns }
    }

    pub fn of_media<'a>(&'a self, media: &'a str) -> impl Iterator<Item = &'a Campaign> + 'a {
        self.campaigns.iter().filter(move |c| c.media == media)
    }

    /// The day's numbers, or `None` when the campaign did not deliver that day.
    /// A campaign's numbers of `date` as the upstream reports them at `now`: a closed day
    /// whole, today as far as it has happened (its hours' weights so far, see
    /// [`Universe::hourly_split`]).
    pub fn metrics(
        &self,
        c: &Campaign,
        date: NaiveDate,
        epoch: u64,
        now: DateTime<Utc>,
    ) -> Option<DayMetrics> {
        if date > self.today {
            return None;
        }
        let h = hash_str(self.seed ^ (c.index as u64), &format!("{}|{date}", c.sid));
        if h.is_multiple_of(10) {
            return None;
        }
        let days_old = (self.today - date).num_days();
        let drift_permille: i64 = if days_old < RESTATE_WINDOW_DAYS && epoch > 0 {
            1000 + (mix(h ^ epoch) % 41) as i64 - 20
        } else {
            1000
        };
        let full = self.hour_weights(c, date, None).iter().sum::<i64>().max(1);
        let permille =
            self.hour_weights(c, date, self.so_far(date, now)).iter().sum::<i64>() * 1000 / full;
        let so_far = |n: u64| n * permille as u64 / 1000;
        let sessions = so_far(200 + (h % 4800));
        let s1_clicks = sessions * (30 + (h >> 8) % 30) / 100;
        let revenue_cents =
            (s1_clicks as i64) * (20 + ((h >> 16) % 70) as i64) * drift_permille / 1000;
        let spend_cents =
            revenue_cents * (50 + ((h >> 24) % 70) as i64) / 100 * drift_permille / 1000;
        let impressions = sessions * (10 + (h >> 32) % 20);
        let clicks = sessions * (100 + (h >> 40) % 20) / 100 * drift_permille as u64 / 1000;
        let conversions = clicks / (30 + (h >> 48) % 40);
        Some(DayMetrics {
            sessions,
            s1_clicks: s1_clicks * drift_permille as u64 / 1000,
            revenue_cents,
            reconciled_revenue_cents: revenue_cents * 97 / 100,
            spend_cents,
            impressions,
            clicks,
            conversions,
        })
    }

    /// How far `date` has got at `now`: (hour, minute) for the day `now` is in, `None` for a
    /// day that is whole. `today` read at a `now` on another day reads as noon of today.
    pub fn so_far(&self, date: NaiveDate, now: DateTime<Utc>) -> Option<(u32, u32)> {
        if date == now.date_naive() {
            Some((now.hour(), now.minute()))
        } else if date == self.today {
            Some((12, 0))
        } else {
            None
        }
    }

    /// Each hour's share of a campaign's day, in sixtieths: hours 0..23, then 24-27 (late
    /// clicks attributed to the day). Cut at (hour, minute): whole hours before it, the
    /// current one by its minutes, nothing after (late clicks come tomorrow).
    fn hour_weights(&self, c: &Campaign, date: NaiveDate, cut: Option<(u32, u32)>) -> [i64; 28] {
        let mut weights = [0i64; 28];
        for (hour, w) in weights.iter_mut().enumerate() {
            let h = hash_str(self.seed, &format!("{}|{date}|{hour}", c.sid));
            let whole = if hour >= 24 { 1 + (h % 3) as i64 } else { 5 + (h % 20) as i64 };
            let sixtieths = match cut {
                None => 60,
                Some((now, minute)) if hour as u32 == now => i64::from(minute),
                Some((now, _)) if (hour as u32) < now => 60,
                Some(_) => 0,
            };
            *w = whole * sixtieths;
        }
        weights
    }

    /// Splits a day total into hour buckets 0..27 (24-27: late clicks attributed to the day),
    /// summing exactly to `total`; for today at `now`, only over the hours so far.
    pub fn hourly_split(
        &self,
        c: &Campaign,
        date: NaiveDate,
        total: i64,
        now: DateTime<Utc>,
    ) -> [i64; 28] {
        let cut = self.so_far(date, now);
        let weights = self.hour_weights(c, date, cut);
        let sum: i64 = weights.iter().sum();
        let mut out = [0i64; 28];
        if sum == 0 {
            return out;
        }
        let mut given = 0;
        for (hour, w) in weights.iter().enumerate() {
            out[hour] = total * w / sum;
            given += out[hour];
        }
        // The rounding's remainder goes to noon of a whole day, or to the latest hour so far.
        let rest = match cut {
            None => 12,
            Some(_) => weights.iter().rposition(|w| *w > 0).unwrap_or(0),
        };
        out[rest] += total - given;
        out
    }
}

impl Campaign {
    fn generate(seed: u64, index: usize) -> Campaign {
        let h = hash_str(seed, &format!("campaign-{index}"));
        let sid = format!("si{}", base36(h, 8));
        // Facebook is the largest source; one campaign in 23 runs on a network with no report.
        let (media, network_id) = if index % 23 == 22 {
            ("other", "131")
        } else {
            match index % 10 {
                0..=3 => ("facebook", if index.is_multiple_of(7) { "110" } else { "112" }),
                4 => ("taboola", "107"),
                5 => ("outbrain", "109"),
                6 => ("newsbreak", "116"),
                7 => ("mediago", "113"),
                8 => ("zemanta", "115"),
                _ => ("smartnews", "117"),
            }
        };
        let h2 = mix(h);
        let platform_id = match media {
            "facebook" => format!("1202316{:011}", h2 % 100_000_000_000),
            "outbrain" => format!("00{:016x}{:016x}", h2, mix(h2)),
            "newsbreak" => format!("18927{:014}", h2 % 100_000_000_000_000),
            "smartnews" => format!("{}", 3_000_000_000u64 + h2 % 1_000_000_000),
            _ => format!("{}", 10_000_000 + h2 % 90_000_000),
        };
        let category = pick(CATEGORIES, h >> 8);
        let mapping = index % 3;
        let name = if media == "facebook" && mapping == 0 {
            format!("LAL {category} {}", index)
        } else {
            format!("{sid}_{}_{}", category.replace(' ', ""), media)
        };
        Campaign {
            index,
            sid,
            media,
            network_id,
            platform_id,
            name,
            buyer: pick(BUYERS, h >> 16),
            category,
            lane: (media == "facebook").then(|| pick(LANES, h >> 24)),
            account_id: format!("{}", 1_000_000_000 + (h2 >> 8) % 9_000_000_000),
            site: pick(SITES, h >> 32),
            s1_knows_platform_id: mapping != 1,
        }
    }
}

pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// S1 style: thousands separators (`1,082.41`).
pub fn money_grouped(cents: i64) -> String {
    let plain = money(cents);
    let (int, frac) = plain.split_once('.').unwrap_or((&plain, "00"));
    let digits: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, ch) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && *ch != '-' && digits[i - 1] != '-' {
            out.push(',');
        }
        out.push(*ch);
    }
    format!("{out}.{frac}")
}

/// Money as a JSON number (platforms that send numbers).
pub fn money_number(cents: i64) -> serde_json::Value {
    serde_json::Number::from_f64(cents as f64 / 100.0)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        date.and_hms_opt(hour, minute, 0).unwrap().and_utc()
    }

    fn noon(date: NaiveDate) -> DateTime<Utc> {
        at(date, 12, 0)
    }

    #[test]
    fn today_grows_through_the_day_and_a_closed_day_does_not() {
        let today = d("2025-11-23");
        let u = Universe::new(7, 40, today);
        let c = u.campaigns.iter().find(|c| u.metrics(c, today, 0, noon(today)).is_some()).unwrap();
        let revenue = |t| u.metrics(c, today, 0, t).map_or(0, |m| m.revenue_cents);
        let curve: Vec<i64> = [(0, 0), (3, 30), (9, 0), (14, 45), (23, 59)]
            .iter()
            .map(|&(h, m)| revenue(at(today, h, m)))
            .collect();
        assert_eq!(curve[0], 0, "nothing has happened at midnight");
        assert!(curve.windows(2).all(|w| w[0] < w[1]), "rises hour after hour: {curve:?}");
        let again: Vec<i64> =
            [(3, 30), (14, 45)].iter().map(|&(h, m)| revenue(at(today, h, m))).collect();
        assert_eq!(again, vec![curve[1], curve[3]], "a function of the hour, nothing else");
        let yesterday = d("2025-11-22");
        assert_eq!(
            u.metrics(c, yesterday, 0, at(today, 3, 0)),
            u.metrics(c, yesterday, 0, at(today, 20, 0))
        );
        let split = u.hourly_split(c, today, 1000, at(today, 9, 30));
        assert_eq!(split.iter().sum::<i64>(), 1000);
        assert!(split[10..].iter().all(|v| *v == 0), "no hour after now: {split:?}");
    }

    #[test]
    fn same_seed_same_universe_and_ids_look_right() {
        let a = Universe::new(7, 40, d("2025-11-23"));
        let b = Universe::new(7, 40, d("2025-11-23"));
        assert_eq!(a.campaigns, b.campaigns);
        for c in &a.campaigns {
            assert_eq!(c.sid.len(), 10);
            assert!(c.sid.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
            if c.media == "facebook" {
                assert_eq!(c.platform_id.len(), 18, "{}", c.platform_id);
            }
        }
    }

    #[test]
    fn recent_days_drift_and_closed_days_do_not() {
        let u = Universe::new(7, 40, d("2025-11-23"));
        let closed = d("2025-11-19");
        let recent = d("2025-11-22");
        let drifted = u
            .campaigns
            .iter()
            .filter(|c| {
                u.metrics(c, recent, 0, noon(recent)) != u.metrics(c, recent, 1, noon(recent))
            })
            .count();
        assert!(drifted > 0);
        assert!(u.campaigns.iter().all(
            |c| u.metrics(c, closed, 0, noon(closed)) == u.metrics(c, closed, 5, noon(closed))
        ));
    }

    #[test]
    fn hourly_split_sums_exactly() {
        let u = Universe::new(7, 3, d("2025-11-23"));
        let split =
            u.hourly_split(&u.campaigns[0], d("2025-11-23"), 108_241, noon(d("2025-11-23")));
        assert_eq!(split.iter().sum::<i64>(), 108_241);
        assert!(split[24..].iter().all(|v| *v >= 0));
    }

    #[test]
    fn money_formats() {
        assert_eq!(money(108_241), "1082.41");
        assert_eq!(money_grouped(108_241), "1,082.41");
        assert_eq!(money_grouped(123_456_789), "1,234,567.89");
        assert_eq!(money_grouped(5), "0.05");
        assert_eq!(money_number(17_120), serde_json::json!(171.2));
    }
}
