//! Reading a MaxMind DB (`.mmdb`) file: from an address to the place it is registered in use.
//!
//! A *GeoIP database* maps address blocks to *records*. Two record layouts are read:
//! the nested GeoIP2/GeoLite2 layout (`country.iso_code`, `country.names.en`, `continent`,
//! `subdivisions`, `city.names.en`) and the flat DB-IP / ip-location-db layout (`country_code`,
//! `state1`, `city`). A *location* is what a record says about one address: always a country code,
//! and names down to the city when the database has them. The country is where the address is
//! used (`country`), not where the block is registered (`registered_country`), because the
//! question is where the data went. The default database is DB-IP's "IP to Country Lite", built
//! into the program (see `assets/NOTICE.md`).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::Deserialize;

use super::country::country_info;
use crate::filter::networks::canonical;

/// The DB-IP "IP to Country Lite" database shipped inside the program (CC BY 4.0, DB-IP.com).
static EMBEDDED_DB: &[u8] = include_bytes!("../../assets/dbip-country.mmdb");

/// How the embedded database names itself in [`GeoDbInfo::source`].
pub const EMBEDDED_SOURCE: &str = "embedded DB-IP IP to Country Lite";

/// What one database record says about an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GeoLocation {
    /// ISO 3166-1 alpha-2, upper case.
    pub country_iso_code: String,
    pub country_name: Option<String>,
    pub continent_code: Option<String>,
    pub continent_name: Option<String>,
    /// The most specific subdivision the database knows (a county rather than its state).
    pub region_name: Option<String>,
    pub city_name: Option<String>,
}

impl GeoLocation {
    /// A location with only a country code, names filled from the ISO data where it has them.
    pub fn from_country_code(iso_code: &str) -> GeoLocation {
        let mut location = GeoLocation {
            country_iso_code: iso_code.to_ascii_uppercase(),
            country_name: None,
            continent_code: None,
            continent_name: None,
            region_name: None,
            city_name: None,
        };
        location.fill_from_iso_data();
        location
    }

    /// Fills whichever country and continent names are missing from the ISO data.
    pub fn fill_from_iso_data(&mut self) {
        let Some(info) = country_info(&self.country_iso_code) else { return };
        self.country_name.get_or_insert_with(|| info.name.to_string());
        self.continent_code.get_or_insert_with(|| info.continent_code.to_string());
        self.continent_name.get_or_insert_with(|| info.continent_name.to_string());
    }
}

/// Where a database came from and how old its data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoDbInfo {
    /// The `database_type` of the metadata, such as `GeoLite2-Country` or DB-IP's `country ipvAll`.
    pub database_type: String,
    /// Seconds since the Unix epoch when the database was built.
    pub build_epoch_secs: u64,
    /// The build day as `YYYY-MM-DD`, UTC.
    pub build_date: String,
    /// [`EMBEDDED_SOURCE`] or the path the database was opened from.
    pub source: String,
}

/// A database that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoDbError {
    #[error("cannot read GeoIP database {path}: {source}; check the path and its permissions")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is not a usable MaxMind DB file: {source}; \
         give a GeoIP2, GeoLite2 or DB-IP database in .mmdb format"
    )]
    Format { path: PathBuf, source: MaxMindDbError },
    #[error("the embedded GeoIP database is damaged: {0}; rebuild the program")]
    Embedded(MaxMindDbError),
    #[error("looking up {ip} in the GeoIP database failed: {source}; the database may be damaged")]
    Lookup { ip: IpAddr, source: MaxMindDbError },
}

/// An open GeoIP database.
pub struct GeoDb {
    reader: Reader<Cow<'static, [u8]>>,
    info: GeoDbInfo,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("info", &self.info).finish_non_exhaustive()
    }
}

impl GeoDb {
    /// The DB-IP database built into the program.
    pub fn embedded() -> Result<GeoDb, GeoDbError> {
        let reader =
            Reader::from_source(Cow::Borrowed(EMBEDDED_DB)).map_err(GeoDbError::Embedded)?;
        Ok(GeoDb::with_reader(reader, EMBEDDED_SOURCE.to_string()))
    }

    /// Reads a whole `.mmdb` file into memory.
    pub fn open(path: impl AsRef<Path>) -> Result<GeoDb, GeoDbError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|source| GeoDbError::Read { path: path.to_path_buf(), source })?;
        let reader = Reader::from_source(Cow::Owned(bytes))
            .map_err(|source| GeoDbError::Format { path: path.to_path_buf(), source })?;
        Ok(GeoDb::with_reader(reader, path.display().to_string()))
    }

    fn with_reader(reader: Reader<Cow<'static, [u8]>>, source: String) -> GeoDb {
        let metadata = reader.metadata();
        let info = GeoDbInfo {
            database_type: metadata.database_type.clone(),
            build_epoch_secs: metadata.build_epoch,
            build_date: utc_date(metadata.build_epoch),
            source,
        };
        GeoDb { reader, info }
    }

    pub fn info(&self) -> &GeoDbInfo {
        &self.info
    }

    /// The location of `ip`, or `None` when the database has no record with a country for it
    /// (private ranges, unallocated blocks, or a lookup that failed; see [`GeoDb::try_lookup`]).
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoLocation> {
        self.try_lookup(ip).ok().flatten()
    }

    /// Like [`GeoDb::lookup`], but a damaged record is an error instead of a missing one.
    pub fn try_lookup(&self, ip: IpAddr) -> Result<Option<GeoLocation>, GeoDbError> {
        let ip = canonical(ip);
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let record = self
            .reader
            .lookup(ip)
            .and_then(|result| result.decode::<Record>())
            .map_err(|source| GeoDbError::Lookup { ip, source })?;
        Ok(record.and_then(Record::into_location))
    }
}

/// A run of consecutive IPv4 addresses that the database places in one country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// ISO 3166-1 alpha-2, upper case, as [`GeoDb::lookup`] gives it for every address inside.
    pub country_iso_code: String,
}

impl GeoDb {
    /// Every IPv4 address the database gives a country, as ranges in address order; neighbour
    /// blocks of one country are joined into one range.
    pub fn ipv4_country_ranges(&self) -> Result<Vec<CountryRange>, GeoDbError> {
        let everything = "0.0.0.0/0".parse().expect("a valid network");
        let error = |source| GeoDbError::Lookup { ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED), source };
        let networks = self.reader.within(everything, WithinOptions::default()).map_err(error)?;
        let mut blocks: Vec<(u32, u32, String)> = Vec::new();
        for item in networks {
            let item = item.map_err(error)?;
            let network = item.network().map_err(error)?;
            let IpAddr::V4(first) = network.network() else { continue };
            let Some(record) = item.decode::<Record>().map_err(error)? else { continue };
            let Some(code) = record.iso_code() else { continue };
            let size = 1u64 << (32 - u32::from(network.prefix()));
            let last = (u64::from(u32::from(first)) + size - 1) as u32;
            blocks.push((u32::from(first), last, code.to_ascii_uppercase()));
        }
        blocks.sort_unstable_by_key(|block| block.0);
        let mut ranges: Vec<CountryRange> = Vec::new();
        for (first, last, code) in blocks {
            match ranges.last_mut() {
                Some(previous)
                    if u64::from(u32::from(previous.last)) + 1 == u64::from(first)
                        && previous.country_iso_code == code =>
                {
                    previous.last = Ipv4Addr::from(last);
                }
                _ => ranges.push(CountryRange {
                    first: Ipv4Addr::from(first),
                    last: Ipv4Addr::from(last),
                    country_iso_code: code,
                }),
            }
        }
        Ok(ranges)
    }
}

fn utc_date(epoch_secs: u64) -> String {
    i64::try_from(epoch_secs)
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(|| format!("epoch {epoch_secs}"), |time| time.format("%Y-%m-%d").to_string())
}

/// A record in either layout; fields of the other layout stay empty.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Area<'a>>,
    #[serde(borrow, default)]
    continent: Option<Area<'a>>,
    #[serde(borrow, default)]
    subdivisions: Vec<Area<'a>>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    state1: Option<&'a str>,
}

/// A country, continent, subdivision or city in the nested layout.
#[derive(Deserialize)]
struct Area<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    code: Option<&'a str>,
    #[serde(borrow, default)]
    names: Option<EnglishName<'a>>,
}

#[derive(Deserialize)]
struct EnglishName<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

/// `city` is a map in the nested layout and a plain name in the flat one.
#[derive(Deserialize)]
#[serde(untagged)]
enum City<'a> {
    Flat(&'a str),
    Nested(Area<'a>),
}

impl<'a> Area<'a> {
    fn english_name(&self) -> Option<&'a str> {
        self.names.as_ref().and_then(|names| names.en)
    }
}

impl Record<'_> {
    fn iso_code(&self) -> Option<&str> {
        non_empty(self.country.as_ref().and_then(|c| c.iso_code).or(self.country_code))
    }

    fn into_location(self) -> Option<GeoLocation> {
        let iso_code = self.iso_code()?;
        let country = self.country.as_ref();
        let region = self.subdivisions.last().and_then(Area::english_name).or(self.state1);
        let city = match &self.city {
            Some(City::Flat(name)) => Some(*name),
            Some(City::Nested(area)) => area.english_name(),
            None => None,
        };
        let continent = self.continent.as_ref();
        let mut location = GeoLocation {
            country_iso_code: iso_code.to_ascii_uppercase(),
            country_name: owned(country.and_then(Area::english_name)),
            continent_code: owned(continent.and_then(|c| c.code)),
            continent_name: owned(continent.and_then(Area::english_name)),
            region_name: owned(region),
            city_name: owned(city),
        };
        location.fill_from_iso_data();
        Some(location)
    }
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

fn owned(text: Option<&str>) -> Option<String> {
    non_empty(text).map(str::to_string)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/geoip").join(name)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn city_db() -> GeoDb {
        GeoDb::open(fixture("GeoIP2-City-Test.mmdb")).unwrap()
    }

    fn owned(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn embedded_db_reads_the_flat_layout() {
        let db = GeoDb::embedded().unwrap();
        let google = db.lookup(ip("8.8.8.8")).unwrap();
        assert_eq!(google, GeoLocation::from_country_code("US"));
        assert_eq!(google.country_name.as_deref(), Some("United States of America"));
        assert_eq!(google.continent_code.as_deref(), Some("NA"));
        assert_eq!(google.continent_name.as_deref(), Some("North America"));
        assert_eq!(google.region_name, None);
        assert_eq!(google.city_name, None);
        // DB-IP, not the address's owner, decides: it places this block in Canada.
        let v6 = db.lookup(ip("2001:4860:4860::8888")).unwrap();
        assert_eq!(v6.country_iso_code, "CA");
    }

    #[test]
    fn embedded_db_metadata() {
        let info = GeoDb::embedded().unwrap().info().clone();
        assert_eq!(info.database_type, "country ipvAll");
        assert_eq!(info.build_date, "2026-06-01");
        assert_eq!(info.build_epoch_secs, 1_780_345_978);
        assert_eq!(info.source, EMBEDDED_SOURCE);
    }

    #[test]
    fn private_and_documentation_addresses_have_no_record() {
        let db = GeoDb::embedded().unwrap();
        for text in ["10.0.0.1", "192.168.1.1", "127.0.0.1", "::1", "fd00::1", "::ffff:10.0.0.1"] {
            assert_eq!(db.lookup(ip(text)), None, "{text}");
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_looked_up_as_ipv4() {
        let db = GeoDb::embedded().unwrap();
        assert_eq!(db.lookup(ip("::ffff:8.8.8.8")), db.lookup(ip("8.8.8.8")));
        let city = city_db();
        assert_eq!(city.lookup(ip("::ffff:81.2.69.142")).unwrap().city_name, owned("London"));
    }

    #[test]
    fn nested_layout_gives_the_most_specific_subdivision_and_city() {
        let boxford = city_db().lookup(ip("2.125.160.216")).unwrap();
        assert_eq!(
            boxford,
            GeoLocation {
                // registered_country is FR for this block: the used country must win.
                country_iso_code: "GB".to_string(),
                country_name: owned("United Kingdom"),
                continent_code: owned("EU"),
                continent_name: owned("Europe"),
                region_name: owned("West Berkshire"),
                city_name: owned("Boxford"),
            }
        );
        let london = city_db().lookup(ip("81.2.69.142")).unwrap();
        assert_eq!(london.region_name, owned("England"));
        assert_eq!(london.city_name, owned("London"));
        let melbourne = city_db().lookup(ip("214.0.1.7")).unwrap();
        assert_eq!(melbourne.country_iso_code, "AU");
        assert_eq!(melbourne.continent_name, owned("Oceania"));
        assert_eq!(melbourne.region_name, owned("Victoria"));
        let bhutan = city_db().lookup(ip("67.43.156.1")).unwrap();
        assert_eq!(bhutan.country_iso_code, "BT");
    }

    #[test]
    fn records_without_a_country_are_no_location() {
        // 2.3.3.0/24 has a continent but no country in MaxMind's test data.
        assert_eq!(city_db().lookup(ip("2.3.3.1")), None);
        assert_eq!(city_db().lookup(ip("8.8.8.8")), None);
    }

    #[test]
    fn country_database_in_the_nested_layout() {
        let db = GeoDb::open(fixture("GeoLite2-Country-Test.mmdb")).unwrap();
        assert_eq!(db.info().database_type, "GeoLite2-Country");
        let location = db.lookup(ip("81.2.69.142")).unwrap();
        assert_eq!(location.country_iso_code, "GB");
        assert_eq!(location.country_name, owned("United Kingdom"));
        assert_eq!(location.city_name, None);
    }

    /// An MMDB string: type 2 in the top three bits of the control byte, then the bytes.
    fn mmdb_str(text: &str) -> Vec<u8> {
        assert!(text.len() < 29, "longer strings need a size byte");
        let mut out = vec![0x40 | text.len() as u8];
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// An MMDB map (type 7) of string keys to already encoded values.
    fn mmdb_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0xe0 | entries.len() as u8];
        for (key, value) in entries {
            out.extend(mmdb_str(key));
            out.extend_from_slice(value);
        }
        out
    }

    /// An IPv4 database of one node whose two halves of the address space share `record`.
    fn one_record_mmdb(record: &[u8]) -> Vec<u8> {
        // Record value node_count + 16 + 0 points at offset 0 of the data section.
        let mut out = vec![0, 0, 17, 0, 0, 17];
        out.extend([0; 16]);
        out.extend_from_slice(record);
        out.extend(b"\xab\xcd\xefMaxMind.com");
        out.extend(mmdb_map(&[
            ("binary_format_major_version", vec![0xa1, 2]),
            ("binary_format_minor_version", vec![0xa0]),
            ("build_epoch", vec![0x00, 0x02]),
            ("database_type", mmdb_str("city ipv4")),
            ("description", vec![0xe0]),
            ("ip_version", vec![0xa1, 4]),
            ("languages", vec![0x00, 0x04]),
            ("node_count", vec![0xc1, 1]),
            ("record_size", vec![0xa1, 24]),
        ]));
        out
    }

    #[test]
    fn flat_layout_with_region_and_city() {
        let record = mmdb_map(&[
            ("city", mmdb_str("Munich")),
            ("country_code", mmdb_str("DE")),
            ("state1", mmdb_str("Bavaria")),
            ("state2", mmdb_str("Upper Bavaria")),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.mmdb");
        std::fs::write(&path, one_record_mmdb(&record)).unwrap();
        let db = GeoDb::open(&path).unwrap();
        assert_eq!(db.info().build_date, "1970-01-01");
        assert_eq!(db.info().source, path.display().to_string());
        assert_eq!(
            db.lookup(ip("5.1.2.3")).unwrap(),
            GeoLocation {
                country_iso_code: "DE".to_string(),
                country_name: owned("Germany"),
                continent_code: owned("EU"),
                continent_name: owned("Europe"),
                region_name: owned("Bavaria"),
                city_name: owned("Munich"),
            }
        );
        // An IPv4-only database has no IPv6 space; IPv4-mapped addresses still resolve.
        assert_eq!(db.lookup(ip("2001:4860::1")), None);
        assert_eq!(db.lookup(ip("::ffff:5.1.2.3")).unwrap().city_name, owned("Munich"));
    }

    #[test]
    fn open_errors_name_the_path_and_the_problem() {
        let missing = fixture("no-such.mmdb");
        let message = GeoDb::open(&missing).unwrap_err().to_string();
        assert!(message.starts_with("cannot read GeoIP database "), "{message}");
        assert!(message.contains("no-such.mmdb"), "{message}");
        let not_mmdb = fixture("LICENSE-MIT");
        let message = GeoDb::open(&not_mmdb).unwrap_err().to_string();
        assert!(message.contains("LICENSE-MIT is not a usable MaxMind DB file"), "{message}");
    }
}
