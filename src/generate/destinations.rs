//! Destination addresses: many public IPv4 addresses per country, each one placed in its
//! country by the embedded GeoIP database.
//!
//! A country's *address space* is every public IPv4 address the database gives that country,
//! as ranges. Its *pool* is the set of addresses the generator uses for it: `pool_size`
//! addresses spread evenly over the address space, so that they come from many networks, and
//! numbered from 0. The first [`HEAD_ADDRESSES`] of a pool are the country's *head*, the few
//! big services most flows reach (the stable addresses of the evaluation's synthetic
//! organisation); the rest are its *tail*, the long list of sites reached now and then. Pools
//! are sized in proportion to the countries' flow weights and add up to about the number of
//! destinations asked for.

use crate::enrich::GeoDb;
use crate::eval::synthetic::ADDRESSES_PER_COUNTRY;
use crate::filter::networks::NON_PUBLIC_V4;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

/// Addresses in each country's head.
pub const HEAD_ADDRESSES: u64 = ADDRESSES_PER_COUNTRY as u64;

/// One country's address space and pool.
#[derive(Debug, Clone)]
struct CountrySpace {
    /// Public ranges, first and last address, in address order.
    ranges: Vec<(u32, u32)>,
    /// Addresses before each range: `starts[i]` is the sum of the sizes of ranges before `i`.
    starts: Vec<u64>,
    total_addresses: u64,
    pool_size: u64,
    /// Where this pool's numbers start among all pools, for counting distinct destinations.
    pool_offset: u64,
}

/// Every country's pool; see the module documentation.
#[derive(Debug, Clone)]
pub struct DestinationPools {
    countries: Vec<CountrySpace>,
    total_pool_size: u64,
}

impl DestinationPools {
    /// Pools for `countries` (ISO code and flow weight), about `destinations` addresses in all
    /// and at least one per country. A country the database does not know gets an empty
    /// address space and is never drawn; [`DestinationPools::address`] returns `None` for it.
    pub fn new(countries: &[(&str, f64)], destinations: u64) -> DestinationPools {
        let spaces = embedded_spaces();
        let weight_total: f64 = countries.iter().map(|(_, weight)| weight.max(0.0)).sum();
        let mut pool_offset = 0;
        let mut pools = Vec::with_capacity(countries.len());
        for (code, weight) in countries {
            let ranges = spaces.get(*code).cloned().unwrap_or_default();
            let mut starts = Vec::with_capacity(ranges.len());
            let mut total_addresses = 0u64;
            for (first, last) in &ranges {
                starts.push(total_addresses);
                total_addresses += u64::from(last - first) + 1;
            }
            let share = if weight_total > 0.0 { weight.max(0.0) / weight_total } else { 0.0 };
            let wanted = ((destinations as f64 * share).round() as u64).max(1);
            let pool_size = wanted.min(total_addresses);
            pools.push(CountrySpace { ranges, starts, total_addresses, pool_size, pool_offset });
            pool_offset += pool_size;
        }
        DestinationPools { countries: pools, total_pool_size: pool_offset }
    }

    /// Addresses in all pools together.
    pub fn total_pool_size(&self) -> u64 {
        self.total_pool_size
    }

    pub fn pool_size(&self, country: usize) -> u64 {
        self.countries[country].pool_size
    }

    /// The number of a pool address among all pools, from 0 to [`Self::total_pool_size`].
    pub fn global_number(&self, country: usize, number: u64) -> u64 {
        self.countries[country].pool_offset + number
    }

    /// Address `number` (below the pool size) of a country's pool.
    pub fn address(&self, country: usize, number: u64) -> Option<Ipv4Addr> {
        let space = &self.countries[country];
        if space.pool_size == 0 {
            return None;
        }
        // Spread evenly, each in the middle of its share of the space so that pools of one
        // address do not sit on a block's first (network) address. Distinct numbers land on
        // distinct addresses, since the pool is no larger than the address space.
        let number = number % space.pool_size;
        let position = (2 * number + 1) * space.total_addresses / (2 * space.pool_size);
        let range = space.starts.partition_point(|&start| start <= position) - 1;
        let (first, _) = space.ranges[range];
        Some(Ipv4Addr::from(first + (position - space.starts[range]) as u32))
    }
}

/// Every country's public address space in the embedded database, built once per process.
fn embedded_spaces() -> &'static BTreeMap<String, Vec<(u32, u32)>> {
    static SPACES: OnceLock<BTreeMap<String, Vec<(u32, u32)>>> = OnceLock::new();
    SPACES.get_or_init(|| {
        // The database is compiled into the program; failing to read it is a build defect.
        let db = GeoDb::embedded().expect("the embedded GeoIP database opens");
        let ranges = db.ipv4_country_ranges().expect("the embedded GeoIP database reads");
        let mut spaces: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
        for range in ranges {
            let parts = public_parts(u32::from(range.first), u32::from(range.last));
            spaces.entry(range.country_iso_code).or_default().extend(parts);
        }
        spaces
    })
}

/// The parts of `first..=last` outside every non-public range.
fn public_parts(first: u32, last: u32) -> Vec<(u32, u32)> {
    let mut parts = vec![(first, last)];
    for range in &NON_PUBLIC_V4 {
        let (low, high) = (u32::from(range.net.network()), u32::from(range.net.broadcast()));
        parts = parts
            .into_iter()
            .flat_map(|(a, b)| {
                if b < low || a > high {
                    return vec![(a, b)];
                }
                let mut kept = Vec::new();
                if a < low {
                    kept.push((a, low - 1));
                }
                if b > high {
                    kept.push((high + 1, b));
                }
                kept
            })
            .collect();
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::is_public;
    use std::collections::BTreeSet;
    use std::net::IpAddr;

    #[test]
    fn non_public_ranges_are_cut_out() {
        let ten = u32::from(Ipv4Addr::new(10, 0, 0, 0));
        let parts = public_parts(ten - 5, ten + (1 << 24) + 4);
        assert_eq!(parts, vec![(ten - 5, ten - 1), (ten + (1 << 24), ten + (1 << 24) + 4)]);
    }

    #[test]
    fn pool_addresses_are_public_distinct_and_in_their_country() {
        let db = GeoDb::embedded().unwrap();
        let countries = [("US", 10.0), ("DE", 3.0), ("IS", 1.0), ("XX", 1.0)];
        let pools = DestinationPools::new(&countries, 1_500);
        assert_eq!(pools.pool_size(0), 1_000);
        assert_eq!(pools.pool_size(3), 0);
        assert_eq!(pools.address(3, 0), None);
        for (index, (code, _)) in countries.iter().enumerate().take(3) {
            let size = pools.pool_size(index);
            let addresses: BTreeSet<Ipv4Addr> =
                (0..size).map(|n| pools.address(index, n).unwrap()).collect();
            assert_eq!(addresses.len() as u64, size, "{code}");
            for address in addresses {
                assert!(is_public(IpAddr::V4(address)), "{address}");
                let located = db.lookup(IpAddr::V4(address)).unwrap().country_iso_code;
                assert_eq!(&located, code, "{address}");
            }
        }
        assert_eq!(pools.total_pool_size(), 1_000 + 300 + 100);
    }
}
