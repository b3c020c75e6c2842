//! `campaign_index` rows of a date (`projection-rules.md` §2-3): campaign identity, the value of
//! each column from the first source in precedence order, a daily row per campaign, a
//! reconciled row where S1 Reconciled has one, adset rows copying their campaign's metadata.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::carry::{resolve, shared_name, CampaignMeta, Carry};
use super::fetch::{DayData, RowRef, Snapshots};
use super::merge::{pick, Agg, KeySources, RowBuilder};
use super::projector::Projector;
use super::rows::{CampaignRow, DayProjection, LineageRow};
use super::rules::{roas, ADSET_COPIED};
use crate::column;
use crate::columns::Columns;
use crate::decode::SourceRow;
use crate::endpoint_id;
use crate::registry::{EndpointId, ENDPOINTS};

impl Projector<'_> {
    pub(super) fn campaign_rows<'d>(
        &mut self,
        day: &DayData<'_>,
        snaps: &Snapshots<'_, 'd>,
        out: &mut DayProjection,
        record: bool,
    ) {
        let date = day.date;
        let config = self.config;
        let (s1_daily, s1_reconciled, strategis, fb_campaigns) = (
            endpoint_id!("s1_daily_v3"),
            endpoint_id!("s1_reconciled"),
            endpoint_id!("strategis_metrics"),
            endpoint_id!("facebook_campaigns"),
        );
        let Carry { identity, daily_meta, .. } = &mut self.carry;
        let identity = &*identity;
        // Campaign key → its place in `sources`. Keys borrow the body's Strategis id, the
        // carry's pairing or a campaign name's prefix; nothing is copied to group rows.
        let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
        let mut sources: Vec<KeySources<'d>> = Vec::new();
        let mut adsets: Vec<(&str, RowRef, &SourceRow)> = Vec::new();
        // Adset rows carry no campaign name: the name-prefix rule uses their campaign's name.
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for key in ["facebook_campaigns", "facebook_report"] {
            if let Some(f) = snaps.get(key) {
                for &(_, r) in &f.rows {
                    if let (Some(pid), Some(name)) =
                        (r.platform_campaign_id.as_deref(), r.campaign_name.as_deref())
                    {
                        names.entry(pid).or_insert(name);
                    }
                }
            }
        }
        for spec in ENDPOINTS.iter().filter(|s| !s.sessions) {
            let Some(f) = snaps.get(spec.key) else { continue };
            let Some(endpoint) = EndpointId::of(spec.key) else { continue };
            let any_date = endpoint == endpoint_id!("s1_rpc_average") || endpoint == fb_campaigns;
            for &(at, row) in &f.rows {
                if row.date.is_some_and(|d| d != date) && !any_date {
                    continue;
                }
                let (key, unmapped) =
                    match (row.strategis_id.as_deref(), row.platform_campaign_id.as_deref()) {
                        (Some(sid), _) => (sid, false),
                        (None, Some(pid)) => match resolve(
                            identity,
                            pid,
                            row.campaign_name.as_deref().or_else(|| names.get(pid).copied()),
                            date,
                        ) {
                            Some(sid) => (sid, false),
                            None => (pid, true),
                        },
                        (None, None) => continue,
                    };
                let at_key = *keys.entry(key).or_insert_with(|| {
                    sources.push(KeySources::default());
                    sources.len() - 1
                });
                let key_sources = &mut sources[at_key];
                key_sources.unmapped |= unmapped;
                if endpoint == endpoint_id!("facebook_adsets") {
                    adsets.push((key, at, row));
                    key_sources.has_adsets = true;
                }
                if spec.platform != "all" && key_sources.platform.is_none() {
                    key_sources.platform = Some(spec.platform);
                }
                key_sources.add(endpoint, row, at);
            }
        }
        // Each source row gets one or two entries (chosen or lost; the revenue reports one for
        // their own snapshot's columns, one for the shared ones); reserving that up front
        // spares copying a date's entries as the vector grows.
        let source_rows: usize = sources
            .iter()
            .flat_map(|s| s.by_endpoint.iter().flatten())
            .map(|a| a.refs().len())
            .sum();
        out.tables.lineage.reserve(2 * source_rows + 2 * adsets.len());
        // Daily campaign rows (and their lineage) of the campaigns that have adset rows, which
        // copy them below.
        let mut parents: BTreeMap<&str, (CampaignRow, RowBuilder)> = BTreeMap::new();
        // Reused from key to key: a date has thousands.
        let (mut b, mut rb) = (RowBuilder::default(), RowBuilder::default());
        let (mut platform_reports, mut name_order, mut meta_order): (
            Vec<EndpointId>,
            Vec<EndpointId>,
            Vec<EndpointId>,
        ) = Default::default();
        let only_strategis = [strategis];
        for (&key, &at_key) in &keys {
            let src = &sources[at_key];
            let unmapped = src.unmapped;
            if unmapped {
                out.tables.unmapped_campaigns.insert((date, key.to_owned()));
            }
            b.clear();
            let network_id: Option<Arc<str>> = b
                .take(
                    day,
                    column!("network_id"),
                    pick(src, &[s1_daily], |r| r.network_id.as_deref()),
                )
                .map(Arc::from);
            let media_source = match &network_id {
                Some(id) => {
                    let m = config
                        .network_map
                        .get(&**id)
                        .map(|m| shared_name(&mut self.media_sources, m));
                    if m.is_none() {
                        out.tables.unmapped_network_ids.insert(id.to_string());
                    }
                    m
                }
                None => src.platform.map(|p| shared_name(&mut self.media_sources, p)),
            };
            let spend_order: &[EndpointId] = media_source
                .as_deref()
                .and_then(|m| self.spend_orders.get(m))
                .map_or(&only_strategis, Vec::as_slice);
            let spend = pick(src, spend_order, |r| r.spend);
            let spend_source = spend.endpoint;
            let spend_usd = b.take(day, column!("spend_usd"), spend);
            let same: &[EndpointId] = spend_source.as_slice();
            let clicks = b.take(day, column!("clicks"), pick(src, same, |r| r.clicks));
            // strategis_metrics, then the spend endpoint if there is one.
            let strategis_then_same = [strategis, spend_source.unwrap_or(strategis)];
            let impressions = b.take(
                day,
                column!("impressions"),
                pick(src, &strategis_then_same[..1 + same.len()], |r| r.impressions),
            );
            let conversion_order: &[EndpointId] = if media_source.as_deref() == Some("facebook") {
                &[endpoint_id!("facebook_pixel"), endpoint_id!("facebook_report")]
            } else {
                same
            };
            let conversions =
                b.take(day, column!("conversions"), pick(src, conversion_order, |r| r.conversions));
            let avg_rpc_3d = b.take(
                day,
                column!("avg_rpc_3d"),
                pick(src, &[endpoint_id!("s1_rpc_average")], |r| r.rpc),
            );
            let buyer_order = [s1_daily, s1_reconciled, fb_campaigns];
            let owner = b
                .take(day, column!("owner"), pick(src, &buyer_order, |r| r.buyer.as_deref()))
                .map(Arc::from);
            let lane = b
                .take(day, column!("lane"), pick(src, &[fb_campaigns], |r| r.lane.as_deref()))
                .map(Arc::from);
            let category = b
                .take(day, column!("category"), pick(src, &buyer_order, |r| r.category.as_deref()))
                .map(Arc::from);
            // "The platform report": the spend endpoint first, then the platform's other reports.
            platform_reports.clear();
            for &e in same.iter().chain(spend_order.iter().filter(|e| **e != strategis)) {
                if !platform_reports.contains(&e) {
                    platform_reports.push(e);
                }
            }
            name_order.clear();
            name_order.extend([fb_campaigns, s1_daily]);
            name_order.extend(platform_reports.iter().copied().filter(|e| *e != fb_campaigns));
            let campaign_name = b
                .take(
                    day,
                    column!("campaign_name"),
                    pick(src, &name_order, |r| r.campaign_name.as_deref()),
                )
                .map(Arc::from);
            meta_order.clear();
            meta_order.push(s1_daily);
            meta_order.extend(platform_reports.iter().copied());
            let account_id = b
                .take(
                    day,
                    column!("account_id"),
                    pick(src, &meta_order, |r| r.account_id.as_deref()),
                )
                .map(Arc::from);
            let rsoc_site = b
                .take(day, column!("rsoc_site"), pick(src, &[s1_daily], |r| r.rsoc_site.as_deref()))
                .map(Arc::from);
            let platform_campaign_id = b
                .take(
                    day,
                    column!("platform_campaign_id"),
                    pick(src, &meta_order, |r| r.platform_campaign_id.as_deref()),
                )
                .map(Arc::from);
            if record {
                daily_meta.insert(
                    (date, key.to_owned()),
                    CampaignMeta {
                        owner: owner.clone(),
                        lane: lane.clone(),
                        category: category.clone(),
                        media_source: media_source.clone(),
                    },
                );
            }

            let has_reconciled = src.get(s1_reconciled).is_some();
            for snapshot_source in ["daily", "reconciled"] {
                let revenue_endpoint =
                    if snapshot_source == "daily" { s1_daily } else { s1_reconciled };
                if snapshot_source == "reconciled" && !has_reconciled {
                    continue;
                }
                rb.clear();
                let revenue_usd = rb.take(
                    day,
                    column!("revenue_usd"),
                    pick(src, &[revenue_endpoint], |r| r.revenue),
                );
                let sessions = rb.take(
                    day,
                    column!("sessions"),
                    pick(src, &[revenue_endpoint], |r| r.sessions),
                );
                let s1_clicks = rb.take(
                    day,
                    column!("s1_clicks"),
                    pick(src, &[revenue_endpoint], |r| r.s1_clicks),
                );
                let row = CampaignRow {
                    campaign_id: key.to_owned(),
                    date,
                    level: "campaign",
                    snapshot_source,
                    adset_id: None,
                    adset_name: None,
                    campaign_name: campaign_name.clone(),
                    owner: owner.clone(),
                    lane: lane.clone(),
                    category: category.clone(),
                    media_source: media_source.clone(),
                    network_id: network_id.clone(),
                    account_id: account_id.clone(),
                    rsoc_site: rsoc_site.clone(),
                    platform_campaign_id: platform_campaign_id.clone(),
                    spend_usd,
                    spend_source: spend_usd.and(spend_source).map(|e| e.key().to_owned()),
                    revenue_usd,
                    sessions,
                    s1_clicks,
                    clicks,
                    impressions,
                    conversions,
                    roas: roas(revenue_usd, spend_usd),
                    avg_rpc_3d,
                    unmapped,
                    updated_at: rb.newest.max(b.newest),
                };
                let row_key: Arc<str> = Arc::from(row.key());
                rb.finish(day, "campaign_index", "campaign", &row_key, &mut out.tables.lineage);
                if snapshot_source == "daily" {
                    // Every other column comes from the same picks in both rows: its lineage
                    // is written once, with the daily row, and marked as the reconciled row's
                    // too (the `lineage` view lists it under both).
                    let shared = out.tables.lineage.len();
                    b.finish(day, "campaign_index", "campaign", &row_key, &mut out.tables.lineage);
                    for entry in &mut out.tables.lineage[shared..] {
                        entry.both_snapshots = has_reconciled;
                    }
                    if src.has_adsets {
                        parents.insert(key, (row.clone(), b.clone()));
                    }
                }
                out.tables.campaign_index.push(row);
            }
        }

        // Adset rows: campaign metadata copied from the daily campaign row.
        let mut per_adset: BTreeMap<(&str, &str), Agg<'_>> = BTreeMap::new();
        for (key, at, row) in adsets {
            let Some(adset_id) = row.adset_id.as_deref() else { continue };
            Agg::add_to(per_adset.entry((key, adset_id)), row, at);
        }
        for ((key, adset_id), agg) in per_adset {
            let parent = parents.get(key);
            let p = parent.map(|(row, _)| row);
            // The parent's sources of what the row copies; its other sources (its spend,
            // revenue) contribute nothing to an adset row.
            rb.clear();
            if let Some((_, lineage)) = parent {
                rb.chosen.extend(
                    lineage
                        .chosen
                        .iter()
                        .copied()
                        .filter(|(_, _, column)| column.intersects(ADSET_COPIED)),
                );
            }
            let newest = agg
                .refs()
                .iter()
                .chain(rb.chosen.iter().flat_map(|(_, refs, _)| refs.iter()))
                .map(|r| day.fetched_at(*r))
                .max();
            let row = CampaignRow {
                campaign_id: key.to_owned(),
                date,
                level: "adset",
                snapshot_source: "daily",
                adset_id: Some(adset_id.to_owned()),
                adset_name: agg.row().adset_name.as_deref().map(str::to_owned),
                campaign_name: p.and_then(|p| p.campaign_name.clone()),
                owner: p.and_then(|p| p.owner.clone()),
                lane: p.and_then(|p| p.lane.clone()),
                category: p.and_then(|p| p.category.clone()),
                media_source: p.and_then(|p| p.media_source.clone()),
                network_id: p.and_then(|p| p.network_id.clone()),
                account_id: p.and_then(|p| p.account_id.clone()),
                rsoc_site: p.and_then(|p| p.rsoc_site.clone()),
                platform_campaign_id: p
                    .and_then(|p| p.platform_campaign_id.clone())
                    .or_else(|| agg.row().platform_campaign_id.as_deref().map(Arc::from)),
                spend_usd: agg.row().spend,
                spend_source: agg.row().spend.map(|_| "facebook_adsets".to_owned()),
                revenue_usd: None,
                sessions: None,
                s1_clicks: None,
                clicks: agg.row().clicks,
                impressions: agg.row().impressions,
                conversions: None,
                roas: None,
                avg_rpc_3d: None,
                unmapped: p.is_none_or(|p| p.unmapped),
                updated_at: newest,
            };
            let row_key: Arc<str> = Arc::from(row.key());
            if parent.is_some() {
                rb.finish(day, "campaign_index", "adset_copied", &row_key, &mut out.tables.lineage);
            }
            let own = [
                (column!("spend_usd"), row.spend_usd.is_some()),
                (column!("clicks"), row.clicks.is_some()),
                (column!("impressions"), row.impressions.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .fold(Columns::EMPTY, |set, (c, _)| set.with(c));
            if !own.is_empty() {
                for &r in agg.refs() {
                    out.tables.lineage.push(LineageRow::new(
                        day,
                        "campaign_index",
                        "adset_own",
                        &row_key,
                        own,
                        "facebook_adsets",
                        r,
                        true,
                        None,
                    ));
                }
            }
            out.tables.campaign_index.push(row);
        }
    }
}
