//! GeoIP enrichment: giving every counted flow's destination a location.
//!
//! The *location* of a flow is where its destination address is used: a country code and, when
//! known, names down to the city (see [`geoip`]). A destination the database has no country for
//! gets the *unknown location*, country code [`UNKNOWN_COUNTRY_CODE`] ("Unknown", the ISO 3166
//! user-assigned code for an unknown region) with no continent: the flow still counts, under
//! that code, and is never dropped. *Event geo* is the `destination.geo` a sensor already put on
//! the flow; it is used as given unless the user asks to re-resolve, since the sensor may hold a
//! better database than the built-in one. The country code chosen here becomes the flow's *over
//! value* in the country job (the value whose bucket totals are judged), so every flow to one
//! address gets the same location within a run.

pub mod country;
pub mod geoip;

use dashmap::mapref::entry::Entry;
use dashmap::{DashMap, DashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use geoip::{GeoDb, GeoDbError, GeoDbInfo, GeoLocation};

use crate::filter::networks::canonical;
use crate::flow::{Flow, GeoFields};

/// The country code of the unknown location.
pub const UNKNOWN_COUNTRY_CODE: &str = "ZZ";

/// The country name of the unknown location.
pub const UNKNOWN_COUNTRY_NAME: &str = "Unknown";

/// Addresses whose location is remembered. An entry costs about 50 bytes because equal
/// locations are shared, so a full cache stays near 60 MB while covering the distinct
/// destinations of a large site's day of traffic.
pub const DEFAULT_CACHE_ENTRIES: usize = 1_000_000;

/// Where a location came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocationSource {
    /// The geo fields that came with the event.
    Event,
    /// The GeoIP database.
    Database,
    /// Neither knew the destination: the unknown location.
    Unknown,
}

/// The location chosen for one flow's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub location: Arc<GeoLocation>,
    pub source: LocationSource,
}

impl Located {
    pub fn is_unknown(&self) -> bool {
        self.source == LocationSource::Unknown
    }
}

/// What the enricher did, for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnrichStats {
    /// Destinations looked up in the database (cache misses).
    pub lookups: u64,
    /// Destinations answered from the cache.
    pub cache_hits: u64,
    /// Flows given the unknown location.
    pub unknown: u64,
    /// Flows located from their event geo.
    pub from_event: u64,
    /// Lookups not cached because the cache was full.
    pub cache_full: u64,
    /// Lookups that failed on a damaged record; those flows count as unknown too.
    pub lookup_errors: u64,
}

/// Addresses one thread remembers in front of the shared cache. Past this many the thread's
/// cache starts afresh at the next batch: a few MB per thread, enough for the distinct
/// destinations of a large organisation's day, so that most flows never touch the shared
/// cache.
pub const MAX_LOCAL_ADDRESSES: usize = 262_144;

type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// One thread's cache of located addresses and its uncounted counts (see
/// [`Enricher::locate_local`]).
///
/// It is looked up once per flow, among as many addresses as the organisation reaches, so its
/// entries are kept small enough for the table to stay in the processor's cache: an IPv4
/// address and the number of its place, 8 bytes, instead of a 32-byte address and pointer.
#[derive(Debug, Default)]
pub struct LocalLocations {
    by_ipv4: FastMap<u32, u32>,
    by_other: FastMap<IpAddr, u32>,
    /// The distinct locations met, numbered in order of arrival.
    places: Vec<Arc<GeoLocation>>,
    /// Numbers of the places, by the address of the shared location.
    place_numbers: FastMap<usize, u32>,
    counts: EnrichStats,
}

impl LocalLocations {
    fn addresses(&self) -> usize {
        self.by_ipv4.len() + self.by_other.len()
    }

    /// Starts afresh when full. Called between batches only, so that the place numbers
    /// handed out while a batch is prepared stay valid until it is done.
    pub fn start_batch(&mut self) {
        if self.addresses() >= MAX_LOCAL_ADDRESSES || self.places.len() >= MAX_LOCAL_ADDRESSES {
            self.by_ipv4.clear();
            self.by_other.clear();
            self.places.clear();
            self.place_numbers.clear();
        }
    }

    /// The location numbered `number` by [`Enricher::locate_local`].
    pub fn place(&self, number: u32) -> &GeoLocation {
        &self.places[number as usize]
    }

    fn number_of(&mut self, place: Arc<GeoLocation>) -> u32 {
        let places = &mut self.places;
        *self.place_numbers.entry(Arc::as_ptr(&place) as usize).or_insert_with(|| {
            places.push(place);
            // At most MAX_LOCAL_ADDRESSES places are held before the cache starts afresh.
            (places.len() - 1) as u32
        })
    }
}

/// Counters behind [`EnrichStats`], shared by the pipeline's threads.
#[derive(Debug, Default)]
struct SharedStats {
    lookups: AtomicU64,
    cache_hits: AtomicU64,
    unknown: AtomicU64,
    from_event: AtomicU64,
    cache_full: AtomicU64,
    lookup_errors: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Locates flow destinations, remembering each address's answer.
///
/// One enricher serves every thread of a run: the cache is a concurrent map, and an address
/// that two threads meet at once is looked up by one of them while the other waits for the
/// answer, so each destination is looked up in the database once per run.
#[derive(Debug)]
pub struct Enricher {
    db: GeoDb,
    cache: DashMap<IpAddr, Option<Arc<GeoLocation>>, ahash::RandomState>,
    /// One shared copy of each distinct location, so cache entries stay small.
    interned: DashSet<Arc<GeoLocation>, ahash::RandomState>,
    /// Locations built from events' own geo fields, by those fields: events name a few
    /// hundred places, and completing one from the country tables costs more than the rest
    /// of locating a flow.
    event_cache: DashMap<GeoFields, Option<Arc<GeoLocation>>, ahash::RandomState>,
    cache_limit_entries: usize,
    use_event_geo: bool,
    unknown: Arc<GeoLocation>,
    stats: SharedStats,
}

impl Enricher {
    /// An enricher that uses event geo and caches up to [`DEFAULT_CACHE_ENTRIES`] addresses.
    pub fn new(db: GeoDb) -> Enricher {
        Enricher {
            db,
            cache: DashMap::with_hasher(ahash::RandomState::new()),
            interned: DashSet::with_hasher(ahash::RandomState::new()),
            event_cache: DashMap::with_hasher(ahash::RandomState::new()),
            cache_limit_entries: DEFAULT_CACHE_ENTRIES,
            use_event_geo: true,
            unknown: Arc::new(unknown_location()),
            stats: SharedStats::default(),
        }
    }

    pub fn with_cache_limit(mut self, entries: usize) -> Enricher {
        self.cache_limit_entries = entries;
        self
    }

    /// `false` re-resolves every destination in the database, ignoring event geo.
    pub fn with_event_geo(mut self, use_event_geo: bool) -> Enricher {
        self.use_event_geo = use_event_geo;
        self
    }

    pub fn db(&self) -> &GeoDb {
        &self.db
    }

    pub fn stats(&self) -> EnrichStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let shared = &self.stats;
        EnrichStats {
            lookups: read(&shared.lookups),
            cache_hits: read(&shared.cache_hits),
            unknown: read(&shared.unknown),
            from_event: read(&shared.from_event),
            cache_full: read(&shared.cache_full),
            lookup_errors: read(&shared.lookup_errors),
        }
    }

    pub fn locate(&self, flow: &Flow) -> Located {
        if self.use_event_geo {
            if let Some(location) = flow.destination_geo.as_ref().and_then(|g| self.event_place(g))
            {
                bump(&self.stats.from_event);
                return Located { location, source: LocationSource::Event };
            }
        }
        match self.cached_lookup(canonical(flow.destination_ip)) {
            Some(location) => Located { location, source: LocationSource::Database },
            None => {
                bump(&self.stats.unknown);
                Located { location: Arc::clone(&self.unknown), source: LocationSource::Unknown }
            }
        }
    }

    /// Locates a flow through one thread's own cache in front of the shared one, and returns
    /// the number of its location in that cache ([`LocalLocations::place`]). Repeated
    /// destinations then cost a plain map lookup, with no shared lock, reference count or
    /// counter touched, which is what lets preparation scale across threads; equal locations
    /// get equal numbers, so callers can total by place. Counts are kept in `local` until
    /// [`Enricher::settle`].
    pub fn locate_local(&self, flow: &Flow, local: &mut LocalLocations) -> u32 {
        if self.use_event_geo {
            if let Some(location) = flow.destination_geo.as_ref().and_then(|g| self.event_place(g))
            {
                local.counts.from_event += 1;
                return local.number_of(location);
            }
        }
        let ip = canonical(flow.destination_ip);
        let known = match ip {
            IpAddr::V4(v4) => local.by_ipv4.get(&u32::from(v4)),
            IpAddr::V6(_) => local.by_other.get(&ip),
        };
        let number = match known {
            Some(&number) => {
                local.counts.cache_hits += 1;
                number
            }
            None => {
                let place = self.cached_lookup(ip).unwrap_or_else(|| Arc::clone(&self.unknown));
                let number = local.number_of(place);
                match ip {
                    IpAddr::V4(v4) => local.by_ipv4.insert(u32::from(v4), number),
                    IpAddr::V6(_) => local.by_other.insert(ip, number),
                };
                number
            }
        };
        if Arc::ptr_eq(&local.places[number as usize], &self.unknown) {
            local.counts.unknown += 1;
        }
        number
    }

    /// Adds a thread's counts to the enricher's.
    pub fn settle(&self, local: &mut LocalLocations) {
        let counts = std::mem::take(&mut local.counts);
        self.stats.cache_hits.fetch_add(counts.cache_hits, Ordering::Relaxed);
        self.stats.unknown.fetch_add(counts.unknown, Ordering::Relaxed);
        self.stats.from_event.fetch_add(counts.from_event, Ordering::Relaxed);
    }

    fn cached_lookup(&self, ip: IpAddr) -> Option<Arc<GeoLocation>> {
        if let Some(cached) = self.cache.get(&ip) {
            bump(&self.stats.cache_hits);
            return cached.clone();
        }
        if self.cache.len() >= self.cache_limit_entries {
            bump(&self.stats.lookups);
            bump(&self.stats.cache_full);
            return self.lookup(ip).map(Arc::new);
        }
        // The entry holds its shard's lock while the database is read, so a second thread
        // asking for the same address waits for this answer instead of looking it up again.
        match self.cache.entry(ip) {
            Entry::Occupied(cached) => {
                bump(&self.stats.cache_hits);
                cached.get().clone()
            }
            Entry::Vacant(slot) => {
                bump(&self.stats.lookups);
                let shared = self.lookup(ip).map(|location| self.intern(location));
                slot.insert(shared.clone());
                shared
            }
        }
    }

    /// The location an event's geo fields name, completed from the country tables.
    fn event_place(&self, geo: &GeoFields) -> Option<Arc<GeoLocation>> {
        if let Some(cached) = self.event_cache.get(geo) {
            return cached.clone();
        }
        let location = event_location(geo).map(|location| self.intern(location));
        if self.event_cache.len() < self.cache_limit_entries {
            self.event_cache.insert(geo.clone(), location.clone());
        }
        location
    }

    fn lookup(&self, ip: IpAddr) -> Option<GeoLocation> {
        self.db.try_lookup(ip).unwrap_or_else(|_| {
            bump(&self.stats.lookup_errors);
            None
        })
    }

    fn intern(&self, location: GeoLocation) -> Arc<GeoLocation> {
        if let Some(shared) = self.interned.get(&location) {
            return Arc::clone(&shared);
        }
        let shared = Arc::new(location);
        self.interned.insert(Arc::clone(&shared));
        shared
    }
}

/// The unknown location: country [`UNKNOWN_COUNTRY_CODE`], nothing else known.
pub fn unknown_location() -> GeoLocation {
    GeoLocation {
        country_iso_code: UNKNOWN_COUNTRY_CODE.to_string(),
        country_name: Some(UNKNOWN_COUNTRY_NAME.to_string()),
        continent_code: None,
        continent_name: None,
        region_name: None,
        city_name: None,
    }
}

/// The event's own geo, when it names a country; missing names come from the ISO data.
fn event_location(geo: &GeoFields) -> Option<GeoLocation> {
    let iso_code = geo.country_iso_code.as_deref().map(str::trim).filter(|c| !c.is_empty())?;
    let given = |field: &Option<String>| {
        field.as_deref().map(str::trim).filter(|text| !text.is_empty()).map(str::to_string)
    };
    let mut location = GeoLocation {
        country_iso_code: iso_code.to_ascii_uppercase(),
        country_name: given(&geo.country_name),
        continent_code: None,
        continent_name: given(&geo.continent_name),
        region_name: given(&geo.region_name),
        city_name: given(&geo.city_name),
    };
    location.fill_from_iso_data();
    Some(location)
}

#[cfg(test)]
mod tests {
    use super::geoip::tests::fixture;
    use super::*;

    fn flow_to(destination: &str) -> Flow {
        Flow::new(0, "10.0.0.5".parse().unwrap(), destination.parse().unwrap(), Some(100))
    }

    fn embedded() -> Enricher {
        Enricher::new(GeoDb::embedded().unwrap())
    }

    fn geo(country: &str) -> GeoFields {
        GeoFields { country_iso_code: Some(country.to_string()), ..GeoFields::default() }
    }

    #[test]
    fn destination_without_a_record_gets_the_unknown_location() {
        let enricher = Enricher::new(GeoDb::open(fixture("GeoIP2-City-Test.mmdb")).unwrap());
        let located = enricher.locate(&flow_to("8.8.8.8"));
        assert!(located.is_unknown());
        assert_eq!(located.location.country_iso_code, "ZZ");
        assert_eq!(located.location.country_name.as_deref(), Some("Unknown"));
        assert_eq!(located.location.continent_code, None);
        assert_eq!(located.location.continent_name, None);
        assert_eq!(enricher.stats().unknown, 1);
    }

    #[test]
    fn database_location_for_a_public_destination() {
        let enricher = embedded();
        let located = enricher.locate(&flow_to("8.8.8.8"));
        assert_eq!(located.source, LocationSource::Database);
        assert_eq!(*located.location, GeoLocation::from_country_code("US"));
    }

    #[test]
    fn event_geo_is_used_and_completed_from_iso_data() {
        let mut flow = flow_to("8.8.8.8");
        flow.destination_geo =
            Some(GeoFields { city_name: Some("Stockholm".to_string()), ..geo("se") });
        let enricher = embedded();
        let located = enricher.locate(&flow);
        assert_eq!(located.source, LocationSource::Event);
        assert_eq!(
            *located.location,
            GeoLocation {
                country_iso_code: "SE".to_string(),
                country_name: Some("Sweden".to_string()),
                continent_code: Some("EU".to_string()),
                continent_name: Some("Europe".to_string()),
                region_name: None,
                city_name: Some("Stockholm".to_string()),
            }
        );
        let stats = enricher.stats();
        assert_eq!((stats.from_event, stats.lookups), (1, 0));
    }

    #[test]
    fn event_names_win_over_iso_data() {
        let mut flow = flow_to("8.8.8.8");
        flow.destination_geo =
            Some(GeoFields { country_name: Some("United States".to_string()), ..geo("US") });
        let located = embedded().locate(&flow);
        assert_eq!(located.location.country_name.as_deref(), Some("United States"));
        assert_eq!(located.location.continent_name.as_deref(), Some("North America"));
    }

    #[test]
    fn event_geo_is_re_resolved_when_asked_or_without_a_country() {
        let mut flow = flow_to("8.8.8.8");
        flow.destination_geo = Some(geo("SE"));
        let enricher = embedded().with_event_geo(false);
        let located = enricher.locate(&flow);
        assert_eq!(located.source, LocationSource::Database);
        assert_eq!(located.location.country_iso_code, "US");

        flow.destination_geo = Some(GeoFields { city_name: Some("Oslo".into()), ..geo(" ") });
        let located = embedded().locate(&flow);
        assert_eq!(located.source, LocationSource::Database);
        assert_eq!(located.location.country_iso_code, "US");
    }

    #[test]
    fn repeated_destinations_are_answered_from_the_cache() {
        let enricher = embedded();
        for destination in
            ["8.8.8.8", "8.8.8.8", "::ffff:8.8.8.8", "1.1.1.1", "10.9.9.9", "10.9.9.9"]
        {
            enricher.locate(&flow_to(destination));
        }
        let stats = enricher.stats();
        assert_eq!((stats.lookups, stats.cache_hits), (3, 3));
        assert_eq!((stats.unknown, stats.cache_full, stats.lookup_errors), (2, 0, 0));
    }

    #[test]
    fn equal_locations_share_one_copy() {
        let enricher = embedded();
        let first = enricher.locate(&flow_to("8.8.8.8")).location;
        let second = enricher.locate(&flow_to("8.8.4.4")).location;
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn a_full_cache_stops_caching_and_says_so() {
        let enricher = embedded().with_cache_limit(1);
        for destination in ["8.8.8.8", "1.1.1.1", "1.1.1.1", "8.8.8.8"] {
            assert_eq!(enricher.locate(&flow_to(destination)).source, LocationSource::Database);
        }
        let stats = enricher.stats();
        assert_eq!((stats.lookups, stats.cache_hits, stats.cache_full), (3, 1, 2));
    }
}
